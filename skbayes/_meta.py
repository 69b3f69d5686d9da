"""``predict_dist`` through scikit-learn's meta-estimators.

``Pipeline``, ``GridSearchCV`` and ``TransformedTargetRegressor`` do not pass
``predict_dist`` (or ``predict(return_std=True)``) through to the estimator
they wrap (scikit-learn#24638). :func:`predict_dist` reaches through them.
"""

from __future__ import annotations

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection._search import BaseSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    RobustScaler,
    StandardScaler,
)
from sklearn.utils.validation import check_is_fitted

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
    * any nesting of these, e.g. a ``Pipeline`` inside a ``GridSearchCV``.

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
    raise TypeError(
        f"{type(estimator).__name__} has no predictive distribution: predict_dist "
        "needs an estimator with a predict_dist method (a skbayes estimator), or "
        "a Pipeline, GridSearchCV/RandomizedSearchCV or TransformedTargetRegressor "
        "around one."
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
