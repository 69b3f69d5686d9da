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
        z = np.asarray(X @ coef[0]).ravel() + intercept[0]
        # softplus(z) - y z, with softplus(z) = -log_expit(-z)
        loss = float(sample_weight @ (-log_expit(-z) - y * z))
        r = expit(z)
        r -= y
        r *= sample_weight
        g = np.asarray(X.T @ r).ravel()
        return loss, g[None, :], np.array([r.sum()])
    Z = linear_predictor(X, coef, intercept)
    lse = logsumexp(Z, axis=1)
    rows = np.arange(Z.shape[0])
    loss = float(sample_weight @ (lse - Z[rows, y]))
    P = np.exp(Z - lse[:, None])
    P[rows, y] -= 1.0
    P *= sample_weight[:, None]
    G = np.asarray(X.T @ P).T
    return loss, G, P.sum(axis=0)


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
        for sl in _row_blocks(n, d):
            Xb = X[sl]
            Xc = Xb * c[sl, None]
            G[:d, :d] += Xb.T @ Xc
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
    H = np.empty((K * D, K * D))
    for k in range(K):
        for m in range(k, K):
            c = sample_weight * P[:, k] * ((k == m) - P[:, m])
            B = weighted_gram(X, c, fit_intercept)
            H[k * D : (k + 1) * D, m * D : (m + 1) * D] = B
            if m != k:
                H[m * D : (m + 1) * D, k * D : (k + 1) * D] = B.T
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
