"""skbayes._priors: the prior family and resolving (prior, prior_scale)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import integrate, stats
from sklearn.utils._param_validation import InvalidParameterError

from skbayes import _priors
from skbayes._priors import (
    PRIORS,
    FlatPrior,
    GaussianPrior,
    LaplacePrior,
    Prior,
    resolve_prior,
)


@pytest.mark.parametrize(
    "prior, scale, kwargs, match",
    [
        ("cauchy", 1.0, {}, "prior must be one of 'gaussian', 'laplace' or None"),
        ("gaussian", 0.0, {}, "positive and finite"),
        ("gaussian", -1.0, {}, "positive and finite"),
        ("laplace", np.nan, {}, "positive and finite"),
        ("gaussian", np.inf, {}, "positive and finite"),
        ("gaussian", [1.0, 0.0, 1.0], {}, "positive and finite"),
        (
            "gaussian",
            [1.0, 2.0],
            {},
            r"shape \(n_features,\) = \(3,\); got shape \(2,\)",
        ),
        ("gaussian", np.ones((3, 1)), {}, r"got shape \(3, 1\)"),
        ("gaussian", [1.0, "a", 2.0], {}, "positive float, an array"),
        ("gaussian", "big", {}, "positive float, an array .* or 'auto'"),
        ("gaussian", "auto", {}, "prior_scale='auto' is not supported"),
        ("laplace", "auto", {"allow_auto": True}, "with prior='laplace'"),
    ],
)
def test_resolve_prior_errors_are_invalid_parameter_errors(prior, scale, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        resolve_prior(prior, scale, 3, **kwargs)


def test_resolve_prior_values():
    p, auto = resolve_prior("gaussian", 2.0, 3)
    assert not auto and isinstance(p, GaussianPrior)
    assert_allclose(p.scale, [2.0, 2.0, 2.0])
    p, auto = resolve_prior("laplace", [1.0, 2.0, 3.0], 3)
    assert isinstance(p, LaplacePrior)
    assert_allclose(p.scale, [1.0, 2.0, 3.0])
    p, auto = resolve_prior("gaussian", "auto", 3, allow_auto=True, auto_init=0.5)
    assert auto
    assert_allclose(p.scale, 0.5)
    p, auto = resolve_prior(None, 1.0, 3)
    assert p.is_flat and not auto and p.scale is None
    p, auto = resolve_prior(None, "auto", 3, allow_auto=True)
    assert p.is_flat and not auto


def test_gaussian_prior_is_a_standard_deviation():
    p = GaussianPrior(np.array([0.5, 2.0]))
    w = np.array([1.0, -3.0])
    assert_allclose(p.penalty(w), 0.5 * (1 / 0.25 + 9 / 4))
    assert_allclose(p.log_density(w), stats.norm(0, p.scale).logpdf(w).sum())
    assert_allclose(p.curvature(w), 1 / p.scale**2)
    assert p.conjugate and p.supports_evidence and not p.l1


def test_laplace_prior_helpers():
    p = LaplacePrior(np.array([0.5, 2.0]))
    w = np.array([1.0, -3.0])
    assert_allclose(p.penalty(w), 1 / 0.5 + 3 / 2)
    assert_allclose(p.gradient(w), [2.0, -0.5])
    assert_allclose(p.log_density(w), stats.laplace(0, p.scale).logpdf(w).sum())
    assert_allclose(p.curvature(w), 0.0)
    assert_allclose(p.active(np.array([0.0, 1e-30])), [False, True])
    assert p.l1 and not p.conjugate and not p.supports_evidence


def test_flat_prior_helpers():
    p = FlatPrior()
    w = np.array([1.0, -3.0])
    assert p.penalty(w) == 0.0 and p.log_density(w) == 0.0
    assert_allclose(p.gradient(w), 0.0)
    assert_allclose(p.curvature(w), 0.0)
    assert p.with_scale(np.ones(2)) is p


@pytest.mark.parametrize("cls", [GaussianPrior, LaplacePrior])
def test_log_density_is_normalised_and_penalty_is_its_negative(cls):
    p = cls(np.array([0.7]))
    total, _ = integrate.quad(lambda t: np.exp(p.log_density(np.array([t]))), -50, 50)
    assert_allclose(total, 1.0, rtol=1e-8)
    w1, w2 = np.array([0.3]), np.array([-1.9])
    assert_allclose(
        p.log_density(w1) - p.log_density(w2), p.penalty(w2) - p.penalty(w1)
    )


@pytest.mark.parametrize("cls", [GaussianPrior, LaplacePrior])
def test_gradient_and_curvature_match_finite_differences(cls):
    rng = np.random.default_rng(0)
    p = cls(np.array([0.5, 2.0, 1.3]))
    w = rng.normal(size=(2, 3))  # (n_classes, n_features) broadcasts
    eps = 1e-6
    num = np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[idx] = eps
        num[idx] = (p.penalty(w + e) - p.penalty(w - e)) / (2 * eps)
    assert_allclose(p.gradient(w), num, rtol=1e-6, atol=1e-8)
    num_curv = np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[idx] = eps
        num_curv[idx] = (p.gradient(w + e) - p.gradient(w - e))[idx] / (2 * eps)
    assert_allclose(p.curvature(w), num_curv, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("cls", [FlatPrior, GaussianPrior, LaplacePrior])
def test_torch_penalty_equals_numpy_penalty(cls):
    torch = pytest.importorskip("torch")
    scale = np.array([0.5, 2.0, 1.3])
    p = cls(scale)
    w = np.random.default_rng(1).normal(size=(4, 3))
    got = p.torch_penalty(torch.tensor(w), torch.tensor(1.0 / scale))
    assert_allclose(float(got), p.penalty(w), rtol=1e-12)
    grad = p.torch_gradient(torch.tensor(w), torch.tensor(1.0 / scale))
    assert_allclose(grad.numpy(), np.broadcast_to(p.gradient(w), w.shape), rtol=1e-12)


def test_estimator_constraints_follow_the_registry():
    from skbayes import BayesianLogisticRegression, GaussianLinearRegression

    for est in (BayesianLogisticRegression, GaussianLinearRegression):
        (opts, none) = est._parameter_constraints["prior"]
        assert none is None and opts.options == set(PRIORS)


class _StudentT(Prior):
    """A smooth, non-conjugate prior used only to show that a new family
    reaches the solvers through the registry (t with ν = 3, scale s)."""

    name = "student_t"
    nu = 3.0

    def penalty(self, w):
        return float(
            np.sum(0.5 * (self.nu + 1) * np.log1p((w / self.scale) ** 2 / self.nu))
        )

    def gradient(self, w):
        z = w / self.scale
        return (self.nu + 1) * z / (self.scale * (self.nu + z**2))

    def curvature(self, w):
        z2 = (w / self.scale) ** 2
        return (self.nu + 1) * (self.nu - z2) / (self.scale**2 * (self.nu + z2) ** 2)

    def log_density(self, w):
        return float(np.sum(stats.t(self.nu, scale=self.scale).logpdf(w)))

    def torch_penalty(self, w, inv_scale):
        return (0.5 * (self.nu + 1) * ((w * inv_scale) ** 2 / self.nu).log1p()).sum()


@pytest.fixture
def student_t_registered(monkeypatch):
    monkeypatch.setitem(PRIORS, "student_t", _StudentT)
    opts = _priors.PRIOR_PARAMETER_CONSTRAINTS["prior"][0]
    monkeypatch.setattr(opts, "options", set(PRIORS))
    yield _StudentT


def test_student_t_helpers_are_consistent():
    p = _StudentT(np.array([0.5, 2.0]))
    w = np.array([0.4, -3.0])
    d1 = p.log_density(w) - p.log_density(np.zeros(2))
    assert_allclose(d1, -p.penalty(w))


def test_new_prior_reaches_the_logistic_solver(student_t_registered):
    """A prior registered in one module is used by the classifier unchanged:
    its MAP is the minimiser of the data loss plus that prior's penalty."""
    from scipy.optimize import minimize
    from sklearn.datasets import make_classification

    from skbayes import BayesianLogisticRegression

    X, y = make_classification(
        n_samples=80, n_features=3, n_redundant=0, random_state=0
    )
    clf = BayesianLogisticRegression(prior="student_t", prior_scale=0.5, tol=1e-10).fit(
        X, y
    )
    p = _StudentT(np.full(3, 0.5))

    def f(t):
        z = X @ t[:3] + t[3]
        return np.sum(np.logaddexp(0, z) - y * z) + p.penalty(t[:3])

    ref = minimize(f, np.zeros(4), method="BFGS", options={"gtol": 1e-10}).x
    assert_allclose(clf.coef_.ravel(), ref[:3], rtol=1e-5, atol=1e-6)
    assert_allclose(clf.intercept_, ref[3:], rtol=1e-5, atol=1e-6)
