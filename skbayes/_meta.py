"""``predict_dist`` through scikit-learn's meta-estimators.

``Pipeline``, ``GridSearchCV`` and ``TransformedTargetRegressor`` do not pass
``predict_dist`` (or ``predict(return_std=True)``) through to the estimator
they wrap (scikit-learn#24638). :func:`predict_dist` reaches through them.

Ensembles (``BaggingRegressor``, ``VotingRegressor``) average their members'
predictions with weights ``w_m`` (summing to 1), so their predictive
distribution is the mixture ``sum_m w_m N(mu_m, s_m**2)``. It is returned as
the Gaussian with the mixture's first two moments::

    mean = sum_m w_m mu_m                         (the ensemble's predict)
    var  = sum_m w_m s_m**2 + sum_m w_m (mu_m - mean)**2

The spread of the member means is uncertainty about the model, so it adds to
the epistemic part: ``epistemic**2 = sum_m w_m e_m**2 + sum_m w_m (mu_m -
mean)**2`` and ``aleatoric**2 = sum_m w_m a_m**2``, which keeps ``var ==
epistemic**2 + aleatoric**2``.
"""

from __future__ import annotations

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import BaggingRegressor, VotingRegressor
from sklearn.model_selection._search import BaseSearchCV
from sklearn.multioutput import MultiOutputRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    RobustScaler,
    StandardScaler,
)
from sklearn.utils.validation import check_is_fitted, validate_data

from ._distribution import Normal

__all__ = ["predict_dist"]

_AFFINE_NAMES = (
    "StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler, a Pipeline of "
    "these, or func=None and inverse_func=None"
)


def predict_dist(estimator, X):
    """Predictive distribution of a fitted estimator, through meta-estimators.

    Works for:

    * an estimator with a ``predict_dist`` method (every skbayes estimator);
    * a :class:`~sklearn.pipeline.Pipeline` ending in one: ``X`` is
      transformed by all steps but the last, then the last step's
      ``predict_dist`` is called;
    * a fitted :class:`~sklearn.model_selection.GridSearchCV`,
      :class:`~sklearn.model_selection.RandomizedSearchCV` (or any search
      derived from ``BaseSearchCV``): its ``best_estimator_``, which needs
      ``refit=True`` (or a refit callable/metric name);
    * a :class:`~sklearn.compose.TransformedTargetRegressor` whose target
      transformer is affine, ``y = a * z + b`` with ``a != 0`` (``StandardScaler``,
      ``MinMaxScaler``, ``MaxAbsScaler``, ``RobustScaler``, a ``Pipeline`` of
      these, or ``func=None`` and ``inverse_func=None``): the Gaussian over the
      transformed target is mapped exactly, ``mean -> a * mean + b`` and
      ``std -> |a| * std`` (and so the ``epistemic_std`` and ``aleatoric_std``
      parts). Other transformers (e.g. ``QuantileTransformer`` or
      ``func=np.log``) do not map a Gaussian to a Gaussian and raise a
      ``ValueError``;
    * a :class:`~sklearn.ensemble.BaggingRegressor` or
      :class:`~sklearn.ensemble.VotingRegressor` (with its ``weights``;
      ``'drop'`` members left out) whose members have a predictive
      distribution: the Gaussian with the moments of the members' mixture.
      Its mean is the ensemble's ``predict``; its variance is the weighted
      mean of the members' variances plus the weighted variance of their
      means (counted as epistemic where the members split their std).
      Bagging's feature subsets (``estimators_features_``) are respected;
    * a :class:`~sklearn.multioutput.MultiOutputRegressor`: each output's
      distribution from its own estimator, stacked to shape
      (n_samples, n_outputs) like its ``predict``;
    * any nesting of these, e.g. a ``Pipeline`` inside a ``GridSearchCV``, or
      a ``BaggingRegressor`` of ``Pipeline`` members.

    Parameters
    ----------
    estimator : object
        A fitted estimator as above.
    X : array-like of shape (n_samples, n_features)
        Input, as for ``estimator.predict``.

    Returns
    -------
    dist : skbayes.Normal
        The predictive distribution; it unpacks to ``(mean, std)``.

    Raises
    ------
    TypeError
        If the estimator has no predictive distribution.
    ValueError
        If a target transformer is not affine.
    AttributeError
        If a search was run with ``refit=False``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import BayesianRidge
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skbayes import Normal, predict_dist
    >>> class MyRidge(BayesianRidge):
    ...     def predict_dist(self, X):
    ...         return Normal(*self.predict(X, return_std=True))
    >>> X = np.arange(10.0).reshape(-1, 1)
    >>> y = 2 * X.ravel() + 1
    >>> pipe = make_pipeline(StandardScaler(), MyRidge()).fit(X, y)
    >>> mu, sigma = predict_dist(pipe, X[:2])
    >>> mu.round(2)
    array([1., 3.])
    """
    if hasattr(estimator, "predict_dist"):
        return estimator.predict_dist(X)
    if isinstance(estimator, Pipeline):
        return _pipeline_dist(estimator, X)
    if isinstance(estimator, BaseSearchCV):
        return _search_dist(estimator, X)
    if isinstance(estimator, TransformedTargetRegressor):
        return _ttr_dist(estimator, X)
    if isinstance(estimator, BaggingRegressor):
        return _bagging_dist(estimator, X)
    if isinstance(estimator, VotingRegressor):
        return _voting_dist(estimator, X)
    if isinstance(estimator, MultiOutputRegressor):
        return _multioutput_dist(estimator, X)
    raise TypeError(
        f"{type(estimator).__name__} has no predictive distribution: predict_dist "
        "needs an estimator with a predict_dist method (a skbayes estimator), or "
        "a Pipeline, GridSearchCV/RandomizedSearchCV, TransformedTargetRegressor, "
        "BaggingRegressor, VotingRegressor or MultiOutputRegressor around one."
    )


def _pipeline_dist(pipeline: Pipeline, X) -> Normal:
    final = pipeline.steps[-1][1]
    if final is None or final == "passthrough":
        raise TypeError(
            "The last step of the Pipeline is 'passthrough'; predict_dist needs a "
            "final estimator with a predictive distribution."
        )
    Xt = X
    for _, step in pipeline.steps[:-1]:
        if step is None or step == "passthrough":
            continue
        Xt = step.transform(Xt)
    return predict_dist(final, Xt)


def _search_dist(search: BaseSearchCV, X) -> Normal:
    if getattr(search, "refit", True) is False:
        raise AttributeError(
            f"{type(search).__name__} was created with refit=False, so it has no "
            "best_estimator_ to predict with; use refit=True, or refit "
            "search.best_params_ yourself."
        )
    check_is_fitted(search, "best_estimator_")
    return predict_dist(search.best_estimator_, X)


def _ttr_dist(ttr: TransformedTargetRegressor, X) -> Normal:
    check_is_fitted(ttr, "regressor_")
    slope, offset = _affine_inverse(ttr.transformer_)
    dist = predict_dist(ttr.regressor_, X)
    mean = dist.mean
    if mean.ndim == 1 and slope.size > 1:
        raise ValueError(
            f"The target transformer has {slope.size} outputs but the regressor "
            "predicts one."
        )
    if mean.ndim == 2 and slope.size not in (1, mean.shape[1]):
        raise ValueError(
            f"The target transformer has {slope.size} outputs but the regressor "
            f"predicts {mean.shape[1]}."
        )
    if mean.ndim == 1:
        slope, offset = slope[0], offset[0]
    scale = np.abs(slope)

    def _scale(part):
        return None if part is None else part * scale

    return Normal(
        mean * slope + offset,
        dist.std * scale,
        epistemic_std=_scale(dist.epistemic_std),
        aleatoric_std=_scale(dist.aleatoric_std),
    )


def _bagging_dist(bagging: BaggingRegressor, X) -> Normal:
    check_is_fitted(bagging)
    # as BaggingRegressor.predict: check the feature count and names once, then
    # give each member its own columns
    X = validate_data(
        bagging,
        X,
        accept_sparse=["csr", "csc"],
        dtype=None,
        ensure_all_finite=False,
        reset=False,
    )
    dists = [
        predict_dist(member, X[:, features])
        for member, features in zip(
            bagging.estimators_, bagging.estimators_features_, strict=True
        )
    ]
    return _mixture(dists, np.full(len(dists), 1.0 / len(dists)))


def _voting_dist(voting: VotingRegressor, X) -> Normal:
    check_is_fitted(voting)
    # estimators_ holds the members that are not 'drop', in order
    kept = [est != "drop" for _, est in voting.estimators]
    if voting.weights is None:
        weights = np.ones(sum(kept))
    else:
        weights = np.asarray(voting.weights, dtype=np.float64)[np.asarray(kept)]
    if not weights.sum() > 0:
        raise ValueError(
            "The weights of the VotingRegressor's remaining members sum to "
            f"{weights.sum()}; a mixture needs a positive total weight."
        )
    dists = [predict_dist(member, X) for member in voting.estimators_]
    return _mixture(dists, weights / weights.sum())


def _multioutput_dist(multi: MultiOutputRegressor, X) -> Normal:
    check_is_fitted(multi)
    dists = [predict_dist(est, X) for est in multi.estimators_]

    def stack(parts):
        if any(part is None for part in parts):
            return None
        return np.stack(parts, axis=1)

    return Normal(
        np.stack([d.mean for d in dists], axis=1),
        np.stack([d.std for d in dists], axis=1),
        epistemic_std=stack([d.epistemic_std for d in dists]),
        aleatoric_std=stack([d.aleatoric_std for d in dists]),
    )


def _mixture(dists: list[Normal], weights: np.ndarray) -> Normal:
    """Gaussian with the moments of ``sum_m w_m dists[m]`` (weights sum to 1)."""
    means = np.stack([d.mean for d in dists])
    w = weights.reshape(-1, *([1] * (means.ndim - 1)))
    mean = np.sum(w * means, axis=0)
    within = np.sum(w * np.stack([d.var for d in dists]), axis=0)
    between = np.sum(w * (means - mean) ** 2, axis=0)
    epistemic = aleatoric = None
    if all(d.epistemic_std is not None and d.aleatoric_std is not None for d in dists):
        epistemic_var = np.sum(w * np.stack([d.epistemic_std**2 for d in dists]), 0)
        aleatoric_var = np.sum(w * np.stack([d.aleatoric_std**2 for d in dists]), 0)
        epistemic = np.sqrt(epistemic_var + between)
        aleatoric = np.sqrt(aleatoric_var)
    return Normal(
        mean,
        np.sqrt(within + between),
        epistemic_std=epistemic,
        aleatoric_std=aleatoric,
    )


def _affine_inverse(transformer) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)`` such that ``transformer.inverse_transform(z) == a * z + b``.

    Only for transformers known to be affine; anything else raises a
    ValueError rather than guessing.
    """
    if isinstance(transformer, Pipeline):
        slope, offset = np.ones(1), np.zeros(1)
        # inverse of the pipeline: inverse of the last step first
        for _, step in transformer.steps:
            if step is None or step == "passthrough":
                continue
            a, b = _affine_inverse(step)
            # y = slope * (a * z + b) + offset
            slope, offset = slope * a, slope * b + offset
        return slope, offset
    one = np.ones(1)
    zero = np.zeros(1)
    if isinstance(transformer, StandardScaler):
        a = transformer.scale_ if transformer.with_std else one
        b = transformer.mean_ if transformer.with_mean else zero
    elif isinstance(transformer, MinMaxScaler):
        a = 1.0 / transformer.scale_
        b = -transformer.min_ / transformer.scale_
    elif isinstance(transformer, MaxAbsScaler):
        a, b = transformer.scale_, zero
    elif isinstance(transformer, RobustScaler):
        a = transformer.scale_ if transformer.with_scaling else one
        b = transformer.center_ if transformer.with_centering else zero
    elif (
        isinstance(transformer, FunctionTransformer)
        and transformer.func is None
        and transformer.inverse_func is None
    ):
        a, b = one, zero
    else:
        raise ValueError(
            f"The target transformer {transformer!r} is not a known affine map, so "
            "the predictive Gaussian cannot be mapped back to the original target "
            f"exactly. predict_dist supports affine target transformers: "
            f"{_AFFINE_NAMES}."
        )
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    a, b = np.broadcast_arrays(a, b)
    return a, b
