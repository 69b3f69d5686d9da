"""One fit of the classifier's posterior on standardised data.

Chooses between the variational and the Laplace Gaussian, runs the
empirical-Bayes search of ``prior_scale="auto"``, and reports the evidence
lower bound in the units of the user's X. Kept apart from the estimator so
that the estimator file holds the API and this one the procedure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils.class_weight import compute_class_weight
from tqdm.auto import tqdm

from .._priors import Prior
from ._evidence_search import LOG_BOUNDS, maximise_evidence
from ._expected_loglik import softmax_expectations
from ._logistic_loss import hessian, hessian_diag
from ._map_laplace import _Problem
from ._moderation import normal_bank
from ._variational import (
    GaussianPosterior,
    _Objective,
    _row_moments,
    expected_prior,
    fit_variational,
)

# Points of the deterministic bank of the softmax expectations in the fit.
FIT_BANK = 256
# An independent, larger bank for the reported ELBO: the fit's own bank
# flatters the q fitted to it (by 0.1 nats on iris, 2-4 on wine at σ >= 30,
# against 20,000 Monte-Carlo draws), and the bound could then exceed the
# evidence. This one's error is random: 0.01 nats at σ = 0.3, up to ~0.4
# at σ = 30 on wine (1,024 against 8,192 points).
REPORT_BANK = 1024
_REPORT_SEED = 20261202
# Inner fits of the evidence search: fixed, tight, whatever the user's tol.
_SEARCH_TOL = 1e-8
# Lattice of the chosen log σ.
_SNAP = 0.05


def class_weights(class_weight, classes, y, y_enc, sample_weight, name: str):
    """Per-row class weights, validated like ``sample_weight``."""
    if class_weight is None:
        return np.ones(y_enc.shape[0])
    if isinstance(class_weight, dict):
        for key, value in class_weight.items():
            if not np.isfinite(value) or value < 0:
                raise ValueError(
                    f"class_weight must be non-negative and finite; got {value!r} "
                    f"for class {key!r}."
                )
    try:  # as LogisticRegression: "balanced" counts weighted samples
        cw = compute_class_weight(
            class_weight, classes=classes, y=y, sample_weight=sample_weight
        )
    except TypeError:  # scikit-learn < 1.6 has no sample_weight here
        cw = compute_class_weight(class_weight, classes=classes, y=y)
    return cw[y_enc]


@dataclass
class FitResult:
    theta: np.ndarray  # mean (coef_ and intercept_), standardised units
    cov: np.ndarray | None
    elbo: float | None  # in the units of the user's X
    log_sigma: float | None  # the auto scale, standardised units
    prior: Prior
    n_iter: int
    map: np.ndarray | None = None  # the MAP (coef_ and intercept_)


class PosteriorFit:
    """Fit settings; :meth:`run` does one fit on a :class:`_Problem`."""

    def __init__(self, *, approximation, covariance, max_iter, tol, verbose=False):
        self.approximation = approximation
        self.verbose = verbose
        self.covariance = covariance
        self.kind = "diag" if covariance == "diag" else "full"
        self.max_iter = max_iter
        self.tol = tol

    def run(self, problem: _Problem, prior: Prior, scale: np.ndarray, auto: bool):
        """``prior`` is in the user's units; ``scale`` the column scales."""
        self.problem, self.scale = problem, scale
        self.bank = (
            normal_bank(problem.n_rows, FIT_BANK) if problem.n_rows > 1 else None
        )
        self.report_bank = (
            normal_bank(problem.n_rows, REPORT_BANK, seed=_REPORT_SEED)
            if problem.n_rows > 1
            else None
        )
        if not auto:
            return self._at(prior, self.tol, warm=None)
        # σ in standardised units: the geometric mean column scale is 1.
        s0 = float(np.exp(np.mean(np.log(scale))))
        state = {"n_iter": 0, "warm": {}}
        bar = tqdm(
            disable=not self.verbose,
            leave=False,
            desc="BayesianLogisticRegression prior_scale='auto'",
            unit="fit",
        )

        def evaluate(log_sigma: float):
            sigma = np.exp(log_sigma) / s0  # in the units of X
            user = prior.with_scale(np.full(scale.shape, sigma))
            near = min(state["warm"], key=lambda k: abs(k - log_sigma), default=None)
            res = self._at(user, _SEARCH_TOL, warm=state["warm"].get(near), full=True)
            state["warm"][log_sigma] = res.post
            state["n_iter"] += res.n_iter
            bar.update(1)
            bar.set_postfix(sigma=f"{sigma:.4g}", elbo=f"{res.elbo:.4f}")
            return res.elbo, res

        with bar:
            log_sigma, _ = maximise_evidence(evaluate)
        # Snap to a lattice in log σ (the bound is flat there to ~1e-3 nats)
        # and refit from cold: the answer is then a function of the data
        # alone, not of the search path (a weighted row fits like repeats;
        # a warm refit broke scikit-learn's sample-weight equivalence check).
        log_sigma = float(np.round(log_sigma / _SNAP) * _SNAP)
        log_sigma = float(np.clip(log_sigma, *LOG_BOUNDS))
        user = prior.with_scale(np.full(scale.shape, np.exp(log_sigma) / s0))
        res = self._at(user, _SEARCH_TOL, warm=None, full=True)
        res.log_sigma = log_sigma
        # the MAP at the chosen scale (the user's tolerance)
        internal = self._internal(res.prior)
        res.map, it = problem.solve_map(res.theta, internal, self.max_iter, self.tol)
        res.n_iter += state["n_iter"] + it
        if self.covariance is None:  # MAP only
            res.theta, res.cov = res.map, None
        return res

    def _internal(self, prior: Prior) -> Prior:
        if prior.scale is None:
            return prior
        return prior.with_scale(prior.scale * self.scale)

    def _at(self, prior_user: Prior, tol: float, warm, full: bool = False):
        """Posterior at one prior; ``full`` forces a posterior (for the search)."""
        p, prior = self.problem, self._internal(prior_user)
        kind = self.kind
        if self.covariance is None and not full:
            theta, it = p.solve_map(p.initial_theta(), prior, self.max_iter, tol)
            return FitResult(theta, None, None, None, prior_user, it, theta)
        n_iter, theta_map = 0, None
        if warm is not None and self.approximation == "variational":
            theta, data_prec = warm.theta, warm.data_prec
        else:
            start = warm.theta if warm is not None else p.initial_theta()
            theta, n_iter = p.solve_map(start, prior, self.max_iter, tol)
            theta_map = theta
            coef, intercept = p.split(theta)
            if self.approximation == "laplace":
                cov, logdet, n_eff = p.posterior(theta, prior, kind)
                obj = _Objective(p, prior, kind, self.bank)
                elbo, *_, ell = obj.evaluate(theta, cov, logdet, n_eff)
                post = GaussianPosterior(theta, cov, cov, elbo, n_iter, ell)
                return self._result(post, prior, prior_user, n_iter, theta_map)
            make = hessian_diag if kind == "diag" else hessian
            data_prec = make(p.X, p.sw, coef, intercept, p.fit_intercept)
        post = fit_variational(
            p,
            prior,
            theta,
            data_prec,
            kind=kind,
            bank=self.bank,
            max_iter=self.max_iter,
        )
        return self._result(post, prior, prior_user, n_iter + post.n_iter, theta_map)

    def _result(self, post, prior, prior_user, n_iter, theta_map):
        """The ELBO in the user's units: the prior density and the entropy
        change with the parameterisation (unit Jacobian for the intercept)."""
        p, scale = self.problem, self.scale
        K, D, d = p.n_rows, p.D, p.n_features
        var = np.diag(post.cov) if post.cov.ndim == 2 else post.cov
        coef = post.theta.reshape(K, D)[:, :d]
        v = var.reshape(K, D)[:, :d]
        lp_int = expected_prior(prior, coef, v)[0]
        lp_user = expected_prior(prior_user, coef / scale, v / scale**2)[0]
        # the entropy of the directions q spreads over (not the weights held at 0)
        log_c = np.broadcast_to(np.log(scale), v.shape)
        elbo = post.elbo + lp_user - lp_int - float(np.sum(log_c[v > 0]))
        if self.report_bank is not None:
            elbo += self._bank_correction(post)
        res = FitResult(
            post.theta, post.cov, float(elbo), None, prior_user, n_iter, theta_map
        )
        res.post = post
        return res

    def _bank_correction(self, post) -> float:
        """Softmax expected log-likelihood on the report bank minus the fit's."""
        p = self.problem
        mu, Sig = _row_moments(p, post.theta, post.cov)
        report = softmax_expectations(mu, Sig, p.target, self.report_bank)[0]
        return float(p.sw @ report) - post.ell
