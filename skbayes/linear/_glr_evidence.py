"""Exact posterior under the Gaussian or flat prior; evidence maximisation.

One eigen-decomposition of ``D A D`` makes every step of MacKay's fixed point
O(d); a bounded L-BFGS-B search finishes it when the optimum is on a boundary.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize
from sklearn.exceptions import ConvergenceWarning

from .._priors import Prior
from ._glr_problem import _EPS, _intercept_terms, _Posterior, _Problem
from ._warn import warn_user


def _solve_gaussian(problem: _Problem, prior: Prior, auto: bool, est) -> _Posterior:
    """Exact posterior under the Gaussian or flat prior; MacKay's fixed point.

    Work in whitened coordinates ``u = w / σ_w`` (``D = σ_w`` per feature for
    a fixed scale, ``D = 1`` and a tuned precision ``λ`` for "auto"), where the
    prior precision is ``λ I``: one eigen-decomposition then makes every
    fixed-point step O(d).
    """
    d = problem.n_features
    flat = prior.is_flat
    D = np.ones(d) if (flat or auto) else prior.scale
    e, V, p = problem.eigen(D)
    r = len(e)
    if flat:
        lam = 0.0
        rank = int(np.sum(e > 0))
        if rank < d:
            warn_user(
                f"XᵀWX is singular (numerical rank {rank} < n_features = {d}): the "
                "flat prior (prior=None) leaves the coefficients undetermined along "
                f"{d - rank} direction(s). Using the minimum-norm solution and the "
                "posterior of the identifiable part only; use prior='gaussian' or "
                "'laplace' for a proper posterior, or remove collinear features.",
                UserWarning,
            )
            keep = e > 0
            e, V, p = e[keep], V.restrict(keep), p[keep]
            r = rank
    else:
        lam = 1.0
    y2, x2 = problem.scales()
    fixed_noise = est.noise_scale is not None
    beta = 1.0 / est.noise_scale**2 if fixed_noise else problem.weight_scale / y2
    # Bounds that keep the fixed point finite on degenerate data (constant y,
    # an exact fit), relative to the data's own scales.
    beta_lo, beta_hi = problem.beta_bounds(y2)
    lam_lo, lam_hi = 1e-12 * x2 / y2, 1e12 * x2 / y2
    dof = problem.dof
    if flat and not fixed_noise and dof - r <= 0:
        raise ValueError(
            "Estimating the noise with prior=None needs a total sample weight above "
            f"rank(X){' + 1' if problem.fit_intercept else ''} = "
            f"{r + problem.fit_intercept}; got {problem.total:g}. Pass noise_scale."
        )

    # Residual sum of squares split as (least-squares residual) + (shrinkage
    # part): c - 2pᵀm + mᵀEm would cancel catastrophically for large β.
    pos = e > 0
    p_pos, e_pos = p[pos], e[pos]
    resid_ls = problem.c - float(np.sum(p_pos**2 / e_pos))
    if resid_ls <= problem.c * max(d, len(e)) * _EPS * 100:
        resid_ls = 0.0  # an exact fit (d ≥ n): make it exactly exact, both routes

    def moments(lam: float, beta: float):
        denom = beta * e + lam
        mk = beta * p / denom
        shrink = lam * p_pos / (e_pos * beta + lam)
        resid = resid_ls + float(np.sum(shrink**2 / e_pos))
        gamma = float(np.sum(beta * e / denom))
        return denom, mk, resid, gamma

    def log_evidence(lam: float, beta: float) -> float:
        denom, mk, resid, _ = moments(lam, beta)
        value = 0.5 * (dof * np.log(beta / (2 * np.pi)) - beta * resid)
        value -= 0.5 * np.sum(np.log(denom))
        if flat:
            return value + 0.5 * r * np.log(2 * np.pi)
        # log det of the prior precision minus the (d - r) null directions of
        # the dual route, whose posterior precision is λ alone.
        # (in u = w / D, whose prior is N(0, I/λ): no Jacobian, as the
        # evidence is a density in y)
        return value + 0.5 * (r * np.log(lam) - lam * (mk @ mk))

    def log_evidence_grad(lam: float, beta: float) -> tuple[float, float]:
        """Gradient of :func:`log_evidence` in log λ and log β."""
        _, mk, resid, gamma = moments(lam, beta)
        return 0.5 * (gamma - lam * (mk @ mk)), 0.5 * (dof - beta * resid - gamma)

    n_iter = 1
    tune_lam, tune_beta = auto and not flat, not fixed_noise
    if tune_lam or tune_beta:
        converged = False
        # MacKay's fixed point (as BayesianRidge): cheap O(r) steps, each
        # setting the evidence's gradient in λ and β to zero given γ.
        for n_iter in range(1, est.max_iter + 1):  # noqa: B007
            _, mk, resid, gamma = moments(lam, beta)
            new_lam, new_beta = lam, beta
            if tune_lam:
                m2 = float(mk @ mk)
                new_lam = gamma / m2 if m2 > 0 else lam_hi
                new_lam = float(np.clip(new_lam, lam_lo, lam_hi))
            if tune_beta:
                new_beta = (dof - gamma) / resid if resid > 0 else beta_hi
                new_beta = float(np.clip(new_beta, beta_lo, beta_hi))
            change = max(
                abs(np.log(new_lam / lam)) if tune_lam else 0.0,
                abs(np.log(new_beta / beta)),
            )
            lam, beta = new_lam, new_beta
            if change < est.tol:
                converged = True
                break
        if not converged:
            # The fixed point crawls when the optimum is on a boundary (an
            # exact fit, no signal): finish with a bounded quasi-Newton search.
            lam, beta, extra, converged = _polish(
                log_evidence,
                log_evidence_grad,
                lam,
                beta,
                (lam_lo, lam_hi) if tune_lam else None,
                (beta_lo, beta_hi) if tune_beta else None,
                est,
            )
            n_iter += extra
            if not converged:
                # L-BFGS-B gives up on a plateau (the evidence flattens like
                # 1/β as σ_n → 0): a stationary point all the same.
                g_lam, g_beta = log_evidence_grad(lam, beta)
                slope = max(
                    abs(g_lam) if tune_lam else 0.0, abs(g_beta) if tune_beta else 0.0
                )
                converged = slope <= 1e-6 * max(dof, 1.0)
        if not converged:
            warn_user(
                "The marginal-likelihood maximisation did not converge in max_iter="
                f"{est.max_iter} iterations (tol={est.tol}); increase max_iter.",
                ConvergenceWarning,
            )

    denom, mk, resid, gamma = moments(lam, beta)
    coef = D * V.matvec(mk)
    intercept_var, intercept_logml = _intercept_terms(problem, beta)
    log_ml = log_evidence(lam, beta) + intercept_logml
    if flat:
        prior_scale = None
    elif auto:
        prior_scale = float(1.0 / np.sqrt(lam))
    elif np.ndim(est.prior_scale) == 0:
        prior_scale = float(est.prior_scale)
    else:
        prior_scale = prior.scale.copy()
    return _Posterior(
        coef=coef,
        D=D,
        basis=V,
        inv=1.0 / denom,
        cvar=1.0 / lam if (r < d and not flat) else 0.0,
        x_offset=problem.x_offset,
        intercept_var=intercept_var,
        beta=beta,
        prior_scale=prior_scale,
        log_ml=float(log_ml),
        n_iter=n_iter,
    )


def _polish(
    log_evidence,
    log_evidence_grad,
    lam: float,
    beta: float,
    lam_bounds: tuple[float, float] | None,
    beta_bounds: tuple[float, float] | None,
    est,
) -> tuple[float, float, int, bool]:
    """Maximise the evidence over log λ and/or log β with L-BFGS-B."""
    names = [n for n, b in (("lam", lam_bounds), ("beta", beta_bounds)) if b]
    bounds = [np.log(b) for b in (lam_bounds, beta_bounds) if b]
    start = {"lam": np.log(lam), "beta": np.log(beta)}

    def unpack(theta):
        values = {"lam": lam, "beta": beta}
        values.update({n: float(np.exp(t)) for n, t in zip(names, theta)})
        return values["lam"], values["beta"]

    def objective(theta):
        lam_, beta_ = unpack(theta)
        g_lam, g_beta = log_evidence_grad(lam_, beta_)
        grad = {"lam": g_lam, "beta": g_beta}
        return -log_evidence(lam_, beta_), -np.array([grad[n] for n in names])

    res = optimize.minimize(
        objective,
        np.array([start[n] for n in names]),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        # A tight gtol: on a boundary (σ_n → 0 for an exact fit) the gradient
        # decays like 1/β, and stopping early would leave a start-dependent σ_n.
        options={"maxiter": est.max_iter, "ftol": 0.0, "gtol": 1e-12},
    )
    new_lam, new_beta = unpack(res.x)
    return new_lam, new_beta, int(res.nit), bool(res.success)
