"""GaussianLinearRegression: identities, exact online updating, statistics, errors."""

import pickle
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy import optimize, stats
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
from sklearn.linear_model import BayesianRidge, Lasso, LinearRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skbayes import GaussianLinearRegression, Normal
from skbayes.linear._suffstats import CentredRows, SuffStats

# scikit-learn's estimator checks over the variants live in tests/test_common.py.


def _data(n=300, d=5, *, seed=0, offset=3.0, noise=0.3, weights=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) + offset  # far from 0: centring matters
    w = rng.normal(size=d)
    y = X @ w + 1.5 + noise * rng.normal(size=n)
    sw = rng.uniform(0.2, 3.0, size=n) if weights else None
    return X, y, sw


def _assert_same_model(a, b, rtol=1e-10, atol=1e-12):
    assert_allclose(a.coef_, b.coef_, rtol=rtol, atol=atol)
    assert_allclose(a.intercept_, b.intercept_, rtol=rtol, atol=atol)
    assert_allclose(a.coef_cov_, b.coef_cov_, rtol=rtol, atol=atol)
    assert_allclose(a.noise_std_, b.noise_std_, rtol=rtol)
    # a sum of large terms: compare it absolutely as well
    assert_allclose(
        a.log_marginal_likelihood_, b.log_marginal_likelihood_, rtol=rtol, atol=1e-7
    )
    if a.prior_scale_ is not None:
        assert_allclose(a.prior_scale_, b.prior_scale_, rtol=rtol)


# -- identities ------------------------------------------------------------------


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_posterior_mean_is_ridge(fit_intercept, weighted):
    X, y, sw = _data(weights=weighted)
    sigma_w, sigma_n = 0.7, 0.4
    est = GaussianLinearRegression(
        prior_scale=sigma_w, noise_scale=sigma_n, fit_intercept=fit_intercept
    ).fit(X, y, sample_weight=sw)
    ridge = Ridge(
        alpha=sigma_n**2 / sigma_w**2, fit_intercept=fit_intercept, solver="cholesky"
    ).fit(X, y, sample_weight=sw)
    assert_allclose(est.coef_, ridge.coef_, rtol=1e-8, atol=1e-10)
    assert_allclose(est.intercept_, ridge.intercept_, rtol=1e-8, atol=1e-10)
    assert_allclose(est.predict(X), ridge.predict(X), rtol=1e-8)


def test_per_feature_prior_scale_is_ridge_on_rescaled_features():
    X, y, sw = _data(weights=True)
    scales = np.array([0.1, 1.0, 3.0, 0.5, 2.0])
    est = GaussianLinearRegression(prior_scale=scales, noise_scale=0.4).fit(X, y, sw)
    # w_j ~ N(0, s_j²) is a unit prior on v_j = w_j / s_j: Ridge on X * s.
    ridge = Ridge(alpha=0.4**2, solver="cholesky").fit(X * scales, y, sample_weight=sw)
    assert_allclose(est.coef_, ridge.coef_ * scales, rtol=1e-8)
    assert_allclose(est.prior_scale_, scales)


@pytest.mark.parametrize("weighted", [False, True])
def test_laplace_map_is_lasso(weighted):
    X, _, sw = _data(weights=weighted)
    y = X[:, :2] @ [1.0, -2.0] + 0.4 * np.random.default_rng(0).normal(size=len(X))
    b, sigma_n = 0.05, 0.4
    est = GaussianLinearRegression(
        prior="laplace", prior_scale=b, noise_scale=sigma_n, max_iter=1000
    ).fit(X, y, sample_weight=sw)
    # Lasso's loss is Σ s r² / (2 Σs): "n" is the total weight.
    n = len(y) if sw is None else sw.sum()
    lasso = Lasso(alpha=sigma_n**2 / (n * b), tol=1e-12, max_iter=100_000)
    lasso.fit(X, y, sample_weight=sw)
    assert np.any(lasso.coef_ == 0)  # the prior is strong enough to select
    assert_allclose(est.coef_, lasso.coef_, rtol=1e-6, atol=1e-8)
    assert_allclose(est.intercept_, lasso.intercept_, rtol=1e-6, atol=1e-8)


def test_laplace_sparsity_and_active_set_covariance():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 8))
    y = X[:, :3] @ [2.0, -1.0, 0.5] + 0.5 * rng.normal(size=400)
    est = GaussianLinearRegression(prior="laplace", prior_scale=0.02).fit(X, y)
    active = est.coef_ != 0
    assert 3 <= active.sum() < 8
    cov = est.coef_cov_
    assert np.all(cov[~active] == 0) and np.all(cov[:, ~active] == 0)
    Xa = X[:, active] - X[:, active].mean(axis=0)
    expected = est.noise_std_**2 * np.linalg.inv(Xa.T @ Xa)
    assert_allclose(cov[np.ix_(active, active)], expected, rtol=1e-8)
    # noise = RSS / (n - 1 - k) at the fixed point
    resid = y - est.predict(X)
    assert_allclose(
        est.noise_std_**2, resid @ resid / (400 - 1 - active.sum()), rtol=1e-5
    )
    lower, upper = est.coef_interval(0.9)
    assert np.all(lower[~active] == 0) and np.all(upper[~active] == 0)


def _bayesian_ridge(fit_intercept):
    # BayesianRidge puts Gamma(1e-6, 1e-6) hyperpriors on alpha_ and lambda_;
    # with them at 0 it maximises the plain evidence, as ours does.
    return BayesianRidge(
        fit_intercept=fit_intercept,
        alpha_1=0.0,
        alpha_2=0.0,
        lambda_1=0.0,
        lambda_2=0.0,
        tol=1e-14,
        max_iter=100_000,
        compute_score=True,
    )


def test_auto_without_intercept_is_bayesian_ridge():
    X, y, _ = _data(n=200, d=6, seed=3)
    est = GaussianLinearRegression(
        prior_scale="auto", fit_intercept=False, tol=1e-13, max_iter=100_000
    ).fit(X, y)
    br = _bayesian_ridge(False).fit(X, y)
    assert_allclose(est.coef_, br.coef_, rtol=1e-6)
    assert_allclose(1 / est.noise_std_**2, br.alpha_, rtol=1e-6)
    assert_allclose(1 / est.prior_scale_**2, br.lambda_, rtol=1e-6)
    assert_allclose(est.coef_cov_, br.sigma_, rtol=1e-6)
    assert_allclose(est.log_marginal_likelihood_, br.scores_[-1], rtol=1e-6)
    X_test = _data(n=20, d=6, seed=4)[0]
    assert_allclose(
        est.predict(X_test, return_std=True),
        br.predict(X_test, return_std=True),
        rtol=1e-6,
    )


def test_auto_with_intercept_differs_by_one_degree_of_freedom():
    n = 200
    X, y, _ = _data(n=n, d=6, seed=3)
    est = GaussianLinearRegression(prior_scale="auto", tol=1e-13, max_iter=10_000)
    est.fit(X, y)
    br = _bayesian_ridge(True).fit(X, y)
    # Same stationary equations except for the intercept's degree of freedom.
    assert abs(br.alpha_ * est.noise_std_**2 - 1) < 3 / n
    assert abs(br.lambda_ * est.prior_scale_**2 - 1) < 3 / n
    assert_allclose(est.coef_, br.coef_, rtol=3 / n)
    # ... which are exactly MacKay's with n - 1 in place of n:
    A = np.cov(X.T, bias=True) * n
    e = np.linalg.eigvalsh(A / est.noise_std_**2)
    gamma = np.sum(e / (e + 1 / est.prior_scale_**2))
    resid = y - est.predict(X)
    assert_allclose(est.noise_std_**2, resid @ resid / (n - 1 - gamma), rtol=1e-9)
    assert_allclose(est.prior_scale_**2, est.coef_ @ est.coef_ / gamma, rtol=1e-9)
    # and the predictive variance carries the intercept's σ²/n that BR lacks
    _, std = est.predict(X[:1], return_std=True)
    xc = X[0] - X.mean(axis=0)
    expected = est.noise_std_**2 * (1 + 1 / n) + xc @ est.coef_cov_ @ xc
    assert_allclose(std**2, expected, rtol=1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_posterior_is_textbook_closed_form(fit_intercept):
    X, y, sw = _data(n=60, d=4, seed=5, weights=True)
    sigma_w, sigma_n = 0.8, 0.5
    est = GaussianLinearRegression(
        prior_scale=sigma_w, noise_scale=sigma_n, fit_intercept=fit_intercept
    ).fit(X, y, sample_weight=sw)
    if fit_intercept:
        xbar = sw @ X / sw.sum()
        ybar = sw @ y / sw.sum()
    else:
        xbar, ybar = np.zeros(4), 0.0
    Xc, yc = X - xbar, y - ybar
    S = np.linalg.inv(Xc.T @ (sw[:, None] * Xc) / sigma_n**2 + np.eye(4) / sigma_w**2)
    m = S @ Xc.T @ (sw * yc) / sigma_n**2
    assert_allclose(est.coef_, m, rtol=1e-10)
    assert_allclose(est.coef_cov_, S, rtol=1e-10)
    assert_allclose(est.intercept_, ybar - xbar @ m, rtol=1e-10, atol=1e-12)
    X_new = _data(n=7, d=4, seed=6)[0]
    d = X_new - xbar
    var = sigma_n**2 + np.einsum("ij,jk,ik->i", d, S, d)
    if fit_intercept:
        var += sigma_n**2 / sw.sum()
    dist = est.predict_dist(X_new)
    assert_allclose(dist.mean, X_new @ m + ybar - xbar @ m, rtol=1e-10)
    assert_allclose(dist.std, np.sqrt(var), rtol=1e-10)
    assert_allclose(dist.aleatoric_std, sigma_n)
    assert_allclose(dist.epistemic_std**2 + dist.aleatoric_std**2, dist.var)


def _closed_form_log_evidence(X, y, sigma_w, sigma_n, fit_intercept):
    """log ∫ N(y | Xw + b, σ_n² I) N(w | 0, σ_w² I) p(b) dw db, p(b) = 1."""
    C = sigma_n**2 * np.eye(len(y)) + sigma_w**2 * X @ X.T
    value = stats.multivariate_normal(np.zeros(len(y)), C).logpdf(y)
    if fit_intercept:
        one = np.ones(len(y))
        Ci1, Ciy = np.linalg.solve(C, one), np.linalg.solve(C, y)
        q = one @ Ci1
        value += 0.5 * np.log(2 * np.pi / q) + 0.5 * (one @ Ciy) ** 2 / q
    return value


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_log_marginal_likelihood_is_closed_form(fit_intercept):
    X, y, _ = _data(n=40, d=3, seed=7)
    est = GaussianLinearRegression(
        prior_scale=0.9, noise_scale=0.6, fit_intercept=fit_intercept
    ).fit(X, y)
    expected = _closed_form_log_evidence(X, y, 0.9, 0.6, fit_intercept)
    assert_allclose(est.log_marginal_likelihood_, expected, rtol=1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("tune", ["both", "noise", "prior"])
def test_evidence_maximisation_matches_scipy(fit_intercept, tune):
    X, y, _ = _data(n=40, d=3, seed=8, noise=1.0)
    fixed_w, fixed_n = 0.9, 0.6
    params = {
        "both": dict(prior_scale="auto", noise_scale=None),
        "noise": dict(prior_scale=fixed_w, noise_scale=None),
        "prior": dict(prior_scale="auto", noise_scale=fixed_n),
    }[tune]
    est = GaussianLinearRegression(
        fit_intercept=fit_intercept, tol=1e-12, max_iter=100_000, **params
    ).fit(X, y)

    def neg(theta):
        sw = np.exp(theta[0]) if tune != "noise" else fixed_w
        sn = np.exp(theta[-1]) if tune != "prior" else fixed_n
        return -_closed_form_log_evidence(X, y, sw, sn, fit_intercept)

    x0 = {"both": [0.0, 0.0], "noise": [0.0], "prior": [0.0]}[tune]
    res = optimize.minimize(
        neg,
        x0,
        method="Nelder-Mead",
        options=dict(xatol=1e-10, fatol=1e-13, maxiter=10_000),
    )
    assert est.log_marginal_likelihood_ >= -res.fun - 1e-8
    assert_allclose(est.log_marginal_likelihood_, -res.fun, rtol=1e-9)
    if tune != "noise":
        assert_allclose(est.prior_scale_, np.exp(res.x[0]), rtol=1e-4)
    if tune != "prior":
        assert_allclose(est.noise_std_, np.exp(res.x[-1]), rtol=1e-4)
    # and it is the closed form at the scales it reports
    expected = _closed_form_log_evidence(
        X, y, est.prior_scale_, est.noise_std_, fit_intercept
    )
    assert_allclose(est.log_marginal_likelihood_, expected, rtol=1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_flat_prior_is_ols(fit_intercept):
    X, y, sw = _data(weights=True)
    est = GaussianLinearRegression(prior=None, fit_intercept=fit_intercept)
    est.fit(X, y, sample_weight=sw)
    ols = LinearRegression(fit_intercept=fit_intercept).fit(X, y, sample_weight=sw)
    assert_allclose(est.coef_, ols.coef_, rtol=1e-8)
    assert_allclose(est.intercept_, ols.intercept_, rtol=1e-8, atol=1e-10)
    assert est.prior_scale_ is None
    xbar = sw @ X / sw.sum() if fit_intercept else 0.0
    Xc = X - xbar
    resid = y - est.predict(X)
    dof = sw.sum() - fit_intercept - X.shape[1]
    assert_allclose(est.noise_std_**2, sw @ resid**2 / dof, rtol=1e-8)
    cov = est.noise_std_**2 * np.linalg.inv(Xc.T @ (sw[:, None] * Xc))
    assert_allclose(est.coef_cov_, cov, rtol=1e-8)


def test_flat_prior_singular_warns_and_gives_minimum_norm():
    X, y, _ = _data(n=50, d=3)
    X = np.column_stack([X, X[:, 0] + X[:, 1]])
    with pytest.warns(UserWarning, match=r"XᵀWX is singular \(numerical rank 3"):
        est = GaussianLinearRegression(prior=None).fit(X, y)
    ols = LinearRegression().fit(X, y)  # lstsq: minimum norm
    assert_allclose(est.predict(X), ols.predict(X), rtol=1e-8)
    assert_allclose(est.coef_, ols.coef_, rtol=1e-6, atol=1e-8)


# -- sufficient statistics: chunks, weights, routes --------------------------------

PARTIAL_CONFIGS = [
    dict(prior_scale=0.7, noise_scale=0.4),
    dict(),
    dict(prior_scale="auto"),
    dict(prior_scale="auto", fit_intercept=False),
    dict(prior=None),
    dict(prior="laplace", prior_scale=0.05),
]


@pytest.mark.parametrize("params", PARTIAL_CONFIGS)
@pytest.mark.parametrize("seed", [0, 1])
def test_partial_fit_over_random_chunkings_equals_fit(params, seed):
    X, y, sw = _data(n=500, d=6, seed=seed, weights=True, offset=50.0)
    full = GaussianLinearRegression(**params).fit(X, y, sample_weight=sw)
    rng = np.random.default_rng(seed)
    cuts = np.sort(
        rng.choice(np.arange(1, 500), size=rng.integers(1, 12), replace=False)
    )
    online = GaussianLinearRegression(**params)
    for idx in np.split(np.arange(500), cuts):
        online.partial_fit(X[idx], y[idx], sample_weight=sw[idx])
    rtol = 1e-8 if params.get("prior") == "laplace" else 1e-10
    _assert_same_model(full, online, rtol=rtol)
    assert_allclose(
        full.predict(X[:5], return_std=True),
        online.predict(X[:5], return_std=True),
        rtol=rtol,
    )


@pytest.mark.parametrize("weighted", [False, True])
def test_statistics_are_stable_far_from_zero(weighted):
    # x = 1e6 + N(0, 1): XᵀX - N x̄x̄ᵀ would lose 12 digits; the shifted and
    # merged statistics lose none beyond the data's own rounding.
    X, y, sw = _data(n=5000, d=3, offset=0.0, weights=weighted)
    far = X + 1e6
    ref = GaussianLinearRegression(prior_scale=0.5, noise_scale=0.3)
    ref.fit(far - 1e6, y, sample_weight=sw)  # the same rows, near 0
    est = GaussianLinearRegression(prior_scale=0.5, noise_scale=0.3)
    est.fit(far, y, sample_weight=sw)
    assert_allclose(est.coef_, ref.coef_, rtol=1e-7)
    assert_allclose(est.coef_cov_, ref.coef_cov_, rtol=1e-7)
    # a drifting stream (sorted rows) in uneven batches
    order = np.argsort(far[:, 0])
    online = GaussianLinearRegression(prior_scale=0.5, noise_scale=0.3)
    for idx in np.array_split(order, [7, 1000, 1001, 3000]):
        online.partial_fit(far[idx], y[idx], None if sw is None else sw[idx])
    assert_allclose(online.coef_, ref.coef_, rtol=1e-7)


def _spy_shifted_path(monkeypatch):
    """Record the rows each call of the stable (shifted-copy) path receives."""
    rows = []
    shifted = SuffStats._from_shifted_blocks

    def spy(X, y, s, unit):
        rows.append(len(X))
        return shifted(X, y, s, unit)

    monkeypatch.setattr(SuffStats, "_from_shifted_blocks", staticmethod(spy))
    return rows


def _assert_same_stats(a, b, rtol):
    # scatter entries relative to √(M_ii M_jj), the scale of their rounding
    scale = np.sqrt(np.outer(np.diag(b.scatter), np.diag(b.scatter)))
    assert np.max(np.abs(a.scatter - b.scatter) / scale) < rtol
    std = np.sqrt(np.diag(b.scatter) / b.sum_weight)
    assert np.all(np.abs(a.mean - b.mean) <= rtol * (np.abs(b.mean) + std))
    assert a.sum_weight == b.sum_weight and a.n_samples == b.n_samples


def test_raw_and_shifted_paths_agree_near_zero(monkeypatch):
    # Unweighted float64 rows a few std off 0 (features and y) take the raw
    # moments read off X in place; they match the shifted copies to ~1e-12.
    rng = np.random.default_rng(5)
    n, d = 20_000, 6  # several blocks
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 2, d) + rng.uniform(-5, 5, d)
    y = X @ rng.normal(size=d) + 2.0 + rng.normal(size=n)
    ones = np.ones(n)
    shifted_rows = _spy_shifted_path(monkeypatch)
    raw = SuffStats.from_data(X, y, ones)
    assert shifted_rows == []
    shifted = SuffStats._from_shifted_blocks(X, y, ones, True)
    _assert_same_stats(raw, shifted, rtol=1e-12)
    # and end to end: an F-ordered X is copied (shifted), a C-ordered one is not
    a = GaussianLinearRegression(prior_scale="auto").fit(X, y)
    assert shifted_rows == [n]
    b = GaussianLinearRegression(prior_scale="auto").fit(np.asfortranarray(X), y)
    assert shifted_rows == [n, n]
    _assert_same_model(a, b, rtol=1e-9)


@pytest.mark.parametrize("where", ["x", "y", "drift"])
def test_data_far_from_zero_take_the_stable_path(monkeypatch, where):
    rng = np.random.default_rng(6)
    n, d = 20_000, 4
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + rng.normal(size=n)
    if where == "x":
        X[:, 2] += 1e6
    elif where == "y":
        y += 1e4  # 11 std would already do
    else:  # a jump after 100 rows: the probe of the first rows (100 at 0, the
        # rest at 1e6) sees |mean| / std = √1.6, the batch √199: raw pass redone
        X[100:, 1] += 1e6
    shifted_rows = _spy_shifted_path(monkeypatch)
    stats = SuffStats.from_data(X, y, np.ones(n))
    assert shifted_rows == [n]
    # exactly the stable statistics, whichever way the path was chosen
    expected = SuffStats._from_shifted_blocks(X, y, np.ones(n), True)
    assert_allclose(stats.scatter, expected.scatter, rtol=0)
    assert_allclose(stats.mean, expected.mean, rtol=0)


def test_partial_fit_continues_after_fit_and_refit_forgets():
    X, y, _ = _data(n=200)
    est = GaussianLinearRegression().fit(X[:100], y[:100]).partial_fit(X[100:], y[100:])
    _assert_same_model(est, GaussianLinearRegression().fit(X, y))
    est.fit(X[:100], y[:100])
    _assert_same_model(est, GaussianLinearRegression().fit(X[:100], y[:100]))


@pytest.mark.parametrize("params", PARTIAL_CONFIGS)
def test_integer_weights_equal_repeated_rows(params):
    X, y, _ = _data(n=80, d=4, seed=2)
    sw = np.random.default_rng(2).integers(0, 4, size=80)
    weighted = GaussianLinearRegression(**params).fit(X, y, sample_weight=sw)
    repeated = GaussianLinearRegression(**params).fit(
        np.repeat(X, sw, axis=0), np.repeat(y, sw)
    )
    _assert_same_model(weighted, repeated, rtol=1e-8, atol=1e-10)


def test_unit_weights_equal_no_weights():
    X, y, _ = _data()
    a = GaussianLinearRegression().fit(X, y)
    b = GaussianLinearRegression().fit(X, y, sample_weight=np.ones(len(y)))
    _assert_same_model(a, b, rtol=1e-12)


@pytest.mark.parametrize(
    "params",
    [
        dict(prior_scale=0.7, noise_scale=0.4),
        dict(prior_scale="auto"),
        dict(prior_scale=0.7, noise_scale=0.4, fit_intercept=False),
        dict(prior_scale=np.linspace(0.1, 2, 60), noise_scale=0.4),
        dict(prior="laplace", prior_scale=0.3, noise_scale=0.4),
    ],
)
def test_dual_route_equals_primal_route(params):
    rng = np.random.default_rng(9)
    X = rng.normal(size=(25, 60)) + 1.0
    # noisy enough for an interior optimum of the evidence (not σ_n → 0)
    y = X[:, :5] @ rng.normal(size=5) * 0.1 + rng.normal(size=25)
    sw = rng.uniform(0.5, 2, size=25)
    dual = GaussianLinearRegression(**params).fit(X, y, sample_weight=sw)
    assert isinstance(dual._stats, CentredRows)  # the n×n route was taken
    primal = GaussianLinearRegression(**params).partial_fit(X, y, sample_weight=sw)
    assert isinstance(primal._stats, SuffStats)
    rtol = 1e-6 if params.get("prior") == "laplace" else 1e-8
    _assert_same_model(dual, primal, rtol=rtol, atol=1e-10)
    X_test = rng.normal(size=(10, 60))
    assert_allclose(
        dual.predict(X_test, return_std=True),
        primal.predict(X_test, return_std=True),
        rtol=rtol,
    )
    assert_allclose(
        dual.predict(sp.csr_matrix(X_test), return_std=True),
        primal.predict(X_test, return_std=True),
        rtol=rtol,
    )
    # a partial_fit after a dual fit carries on from the same statistics
    dual.partial_fit(X[:5], y[:5])
    primal.partial_fit(X[:5], y[:5])
    _assert_same_model(dual, primal, rtol=rtol, atol=1e-10)


@pytest.mark.parametrize("fmt", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
@pytest.mark.parametrize(
    "params",
    [
        dict(),
        dict(prior_scale="auto", fit_intercept=False),
        dict(prior="laplace", prior_scale=0.1),
    ],
)
def test_sparse_equals_dense(fmt, params):
    rng = np.random.default_rng(3)
    X = sp.random(300, 20, density=0.2, random_state=3, format="csr").toarray()
    y = X @ rng.normal(size=20) + 0.1 * rng.normal(size=300)
    sw = rng.uniform(0.5, 2, size=300)
    dense = GaussianLinearRegression(**params).fit(X, y, sample_weight=sw)
    sparse = GaussianLinearRegression(**params).fit(fmt(X), y, sample_weight=sw)
    _assert_same_model(dense, sparse, rtol=1e-8, atol=1e-10)
    assert_allclose(
        dense.predict(X, return_std=True),
        sparse.predict(fmt(X), return_std=True),
        rtol=1e-8,
    )


def test_float32_input():
    X, y, sw = _data(weights=True)
    a = GaussianLinearRegression(prior_scale="auto").fit(X.astype(np.float32), y, sw)
    b = GaussianLinearRegression(prior_scale="auto").fit(
        X.astype(np.float32).astype(np.float64), y, sw
    )
    _assert_same_model(a, b, rtol=1e-10)
    mean, std = a.predict(X.astype(np.float32), return_std=True)
    assert mean.dtype == std.dtype == a.coef_.dtype == np.float64


def test_pandas_feature_names():
    pd = pytest.importorskip("pandas")
    X, y, _ = _data(d=3)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    est = GaussianLinearRegression().fit(df, pd.Series(y))
    assert list(est.feature_names_in_) == ["a", "b", "c"]
    assert_allclose(est.predict(df), est.predict(X))
    with pytest.raises(ValueError, match="feature names"):
        est.predict(df[["c", "b", "a"]])
    est2 = GaussianLinearRegression().partial_fit(df[:100], y[:100])
    est2.partial_fit(df[100:], y[100:])
    assert list(est2.feature_names_in_) == ["a", "b", "c"]


@pytest.mark.parametrize("params", PARTIAL_CONFIGS)
def test_pickle_round_trip(params):
    X, y, _ = _data(n=50)
    est = GaussianLinearRegression(**params).fit(X, y)
    clone_ = pickle.loads(pickle.dumps(est))
    _assert_same_model(est, clone_, rtol=0, atol=0)
    assert_allclose(clone_.predict(X, return_std=True), est.predict(X, return_std=True))
    clone_.partial_fit(X, y)  # the statistics travelled too


# -- statistics ----------------------------------------------------------------------


def test_intervals_cover_on_well_specified_data():
    rng = np.random.default_rng(11)
    d, n, sigma_n = 5, 2000, 0.7
    w = rng.normal(size=d)
    X = rng.normal(size=(n, d))
    y = X @ w + 2.0 + sigma_n * rng.normal(size=n)
    est = GaussianLinearRegression(prior_scale="auto").fit(X, y)
    X_test = rng.normal(size=(20_000, d)) * 1.5
    y_test = X_test @ w + 2.0 + sigma_n * rng.normal(size=20_000)
    lower, upper = est.predict_dist(X_test).interval(0.9)
    coverage = np.mean((lower <= y_test) & (y_test <= upper))
    assert 0.88 <= coverage <= 0.92


def test_coefficient_intervals_are_calibrated_over_replicates():
    # Bayesian calibration: with w drawn from the prior and the true scales,
    # the 90% credible intervals hold w_j 90% of the time.
    rng = np.random.default_rng(12)
    sigma_w, sigma_n, d = 1.0, 1.0, 4
    est = GaussianLinearRegression(prior_scale=sigma_w, noise_scale=sigma_n)
    hits = []
    for _ in range(500):
        w = sigma_w * rng.normal(size=d)
        X = rng.normal(size=(8, d))
        y = X @ w + sigma_n * rng.normal(size=8)
        lower, upper = est.fit(X, y).coef_interval(0.9)
        hits.append((lower <= w) & (w <= upper))
    assert 0.87 <= np.mean(hits) <= 0.93


@pytest.mark.parametrize("params", PARTIAL_CONFIGS)
def test_predictive_std_at_least_noise(params):
    X, y, _ = _data(n=100)
    est = GaussianLinearRegression(**params).fit(X, y)
    dist = est.predict_dist(_data(n=50, seed=5)[0])
    assert np.all(dist.std >= est.noise_std_)
    assert_allclose(dist.aleatoric_std, est.noise_std_)
    assert_allclose(dist.epistemic_std**2 + dist.aleatoric_std**2, dist.std**2)
    mu, _ = dist
    assert_allclose(mu, est.predict(_data(n=50, seed=5)[0]))


def test_posterior_variance_shrinks_with_n():
    rng = np.random.default_rng(13)
    X = rng.normal(size=(3200, 4))
    y = X @ [1.0, 2.0, 0.0, -1.0] + rng.normal(size=3200)
    x = np.ones((1, 4))
    traces, stds = [], []
    for n in [25, 100, 400, 1600, 3200]:
        est = GaussianLinearRegression(prior_scale=1.0, noise_scale=1.0).fit(
            X[:n], y[:n]
        )
        traces.append(np.trace(est.coef_cov_))
        stds.append(est.predict_dist(x).epistemic_std[0])
    assert np.all(np.diff(traces) < 0) and np.all(np.diff(stds) < 0)
    assert traces[-1] < traces[0] / 50


def test_sample_y_and_coef_interval():
    X, y, _ = _data(n=100)
    est = GaussianLinearRegression().fit(X, y)
    samples = est.sample_y(X[:3], n_samples=20_000, random_state=0)
    assert samples.shape == (3, 20_000)
    mean, std = est.predict(X[:3], return_std=True)
    assert_allclose(samples.mean(axis=1), mean, atol=5 * std.max() / np.sqrt(20_000))
    assert_allclose(samples.std(axis=1), std, rtol=0.03)
    lower, upper = est.coef_interval(0.95)
    half = stats.norm.ppf(0.975) * np.sqrt(np.diag(est.coef_cov_))
    assert_allclose(lower, est.coef_ - half)
    assert_allclose(upper, est.coef_ + half)
    with pytest.raises(ValueError, match="confidence"):
        est.coef_interval(1.5)


@pytest.mark.parametrize(
    "params", [dict(), dict(prior="laplace", prior_scale=0.05), dict(prior=None)]
)
@pytest.mark.parametrize("wide", [False, True])
def test_sample_y_draws_from_the_joint_predictive(params, wide):
    rng = np.random.default_rng(14)
    d = 40 if wide else 4
    X = rng.normal(size=(20, d)) + 1.0
    y = X[:, 0] + rng.normal(size=20)
    if wide and params.get("prior", "gaussian") is None:
        pytest.skip("no flat-prior posterior when d > n")
    est = GaussianLinearRegression(noise_scale=0.5, **params).fit(X, y)
    X_new = rng.normal(size=(3, d))
    draws = est.sample_y(X_new, n_samples=40_000, random_state=0)
    assert draws.shape == (3, 40_000)
    # the covariance between rows is the epistemic one; noise on the diagonal
    xc = X_new - (X.mean(axis=0))
    cov = xc @ est.coef_cov_ @ xc.T + est._post.intercept_var
    cov += est.noise_std_**2 * np.eye(3)
    scale = np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    assert np.all(np.abs(np.cov(draws) - cov) < 0.04 * scale)
    mean, std = est.predict(X_new, return_std=True)
    assert_allclose(np.diag(cov), std**2, rtol=1e-8)
    assert np.all(np.abs(draws.mean(axis=1) - mean) < 5 * std / np.sqrt(40_000))
    assert_allclose(draws, est.sample_y(X_new, 40_000, random_state=0))


def test_grid_search_over_prior_and_scale_in_pipeline():
    X, y, _ = _data(n=120)
    pipe = make_pipeline(StandardScaler(), GaussianLinearRegression())
    grid = GridSearchCV(
        pipe,
        {
            "gaussianlinearregression__prior": ["gaussian", "laplace", None],
            "gaussianlinearregression__prior_scale": np.logspace(-2, 2, 5),
        },
        cv=3,
    ).fit(X, y)
    assert grid.best_score_ > 0.9
    assert isinstance(grid.best_estimator_[-1].predict_dist(X[:2]), Normal)


# -- properties (Hypothesis) -------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), prior=st.sampled_from(["gaussian", "laplace"]))
def test_row_permutation_invariance(seed, prior):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(30, 3))
    y = X @ rng.normal(size=3) + rng.normal(size=30)
    sw = rng.uniform(0.1, 2, size=30)
    perm = rng.permutation(30)
    params = dict(prior=prior, prior_scale=0.5)
    a = GaussianLinearRegression(**params).fit(X, y, sample_weight=sw)
    b = GaussianLinearRegression(**params).fit(X[perm], y[perm], sample_weight=sw[perm])
    _assert_same_model(a, b, rtol=1e-7, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    scale=st.floats(0.01, 100),
    sign=st.sampled_from([-1.0, 1.0]),
    shift=st.floats(-1e3, 1e3),
    auto=st.booleans(),
)
def test_affine_target_equivariance(seed, scale, sign, shift, auto):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 3))
    y = X @ rng.normal(size=3) + 0.5 * rng.normal(size=40)
    a_ = sign * scale
    # scales are standard deviations of y-units: they scale with |a|
    if auto:
        base, moved = dict(prior_scale="auto"), dict(prior_scale="auto")
    else:
        base = dict(prior_scale=0.8, noise_scale=0.5)
        moved = dict(prior_scale=0.8 * scale, noise_scale=0.5 * scale)
    est = GaussianLinearRegression(tol=1e-12, max_iter=10_000, **base).fit(X, y)
    est2 = GaussianLinearRegression(tol=1e-12, max_iter=10_000, **moved).fit(
        X, a_ * y + shift
    )
    assert_allclose(est2.coef_, a_ * est.coef_, rtol=1e-6, atol=1e-9 * scale)
    assert_allclose(
        est2.intercept_,
        a_ * est.intercept_ + shift,
        rtol=1e-6,
        atol=1e-7 * (scale + abs(shift)),
    )
    assert_allclose(est2.noise_std_, scale * est.noise_std_, rtol=1e-6)
    assert_allclose(
        est2.coef_cov_, scale**2 * est.coef_cov_, rtol=1e-6, atol=1e-12 * scale**2
    )
    mean, std = est.predict(X[:5], return_std=True)
    mean2, std2 = est2.predict(X[:5], return_std=True)
    assert_allclose(
        mean2, a_ * mean + shift, rtol=1e-6, atol=1e-7 * (scale + abs(shift))
    )
    assert_allclose(std2, scale * std, rtol=1e-6)
    # the evidence is a density in y: it moves by the Jacobian log|a| per dof
    dof = 40 - 1
    assert_allclose(
        est2.log_marginal_likelihood_,
        est.log_marginal_likelihood_ - dof * np.log(scale),
        rtol=1e-6,
        atol=1e-6,
    )


# -- bad input ---------------------------------------------------------------------

X_OK, Y_OK, _ = _data(n=20, d=3)


@pytest.mark.parametrize(
    "X, y, sample_weight, match",
    [
        (
            np.where(np.eye(20, 3) == 1, np.nan, X_OK),
            Y_OK,
            None,
            "Input X contains NaN",
        ),
        (
            np.where(np.eye(20, 3) == 1, np.inf, X_OK),
            Y_OK,
            None,
            "Input X contains infinity",
        ),
        (
            X_OK,
            np.where(np.arange(20) == 3, np.nan, Y_OK),
            None,
            "Input y contains NaN",
        ),
        (X_OK[:, 0], Y_OK, None, "Expected 2D array, got 1D array instead"),
        (X_OK[:, :, None], Y_OK, None, "Found array with dim 3"),
        (X_OK[:0], Y_OK[:0], None, r"Found array with 0 sample\(s\)"),
        (X_OK[:, :0], Y_OK, None, r"0 feature\(s\)"),
        (X_OK, Y_OK[:10], None, "inconsistent numbers of samples"),
        (X_OK, Y_OK, -np.ones(20), "(?i)sample.weight"),
        (X_OK, Y_OK, np.zeros(20), "(?i)sample.weight"),
        (X_OK, Y_OK, np.ones(5), "(?i)sample.weight"),
    ],
)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_bad_input_messages(X, y, sample_weight, match, method):
    est = GaussianLinearRegression()
    with pytest.raises(ValueError, match=match):
        getattr(est, method)(X, y, sample_weight=sample_weight)


def test_failed_fit_and_partial_fit_leave_model_unchanged():
    X, y, _ = _data(n=50, d=3)
    est = GaussianLinearRegression().fit(X, y)
    before = pickle.dumps(est)
    X_bad = X.copy()
    X_bad[0, 0] = np.nan
    for call in [
        lambda: est.fit(X_bad, y),
        lambda: est.fit(np.ones((4, 5)), np.ones(4), sample_weight=-np.ones(4)),
        lambda: est.partial_fit(X_bad, y),
        lambda: est.partial_fit(X[:, :2], y),
        lambda: est.set_params(prior_scale=[1.0, 2.0]).fit(X, y),
    ]:
        with pytest.raises(ValueError):
            call()
        est.set_params(prior_scale="auto")
        assert pickle.dumps(est) == before


def test_wrong_feature_count():
    est = GaussianLinearRegression().fit(X_OK, Y_OK)
    msg = "X has 2 features, but GaussianLinearRegression is expecting 3 features"
    with pytest.raises(ValueError, match=msg):
        est.predict(X_OK[:, :2])
    with pytest.raises(ValueError, match=msg):
        est.partial_fit(X_OK[:, :2], Y_OK)
    with pytest.raises(ValueError, match=msg):
        est.predict_dist(X_OK[:, :2])


@pytest.mark.parametrize(
    "method", ["predict", "predict_dist", "sample_y", "coef_interval", "coef_cov_"]
)
def test_unfitted(method):
    est = GaussianLinearRegression()
    with pytest.raises(NotFittedError):
        attr = getattr(est, method)
        attr(X_OK) if method not in ("coef_interval",) else attr()


def test_y_column_vector_warns():
    with pytest.warns(DataConversionWarning):
        est = GaussianLinearRegression().fit(X_OK, Y_OK[:, None])
    assert_allclose(est.coef_, GaussianLinearRegression().fit(X_OK, Y_OK).coef_)


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(prior="cauchy"), InvalidParameterError, "'prior' parameter"),
        (dict(prior_scale=-1.0), InvalidParameterError, "'prior_scale' parameter"),
        (dict(prior_scale="big"), InvalidParameterError, "'prior_scale' parameter"),
        (dict(noise_scale=0.0), InvalidParameterError, "'noise_scale' parameter"),
        (dict(max_iter=0), InvalidParameterError, "'max_iter' parameter"),
        (
            dict(prior_scale=[1.0, 2.0]),
            InvalidParameterError,
            r"shape \(n_features,\) = \(3,\)",
        ),
        (dict(prior_scale=[1.0, -2.0, 1.0]), InvalidParameterError, "positive"),
        (dict(prior_scale=[1.0, np.nan, 1.0]), InvalidParameterError, "positive"),
        (dict(prior_scale=np.ones((3, 1))), InvalidParameterError, "shape"),
        (dict(tol=-1.0), InvalidParameterError, "'tol' parameter"),
        (dict(fit_intercept="yes"), InvalidParameterError, "'fit_intercept'"),
        (
            dict(prior="laplace", prior_scale="auto"),
            InvalidParameterError,
            "prior_scale='auto' is not supported with prior='laplace'",
        ),
    ],
)
def test_bad_hyperparameters(params, error, match):
    with pytest.raises(error, match=match):
        GaussianLinearRegression(**params).fit(X_OK, Y_OK)


def test_one_sample_noise_estimation_error():
    with pytest.raises(ValueError, match=re.escape("got 1 sample(s)")):
        GaussianLinearRegression().fit(X_OK[:1], Y_OK[:1])
    # with the noise given, one sample is a valid (prior-dominated) posterior
    est = GaussianLinearRegression(noise_scale=1.0).fit(X_OK[:1], Y_OK[:1])
    assert np.all(np.isfinite(est.predict(X_OK, return_std=True)))


def test_convergence_warning_when_max_iter_too_small():
    X, y, _ = _data(n=100, noise=1.0)
    with pytest.warns(ConvergenceWarning):
        GaussianLinearRegression(prior_scale="auto", max_iter=1).fit(X, y)


def test_constant_target_is_finite():
    X, _, _ = _data(n=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = GaussianLinearRegression(prior_scale="auto").fit(X, np.full(30, 2.0))
    mean, std = est.predict(X, return_std=True)
    assert_allclose(mean, 2.0, atol=1e-6)
    assert np.all(np.isfinite(std))
