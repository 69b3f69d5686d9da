"""Automatic relevance determination on sufficient statistics.

Prior ``w_i ~ N(0, 1/α_i)``, one precision per feature, noise precision
``β``. With ``A = XᵀWX``, ``b = XᵀWy``, ``c = yᵀWy`` (centred when there is an
intercept) and the active set ``a = {i: α_i < ∞}``, the posterior on ``a`` is
``N(μ, Σ)``, ``Σ = P⁻¹``, ``P = βA_aa + diag(α_a)``, ``μ = βΣb_a``, and the
exact log evidence is

``L = ½ [dof log(β/2π) - βc + β² b_aᵀΣb_a + Σ_a log α_i - log det P]``.

Tipping & Faul (2003): given the others, ``L`` depends on ``α_i`` through
``ℓ(α_i) = ½ [log α_i - log(α_i + s_i) + q_i² / (α_i + s_i)]``, maximised at
``α_i = s_i² / (q_i² - s_i)`` when ``q_i² > s_i`` and at ``α_i = ∞`` (the
feature leaves the model exactly) otherwise. ``s_i``, ``q_i`` are the
"leave-i-out" sparsity and quality factors: ``s_i = 1/Σ_ii - α_i``,
``q_i = μ_i / Σ_ii`` for an active feature, ``S_i = βA_ii - β²A_iaΣA_ai`` and
``Q_i = βb_i - β²A_iaΣb_a`` for an inactive one.

Keeping feature i at its maximiser raises ``L`` by ``½ (t - 1 - log t)``,
``t = q_i²/s_i``. For a pure-noise feature ``t ~ χ²₁``, so the exact maximum
keeps about a third of them. The objective is therefore
``J = L - penalty[k]`` for ``k`` kept features, the log posterior of the
support under a prior on it (:func:`_penalty`; 0 gives the exact maximum):
a feature is kept when its gain exceeds its share of the penalty. The
evidence reported is the exact ``L`` of the model kept.

Each iteration proposes every feature's maximiser of ``J`` at once and
MacKay's noise update ``β = (dof - γ) / RSS``, ``γ = Σ_a (1 - α_iΣ_ii)``;
the proposal is kept when it raises ``J``, otherwise the half, quarter, ...
of the coordinates with the largest gains move (down to the single best,
which never lowers ``J``) and ``β`` takes an EM step ``dof / (RSS + γ/β)``
(which never lowers it either). So ``J`` rises monotonically to a point
where every ``α_i`` and ``β`` is a coordinate-wise maximiser. With no
penalty that is the ARD fixed point (scikit-learn's
:class:`~sklearn.linear_model.ARDRegression` iterates towards it with
MacKay's updates, slowly for the features that leave). The data are read
once; an iteration costs O(k²·d + k³) for ``k`` active features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg
from sklearn.exceptions import ConvergenceWarning

from ._glr_problem import _Basis, _intercept_terms, _Posterior, _Problem
from ._warn import warn_user

# Steps in a row without a rise of the evidence that end the search.
_FLAT_STEPS = 20


@dataclass
class _State:
    """The ARD posterior and its factors at given ``(α, β)``."""

    alpha: np.ndarray  # (d,), inf where pruned
    beta: float
    active: np.ndarray  # indices of finite α
    L: np.ndarray  # lower Cholesky factor of P
    mu: np.ndarray  # (k,)
    sigma_diag: np.ndarray  # (k,)
    s: np.ndarray  # (d,) sparsity factors
    q: np.ndarray  # (d,) quality factors
    rss: float
    gamma: float
    log_ev: float
    objective: float  # log_ev minus the penalty of the number kept


def _state(A, b, c, dof, alpha, beta, penalty: np.ndarray) -> _State:
    """Factorise ``P`` on the active set and form every quantity of an update."""
    a = np.flatnonzero(np.isfinite(alpha))
    k = len(a)
    P = beta * A[np.ix_(a, a)]
    P[np.diag_indices(k)] += alpha[a]
    L = linalg.cholesky(P, lower=True) if k else np.zeros((0, 0))
    z = linalg.solve_triangular(L, b[a], lower=True) if k else np.zeros(0)
    mu = beta * linalg.solve_triangular(L.T, z, lower=False) if k else np.zeros(0)
    L_inv = linalg.solve_triangular(L, np.eye(k), lower=True) if k else L
    sigma_diag = np.sum(L_inv**2, axis=0)
    C = L_inv @ A[a] if k else np.zeros((0, len(alpha)))  # L⁻¹ A_a,:
    bC = beta * C  # β² C² as (βC)²: β may be huge (frequency weights)
    s = beta * np.diag(A) - np.sum(bC**2, axis=0)
    q = beta * b - bC.T @ (beta * z)
    s[a] = 1.0 / sigma_diag - alpha[a]
    q[a] = mu / sigma_diag
    rss = max(float(c - 2 * b[a] @ mu + mu @ A[np.ix_(a, a)] @ mu), 0.0)
    gamma = float(np.sum(1.0 - alpha[a] * sigma_diag))
    log_ev = 0.5 * (
        dof * np.log(beta / (2 * np.pi))
        - beta * rss
        - mu @ (alpha[a] * mu)
        + np.sum(np.log(alpha[a]))
        - 2 * np.sum(np.log(np.diag(L)))
    )
    objective = float(log_ev) - penalty[k]
    return _State(
        alpha, beta, a, L, mu, sigma_diag, s, q, rss, gamma, float(log_ev), objective
    )


def _cost(st: _State, penalty: np.ndarray) -> np.ndarray:
    """Each feature's share of the penalty: what keeping it costs, the others
    as they are."""
    k = len(st.active)
    cost = np.full(len(st.alpha), penalty[min(k + 1, len(penalty) - 1)] - penalty[k])
    cost[st.active] = penalty[k] - penalty[k - 1] if k else 0.0
    return cost


def _best_alpha(st: _State, scale_a: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """Every feature's coordinate-wise maximiser ``s²/(q² - s)`` or ∞.

    A feature is kept only when it raises the evidence by more than its cost
    (:func:`_cost`): at its maximiser the gain is ``½ (t - 1 - log t)``,
    ``t = q²/s``.
    """
    theta = st.q**2 - st.s
    # s ≤ 0 only by rounding (a feature in the span of the active ones).
    ok = (theta > 0) & (st.s > 1e-12 * scale_a)
    t = st.q[ok] ** 2 / st.s[ok]
    ok[ok] = 0.5 * (t - 1 - np.log(t)) > _cost(st, penalty)[ok]
    new = np.full_like(st.alpha, np.inf)
    new[ok] = st.s[ok] ** 2 / theta[ok]
    return new


def _ell(alpha: np.ndarray, s: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``ℓ(α)``, the part of the evidence that depends on one ``α_i`` (0 at ∞)."""
    out = np.zeros_like(alpha)
    f = np.isfinite(alpha)
    a, s_, q_ = alpha[f], s[f], q[f]
    out[f] = 0.5 * (np.log(a / (a + s_)) + q_**2 / (a + s_))
    return out


def _log_change(old: np.ndarray, new: np.ndarray) -> float:
    both = np.isfinite(old) & np.isfinite(new)
    if np.any(np.isfinite(old) != np.isfinite(new)):
        return np.inf
    return float(np.max(np.abs(np.log(new[both] / old[both])), initial=0.0))


def _penalty(threshold: str | float, d: int) -> np.ndarray:
    """``penalty[k]``: what a model of ``k`` kept features pays, in nats.

    ``"auto"``: ``log C(d, k)`` (Scott & Berger's multiplicity correction: each
    feature is kept a priori with probability π, π ~ U(0, 1)), so the
    ``(k+1)``-th feature must raise the evidence by ``log((d-k)/(k+1))``;
    never a reward (0 once ``k ≥ d/2``), so a kept feature always improves
    the evidence. A number ``t``: ``t`` nats per kept feature.
    """
    if isinstance(threshold, str):  # "auto"
        j = np.arange(d)
        cost = np.maximum(np.log((d - j) / (j + 1)), 0.0)
    else:
        cost = np.full(d, float(threshold))
    return np.concatenate([[0.0], np.cumsum(cost)])


def _solve_ard(problem: _Problem, est, threshold: str | float = 0.0) -> _Posterior:
    """Maximise the exact evidence, less the penalty (:func:`_penalty`) of the
    number of kept features, over one prior precision per feature."""
    A, b = problem.gram()
    c, dof, d = problem.c, problem.dof, problem.n_features
    penalty = _penalty(threshold, d)
    y2, _ = problem.scales()
    fixed_noise = est.noise_scale is not None
    beta = 1.0 / est.noise_scale**2 if fixed_noise else problem.weight_scale / y2
    beta_lo, beta_hi = problem.beta_bounds(y2)
    scale_a = np.maximum(np.diag(A), np.finfo(float).tiny)
    st = _state(A, b, c, dof, np.full(d, np.inf), beta, penalty)  # start empty (T&F)
    converged, n_iter, flat_steps = False, 0, 0
    for n_iter in range(1, est.max_iter + 1):  # noqa: B007
        alpha_new = _best_alpha(st, st.beta * scale_a, penalty)
        beta_new = st.beta
        if not fixed_noise:
            beta_new = (dof - st.gamma) / st.rss if st.rss > 0 else beta_hi
            beta_new = float(np.clip(beta_new, beta_lo, beta_hi))
        change = max(_log_change(st.alpha, alpha_new), abs(np.log(beta_new / st.beta)))
        if change < est.tol:
            converged = True
            break
        # Scales of features that are (nearly) redundant given the others
        # (d > n) leave the evidence flat: they can drift without end, so
        # _FLAT_STEPS steps in a row that no longer raise it end the search.
        flat = est.tol**2 * max(1.0, abs(st.objective))
        trial = _state(A, b, c, dof, alpha_new, beta_new, penalty)
        if trial.objective >= st.objective - 1e-12 * abs(st.objective):
            st, gain = trial, trial.objective - st.objective
        else:
            previous = st.objective
            st, moved = _coordinate_step(
                A,
                b,
                c,
                dof,
                st,
                alpha_new,
                fixed_noise,
                (beta_lo, beta_hi),
                est.tol,
                penalty,
            )
            if not moved:  # the proposal's change is rounding: a fixed point
                converged = True
                break
            gain = st.objective - previous
        flat_steps = flat_steps + 1 if gain <= flat else 0
        if flat_steps >= _FLAT_STEPS:
            converged = True
            break
    if not converged:
        warn_user(
            "The ARD evidence maximisation did not converge in max_iter="
            f"{est.max_iter} iterations (tol={est.tol}); increase max_iter.",
            ConvergenceWarning,
        )
    return _posterior(problem, st, n_iter)


def _coordinate_step(
    A, b, c, dof, st: _State, alpha_new, fixed_noise, beta_bounds, tol, penalty
) -> tuple[_State, bool]:
    """Move the coordinates with the largest gains, then an EM step in ``β``.

    The moves are sorted by their gain in ``J`` (``Δℓ`` less the change in
    the penalty, each given the others) and the top half, quarter, ... tried
    until ``J`` rises; the single best move always raises it.
    Returns the new state and whether anything moved by more than ``tol``.
    """
    kept_new, kept = np.isfinite(alpha_new), np.isfinite(st.alpha)
    gain = _ell(alpha_new, st.s, st.q) - _ell(st.alpha, st.s, st.q)
    gain -= _cost(st, penalty) * (kept_new.astype(float) - kept)
    order = np.argsort(-gain)
    order = order[gain[order] > 0]
    moved = len(order) > 0
    m = len(order) // 2
    while m >= 1:
        alpha = st.alpha.copy()
        alpha[order[:m]] = alpha_new[order[:m]]
        trial = _state(A, b, c, dof, alpha, st.beta, penalty)
        if trial.objective >= st.objective or m == 1:
            st = trial
            break
        m //= 2
    if not fixed_noise:
        beta = float(np.clip(dof / (st.rss + st.gamma / st.beta), *beta_bounds))
        if abs(np.log(beta / st.beta)) >= tol:
            moved = True
            st = _state(A, b, c, dof, st.alpha, beta, penalty)
    return st, bool(moved)


def _posterior(problem: _Problem, st: _State, n_iter: int) -> _Posterior:
    """The Gaussian posterior on the active set; pruned features are exactly 0."""
    d, a = problem.n_features, st.active
    P = st.L @ st.L.T
    e, Q = linalg.eigh(P, driver="evd") if len(a) else (np.zeros(0), np.zeros((0, 0)))
    V = np.zeros((d, len(a)))
    V[a] = Q
    coef = np.zeros(d)
    coef[a] = st.mu
    intercept_var, intercept_logml = _intercept_terms(problem, st.beta)
    prior_scale = np.zeros(d)
    prior_scale[a] = 1.0 / np.sqrt(st.alpha[a])
    return _Posterior(
        coef=coef,
        D=np.ones(d),
        basis=_Basis(V),
        inv=1.0 / e,
        cvar=0.0,
        x_offset=problem.x_offset,
        intercept_var=intercept_var,
        beta=st.beta,
        prior_scale=prior_scale,
        log_ml=st.log_ev + intercept_logml,
        n_iter=n_iter,
    )
