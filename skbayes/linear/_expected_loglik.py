"""Expected log-likelihood of one row under Gaussian logits.

For a Gaussian ``q`` over the parameters, the logits of row ``i`` are
Gaussian, ``f_i ~ N(μ_i, Σ_i)`` (``K = 1`` for binary, ``K`` classes for
softmax). The evidence lower bound needs, per row,

* ``ℓ_i = E[log p(y_i | f_i)]``,
* its gradient in ``μ_i``: ``g_i = E[∂ log p / ∂f]`` (binary ``E[y - σ(f)]``,
  softmax ``e_y - E[softmax(f)]``),
* and the expected negative curvature ``h_i = E[-∂² log p / ∂f²]``
  (binary ``E[σ(f)(1 - σ(f))]``, softmax ``E[diag(p) - p pᵀ]``). By Price's
  theorem ``∂ℓ_i / ∂Σ_i = -h_i / 2``, which gives the fixed point of the
  optimal covariance (Opper & Archambeau 2009).

Binary: Gauss–Hermite quadrature in one dimension (``log_expit`` at the
nodes, stable for any logit). Softmax: the average over a fixed bank of
standard normal points ``f = μ + L z`` (``L Lᵀ = Σ``), deterministic; the
logits are first centred over classes, since ``log softmax`` does not see a
common shift (so the common-mode direction of the parameters adds nothing).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, log_expit

from ._moderation import cov_sqrt, gauss_hermite

# Bound on the temporaries of the softmax bank average: rows per block.
_BLOCK_ELEMENTS = 2**21


def binary_expectations(mu: np.ndarray, var: np.ndarray, y: np.ndarray):
    """``(ℓ, g, h)`` of each row, each of shape (n,), for 0/1 targets ``y``."""
    z, w = gauss_hermite()
    f = mu[:, None] + np.sqrt(np.maximum(var, 0.0))[:, None] * z
    sign = (2.0 * y - 1.0)[:, None]
    ell = log_expit(sign * f) @ w
    p = expit(f)
    g = y - p @ w
    h = (p * (1.0 - p)) @ w
    return ell, g, h


def softmax_expectations(mu: np.ndarray, cov: np.ndarray, y: np.ndarray, bank):
    """``(ℓ (n,), g (n, K), h (n, K, K))`` for class codes ``y``.

    ``mu`` (n, K), ``cov`` (n, K, K); ``bank`` (S, K) standard normal points.
    """
    n, K = mu.shape
    S = bank.shape[0]
    centre = np.eye(K) - 1.0 / K
    mu_c = mu - mu.mean(axis=1, keepdims=True)
    cov_c = centre @ cov @ centre
    ell = np.empty(n)
    Ep = np.empty((n, K))
    h = np.empty((n, K, K))
    diag = np.arange(K)
    step = max(1, _BLOCK_ELEMENTS // (S * K))
    for start in range(0, n, step):
        sl = slice(start, start + step)
        # one (b, S, K) buffer holds the logits, then exp, then probabilities:
        # each pass over it costs as much as the arithmetic (memory bound)
        F = np.einsum("nkj,sj->nsk", cov_sqrt(cov_c[sl]), bank)
        F += mu_c[sl, None, :]
        F -= F.max(axis=2, keepdims=True)
        F_y = F[np.arange(F.shape[0]), :, y[sl]]
        np.exp(F, out=F)
        Z = F.sum(axis=2)
        ell[sl] = (F_y - np.log(Z)).mean(axis=1)
        F /= Z[:, :, None]
        Ep[sl] = F.mean(axis=1)
        hb = h[sl]  # a view: the batched product writes into h itself
        np.matmul(F.transpose(0, 2, 1), F, out=hb)  # Σ_s p pᵀ, batched BLAS
        hb *= -1.0 / S
        hb[:, diag, diag] += Ep[sl]
    g = -Ep
    g[np.arange(n), y] += 1.0
    return ell, g, h
