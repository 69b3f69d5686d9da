"""Exact power-of-two rescaling of extreme data before the statistics.

Products of values near float64's limits under- or overflow (``XᵀX`` of
X·1e-300 is 0; an exact fit's residuals of y·1e-148 are below the smallest
float), so X, y and the weights whose largest magnitude is outside ``[2^-64, 2^64]`` are
multiplied by a power of two (exact: only the exponent changes) before the
statistics are formed, the model is solved in those units, and its results
are scaled back. Data in that range, all usual data, are left untouched.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import scipy.sparse as sp

_SAFE_EXPONENT = 64
_PROBE_ROWS = 256


def exponent(a) -> int:
    """``k`` with ``max|a| / 2^k`` in [0.5, 1), or 0 when ``max|a|`` is safe."""
    values = a.data if sp.issparse(a) else a
    if values.size == 0:
        return 0
    # max and min, not max(abs): no temporary the size of X
    top = max(float(np.max(values)), -float(np.min(values)))
    if not np.isfinite(top) or top == 0.0:
        return 0  # NaN/inf are reported by the finiteness checks
    k = int(np.frexp(top)[1])
    return k if abs(k) > _SAFE_EXPONENT else 0


def data_exponent(X) -> int:
    """:func:`exponent` of X, from its first rows when those are in range.

    A full pass for max and min costs ~20% of ``XᵀX``; a batch whose first
    rows are usual and whose later rows are extreme is caught by the
    statistics' overflow check (or, underflowing, not at all).
    """
    if not sp.issparse(X) and X.shape[0] > _PROBE_ROWS:
        if exponent(X[:_PROBE_ROWS]) == 0:
            return 0
    return exponent(X)


def weight_exponent(sample_weight: np.ndarray) -> int:
    """:func:`exponent` of the weights, made even so that ``√2^k`` is exact."""
    k = exponent(sample_weight)
    return k + (k % 2)


def scale(a, k: int):
    """``a / 2^k`` (exact), ``a`` itself when ``k == 0``."""
    if k == 0:
        return a
    if sp.issparse(a):
        a = a.copy()
        a.data = np.ldexp(a.data, -k)
        return a
    return np.ldexp(a, -k)


def scaled_settings(est, kx: int, ky: int, ks: int = 0) -> SimpleNamespace:
    """The hyperparameters in the scaled units: ``w' = w 2^(kx-ky)`` and, with
    weights ``s / 2^ks``, a noise std ``σ_n 2^(-ky-ks/2)``."""
    noise, prior_scale = est.noise_scale, est.prior_scale
    if noise is not None:
        noise = float(np.ldexp(noise, -ky - ks // 2))
    if not isinstance(prior_scale, str):
        prior_scale = np.ldexp(np.asarray(prior_scale, dtype=float), kx - ky)
        prior_scale = float(prior_scale) if prior_scale.ndim == 0 else prior_scale
    return SimpleNamespace(
        noise_scale=noise, prior_scale=prior_scale, max_iter=est.max_iter, tol=est.tol
    )
