"""A smooth non-conjugate prior: MAP by Newton and a Laplace approximation.

The negative log posterior ``β/2 ‖y - Xw‖²_W + penalty(w)`` (minimised by
trust-region Newton) needs the data only through ``A = XᵀWX``,
``b = XᵀWy`` and ``c = yᵀWy``:
``β/2 (wᵀAw - 2bᵀw + c) + penalty(w)``, with gradient
``β (Aw - b) + ∇penalty(w)``. The posterior is approximated by
``N(ŵ, H⁻¹)``, ``H = βA + diag(curvature(ŵ))``, which must be positive
definite. With ``noise_scale=None``, ``β`` follows MacKay's update
``β = (dof - γ) / RSS`` with ``γ = tr(βA H⁻¹)`` the effective number of
parameters, alternating with the MAP: the stationary point in ``β`` of the
Laplace-approximate evidence (for the Laplace prior ``γ`` is the number of
non-zero coefficients, which is what its own solver uses).
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, optimize
from sklearn.exceptions import ConvergenceWarning

from .._priors import Prior
from ._glr_problem import _Basis, _intercept_terms, _Posterior, _Problem
from ._warn import warn_user


def _map(A, b, c, beta, prior: Prior, w0, est) -> tuple[np.ndarray, bool]:
    """Minimise ``β/2 (wᵀAw - 2bᵀw + c) + penalty(w)`` by trust-region Newton.

    The Hessian ``βA + diag(curvature)`` is at hand, and a trust region copes
    with the negative curvature a heavy-tailed prior has away from 0.
    """

    def fun(w):
        return 0.5 * beta * (w @ A @ w - 2 * b @ w + c) + prior.penalty(w)

    def jac(w):
        return beta * (A @ w - b) + prior.gradient(w)

    def hess(w):
        return beta * A + np.diag(prior.curvature(w))

    # the gradient's natural size is β‖b‖ (its value at w = 0 for a flat prior)
    gtol = 1e-10 * max(beta * float(np.linalg.norm(b)), np.finfo(float).tiny)
    res = optimize.minimize(
        fun,
        w0,
        jac=jac,
        hess=hess,
        method="trust-exact",
        options={"maxiter": est.max_iter * 10, "gtol": gtol},
    )
    # Near the optimum the objective's changes fall below its rounding and
    # trust-exact may stop short of gtol: a small gradient is converged too.
    return res.x, bool(res.success or np.linalg.norm(res.jac) <= 1e4 * gtol)


def _hessian_eigen(A, beta, prior: Prior, w) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-decomposition of ``H = βA + diag(curvature(w))``; must be PD."""
    H = beta * A + np.diag(prior.curvature(w))
    e, V = linalg.eigh(H, driver="evd")
    if e.min(initial=np.inf) <= e.max(initial=0.0) * len(e) * np.finfo(float).eps:
        raise ValueError(
            f"The Laplace approximation under {type(prior).__name__} is not defined: "
            "the Hessian of the negative log posterior at the MAP is not positive "
            f"definite (smallest eigenvalue {e.min():.3g}); the posterior is not "
            "unimodal there. Use a larger prior_scale, more data or another prior."
        )
    return e, V


def _solve_smooth(problem: _Problem, prior: Prior, est) -> _Posterior:
    """MAP, noise update and Laplace approximation for a smooth prior."""
    A, b = problem.gram()
    c, dof, d = problem.c, problem.dof, problem.n_features
    y2, _ = problem.scales()
    fixed_noise = est.noise_scale is not None
    beta = 1.0 / est.noise_scale**2 if fixed_noise else problem.weight_scale / y2
    beta_lo, beta_hi = problem.beta_bounds(y2)
    w, converged, n_iter = np.zeros(d), True, 1
    for n_iter in range(1, est.max_iter + 1):  # noqa: B007
        w, converged = _map(A, b, c, beta, prior, w, est)
        if fixed_noise:
            break
        rss = max(float(w @ A @ w - 2 * b @ w + c), 0.0)
        e, V = _hessian_eigen(A, beta, prior, w)
        gamma = float(np.sum((V * (beta / e)) * (A @ V)))  # tr(βA H⁻¹)
        new_beta = (dof - gamma) / rss if (rss > 0 and dof > gamma) else beta_hi
        new_beta = float(np.clip(new_beta, beta_lo, beta_hi))
        change, beta = abs(np.log(new_beta / beta)), new_beta
        if change < est.tol:
            w, converged = _map(A, b, c, beta, prior, w, est)
            break
    else:
        converged = False
    if not converged:
        warn_user(
            f"The MAP or noise update for {type(prior).__name__} did not converge "
            f"in max_iter={est.max_iter} iterations (tol={est.tol}); increase "
            "max_iter.",
            ConvergenceWarning,
        )
    e, V = _hessian_eigen(A, beta, prior, w)
    rss = max(float(w @ A @ w - 2 * b @ w + c), 0.0)
    intercept_var, intercept_logml = _intercept_terms(problem, beta)
    log_ml = 0.5 * (dof * np.log(beta / (2 * np.pi)) - beta * rss)
    log_ml += prior.log_density(w) + intercept_logml
    log_ml += 0.5 * d * np.log(2 * np.pi) - 0.5 * np.sum(np.log(e))
    scale = est.prior_scale
    return _Posterior(
        coef=w,
        D=np.ones(d),
        basis=_Basis(V),
        inv=1.0 / e,
        cvar=0.0,
        x_offset=problem.x_offset,
        intercept_var=intercept_var,
        beta=beta,
        prior_scale=float(scale) if np.ndim(scale) == 0 else prior.scale.copy(),
        log_ml=float(log_ml),
        n_iter=n_iter,
    )
