"""GaussianLinearRegression(prior_scale="ard"): one evidence-tuned scale per feature."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from scipy import optimize, stats
from sklearn.datasets import make_regression
from sklearn.linear_model import ARDRegression
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from skbayes import GaussianLinearRegression


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # Small problems: BLAS threads only add contention on shared CI cores.
    with threadpool_limits(1):
        yield


TRUE_W = np.array([2.0, -1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.3])


def _data(n=200, seed=0, offset=0.0, noise=0.7):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, TRUE_W.size)) + offset
    y = X @ TRUE_W + 1.0 + noise * rng.normal(size=n)
    return X, y


def _ard(**kw):
    return GaussianLinearRegression(prior_scale="ard", tol=1e-12, max_iter=10_000, **kw)


def _direct_log_evidence(X, y, scales, noise, fit_intercept):
    """log ∫ N(y | Xw + b, σ²) Π N(w_i | 0, scale_i²) p(b) dw db, p(b) = 1."""
    C = noise**2 * np.eye(len(y)) + (X * scales**2) @ X.T
    value = stats.multivariate_normal(np.zeros(len(y)), C).logpdf(y)
    if fit_intercept:
        one = np.ones(len(y))
        Ci1, Ciy = np.linalg.solve(C, one), np.linalg.solve(C, y)
        q = one @ Ci1
        value += 0.5 * np.log(2 * np.pi / q) + 0.5 * (one @ Ciy) ** 2 / q
    return value


def _cost(threshold, d, k):
    """What the k-th kept feature of d must add to the log evidence."""
    if threshold == "auto":  # Scott & Berger: log C(d, k) - log C(d, k - 1)
        return max(np.log((d - k + 1) / k), 0.0)
    return threshold


def test_same_fixed_point_as_ard_regression():
    """With its Gamma hyperpriors at 0 and no pruning threshold,
    scikit-learn's MacKay iteration goes to the same evidence maximum."""
    X, y = _data()
    ours = _ard(fit_intercept=False, ard_threshold=0).fit(X, y)
    ref = ARDRegression(
        fit_intercept=False,
        alpha_1=0.0,
        alpha_2=0.0,
        lambda_1=0.0,
        lambda_2=0.0,
        threshold_lambda=1e12,
        tol=1e-14,
        max_iter=100_000,
    ).fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-6)
    assert_allclose(ours.noise_std_, ref.alpha_**-0.5, rtol=1e-6)
    kept = ours.prior_scale_ > 0
    assert 0 < kept.sum() < X.shape[1]
    assert_allclose(ours.prior_scale_[kept], ref.lambda_[kept] ** -0.5, rtol=1e-5)
    # MacKay's λ of the pruned features only crawls towards ∞
    assert np.all(ref.lambda_[~kept] > 1e8)


@pytest.mark.parametrize("threshold", [0, "auto", 1.5])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_evidence_is_the_direct_computation_and_a_maximum(
    fit_intercept, weighted, threshold
):
    X, y = _data(n=50, seed=1, offset=2.0)
    d = X.shape[1]
    # frequency weights: the evidence is that of the repeated rows
    sw = np.random.default_rng(2).integers(1, 4, 50) if weighted else np.ones(50, int)
    est = _ard(fit_intercept=fit_intercept, ard_threshold=threshold)
    est.fit(X, y, sample_weight=sw)
    scales, noise = est.prior_scale_, est.noise_std_
    kept = scales > 0
    k = kept.sum()
    Xr, yr = np.repeat(X, sw, axis=0), np.repeat(y, sw)

    def ev(scales_, noise_):
        return _direct_log_evidence(Xr, yr, scales_, noise_, fit_intercept)

    best = ev(scales, noise)
    # the evidence reported is the exact one of the model kept
    assert_allclose(est.log_marginal_likelihood_, best, rtol=1e-10)
    # A maximum given the kept set: moving any kept scale or the noise by
    # ±1% lowers it.
    for i in np.flatnonzero(kept):
        for factor in (0.99, 1.01):
            s = scales.copy()
            s[i] *= factor
            assert ev(s, noise) < best
    assert ev(scales, noise * 1.01) < best and ev(scales, noise * 0.99) < best
    # and of the evidence less the threshold: dropping a kept feature loses
    # more than its cost; a pruned one, at its best scale, adds at most its
    # cost (0 for the exact maximum: its best scale is 0).
    for i in np.flatnonzero(kept):
        s = scales.copy()
        s[i] = 0.0
        assert ev(s, noise) < best - _cost(threshold, d, k)
    for i in np.flatnonzero(~kept):

        def minus_ev(log_scale, i=i):
            s = scales.copy()
            s[i] = np.exp(log_scale)
            return -ev(s, noise)

        top = np.log(10 * np.std(y))
        res = optimize.minimize_scalar(
            minus_ev, bounds=(top - 25, top), method="bounded"
        )
        assert -res.fun <= best + _cost(threshold, d, k + 1) + 1e-9 * abs(best)


def test_threshold_prunes_the_noise_the_exact_maximum_keeps():
    """The issue's problem: the exact maximum keeps pure-noise features whose
    correlation with the residual beats its noise level (a third of them);
    the default keeps exactly the informative ones."""
    X, y, coef = make_regression(
        n_samples=500,
        n_features=100,
        n_informative=5,
        noise=5,
        coef=True,
        random_state=0,
    )
    informative = coef != 0
    exact = _ard(ard_threshold=0).fit(X, y)
    assert (exact.coef_[~informative] != 0).sum() > 10
    est = _ard().fit(X, y)
    assert_allclose(est.coef_ != 0, informative)
    assert np.all(est.coef_cov_[~informative] == 0.0)
    # the exact maximum's evidence is higher; ours is that of the kept model
    assert est.log_marginal_likelihood_ < exact.log_marginal_likelihood_
    fixed = GaussianLinearRegression(
        prior_scale=est.prior_scale_[informative], noise_scale=est.noise_std_
    ).fit(X[:, informative], y)
    assert_allclose(est.log_marginal_likelihood_, fixed.log_marginal_likelihood_)


def test_auto_threshold_is_lenient_when_many_features_are_relevant():
    """The multiplicity correction charges less per feature as more are kept:
    on a dense problem it keeps more of the weak features than a fixed
    log(d) per feature (the cost of its first feature), and far fewer noise
    features than the exact maximum."""
    X, y, coef = make_regression(
        n_samples=400,
        n_features=120,
        n_informative=40,
        noise=150,
        coef=True,
        random_state=0,
    )
    informative = coef != 0
    counts = {}
    for threshold in (0, "auto", np.log(X.shape[1])):
        kept = _ard(ard_threshold=threshold).fit(X, y).coef_ != 0
        counts[threshold] = (kept & informative).sum(), (kept & ~informative).sum()
    assert counts["auto"][0] > counts[np.log(X.shape[1])][0]
    assert counts["auto"][1] < counts[0][1] / 2


def test_pruned_features_are_exactly_zero():
    X, y = _data(n=200, seed=3)
    est = _ard().fit(X, y)
    pruned = est.prior_scale_ == 0
    assert pruned.any()
    assert np.all(est.coef_[pruned] == 0.0)
    cov = est.coef_cov_
    assert np.all(cov[pruned] == 0.0) and np.all(cov[:, pruned] == 0.0)
    assert np.all(np.isfinite(cov))
    lower, upper = est.coef_interval(0.9)
    assert np.all(lower[pruned] == 0.0) and np.all(upper[pruned] == 0.0)
    _, std = est.predict(X, return_std=True)
    assert np.all(np.isfinite(std)) and np.all(std >= est.noise_std_)
    # the kept features' posterior is the fixed-scale one at those scales
    kept = ~pruned
    fixed = GaussianLinearRegression(
        prior_scale=est.prior_scale_[kept], noise_scale=est.noise_std_
    ).fit(X[:, kept], y)
    assert_allclose(est.coef_[kept], fixed.coef_, rtol=1e-10)
    assert_allclose(est.coef_cov_[np.ix_(kept, kept)], fixed.coef_cov_, rtol=1e-9)
    assert_allclose(est.predict(X), fixed.predict(X[:, kept]), rtol=1e-10)


@pytest.mark.parametrize("threshold", [0, "auto"])
def test_partial_fit_chunks_weights_and_sparse_agree_with_fit(threshold):
    X, y = _data(n=120, seed=4, offset=1.0)
    full = _ard(ard_threshold=threshold).fit(X, y)
    online = _ard(ard_threshold=threshold)
    for rows in np.array_split(np.arange(120), 5):
        online.partial_fit(X[rows], y[rows])
    reps = np.random.default_rng(5).integers(0, 3, size=120)
    weighted = _ard(ard_threshold=threshold).fit(X, y, sample_weight=reps * 1.0)
    repeated = _ard(ard_threshold=threshold).fit(
        np.repeat(X, reps, axis=0), np.repeat(y, reps)
    )
    sparse = _ard(ard_threshold=threshold).fit(sp.csr_matrix(X), y)
    for a, b in [(full, online), (weighted, repeated), (full, sparse)]:
        assert_allclose(a.prior_scale_ > 0, b.prior_scale_ > 0)
        # the search stops where the evidence stops rising in float64: a
        # weakly relevant feature's scale is then known to ~1e-6, its
        # coefficient (0.004 here) to ~1e-9
        assert_allclose(a.coef_, b.coef_, rtol=1e-7, atol=1e-8)
        assert_allclose(a.prior_scale_, b.prior_scale_, rtol=1e-5)
        assert_allclose(a.noise_std_, b.noise_std_, rtol=1e-8)
        assert_allclose(a.coef_cov_, b.coef_cov_, rtol=1e-6, atol=1e-12)


def test_more_features_than_samples_and_fixed_noise():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(30, 80))
    y = 3 * X[:, 0] - 2 * X[:, 1] + 0.1 * rng.normal(size=30)
    est = _ard().fit(X, y)
    assert est.prior_scale_.shape == (80,)
    assert {0, 1} <= set(np.flatnonzero(est.prior_scale_))
    assert np.count_nonzero(est.coef_) < 30
    fixed = _ard(noise_scale=0.1).fit(X, y)
    assert fixed.noise_std_ == 0.1
    ev = _direct_log_evidence(X, y, fixed.prior_scale_, 0.1, True)
    assert_allclose(fixed.log_marginal_likelihood_, ev, rtol=1e-8)
    # d > n leaves the evidence flat along redundant features: the sparse
    # route may stop elsewhere on that ridge, at the same height
    sparse = _ard(noise_scale=0.1).fit(sp.csr_matrix(X), y)
    assert_allclose(sparse.log_marginal_likelihood_, ev, rtol=1e-7)
    assert_allclose(sparse.predict(X), fixed.predict(X), atol=1e-3 * np.std(y))


@pytest.mark.parametrize("prior", ["laplace", None])
def test_ard_needs_the_gaussian_prior(prior):
    X, y = _data(n=20)
    with pytest.raises(InvalidParameterError, match="prior_scale='ard'"):
        GaussianLinearRegression(prior=prior, prior_scale="ard").fit(X, y)


def test_ard_is_a_valid_option_and_others_are_not():
    X, y = _data(n=20)
    with pytest.raises(InvalidParameterError, match="'prior_scale' parameter"):
        GaussianLinearRegression(prior_scale="ARD").fit(X, y)


@pytest.mark.parametrize("threshold", [-1.0, np.nan, "bic", None])
def test_bad_ard_threshold_is_refused(threshold):
    X, y = _data(n=20)
    with pytest.raises(InvalidParameterError, match="'ard_threshold' parameter"):
        _ard(ard_threshold=threshold).fit(X, y)
