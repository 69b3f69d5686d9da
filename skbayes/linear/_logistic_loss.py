"""Weighted negative log likelihood of the logistic and softmax models.

Value, gradient, Hessian and Hessian diagonal, vectorised over samples, for
dense or CSR ``X``. The parameters of a model with ``K`` coefficient rows
(``K = 1`` for binary logistic regression, ``K = n_classes`` for softmax) are
laid out class-major: row ``k`` of ``theta.reshape(K, D)`` is
``[coef[k, :], intercept[k]]`` (the intercept column only when the model has
one), so that ``D = n_features + fit_intercept``. Hessians use the same order.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_expit, logsumexp

# Row-block size of the Hessian accumulation: bounds the temporary memory
# (it is a loop over blocks of rows, never over single samples).
_BLOCK_ELEMENTS = 2**22


def split_params(
    theta: np.ndarray, n_rows: int, n_features: int, fit_intercept: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``theta`` -> ``(coef (K, d), intercept (K,))`` (views where possible)."""
    T = theta.reshape(n_rows, n_features + int(fit_intercept))
    if fit_intercept:
        return T[:, :n_features], T[:, n_features]
    return T, np.zeros(n_rows)


def join_params(coef: np.ndarray, intercept: np.ndarray, fit_intercept: bool):
    """Inverse of :func:`split_params`."""
    if fit_intercept:
        return np.hstack([coef, intercept[:, None]]).ravel()
    return np.ascontiguousarray(coef).ravel()


def linear_predictor(X, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """Logits ``X @ coef.T + intercept`` of shape (n_samples, K)."""
    Z = np.asarray(X @ coef.T)
    Z += intercept
    return Z


def data_loss_grad(
    X,
    y: np.ndarray,
    sample_weight: np.ndarray,
    coef: np.ndarray,
    intercept: np.ndarray,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Weighted negative log likelihood and its gradient.

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Binary: 0/1 floats. Multiclass: integer class codes.
    sample_weight : ndarray of shape (n_samples,)
    coef : ndarray of shape (K, n_features)
    intercept : ndarray of shape (K,)

    Returns
    -------
    loss : float
    grad_coef : ndarray of shape (K, n_features)
    grad_intercept : ndarray of shape (K,)
    """
    if coef.shape[0] == 1:
        z = np.asarray(X @ coef[0]).ravel()
        z += intercept[0]
        # One exp for both: with e = exp(-|z|), softplus(z) = log1p(e) + max(z, 0)
        # and expit(z) = 1 / (1 + e) for z >= 0, e / (1 + e) otherwise.
        e = np.exp(-np.abs(z))
        softplus = np.log1p(e)
        softplus += np.maximum(z, 0.0)
        loss = float(sample_weight @ softplus - (sample_weight * y) @ z)
        inv = 1.0 / (1.0 + e)
        r = np.where(z >= 0, inv, e * inv)
        r -= y
        r *= sample_weight
        g = np.asarray(X.T @ r).ravel()
        return loss, g[None, :], np.array([r.sum()])
    # Softmax in (K, n) layout: reductions over classes become K-row
    # element-wise passes, which numpy vectorises over samples.
    sparse = sp.issparse(X)
    Z = np.ascontiguousarray(np.asarray(X @ coef.T).T) if sparse else coef @ X.T
    Z += intercept[:, None]
    cols = np.arange(Z.shape[1])
    Z -= Z.max(axis=0)
    z_true = Z[y, cols]
    np.exp(Z, out=Z)
    norm = Z.sum(axis=0)
    loss = float(sample_weight @ (np.log(norm) - z_true))
    Z *= sample_weight / norm  # s_i p_ik
    Z[y, cols] -= sample_weight
    G = np.asarray(X.T @ Z.T).T if sparse else Z @ X
    return loss, G, Z.sum(axis=1)


def data_loss(X, y, sample_weight, coef, intercept) -> float:
    """Weighted negative log likelihood only."""
    Z = linear_predictor(X, coef, intercept)
    if coef.shape[0] == 1:
        z = Z[:, 0]
        return float(sample_weight @ (-log_expit(-z) - y * z))
    lse = logsumexp(Z, axis=1)
    return float(sample_weight @ (lse - Z[np.arange(Z.shape[0]), y]))


def predict_proba_plugin(X, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """Class probabilities at given parameters: (n, 1) for binary, (n, K)."""
    Z = linear_predictor(X, coef, intercept)
    if coef.shape[0] == 1:
        return expit(Z)
    return np.exp(Z - logsumexp(Z, axis=1, keepdims=True))


def _row_blocks(n_samples: int, width: int):
    step = max(1, _BLOCK_ELEMENTS // max(width, 1))
    for start in range(0, n_samples, step):
        yield slice(start, min(start + step, n_samples))


def weighted_gram(X, c: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """``Xa.T @ diag(c) @ Xa`` with ``Xa = [X, 1]`` (the 1 only with intercept).

    One weighted pass over the data: dense ``X`` in blocks of rows (to bound
    memory), sparse ``X`` with sparse products.
    """
    n, d = X.shape
    D = d + int(fit_intercept)
    G = np.empty((D, D))
    if sp.issparse(X):
        Xc = sp.csr_matrix(X.multiply(c[:, None]))
        G[:d, :d] = (X.T @ Xc).toarray()
        if fit_intercept:
            G[:d, d] = np.asarray(Xc.sum(axis=0)).ravel()
    else:
        G[:d, :d] = 0.0
        if fit_intercept:
            G[:d, d] = 0.0
        # Non-negative weights (binary; softmax diagonal blocks): a symmetric
        # rank-k update (BLAS syrk via ``A.T @ A``), half the flops of a gemm.
        root = np.sqrt(c) if np.all(c >= 0) else None
        for sl in _row_blocks(n, d):
            Xb = X[sl]
            if root is not None:
                Xc = Xb * root[sl, None]
                G[:d, :d] += Xc.T @ Xc
            else:
                G[:d, :d] += Xb.T @ (Xb * c[sl, None])
            if fit_intercept:
                G[:d, d] += c[sl] @ Xb
    if fit_intercept:
        G[d, :d] = G[:d, d]
        G[d, d] = c.sum()
    return G


def hessian(
    X,
    sample_weight: np.ndarray,
    coef: np.ndarray,
    intercept: np.ndarray,
    fit_intercept: bool,
) -> np.ndarray:
    """Hessian of the weighted negative log likelihood, shape (K*D, K*D).

    Binary: ``Xa.T diag(s p (1-p)) Xa``. Softmax: block ``(k, l)`` is
    ``Xa.T diag(s p_k (δ_kl - p_l)) Xa``, one weighted Gram matrix per pair of
    classes (a loop over class pairs, vectorised over samples).
    """
    P = predict_proba_plugin(X, coef, intercept)
    K = coef.shape[0]
    D = X.shape[1] + int(fit_intercept)
    if K == 1:
        p = P[:, 0]
        return weighted_gram(X, sample_weight * p * (1.0 - p), fit_intercept)
    if not sp.issparse(X):
        return _softmax_hessian_dense(X, sample_weight, P, fit_intercept)
    H = np.empty((K * D, K * D))
    for k in range(K):
        for m in range(k, K):
            c = sample_weight * P[:, k] * ((k == m) - P[:, m])
            B = weighted_gram(X, c, fit_intercept)
            H[k * D : (k + 1) * D, m * D : (m + 1) * D] = B
            if m != k:
                H[m * D : (m + 1) * D, k * D : (k + 1) * D] = B.T
    return H


def _softmax_hessian_dense(
    X: np.ndarray, sample_weight: np.ndarray, P: np.ndarray, fit_intercept: bool
) -> np.ndarray:
    """Softmax Hessian as ``blockdiag_k(Xaᵀ diag(s p_k) Xa) - Gᵀ G``.

    ``G`` has rows ``sqrt(s_i) (p_i ⊗ xa_i)``: one symmetric rank-k update of
    width ``K * D`` per block of rows instead of ``K (K + 1) / 2`` products.
    """
    n, d = X.shape
    K = P.shape[1]
    D = d + int(fit_intercept)
    H = np.zeros((K * D, K * D))
    diag = np.zeros((K, D, D))
    root_s = np.sqrt(sample_weight)
    for sl in _row_blocks(n, K * D):
        Xa = X[sl]
        if fit_intercept:
            Xa = np.hstack([Xa, np.ones((Xa.shape[0], 1))])
        Pb = P[sl]
        for k in range(K):
            A = Xa * np.sqrt(sample_weight[sl] * Pb[:, k])[:, None]
            diag[k] += A.T @ A
        G = ((root_s[sl, None] * Pb)[:, :, None] * Xa[:, None, :]).reshape(-1, K * D)
        H -= G.T @ G
    for k in range(K):
        H[k * D : (k + 1) * D, k * D : (k + 1) * D] += diag[k]
    return H


def hessian_diag(
    X,
    sample_weight: np.ndarray,
    coef: np.ndarray,
    intercept: np.ndarray,
    fit_intercept: bool,
) -> np.ndarray:
    """Diagonal of :func:`hessian`, shape (K*D,), in one pass over ``X**2``."""
    P = predict_proba_plugin(X, coef, intercept)
    C = sample_weight[:, None] * P * (1.0 - P)  # (n, K)
    n, d = X.shape
    if sp.issparse(X):
        Hd = np.asarray(X.multiply(X).T @ C).T
    else:
        Hd = np.zeros((d, C.shape[1]))
        for sl in _row_blocks(n, d):
            Hd += (X[sl] ** 2).T @ C[sl]
        Hd = Hd.T
    if fit_intercept:
        Hd = np.hstack([Hd, C.sum(axis=0)[:, None]])
    return Hd.ravel()
