"""One fit's data: the MAP solvers and the Laplace approximation.

The negative log posterior minimised is ``Σ s_i ℓ(y_i, f_i) + penalty(w)``
(``ℓ`` the log loss, penalty from the :class:`~skbayes._priors.Prior`). The
MAP uses L-BFGS (smooth priors) or L-BFGS-B on ``w = u - v`` (L1 priors). The
Laplace approximation is ``N(ŵ, H⁻¹)``, ``H`` the Hessian of the negative log
posterior at ``ŵ`` (on the prior's active set). Directions the likelihood
cannot see and the prior does not fix (a common shift of the softmax
intercepts) are parameterised away: their variance is zero and the
(pseudo-)determinants are taken on the complement.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.linalg import LinAlgError, eigh
from scipy.linalg.lapack import dpotrf, dpotri
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning

from .._priors import Prior
from ._logistic_loss import (
    data_loss_grad,
    hessian,
    hessian_diag,
    join_params,
    linear_predictor,
    split_params,
)


def _lbfgs_options(max_iter: int, tol: float) -> dict:
    """L-BFGS-B settings of both MAP solvers: the gradient test decides."""
    return {
        "maxiter": max_iter,
        "maxls": 50,
        "gtol": tol,
        "ftol": 64 * np.finfo(float).eps,
    }


class _Problem:
    """The data of one fit and the MAP / Laplace computations on it."""

    def __init__(self, X, target, sample_weight, n_rows: int, fit_intercept: bool):
        self.X = X
        self.target = target
        self.sw = sample_weight
        self.sw_sum = float(sample_weight.sum())
        self.n_rows = n_rows
        self.fit_intercept = fit_intercept
        self.n_features = X.shape[1]
        self.D = self.n_features + int(fit_intercept)

    def split(self, theta: np.ndarray):
        return split_params(theta, self.n_rows, self.n_features, self.fit_intercept)

    def initial_theta(self) -> np.ndarray:
        """Zero weights; intercepts at the (weighted) log class frequencies."""
        theta = np.zeros(self.n_rows * self.D)
        if self.fit_intercept:
            T = theta.reshape(self.n_rows, self.D)
            if self.n_rows == 1:
                p = float(self.sw @ self.target) / self.sw_sum
                p = min(max(p, 1e-6), 1 - 1e-6)
                T[0, -1] = np.log(p / (1 - p))
            else:
                freq = np.bincount(self.target, weights=self.sw, minlength=self.n_rows)
                logf = np.log(np.maximum(freq / self.sw_sum, 1e-6))
                T[:, -1] = logf - logf.mean()
        return theta

    # -------------------------------------------------------------- MAP
    def solve_map(self, theta0, prior: Prior, max_iter: int, tol: float):
        """MAP by L-BFGS (Gaussian / flat) or L-BFGS-B on ``w = u - v`` (L1)."""
        if prior.l1:
            theta, n_iter = self._solve_l1(theta0, prior, max_iter, tol)
        else:
            theta, n_iter = self._solve_smooth(theta0, prior, max_iter, tol)
        if self.n_rows > 1:
            # Softmax is invariant to a common shift of the classes: centre what
            # the prior does not pin down (the intercepts; all weights if flat).
            T = theta.reshape(self.n_rows, self.D)
            if self.fit_intercept:
                T[:, -1] -= T[:, -1].mean()
            if prior.is_flat:
                T[:, : self.n_features] -= T[:, : self.n_features].mean(axis=0)
        return theta, n_iter

    def _check_result(self, res, max_iter: int) -> int:
        n_iter = int(res.nit)
        if n_iter >= max_iter:
            warnings.warn(
                f"The MAP optimiser did not converge in max_iter={max_iter} "
                "iterations; increase max_iter or scale the data.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return max(n_iter, 1)

    def _solve_smooth(self, theta0, prior: Prior, max_iter: int, tol: float):
        X, y, sw, scale = self.X, self.target, self.sw, 1.0 / self.sw_sum

        def fun(theta):
            coef, intercept = self.split(theta)
            loss, g_coef, g_int = data_loss_grad(X, y, sw, coef, intercept)
            if not prior.is_flat:
                loss += prior.penalty(coef)
                g_coef = g_coef + prior.gradient(coef)
            grad = join_params(g_coef, g_int, self.fit_intercept)
            return loss * scale, grad * scale

        res = minimize(
            fun,
            theta0,
            method="L-BFGS-B",
            jac=True,
            options=_lbfgs_options(max_iter, tol),
        )
        return res.x, self._check_result(res, max_iter)

    def _solve_l1(self, theta0, prior: Prior, max_iter: int, tol: float):
        X, y, sw, scale = self.X, self.target, self.sw, 1.0 / self.sw_sum
        K, d, fi = self.n_rows, self.n_features, self.fit_intercept
        inv_b = np.broadcast_to(1.0 / prior.scale, (K, d))
        m = K * d
        coef0, intercept0 = self.split(theta0)
        x0 = np.concatenate(
            [np.maximum(coef0, 0).ravel(), np.maximum(-coef0, 0).ravel()]
            + ([intercept0] if fi else [])
        )

        def unpack(x):
            u = x[:m].reshape(K, d)
            v = x[m : 2 * m].reshape(K, d)
            b = x[2 * m :] if fi else np.zeros(K)
            return u, v, b

        def fun(x):
            u, v, b = unpack(x)
            loss, g_coef, g_int = data_loss_grad(X, y, sw, u - v, b)
            loss += float(np.sum(inv_b * (u + v)))
            parts = [(g_coef + inv_b).ravel(), (inv_b - g_coef).ravel()]
            if fi:
                parts.append(g_int)
            return loss * scale, np.concatenate(parts) * scale

        bounds = [(0.0, None)] * (2 * m) + [(None, None)] * (K if fi else 0)
        res = minimize(
            fun,
            x0,
            method="L-BFGS-B",
            jac=True,
            bounds=bounds,
            options=_lbfgs_options(max_iter, tol),
        )
        u, v, b = unpack(res.x)
        coef = u - v  # exact zeros where both parts sit on their bound
        return join_params(coef, b, fi), self._check_result(res, max_iter)

    # -------------------------------------------------------- posterior
    def _null_basis(self, active: np.ndarray, prec: np.ndarray) -> np.ndarray:
        """Orthonormal exact null directions (P, m) of the softmax Hessian.

        A common shift over classes of one column (intercept, or a feature
        without prior curvature) whose K entries are all active leaves the
        likelihood unchanged; the prior does not fix it either.
        """
        K, D = self.n_rows, self.D
        null = []
        if K > 1:
            act2, prec2 = active.reshape(K, D), prec.reshape(K, D)
            for j in range(D):
                if act2[:, j].all() and not prec2[:, j].any():
                    v = np.zeros(K * D)
                    v[j::D] = 1.0 / np.sqrt(K)
                    null.append(v)
        return np.array(null).T if null else np.zeros((K * D, 0))

    def posterior(self, theta, prior: Prior, kind: str):
        """Laplace approximation at ``theta``.

        Returns ``(cov, logdet, n_eff)``: the covariance (P, P) (``"full"``)
        or its diagonal (P,) (``"diag"``), the log (pseudo-)determinant of
        the Hessian on the active set, and the dimension it is taken over.
        """
        K, d, D = self.n_rows, self.n_features, self.D
        coef, intercept = self.split(theta)
        P = K * D
        prec = np.zeros((K, D))
        prec[:, :d] = prior.curvature(coef)
        active = np.ones((K, D), dtype=bool)
        active[:, :d] = prior.active(coef)
        prec, active = prec.ravel(), active.ravel()

        if kind == "diag":
            h = hessian_diag(self.X, self.sw, coef, intercept, self.fit_intercept)
            h = h + prec
            var = np.zeros(P)
            h_act = np.maximum(h[active], np.finfo(float).tiny)
            var[active] = 1.0 / h_act
            return var, float(np.sum(np.log(h_act))), int(active.sum())

        H = hessian(self.X, self.sw, coef, intercept, self.fit_intercept)
        H[np.diag_indices(P)] += prec
        idx = np.flatnonzero(active)
        V = self._null_basis(active, prec)[idx]
        cov_a, logdet, n_eff = invert_precision(H[np.ix_(idx, idx)], V)
        cov = np.zeros((P, P))
        cov[np.ix_(idx, idx)] = cov_a
        return cov, logdet, n_eff


def invert_precision(A: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, float, int]:
    """Covariance, log (pseudo-)determinant and rank of a precision matrix.

    ``V`` (P, m) holds orthonormal exact null directions of ``A`` (a common
    shift the likelihood does not see and the prior does not fix): they get
    zero variance and are left out of the determinant. A singular remainder
    falls back to the pseudo-inverse, with a warning.
    """
    B = A + V @ V.T
    try:
        c, info = dpotrf(B, lower=1, clean=1)
        if info != 0 or not np.all(np.isfinite(c)):
            raise LinAlgError("not positive definite")
        logdet = 2.0 * float(np.sum(np.log(np.diag(c))))
        # the inverse from the factor (LAPACK potri): a third of the flops
        # of solving against the identity
        cov, info = dpotri(c, lower=1)
        if info != 0:
            raise LinAlgError("singular Cholesky factor")
        cov = np.tril(cov) + np.tril(cov, -1).T
        cov -= V @ V.T
        n_eff = A.shape[0] - V.shape[1]
    except (LinAlgError, ValueError):
        w, Q = eigh(A)
        keep = w > w.max() * 1e-10 if w.size and w.max() > 0 else w > 0
        warnings.warn(
            "The Hessian of the negative log posterior is singular: some "
            "directions of the weights are not determined (collinear "
            "features without a Gaussian prior on them, or separable data "
            "with a flat prior). coef_cov_ is its pseudo-inverse, with zero "
            "variance along those directions.",
            UserWarning,
            stacklevel=2,
        )
        cov = (Q[:, keep] / w[keep]) @ Q[:, keep].T
        logdet = float(np.sum(np.log(w[keep])))
        n_eff = int(keep.sum())
    return 0.5 * (cov + cov.T), logdet, n_eff


def _logit_moments(
    Xb: np.ndarray,
    coef: np.ndarray,
    intercept: np.ndarray,
    cov: np.ndarray,
    fit_intercept: bool,
    full_cov: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Logit means (nb, K) and covariances (nb, K, K), or variances (nb, K).

    ``cov`` is the parameter covariance (P, P) or its diagonal (P,), in the
    class-major order of ``coef_cov_``; ``Xb`` a dense block of rows.
    """
    mu = linear_predictor(Xb, coef, intercept)
    K = coef.shape[0]
    Xa = np.hstack([Xb, np.ones((Xb.shape[0], 1))]) if fit_intercept else Xb
    D = Xa.shape[1]
    if cov.ndim == 1:
        var = (Xa**2) @ cov.reshape(K, D).T
        if not full_cov:
            return mu, var
        out = np.zeros((Xb.shape[0], K, K))
        idx = np.arange(K)
        out[:, idx, idx] = var
        return mu, out
    cov4 = cov.reshape(K, D, K, D)
    if not full_cov:
        var = np.empty((Xb.shape[0], K))
        for k in range(K):
            var[:, k] = np.einsum("nd,nd->n", Xa @ cov4[k, :, k, :], Xa)
        return mu, np.maximum(var, 0.0)
    out = np.empty((Xb.shape[0], K, K))
    for k in range(K):  # the blocks l >= k; the rest by symmetry
        S_k = cov4[k, :, k:, :].reshape(D, (K - k) * D)
        A = (Xa @ S_k).reshape(-1, K - k, D)
        out[:, k, k:] = np.matmul(A, Xa[:, :, None])[:, :, 0]
        out[:, k + 1 :, k] = out[:, k, k + 1 :]
    return mu, out
