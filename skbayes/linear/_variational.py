"""Gaussian variational posterior of logistic / softmax regression.

``q(θ) = N(m, S)`` maximises the evidence lower bound

    ELBO(m, S) = Σ_i s_i E_q[log p(y_i | f_i)] + E_q[log p(w)] + H[q]
               ≤ log p(y | X)

(flat intercept prior with density 1; ``H[q] = ½ log det(2πe S)``). The
expected log-likelihood of a row depends on ``q`` only through its logits'
mean ``μ_i`` and covariance ``Σ_i`` (:mod:`._expected_loglik`). At the
optimum (Opper & Archambeau 2009)

    S⁻¹ = E_q[prior curvature] + Σ_i s_i (h_i ⊗ x̃_i x̃_iᵀ),
    ∇_m ELBO = Σ_i s_i (g_i ⊗ x̃_i) - E_q[prior gradient] = 0,

so the fit alternates the fixed point for ``S`` with a Newton step for
``m`` whose Hessian is that same precision; the ELBO is checked at every
step and the step halved (in ``m`` and in the precision) when it would fall.
One step costs one weighted ``Xᵀ D X`` pass, like the Laplace Hessian.
``covariance="diag"`` keeps the mean-field (diagonal) ``S``, whose fixed
point is the diagonal of that precision, and takes the Newton step for
``m`` by conjugate gradients on Hessian-vector products.

The prior enters through expectations of its penalty and gradient under the
Gaussian marginals of ``q``, by Gauss–Hermite quadrature, and the expected
curvature by Stein's lemma ``E[ψ''(w)] = E[ψ'(w) (w - m)] / v``: exact for
the Gaussian prior, an approximation for others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, cg

from .._priors import Prior
from ._expected_loglik import binary_expectations, softmax_expectations
from ._logistic_loss import weighted_gram
from ._map_laplace import _logit_moments, _Problem, invert_precision
from ._moderation import gauss_hermite

# Rows per block of the softmax precision accumulation (temporaries' size).
_BLOCK_ELEMENTS = 2**22
# Convergence: relative change of the ELBO and of the parameters.
_ELBO_RTOL = 1e-8
_STEP_RTOL = 1e-6
# Gauss–Hermite nodes of the prior's expectations (exact for a Gaussian prior).
_PRIOR_POINTS = 24
_TRACE = False
_RHO = 0.7


@dataclass
class GaussianPosterior:
    """A Gaussian over the parameters and its evidence lower bound."""

    theta: np.ndarray  # mean (P,)
    cov: np.ndarray  # (P, P), or its diagonal (P,)
    data_prec: np.ndarray  # data part of the precision, same shape as cov
    elbo: float
    n_iter: int = 0
    ell: float = 0.0  # its expected log-likelihood (on the fit's bank)


def expected_prior(prior: Prior, coef: np.ndarray, var: np.ndarray):
    """``E[log p(w)]``, ``E[∇ penalty]`` and ``E[∇² penalty]`` (diagonal).

    ``coef`` and ``var`` (K, d) are the marginal means and variances of the
    weights under ``q``; the prior factorises over weights, so summing its
    log-density at the nodes ``m + sqrt(v) z_t`` gives the expectation.
    """
    z, w = gauss_hermite(_PRIOR_POINTS)
    sd = np.sqrt(np.maximum(var, 0.0))
    at = coef + sd * z[:, None, None]  # (T, K, d)
    log_p = sum(w_t * prior.log_density(a) for w_t, a in zip(w, at))
    g = prior.gradient(at)
    grad = np.tensordot(w, g, axes=1)
    stein = np.tensordot(w * z, g, axes=1)
    safe = np.where(sd > 0, sd, 1.0)
    curv = np.where(sd > 0, stein / safe, prior.curvature(coef))
    return float(log_p), grad, np.maximum(curv, 0.0)


def _row_moments(problem: _Problem, theta: np.ndarray, cov: np.ndarray):
    """Logit means (n, K) and covariances (n, K, K) of every row."""
    coef, intercept = problem.split(theta)
    X = problem.X
    X = X.toarray() if sp.issparse(X) else X
    return _logit_moments(X, coef, intercept, cov, problem.fit_intercept, True)


def _augmented(problem: _Problem) -> np.ndarray:
    X = problem.X
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    if problem.fit_intercept:
        X = np.hstack([X, np.ones((X.shape[0], 1))])
    return X


def _data_terms(problem: _Problem, theta, cov, bank, kind: str):
    """Expected log-likelihood, its gradient in ``m`` (P,), and per-row ``h``."""
    mu, Sig = _row_moments(problem, theta, cov)
    sw = problem.sw
    Xa = _augmented(problem)
    if problem.n_rows == 1:
        ell, g, h = binary_expectations(mu[:, 0], Sig[:, 0, 0], problem.target)
        grad = (sw * g) @ Xa
        return float(sw @ ell), grad, h[:, None, None], Xa
    ell, g, h = softmax_expectations(mu, Sig, problem.target, bank)
    grad = ((sw[:, None] * g).T @ Xa).ravel()
    return float(sw @ ell), grad, h, Xa


def _data_precision(problem: _Problem, h: np.ndarray, Xa, kind: str):
    """``Σ_i s_i h_i ⊗ x̃_i x̃_iᵀ`` (P, P), or its diagonal (P,)."""
    sw = problem.sw
    n, K = h.shape[0], h.shape[1]
    D = Xa.shape[1]
    if kind == "diag":
        diag = np.einsum(
            "nk,nd->kd", sw[:, None] * np.diagonal(h, axis1=1, axis2=2), Xa**2
        )
        return diag.ravel()
    if K == 1:
        Xd = problem.X.toarray() if sp.issparse(problem.X) else problem.X
        return weighted_gram(Xd, sw * h[:, 0, 0], problem.fit_intercept)
    # the class pairs k <= l only (h_i is symmetric): half the products
    rows, cols = np.triu_indices(K)
    M = sw[:, None] * h[:, rows, cols]
    m = rows.shape[0]
    G = np.zeros((D, m * D))
    step = max(1, _BLOCK_ELEMENTS // (m * D))
    for start in range(0, n, step):
        sl = slice(start, start + step)
        T = (M[sl, :, None] * Xa[sl, None, :]).reshape(-1, m * D)
        G += Xa[sl].T @ T
    G = G.reshape(D, m, D)
    A = np.empty((K, D, K, D))
    for j, (k, c) in enumerate(zip(rows, cols)):
        B = 0.5 * (G[:, j] + G[:, j].T) if k == c else G[:, j]
        A[k, :, c] = B
        A[c, :, k] = B.T
    return A.reshape(K * D, K * D)


class _Objective:
    """The ELBO of one problem and prior, at given mean and covariance."""

    def __init__(self, problem: _Problem, prior: Prior, kind: str, bank):
        self.problem, self.prior, self.kind, self.bank = problem, prior, kind, bank
        K, D = problem.n_rows, problem.D
        zero = np.zeros(K * D)
        # Exact null directions: common shifts the likelihood does not see
        # and no prior term fixes (softmax intercepts; flat weights).
        curv0 = np.zeros((K, D))
        curv0[:, : problem.n_features] = 0.0 if prior.is_flat else 1.0
        self.V = problem._null_basis(np.ones(K * D, dtype=bool), curv0.ravel())
        self.zero = zero

    def weight_moments(self, theta, cov):
        K, D, d = self.problem.n_rows, self.problem.D, self.problem.n_features
        var = np.diag(cov) if cov.ndim == 2 else cov
        coef = theta.reshape(K, D)[:, :d]
        return coef, var.reshape(K, D)[:, :d]

    def evaluate(self, theta, cov, logdet_prec: float, n_eff: int):
        """ELBO, its gradient in ``m``, the new precision (data, prior) parts,
        and the expected log-likelihood."""
        p = self.problem
        ell, grad, h, Xa = _data_terms(p, theta, cov, self.bank, self.kind)
        coef, var = self.weight_moments(theta, cov)
        log_prior, g_prior, c_prior = expected_prior(self.prior, coef, var)
        K, D, d = p.n_rows, p.D, p.n_features
        grad = grad.reshape(K, D)
        grad[:, :d] -= g_prior
        prior_prec = np.zeros((K, D))
        prior_prec[:, :d] = c_prior
        entropy = 0.5 * n_eff * (1.0 + np.log(2 * np.pi)) - 0.5 * logdet_prec
        elbo = ell + log_prior + entropy
        return elbo, grad.ravel(), h, Xa, prior_prec.ravel(), ell

    def invert(self, prec):
        if prec.ndim == 1:
            var = np.zeros_like(prec)
            pos = prec > 0
            var[pos] = 1.0 / prec[pos]
            return var, float(np.sum(np.log(prec[pos]))), int(pos.sum())
        return invert_precision(prec, self.V)


def _newton_direction(problem: _Problem, prec, cov, grad, h, Xa, prior_part):
    """``prec⁻¹ grad``: exact for the full form, CG for the diagonal one.

    The diagonal form's Newton system uses the full expected Hessian in
    ``m`` through Hessian-vector products, preconditioned by its diagonal.
    """
    if prec.ndim == 2:
        return cov @ grad
    K, D = problem.n_rows, problem.D
    sw = problem.sw

    def matvec(v):
        V = v.reshape(K, D)
        F = Xa @ V.T  # (n, K)
        HF = np.einsum("nkl,nl->nk", h, F) * sw[:, None]
        return (HF.T @ Xa).ravel() + prior_part * v

    op = LinearOperator((K * D, K * D), matvec=matvec, dtype=np.float64)
    safe = np.where(prec > 0, prec, 1.0)
    M = LinearOperator((K * D, K * D), matvec=lambda v: v / safe, dtype=np.float64)
    x, _ = cg(op, grad, M=M, maxiter=100, rtol=1e-8)
    return x


def fit_variational(
    problem: _Problem,
    prior: Prior,
    theta0: np.ndarray,
    data_prec0: np.ndarray,
    *,
    kind: str,
    bank: np.ndarray | None,
    max_iter: int,
) -> GaussianPosterior:
    """Maximise the ELBO from the mean ``theta0`` and data precision ``data_prec0``."""
    obj = _Objective(problem, prior, kind, bank)
    coef0, _ = problem.split(theta0)
    d = problem.n_features
    pp = np.zeros((problem.n_rows, problem.D))
    pp[:, :d] = np.maximum(prior.curvature(coef0), 0.0)
    pp = pp.ravel()
    data_prec = data_prec0
    prec = _total(data_prec, pp)
    theta = theta0
    cov, logdet, n_eff = obj.invert(prec)
    elbo, grad, h, Xa, pp, ell = obj.evaluate(theta, cov, logdet, n_eff)
    n_iter, t_last = 0, 1.0
    while n_iter < max_iter:
        n_iter += 1
        new_data = _data_precision(problem, h, Xa, kind)
        target = _total(new_data, pp)
        if _RHO < 1 and n_iter > 1:
            target = (1 - _RHO) * prec + _RHO * target
            new_data = (1 - _RHO) * data_prec + _RHO * new_data
        new_cov, new_logdet, new_eff = obj.invert(target)
        step = _newton_direction(problem, target, new_cov, grad, h, Xa, pp)
        # start from twice the last accepted step: where the fixed point
        # oscillates the full step keeps failing, and each trial is a fit pass
        t, out = min(1.0, 2.0 * t_last), None
        while t > 0.03:
            if t < 1.0:  # damp both the mean step and the precision update
                new_cov, new_logdet, new_eff = obj.invert((1 - t) * prec + t * target)
            cand = theta + t * step
            out = obj.evaluate(cand, new_cov, new_logdet, new_eff)
            # a fixed point of a deterministic quadrature: allow its noise floor
            if out[0] >= elbo - _ELBO_RTOL * max(1.0, abs(elbo)):
                break
            t *= 0.5
            out = None
        if out is None:
            break
        t_last = t
        change = out[0] - elbo
        moved = np.max(np.abs(cand - theta)) / (1.0 + np.max(np.abs(theta)))
        theta, cov = cand, new_cov
        prec = (1 - t) * prec + t * target
        data_prec = (1 - t) * data_prec + t * new_data
        elbo, grad, h, Xa, pp, ell = out
        if _TRACE:
            print(n_iter, t, elbo, change, moved)
        if abs(change) <= _ELBO_RTOL * max(1.0, abs(elbo)) and moved <= _STEP_RTOL:
            break
    return GaussianPosterior(theta, cov, data_prec, float(elbo), n_iter, ell)


def _total(data_prec: np.ndarray, prior_prec: np.ndarray) -> np.ndarray:
    if data_prec.ndim == 2:
        return data_prec + np.diag(prior_prec)
    return data_prec + prior_prec
