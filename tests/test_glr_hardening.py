"""GaussianLinearRegression on what users try: defaults, bad input, edge cases."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import BayesianRidge, LinearRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbayes import GaussianLinearRegression


def _data(n=60, d=4, seed=0, noise=0.3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) + 1.0
    y = X @ rng.normal(size=d) + 0.5 + noise * rng.normal(size=n)
    return X, y


def test_default_is_what_bayesian_ridge_users_expect():
    """Diabetes, standardised X, raw y: a fixed σ_w = 1 (in units of y) gave
    R² 0.12 against BayesianRidge's 0.48."""
    X, y = load_diabetes(return_X_y=True)
    ours = cross_val_score(
        make_pipeline(StandardScaler(), GaussianLinearRegression()), X, y
    )
    ref = cross_val_score(make_pipeline(StandardScaler(), BayesianRidge()), X, y)
    assert GaussianLinearRegression().prior_scale == "auto"
    assert_allclose(ours.mean(), ref.mean(), atol=0.005)


@pytest.mark.parametrize(
    "params, X_y",
    [
        (dict(max_iter=1), "noisy"),
        (dict(prior=None), "collinear"),
        (dict(prior="laplace", prior_scale=1.0, max_iter=1), "noisy"),
        (dict(prior_scale="ard", max_iter=1), "noisy"),
    ],
)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_fit_warnings_point_at_the_callers_line(params, X_y, method):
    X, y = _data(n=100, noise=1.0)
    if X_y == "collinear":
        X = np.column_stack([X, X[:, 0]])
    est = GaussianLinearRegression(**params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        getattr(est, method)(X, y)
    mine = [
        w for w in caught if issubclass(w.category, (ConvergenceWarning, UserWarning))
    ]
    assert mine, "expected a warning"
    assert {w.filename for w in mine} == {__file__}


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_inf_in_X_is_a_value_error_without_a_numpy_warning(sparse, method):
    X, y = _data()
    X[3, 1] = np.inf
    X = sp.csr_matrix(X) if sparse else X
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match="Input X contains infinity"):
            getattr(GaussianLinearRegression(), method)(X, y)


def test_dual_route_predictive_variance_is_stable_at_training_rows():
    """d > n: the part of a row outside the data's span was ‖z‖² - ‖Vᵀz‖²,
    which cancels at the training rows (inside the span) and changed by
    percents with the batch a row was predicted in."""
    rng = np.random.default_rng(0)
    n, d, sigma_w, sigma_n = 30, 200, 10.0, 0.1
    X = rng.normal(size=(n, d)) + 100.0
    y = X @ rng.normal(size=d) * 0.01 + sigma_n * rng.normal(size=n)
    est = GaussianLinearRegression(prior_scale=sigma_w, noise_scale=sigma_n).fit(X, y)
    Xc = X - X.mean(axis=0)
    S = np.linalg.inv(Xc.T @ Xc / sigma_n**2 + np.eye(d) / sigma_w**2)
    expected = sigma_n**2 * (1 + 1 / n) + np.einsum("ij,jk,ik->i", Xc, S, Xc)
    _, std = est.predict(X, return_std=True)
    assert_allclose(std**2, expected, rtol=1e-7)
    one_by_one = np.array(
        [est.predict(X[i : i + 1], return_std=True)[1][0] for i in range(n)]
    )
    assert_allclose(one_by_one, std, rtol=1e-12)


@pytest.mark.parametrize(
    "params",
    [
        dict(prior_scale=0.5, noise_scale=0.3),
        dict(prior_scale="auto", noise_scale=0.3),
        dict(prior_scale=0.5),
        dict(prior="laplace", prior_scale=0.5, noise_scale=0.3, max_iter=20_000),
        dict(prior_scale=0.5, noise_scale=0.3, fit_intercept=False),
    ],
)
def test_sparse_input_with_more_features_than_samples_takes_the_dual_route(params):
    rng = np.random.default_rng(1)
    X = sp.random(40, 300, density=0.05, format="csr", random_state=rng)
    X.data += 2.0  # not centred
    y = X @ rng.normal(size=300) + 1.0 + 0.3 * rng.normal(size=40)
    sparse = GaussianLinearRegression(**params).fit(X, y)
    dense = GaussianLinearRegression(**params).fit(X.toarray(), y)
    assert type(sparse._stats).__name__ == "CentredSparseRows"  # no d×d statistics
    X_new = sp.random(7, 300, density=0.05, format="csr", random_state=rng)
    for Q in (X_new, X[:5]):
        m_s, s_s = sparse.predict(Q, return_std=True)
        m_d, s_d = dense.predict(Q.toarray(), return_std=True)
        assert_allclose(m_s, m_d, rtol=1e-8, atol=1e-10)
        assert_allclose(s_s, s_d, rtol=1e-8)
    assert_allclose(sparse.coef_, dense.coef_, rtol=1e-7, atol=1e-10)
    assert_allclose(sparse.noise_std_, dense.noise_std_, rtol=1e-8)
    assert_allclose(
        sparse.log_marginal_likelihood_, dense.log_marginal_likelihood_, rtol=1e-8
    )
    # partial_fit continues from the rows' statistics
    more = sp.random(10, 300, density=0.05, format="csr", random_state=rng)
    y_more = more @ rng.normal(size=300)
    sparse.partial_fit(more, y_more)
    ref = GaussianLinearRegression(**params).fit(sp.vstack([X, more]), np.r_[y, y_more])
    assert_allclose(sparse.coef_, ref.coef_, rtol=1e-6, atol=1e-9)


def _fit_predict(X, y, Xq, **params):
    est = GaussianLinearRegression(**params).fit(X, y)
    mean, std = est.predict(Xq, return_std=True)
    return est, mean, std


@pytest.mark.parametrize(
    "params",
    [
        dict(),
        dict(prior_scale=2.0, noise_scale=0.3),
        dict(prior="laplace", prior_scale=0.5),
        dict(prior_scale="ard"),
        dict(prior=None),
    ],
)
@pytest.mark.parametrize(
    "x_scale, y_scale, exact",
    [
        (1.0, 1e-148, True),
        (1.0, 1e-300, False),
        (1.0, 1e300, False),
        (1e-300, 1.0, False),
        (1e-160, 1.0, False),
        (1e150, 1.0, False),
    ],
)
def test_extreme_scales_give_the_scaled_model(params, x_scale, y_scale, exact):
    """Results are the scaled versions of the unscaled fit: an exact fit with
    |y| ≈ 1e-148 gave NaN means, y·1e-300 an absolute noise floor and
    X·1e-300 an XᵀX of 0 (predictions that ignored X)."""
    X, y = _data(n=40, d=3, noise=0.0 if exact else 0.3)
    p = dict(params)
    if "noise_scale" in p:
        p["noise_scale"] *= y_scale
    if not isinstance(p.get("prior_scale", "auto"), str):
        p["prior_scale"] *= y_scale / x_scale
    ref, m_ref, s_ref = _fit_predict(X, y, X[:5], **params)
    est, mean, std = _fit_predict(X * x_scale, y * y_scale, X[:5] * x_scale, **p)
    assert_allclose(mean / y_scale, m_ref, rtol=1e-9, atol=1e-9 * np.abs(m_ref).max())
    assert_allclose(std / y_scale, s_ref, rtol=1e-7)
    assert_allclose(est.coef_ * x_scale / y_scale, ref.coef_, rtol=1e-8, atol=1e-12)
    assert_allclose(est.noise_std_ / y_scale, ref.noise_std_, rtol=1e-7)
    # an exact fit's evidence sits at the noise floor, where L-BFGS-B stops
    # on a plateau: ~1e-5 relative
    jacobian = 39 * np.log(y_scale)  # the evidence is a density in y
    if p.get("prior", "gaussian") is None:  # and p(w) = 1 in w's units
        jacobian -= 3 * np.log(y_scale / x_scale)
    assert_allclose(
        est.log_marginal_likelihood_ + jacobian,
        ref.log_marginal_likelihood_,
        rtol=1e-4 if exact else 1e-8,
        atol=1e-6,
    )
    lower, upper = est.coef_interval(0.9)
    lo_ref, up_ref = ref.coef_interval(0.9)
    assert_allclose(lower * x_scale / y_scale, lo_ref, rtol=1e-7, atol=1e-12)
    assert_allclose(upper * x_scale / y_scale, up_ref, rtol=1e-7, atol=1e-12)


def test_coefficients_beyond_float64_are_a_clear_error():
    X, y = _data(n=40, d=3)
    with pytest.raises(ValueError, match="beyond float64's range"):
        GaussianLinearRegression().fit(X * 1e-200, y * 1e200)


@pytest.mark.parametrize(
    "params", [dict(), dict(prior="laplace", prior_scale=1.0), dict(prior_scale="ard")]
)
def test_huge_and_tiny_uniform_weights(params):
    """Frequency weights are a sample size: uniform weights of 1e100 give the
    n → ∞ limit (the least-squares fit, its ML noise, no epistemic spread);
    1e300 gave NaN, and is now a clear error; 1e-300 is a sample too small
    to estimate the noise."""
    X, y = _data(n=40, d=3)
    est = GaussianLinearRegression(**params).fit(X, y, sample_weight=np.full(40, 1e100))
    ols = LinearRegression().fit(X, y)
    mean, std = est.predict(X[:5], return_std=True)
    assert_allclose(mean, ols.predict(X[:5]), rtol=1e-9)
    rms = np.sqrt(np.mean((y - ols.predict(X)) ** 2))
    assert_allclose(std, rms, rtol=1e-9)
    assert np.isfinite(est.log_marginal_likelihood_)
    with pytest.raises(ValueError, match="sample_weight sums to"):
        GaussianLinearRegression(**params).fit(X, y, sample_weight=np.full(40, 1e300))
    with pytest.raises(ValueError, match="total sample weight"):
        GaussianLinearRegression(**params).fit(X, y, sample_weight=np.full(40, 1e-300))
    tiny = GaussianLinearRegression(**params, noise_scale=1.0).fit(
        X, y, sample_weight=np.full(40, 1e-300)
    )
    assert np.all(np.isfinite(tiny.predict(X[:5], return_std=True)))


def test_constant_target_noise_is_consistent():
    """A constant y: the noise goes to its floor, relative to y's size and the
    same whichever way the centring rounded (dense, sparse, d > n); it was
    1e-6 in absolute units, or 1.7e-21 when the centring left rounding."""
    rng = np.random.default_rng(0)
    X_tall, X_wide = rng.normal(size=(50, 3)), rng.normal(size=(20, 40))
    ratios = []
    for value in [2.0, 0.1, 1e5, -7.3, 1 / 3]:
        for X in [X_tall, sp.csr_matrix(X_tall), X_wide, sp.csr_matrix(X_wide)]:
            for params in [dict(), dict(prior="laplace", prior_scale=1.0)]:
                y = np.full(X.shape[0], value)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    est = GaussianLinearRegression(**params).fit(X, y)
                mean, std = est.predict(X[:3], return_std=True)
                assert_allclose(mean, value, rtol=1e-9)
                assert np.all(np.isfinite(std))
                ratios.append(est.noise_std_ / abs(value))
    assert_allclose(ratios, ratios[0], rtol=1e-9)


def test_laplace_noise_cycle_is_detected_and_explained():
    """Diabetes, 40 rows, b = 300: σ_n² = RSS/(dof - k) alternates between
    two supports for ever (max_iter=5000 still said "increase max_iter")."""
    X, y = load_diabetes(return_X_y=True)
    X, y = X[:40], y[:40]
    with pytest.warns(ConvergenceWarning, match="alternates between two supports"):
        est = GaussianLinearRegression(
            prior="laplace", prior_scale=300.0, max_iter=5000
        ).fit(X, y)
    assert est.n_iter_ < 20
    # the state kept is a MAP at its own noise level
    fixed = GaussianLinearRegression(
        prior="laplace", prior_scale=300.0, noise_scale=est.noise_std_
    ).fit(X, y)
    assert_allclose(fixed.coef_, est.coef_, rtol=1e-6, atol=1e-8)
    assert_allclose(fixed.log_marginal_likelihood_, est.log_marginal_likelihood_)


def test_laplace_rounding_level_coefficients_are_not_in_the_support():
    from sklearn.linear_model import Lasso

    from skbayes.linear._glr_laplace import _map

    class _Stub(Lasso):
        def fit(self, X, y):
            self.coef_ = np.array([1.5, 2e-19, 0.0, -0.7])
            return self

    Xt, yt = np.eye(4), np.array([1.5, 0.0, 0.0, -0.7])
    v, resid = _map(_Stub(), Xt, yt, 0.0, beta=1.0, warn=False)
    assert_allclose(v, [1.5, 0.0, 0.0, -0.7])
    assert np.count_nonzero(v) == 2 and resid == 0.0


def test_extreme_X_found_by_the_probe_of_a_long_batch():
    """Batches longer than the 256-row probe: X·1e-300 is still rescaled."""
    X, y = _data(n=400, d=3)
    ref = GaussianLinearRegression().fit(X, y)
    est = GaussianLinearRegression().fit(X * 1e-300, y)
    assert_allclose(est.coef_ * 1e-300, ref.coef_, rtol=1e-9)
    assert_allclose(est.predict(X[:5] * 1e-300), ref.predict(X[:5]), rtol=1e-9)
