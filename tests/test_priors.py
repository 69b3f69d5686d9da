"""skbayes._priors: resolving (prior, prior_scale) and the penalty helpers."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from skbayes._priors import Prior, resolve_prior


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
        ("gaussian", "big", {}, "positive float, an array .* or 'auto'"),
        ("gaussian", "auto", {}, "prior_scale='auto' is not supported"),
        ("laplace", "auto", {"allow_auto": False}, "with prior='laplace'"),
    ],
)
def test_resolve_prior_errors(prior, scale, kwargs, match):
    with pytest.raises(ValueError, match=match):
        resolve_prior(prior, scale, 3, **kwargs)


def test_resolve_prior_values():
    p, auto = resolve_prior("gaussian", 2.0, 3)
    assert not auto and p.kind == "gaussian"
    assert_allclose(p.scale, [2.0, 2.0, 2.0])
    p, auto = resolve_prior("laplace", [1.0, 2.0, 3.0], 3)
    assert_allclose(p.scale, [1.0, 2.0, 3.0])
    p, auto = resolve_prior("gaussian", "auto", 3, allow_auto=True, auto_init=0.5)
    assert auto
    assert_allclose(p.scale, 0.5)
    p, auto = resolve_prior(None, 1.0, 3)
    assert p.is_flat and not auto and p.scale is None


def test_gaussian_prior_helpers_are_a_standard_deviation():
    p = Prior("gaussian", np.array([0.5, 2.0]))
    w = np.array([1.0, -3.0])
    assert_allclose(p.penalty(w), 0.5 * (1 / 0.25 + 9 / 4))
    assert_allclose(p.gradient(w), w / p.scale**2)
    assert_allclose(p.log_density(w), stats.norm(0, p.scale).logpdf(w).sum())
    assert_allclose(p.precision(), 1 / p.scale**2)


def test_laplace_prior_helpers():
    p = Prior("laplace", np.array([0.5, 2.0]))
    w = np.array([1.0, -3.0])
    assert_allclose(p.penalty(w), 1 / 0.5 + 3 / 2)
    assert_allclose(p.gradient(w), [2.0, -0.5])
    assert_allclose(p.log_density(w), stats.laplace(0, p.scale).logpdf(w).sum())
    assert_allclose(p.precision(), 0.0)


def test_flat_prior_helpers():
    p = Prior(None, None)
    w = np.array([1.0, -3.0])
    assert p.penalty(w) == 0.0 and p.log_density(w) == 0.0
    assert_allclose(p.gradient(w), 0.0)
