"""Scorer callables for ``GridSearchCV(scoring=...)`` that use ``predict_dist``.

scikit-learn's :func:`~sklearn.metrics.make_scorer` cannot ask an estimator
for ``predict_dist``, so these scorers call :func:`skbayes.predict_dist`,
which also reaches through ``Pipeline``, search and target-transform
meta-estimators.
"""

from __future__ import annotations

from sklearn.base import is_classifier

from ._regression import crps_gaussian, gaussian_nll

__all__ = ["make_dist_scorer", "neg_crps_scorer", "neg_gaussian_nll_scorer"]


class _DistScorer:
    """Score an estimator with a function of ``(y_true, dist)``.

    A module-level class (not a closure) so that scorers pickle and can be
    sent to joblib workers.
    """

    def __init__(self, score_func, sign: int, kwargs: dict) -> None:
        self._score_func = score_func
        self._sign = sign
        self._kwargs = kwargs
        self._regression_only = False

    def __call__(self, estimator, X, y_true, sample_weight=None) -> float:
        """Score ``estimator`` on ``X`` against ``y_true``.

        Parameters
        ----------
        estimator : object
            A fitted estimator that :func:`skbayes.predict_dist` accepts.
        X : array-like of shape (n_samples, n_features)
        y_true : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
            Greater is better.
        """
        from .._meta import predict_dist

        if self._regression_only and is_classifier(estimator):
            raise TypeError(
                f"{self!r} scores a regressor's predictive distribution of y; "
                f"{type(estimator).__name__} is a classifier (its predict_dist is "
                "over the latent logits). Use scoring='neg_log_loss' or "
                "'neg_brier_score' for classifiers."
            )
        dist = predict_dist(estimator, X)
        kwargs = dict(self._kwargs)
        if sample_weight is not None:
            kwargs["sample_weight"] = sample_weight
        return self._sign * self._score_func(y_true, dist, **kwargs)

    def set_score_request(self, *, sample_weight=None):
        """Request ``sample_weight`` under scikit-learn's metadata routing.

        With ``sklearn.set_config(enable_metadata_routing=True)``,
        ``cross_validate(..., params={"sample_weight": w})`` and
        ``GridSearchCV(...).fit(X, y, sample_weight=w)`` pass the test-fold
        weights to a scorer that requested them. Unlike scikit-learn's
        scorers, this returns a new scorer and leaves ``self`` (for example
        the shared :data:`neg_crps_scorer`) unchanged.

        Parameters
        ----------
        sample_weight : bool, str or None, default=None
            True to request ``sample_weight``, False not to, None to raise an
            error if it is passed, or a string alias.

        Returns
        -------
        scorer : callable
            A copy of this scorer with the request set.
        """
        scorer = _DistScorer(self._score_func, self._sign, self._kwargs)
        scorer._regression_only = self._regression_only
        scorer._sample_weight_request = sample_weight
        return scorer

    def get_metadata_routing(self):
        """Metadata request of the scorer (``sample_weight`` for ``score``).

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRequest
        """
        from sklearn.utils.metadata_routing import MetadataRequest

        request = MetadataRequest(owner=self)
        request.score.add_request(
            param="sample_weight",
            alias=getattr(self, "_sample_weight_request", None),
        )
        return request

    def __repr__(self) -> str:
        name = getattr(self._score_func, "__name__", repr(self._score_func))
        args = "".join(f", {k}={v!r}" for k, v in self._kwargs.items())
        gib = "" if self._sign > 0 else ", greater_is_better=False"
        return f"make_dist_scorer({name}{gib}{args})"


def make_dist_scorer(score_func, *, greater_is_better=True, **kwargs):
    """Make a scorer from a metric on predictive distributions.

    The counterpart of :func:`sklearn.metrics.make_scorer` for metrics that
    need the whole predictive distribution. The scorer calls
    ``score_func(y_true, skbayes.predict_dist(estimator, X), **kwargs)``
    (adding ``sample_weight=`` when it is given one), so it works on a bare
    skbayes estimator, a ``Pipeline`` ending in one, a fitted search and a
    ``TransformedTargetRegressor`` with an affine transformer.

    Parameters
    ----------
    score_func : callable
        ``score_func(y_true, dist, **kwargs) -> float`` where ``dist`` is a
        :class:`skbayes.Normal`; every function of :mod:`skbayes.metrics` for
        regression fits. For the scorer to pickle (``n_jobs > 1``) it must be
        importable: a module-level function, not a lambda.
    greater_is_better : bool, default=True
        Whether high values of ``score_func`` are good. If False, the scorer
        returns ``-score_func(...)``, so that greater is always better, as
        scikit-learn's model selection expects.
    **kwargs
        Extra keyword arguments passed to ``score_func``.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y_true, sample_weight=None) -> float``.

    Examples
    --------
    >>> from skbayes.metrics import interval_width, make_dist_scorer
    >>> scorer = make_dist_scorer(interval_width, greater_is_better=False,
    ...                           confidence=0.5)
    >>> scorer
    make_dist_scorer(interval_width, greater_is_better=False, confidence=0.5)
    """
    if not callable(score_func):
        raise TypeError(f"score_func must be callable; got {score_func!r}.")
    return _DistScorer(score_func, 1 if greater_is_better else -1, kwargs)


#: Scorer: minus the mean Gaussian negative log predictive density
#: (:func:`gaussian_nll`); greater is better.
neg_gaussian_nll_scorer = make_dist_scorer(gaussian_nll, greater_is_better=False)

#: Scorer: minus the mean CRPS (:func:`crps_gaussian`); greater is better.
neg_crps_scorer = make_dist_scorer(crps_gaussian, greater_is_better=False)

# Gaussian scores of y make no sense for a classifier's latent logits.
neg_gaussian_nll_scorer._regression_only = True
neg_crps_scorer._regression_only = True
