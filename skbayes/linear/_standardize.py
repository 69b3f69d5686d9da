"""Centre and scale the columns of X for the solvers, and map results back.

With a flat intercept prior, ``f = xᵀw + b = ((x - x̄) / c)ᵀ (c ⊙ w) + (b + x̄ᵀw)``
is an exact reparameterisation (unit Jacobian in the intercept): fitting on
``(X - x̄) / c`` with the prior scales multiplied by ``c`` gives the same
posterior, mapped back linearly. The solvers then see well-conditioned
columns whatever the offsets and units of X. Sparse X (and models without
an intercept) are scaled but not centred, which would densify it / change
the model.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

# Beyond these magnitudes the squares in the Hessian over- or underflow.
_MAX_ABS = 1e150


def column_stats(X, sw: np.ndarray, centre: bool):
    """Weighted column means (zeros unless ``centre``), scales (n_features,)
    and, for dense X, the standardised X (None for sparse X)."""
    w = sw / sw.sum()
    if sp.issparse(X):
        mean = np.zeros(X.shape[1])
        sq = np.asarray(X.multiply(X).T @ w).ravel()
        return mean, _safe_scale(np.sqrt(sq)), None
    absmax = np.max(np.abs(X), axis=0) if X.shape[0] else np.zeros(X.shape[1])
    if np.any(absmax > _MAX_ABS):
        j = int(np.argmax(absmax))
        raise ValueError(
            f"X has values of magnitude up to {absmax[j]:.3g} (column {j}): their "
            "squares overflow float64. Rescale the features (for example with "
            "sklearn.preprocessing.StandardScaler) before fitting."
        )
    mean = w @ X if centre else np.zeros(X.shape[1])
    dev = np.subtract(X, mean, dtype=np.float64)
    if absmax.max(initial=0.0) < 1e100:  # the squares stay in range
        sd = np.sqrt(w @ np.square(dev))
    else:
        pre = np.max(np.abs(dev), axis=0)
        pre = np.where(pre > 0, pre, 1.0)
        sd = np.sqrt(w @ np.square(dev / pre)) * pre
    scale = _safe_scale(sd)
    dev /= scale  # the standardised X, reused by :func:`standardize`
    return mean, scale, dev


def standardize(X, sw: np.ndarray, centre: bool):
    """``(Xs, mean, scale)``: the standardised float64 X and its statistics."""
    if sp.issparse(X):
        mean, scale = column_stats(X, sw, centre)[:2]
        return transform(X, mean, scale), mean, scale
    mean, scale, Xs = column_stats(X, sw, centre)
    return Xs, mean, scale


def _safe_scale(scale: np.ndarray) -> np.ndarray:
    return np.where(scale > 0, scale, 1.0)


def transform(X, mean: np.ndarray, scale: np.ndarray):
    """``(X - mean) / scale``, as float64; CSR stays CSR (mean is zero then)."""
    if sp.issparse(X):
        return sp.csr_matrix(X @ sp.diags(1.0 / scale))
    return (np.asarray(X, dtype=np.float64) - mean) / scale


def to_user(theta, cov, mean, scale, n_rows: int, fit_intercept: bool):
    """Map means (..., P) and a covariance (P, P) / variances (P,) to X's units.

    Per class row, ``[w; b]_user = T [w; b]_std`` with
    ``T = [[diag(1/c), 0], [-(x̄/c)ᵀ, 1]]``. Softmax intercepts are then
    centred over classes (a common shift is invisible to the model), so
    that direction keeps zero variance (full covariance).
    """
    d = scale.shape[0]
    D = d + int(fit_intercept)
    T = np.zeros((D, D))
    T[np.arange(d), np.arange(d)] = 1.0 / scale
    if fit_intercept:
        T[d, :d] = -mean / scale
        T[d, d] = 1.0
    shape = theta.shape
    Th = theta.reshape(-1, n_rows, D) @ T.T
    centre = n_rows > 1 and fit_intercept
    if centre:
        Th[..., d] -= Th[..., d].mean(axis=-1, keepdims=True)
    Th = Th.reshape(shape)
    if cov is None:
        return Th, None
    if cov.ndim == 1:
        # independent coordinates: the user-unit marginal variances
        V = cov.reshape(n_rows, D) @ (T**2).T
        return Th, V.ravel()
    C = cov.reshape(n_rows, D, n_rows, D)
    C = np.einsum("ad,kdle,be->kalb", T, C, T, optimize=True)  # two GEMMs, not O(K²D⁴)
    if centre:
        C[:, d, :, :] -= C[:, d, :, :].mean(axis=0)
        C[:, :, :, d] -= C[:, :, :, d].mean(axis=2)[:, :, None]
    C = C.reshape(n_rows * D, n_rows * D)
    return Th, 0.5 * (C + C.T)
