"""Predictive distributions over Dask arrays, block by block.

Fitting on data that does not fit in memory goes through Dask-ML's own
meta-estimator, :class:`dask_ml.wrappers.Incremental`, which feeds the blocks
of a Dask array to ``partial_fit`` one after the other
(:class:`~skbayes.GaussianLinearRegression` updates its posterior exactly, so
the result is the model that ``fit`` on all the rows gives). ``Incremental``
and :class:`dask_ml.wrappers.ParallelPostFit` wrap only ``predict`` and
``predict_proba``; :func:`predict_dist` here gives the predictive mean *and*
standard deviation of a Dask array, as Dask arrays, without loading ``X``.

This module needs the optional dependencies: ``pip install skbayes[dask]``.
Dask itself is imported only when a function is called, so importing
``skbayes.dask`` is cheap and never fails.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["predict_dist"]

_INSTALL_HINT = (
    "skbayes.dask needs Dask: install the optional dependencies with "
    "`pip install skbayes[dask]` (dask[array], distributed, dask-ml)."
)


def _import_dask() -> tuple[types.ModuleType, types.ModuleType]:
    """Import ``dask`` and ``dask.array``, or explain how to install them."""
    try:
        import dask
        import dask.array as da
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return dask, da


def predict_dist(estimator, X):
    """Predictive mean and standard deviation of a Dask array, lazily.

    Maps ``predict_dist`` over the row blocks of ``X``: each block is
    predicted where it lives (on a Dask worker, or by the local scheduler)
    and ``X`` is never gathered in one place. Nothing is computed until the
    results are (``dask.compute(mean, std)`` computes each block's
    prediction once for both). Because skbayes predictions do not depend on
    the batch a row comes in, the result equals the in-memory
    ``predict_dist`` of the whole array.

    The fitted estimator is put into the task graph once (as one
    :func:`dask.delayed` object) and shared by all the blocks, so a large
    model is sent to each worker once, not once per block.

    Parameters
    ----------
    estimator : object
        A fitted estimator with a predictive distribution: any skbayes
        estimator, a ``Pipeline``, ``GridSearchCV`` or
        ``TransformedTargetRegressor`` around one, or a ``BaggingRegressor``,
        ``VotingRegressor`` or ``MultiOutputRegressor`` of them (as for
        :func:`skbayes.predict_dist`). The ``estimator_`` of a fitted
        :class:`dask_ml.wrappers.Incremental` or ``ParallelPostFit`` is taken
        out of the wrapper.
    X : dask.array.Array of shape (n_samples, n_features)
        Input. Blocks may be split along the columns as well; they are
        joined per row block (one row block of ``X`` at a time is in memory
        on a worker).

    Returns
    -------
    mean : dask.array.Array of shape (n_samples,) or (n_samples, n_outputs)
        Predictive mean, chunked like the rows of ``X``. For
        :class:`~skbayes.BayesianLogisticRegression` this is the mean of the
        latent logit(s), as for its ``predict_dist``.
    std : dask.array.Array, same shape and chunks as ``mean``
        Predictive standard deviation.

    Raises
    ------
    ImportError
        If Dask is not installed.
    TypeError
        If ``X`` is not a 2-D Dask array.
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    ValueError
        If ``X`` has a number of features other than the estimator saw in
        ``fit`` (found at once, from one row of zeros, not at compute time).

    See Also
    --------
    skbayes.predict_dist : The same for in-memory arrays, through
        meta-estimators.
    dask_ml.wrappers.ParallelPostFit : Block-wise ``predict`` and
        ``predict_proba``.

    Examples
    --------
    >>> import dask
    >>> import dask.array as da
    >>> import numpy as np
    >>> from sklearn.linear_model import BayesianRidge
    >>> from skbayes import Normal
    >>> from skbayes.dask import predict_dist
    >>> class MyRidge(BayesianRidge):
    ...     def predict_dist(self, X):
    ...         return Normal(*self.predict(X, return_std=True))
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 3))
    >>> est = MyRidge().fit(X, X @ [1.0, 2.0, 3.0])
    >>> Xd = da.from_array(X, chunks=(250, 3))
    >>> mean, std = predict_dist(est, Xd)
    >>> mean  # doctest: +ELLIPSIS
    dask.array<getitem, shape=(1000,), dtype=float64, chunksize=(250,), ...>
    >>> mean, std = dask.compute(mean, std)
    >>> bool(np.allclose(mean, est.predict(X)))
    True
    """
    dask, da = _import_dask()
    if not isinstance(X, da.Array):
        raise TypeError(
            "X must be a dask.array.Array; got "
            f"{type(X).__module__}.{type(X).__qualname__}. For in-memory data call "
            "skbayes.predict_dist(estimator, X) (or estimator.predict_dist(X)); a "
            "dask DataFrame converts with X.to_dask_array(lengths=True)."
        )
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2D dask array, got a {X.ndim}D one instead. Reshape your "
            "data with X.reshape(-1, 1) for a single feature or X.reshape(1, -1) "
            "for a single sample."
        )
    estimator = _unwrap(estimator)
    _check_fitted(estimator)

    # One chunk along the columns: each task sees whole rows.
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})

    # Predict one row of zeros now: fails early on a bad feature count and
    # tells the shape of the output (a multiclass logit has one column per
    # class) without touching X.
    dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64
    mean0, _ = _dist_block(estimator, np.zeros((1, X.shape[1]), dtype=dtype))
    trailing = mean0.shape[1:]

    # ``pure=True`` keys the model by a hash of its pickled state, so a refit
    # or another estimator gets another key.
    model = dask.delayed(estimator, pure=True, traverse=False)
    # Stack mean and std on a last axis of length 2 so that each block is
    # predicted by one task; mean and std are views of that one result.
    chunks = (X.chunks[0], *((n,) for n in trailing), (2,))
    # Keys unique per estimator and input: a fixed name would make two calls
    # share keys, so one dask.compute (or a result persisted on a cluster)
    # would hand one call's blocks to the other.
    name = "skbayes-predict-dist-" + dask.base.tokenize(model.key, X.name, chunks)
    stacked = da.map_blocks(
        _stacked_block,
        X,
        model,
        chunks=chunks,
        drop_axis=1,
        new_axis=list(range(1, len(chunks))),
        dtype=np.float64,
        meta=np.empty((0,) * len(chunks), dtype=np.float64),
        name=name,
    )
    return stacked[..., 0], stacked[..., 1]


def _unwrap(estimator: Any) -> Any:
    """The fitted model inside a dask-ml wrapper, else the estimator itself."""
    if type(estimator).__module__.startswith("dask_ml.") and hasattr(
        estimator, "estimator"
    ):
        inner = getattr(estimator, "estimator_", None)
        return inner if inner is not None else estimator.estimator
    return estimator


def _check_fitted(estimator: Any) -> None:
    """``check_is_fitted`` where it applies (a skbayes estimator or a sklearn one)."""
    if hasattr(estimator, "fit"):
        check_is_fitted(estimator)


def _dist_block(estimator: Any, X_block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)`` of one in-memory block, through meta-estimators."""
    from ._meta import predict_dist as _predict_dist

    dist = _predict_dist(estimator, X_block)
    mean = np.asarray(dist.mean, dtype=np.float64)
    std = np.broadcast_to(np.asarray(dist.std, dtype=np.float64), mean.shape)
    return mean, std


def _stacked_block(X_block: np.ndarray, estimator: Any) -> np.ndarray:
    """Mean and std of one block, stacked on a last axis of length 2."""
    mean, std = _dist_block(estimator, X_block)
    return np.stack([mean, std], axis=-1)
