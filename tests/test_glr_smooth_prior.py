"""GaussianLinearRegression with a smooth, non-conjugate prior (generic path)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import optimize
from test_priors import _StudentT, student_t_registered  # noqa: F401

from skbayes import GaussianLinearRegression


def _data(n=80, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) + 1.0
    y = X @ np.array([1.5, 0.0, -0.4])[:d] + 2.0 + 0.8 * rng.normal(size=n)
    sw = rng.uniform(0.5, 2.0, size=n)
    return X, y, sw


def _raw_objective(X, y, sw, prior, noise):
    """Negative log posterior on the raw rows: weighted RSS/2σ² + penalty."""

    def f(t):
        r = y - X @ t[:-1] - t[-1]
        return 0.5 * np.sum(sw * r**2) / noise**2 + prior.penalty(t[:-1])

    return f


@pytest.mark.usefixtures("student_t_registered")
def test_student_t_map_and_laplace_approximation():
    X, y, sw = _data()
    noise, scale = 0.8, 0.3
    est = GaussianLinearRegression(
        prior="student_t", prior_scale=scale, noise_scale=noise, tol=1e-10
    ).fit(X, y, sample_weight=sw)
    prior = _StudentT(np.full(3, scale))
    f = _raw_objective(X, y, sw, prior, noise)
    ref = optimize.minimize(f, np.zeros(4), method="BFGS", options={"gtol": 1e-10}).x
    assert_allclose(est.coef_, ref[:3], rtol=1e-6, atol=1e-7)
    assert_allclose(est.intercept_, ref[3], rtol=1e-6, atol=1e-7)
    # Laplace approximation: the inverse Hessian of the raw objective in w
    # with the flat-prior intercept integrated out (a Schur complement).
    Xb = np.column_stack([X, np.ones(len(y))])
    H = Xb.T @ (sw[:, None] * Xb) / noise**2
    H[:3, :3] += np.diag(prior.curvature(est.coef_))
    assert_allclose(est.coef_cov_, np.linalg.inv(H)[:3, :3], rtol=1e-6)
    # the Student-t MAP shrinks less than a Gaussian of the same scale
    gauss = GaussianLinearRegression(prior_scale=scale, noise_scale=noise).fit(
        X, y, sample_weight=sw
    )
    assert abs(est.coef_[0]) > abs(gauss.coef_[0])


@pytest.mark.usefixtures("student_t_registered")
def test_student_t_noise_estimate_is_a_stationary_point():
    """With noise_scale=None, σ_n² = RSS / (dof - γ), γ = tr(βA H⁻¹)."""
    X, y, sw = _data(seed=1)
    est = GaussianLinearRegression(prior="student_t", prior_scale=0.5, tol=1e-12).fit(
        X, y, sample_weight=sw
    )
    beta = est.noise_std_**-2
    r = y - est.predict(X)
    rss = np.sum(sw * r**2)
    Xc = X - sw @ X / sw.sum()
    A = Xc.T @ (sw[:, None] * Xc)
    prior = _StudentT(np.full(3, 0.5))
    H = beta * A + np.diag(prior.curvature(est.coef_))
    gamma = np.trace(beta * A @ np.linalg.inv(H))
    assert_allclose(est.noise_std_**2, rss / (sw.sum() - 1 - gamma), rtol=1e-8)
    fixed = GaussianLinearRegression(
        prior="student_t", prior_scale=0.5, noise_scale=est.noise_std_, tol=1e-12
    ).fit(X, y, sample_weight=sw)
    assert_allclose(fixed.coef_, est.coef_, rtol=1e-7)


class _InconsistentT(_StudentT):
    """A test double: reports the t's curvature with the wrong sign."""

    def curvature(self, w):
        return -super().curvature(w)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.usefixtures("student_t_registered")
def test_non_positive_definite_hessian_is_a_clear_error():
    """At a true MAP the Hessian is positive semi-definite; a prior whose
    curvature makes it indefinite gets a clear error, not a NaN covariance."""
    from skbayes._priors import PRIORS

    PRIORS["student_t"] = _InconsistentT  # undone by the fixture's monkeypatch
    X, y, _ = _data(n=5, seed=3)
    with pytest.raises(ValueError, match="not positive definite"):
        GaussianLinearRegression(
            prior="student_t", prior_scale=0.01, noise_scale=10.0
        ).fit(X, y)
