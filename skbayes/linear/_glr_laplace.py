"""Laplace prior: MAP by coordinate descent, noise update, active-set posterior."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso

from .._priors import Prior
from ._glr_problem import (
    _EPS,
    _Basis,
    _intercept_terms,
    _null_threshold,
    _Posterior,
    _Problem,
)
from ._warn import warn_user


def _pseudo_rows(
    problem: _Problem, B: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Rows ``(X̃, ỹ)`` with ``X̃ᵀX̃ = B A B``, ``X̃ᵀỹ = B b`` and the leftover
    ``yᵀWy - ‖ỹ‖²``, so a Lasso on at most d rows solves the MAP."""
    if problem.Phi is not None:
        Xt = problem.Phi.scale(B).toarray()
        return Xt, problem.t, max(problem.c - problem.t @ problem.t, 0.0)
    e, Q = linalg.eigh(problem.A * np.outer(B, B), driver="evd")
    keep = e > _null_threshold(e, len(e))
    e, Q = e[keep], Q[:, keep]
    root = np.sqrt(e)
    Xt = root[:, None] * Q.T
    yt = (Q.T @ (B * problem.b)) / root
    return np.asfortranarray(Xt), yt, max(problem.c - yt @ yt, 0.0)


def _map(lasso: Lasso, Xt, yt, c_res: float, beta: float, warn: bool):
    """The MAP ``v`` at noise precision β and its residual sum of squares.

    Coefficients at rounding level (|v| ≤ 1e-12 max|v|, e.g. 2e-19 beside
    O(1) ones) are made exact zeros: they are not part of the support.
    """
    q = Xt.shape[0]
    lasso.set_params(alpha=1.0 / (q * beta))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        lasso.fit(Xt, yt)
    if warn and any(issubclass(w.category, ConvergenceWarning) for w in caught):
        warn_user(
            "Coordinate descent for the Laplace-prior MAP did not converge; "
            "increase max_iter.",
            ConvergenceWarning,
        )
    v = lasso.coef_.copy()
    v[np.abs(v) <= 1e-12 * np.abs(v).max(initial=0.0)] = 0.0
    return v, c_res + float(np.sum((yt - Xt @ v) ** 2))


def _solve_laplace(problem: _Problem, prior: Prior, est) -> _Posterior:
    """MAP by coordinate descent, noise update, Laplace approx on the active set.

    In the coordinates ``v = w / b`` the penalty is ``‖v‖₁``; the negative log
    posterior ``β/2 ‖ỹ - X̃v‖² + ‖v‖₁`` is Lasso's objective times ``qβ`` for
    ``alpha = 1/(qβ)`` on q pseudo-rows. With ``noise_scale=None`` the update
    ``β = (dof - k) / RSS`` may have no fixed point: the support size k jumps
    with β, and β then alternates between two supports. That cycle is
    detected, and the one of its states with the higher approximate evidence
    is kept, with a warning that says so.
    """
    Xt, yt, c_res = _pseudo_rows(problem, prior.scale)
    y2, _ = problem.scales()
    fixed_noise = est.noise_scale is not None
    beta = 1.0 / est.noise_scale**2 if fixed_noise else problem.weight_scale / y2
    beta_lo, beta_hi = problem.beta_bounds(y2)
    dof = problem.dof
    lasso = Lasso(
        alpha=1.0,
        fit_intercept=False,
        max_iter=est.max_iter * 10,
        tol=1e-10,
        warm_start=True,
    )
    v, resid = np.zeros(problem.n_features), c_res + yt @ yt
    history: list[tuple[bytes, float]] = []  # (support, β) per iteration
    n_iter, converged, cycle = 0, fixed_noise, None
    for n_iter in range(1, est.max_iter + 1):  # noqa: B007
        if Xt.shape[0] > 0:
            v, resid = _map(lasso, Xt, yt, c_res, beta, warn=True)
        if fixed_noise:
            break
        k = int(np.count_nonzero(v))
        history.append(((v != 0).tobytes(), beta))
        new_beta = (dof - k) / resid if (resid > 0 and dof > k) else beta_hi
        new_beta = float(np.clip(new_beta, beta_lo, beta_hi))
        change, beta = abs(np.log(new_beta / beta)), new_beta
        if change < est.tol:
            converged = True
            break
        cycle = _two_cycle(history)
        if cycle is not None:
            break
    if not fixed_noise and Xt.shape[0] > 0:
        # The MAP must belong to the final noise level.
        v, resid = _map(lasso, Xt, yt, c_res, beta, warn=False)
    post = _laplace_posterior(problem, prior, Xt, v, resid, beta, est, n_iter)
    if cycle is not None:
        other_beta = cycle
        v2, resid2 = _map(lasso, Xt, yt, c_res, other_beta, warn=False)
        post2 = _laplace_posterior(
            problem, prior, Xt, v2, resid2, other_beta, est, n_iter
        )
        sizes = sorted([int(np.count_nonzero(v)), int(np.count_nonzero(v2))])
        if post2.log_ml > post.log_ml:
            post = post2
        warn_user(
            "The noise update for the Laplace prior alternates between two "
            f"supports ({sizes[0]} and {sizes[1]} non-zero coefficients) and has "
            "no fixed point: σ_n² = RSS / (dof - k) changes the support size k, "
            "which changes σ_n back. Kept the state with the higher approximate "
            "evidence. Pass noise_scale, or use prior='gaussian'.",
            ConvergenceWarning,
        )
    elif not converged:
        warn_user(
            f"The noise update for the Laplace prior did not converge in max_iter="
            f"{est.max_iter} iterations (tol={est.tol}); increase max_iter.",
            ConvergenceWarning,
        )
    return post


def _two_cycle(history: list[tuple[bytes, float]]) -> float | None:
    """β of the other state when the supports alternate A, B, A, B, else None."""
    if len(history) < 4:
        return None
    (a1, _), (b1, beta_b), (a2, _), (b2, _) = history[-4:]
    if a1 == a2 and b1 == b2 and a1 != b1:
        return beta_b
    return None


def _laplace_posterior(
    problem: _Problem, prior: Prior, Xt, v, resid, beta, est, n_iter
) -> _Posterior:
    """Gaussian on the active set at the MAP, with its Laplace evidence."""
    B, d, dof = prior.scale, problem.n_features, problem.dof
    active = np.flatnonzero(v)
    Xa = Xt[:, active]
    ea, Qa = (
        linalg.eigh(Xa.T @ Xa, driver="evd")
        if len(active)
        else (np.zeros(0), np.zeros((0, 0)))
    )
    ea = np.maximum(
        ea, ea.max(initial=0.0) * len(ea) * _EPS * 10 + np.finfo(float).tiny
    )
    V = np.zeros((d, len(active)))
    V[active] = Qa
    coef = B * v
    intercept_var, intercept_logml = _intercept_terms(problem, beta)
    log_ml = 0.5 * (dof * np.log(beta / (2 * np.pi)) - beta * resid)
    log_ml += prior.log_density(coef) + intercept_logml
    log_ml += 0.5 * len(active) * np.log(2 * np.pi) - 0.5 * np.sum(np.log(beta * ea))
    log_ml += np.sum(np.log(B[active]))  # the active-set Hessian was in v = w/b
    prior_scale = (
        float(est.prior_scale) if np.ndim(est.prior_scale) == 0 else prior.scale.copy()
    )
    return _Posterior(
        coef=coef,
        D=B.copy(),
        basis=_Basis(V),
        inv=1.0 / (beta * ea),
        cvar=0.0,
        x_offset=problem.x_offset,
        intercept_var=intercept_var,
        beta=beta,
        prior_scale=prior_scale,
        log_ml=float(log_ml),
        n_iter=max(n_iter, 1),
    )
