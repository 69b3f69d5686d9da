"""skbayes.Normal: the predictive distribution object (property tests)."""

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

from skbayes import Normal

means = arrays(
    np.float64,
    st.integers(1, 20),
    elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)
std_values = st.floats(1e-3, 1e3, allow_nan=False, allow_infinity=False)


@st.composite
def normals(draw):
    mean = draw(means)
    std = draw(arrays(np.float64, mean.shape, elements=std_values))
    return Normal(mean, std)


@settings(max_examples=50, deadline=None)
@given(d=normals(), confidence=st.floats(0.01, 0.999))
def test_interval_contains_mean_and_has_the_mass(d, confidence):
    lower, upper = d.interval(confidence)
    assert np.all(lower <= d.mean) and np.all(d.mean <= upper)
    # |mean|/std up to 1e9: the endpoints carry that many ulps of the mean
    assert_allclose(d.cdf(upper) - d.cdf(lower), confidence, atol=1e-5)
    # symmetric around the mean, width 2 z σ
    z = stats.norm.ppf(0.5 + confidence / 2)
    assert_allclose(upper - lower, 2 * z * d.std, rtol=1e-6, atol=1e-9)


@settings(max_examples=50, deadline=None)
@given(d=normals(), q=st.floats(1e-6, 1 - 1e-6))
def test_cdf_inverts_ppf(d, q):
    # loose only because |mean|/std reaches 1e9; centred, it is exact
    assert_allclose(d.cdf(d.ppf(q)), q, rtol=1e-6, atol=1e-5)
    centred = Normal(np.zeros(d.shape), d.std)
    assert_allclose(centred.cdf(centred.ppf(q)), q, rtol=1e-10)


@settings(max_examples=20, deadline=None)
@given(d=normals(), seed=st.integers(0, 2**32 - 1))
def test_sample_moments(d, seed):
    n = 20_000
    samples = d.sample(n, random_state=seed)
    assert samples.shape == (n, *d.shape)
    # 6 standard errors: a false alarm about once in 10⁸ per element
    assert np.all(np.abs(samples.mean(axis=0) - d.mean) < 6 * d.std / np.sqrt(n))
    assert np.all(np.abs(samples.std(axis=0) / d.std - 1) < 6 / np.sqrt(2 * n))
    assert_allclose(d.sample(3, random_state=seed), d.sample(3, random_state=seed))


@settings(max_examples=50, deadline=None)
@given(
    mu=st.floats(-100, 100),
    sigma=std_values,
    y=st.floats(-100, 100),
)
def test_std_is_a_standard_deviation_not_a_variance(mu, sigma, y):
    d = Normal([mu], [sigma])
    assert_allclose(d.var, sigma**2)
    expected = -0.5 * np.log(2 * np.pi) - np.log(sigma) - 0.5 * ((y - mu) / sigma) ** 2
    assert_allclose(d.logpdf(y), expected, rtol=1e-9, atol=1e-12)
    # one std either side holds 68.27%, whatever the scale
    assert_allclose(d.cdf(mu + sigma) - d.cdf(mu - sigma), 0.682689492, rtol=1e-8)


@settings(max_examples=30, deadline=None)
@given(d=normals())
def test_unpacks_to_mean_and_std(d):
    mu, sigma = d
    assert mu is d.mean and sigma is d.std
    assert len(d) == 2
    assert d[:1].shape == (1,) and d[:1].mean[0] == d.mean[0]
    assert pickle.loads(pickle.dumps(d)) == d


def test_uncertainty_parts():
    d = Normal(
        [0.0, 1.0], [5.0, 13.0], epistemic_std=[3.0, 5.0], aleatoric_std=[4.0, 12.0]
    )
    assert_allclose(d.epistemic_std**2 + d.aleatoric_std**2, d.var)
    assert d[1:].epistemic_std[0] == 5.0 and d[1:].aleatoric_std[0] == 12.0
    assert Normal([0.0], [1.0]).epistemic_std is None


def test_bad_arguments():
    with pytest.raises(ValueError, match="non-negative"):
        Normal([0.0], [-1.0])
    with pytest.raises(ValueError, match="confidence"):
        Normal([0.0], [1.0]).interval(1.0)
    with pytest.raises(ValueError, match="n_samples"):
        Normal([0.0], [1.0]).sample(0)


# --------------------------------------------------------------------------
# std == 0 is the point mass at the mean: each function is the limit std -> 0,
# read off scipy's normal at a scale so small that the limit is reached.
TINY = 1e-300


@pytest.mark.parametrize("y", [-1.0, 2.0, 2.5])
def test_zero_std_is_the_limit_of_a_vanishing_std(y):
    d = Normal([2.0], [0.0])
    assert d.cdf(y)[0] == stats.norm.cdf(y, loc=2.0, scale=TINY)
    q = np.array([1e-6, 0.3, 0.5, 0.999999])
    assert_allclose(d.ppf(q), stats.norm.ppf(q, loc=2.0, scale=TINY), rtol=0)
    lower, upper = d.interval(0.9)
    expected = stats.norm.interval(0.9, loc=2.0, scale=TINY)
    assert (lower[0], upper[0]) == expected == (2.0, 2.0)
    assert_array_equal(d.sample(4, random_state=0), np.full((4, 1), 2.0))
    # the density diverges on the mean and vanishes off it
    with np.errstate(over="ignore"):
        tiny_logpdf = stats.norm.logpdf(y, loc=2.0, scale=TINY)
    assert d.logpdf(y)[0] == (np.inf if tiny_logpdf > 0 else -np.inf)
    assert d.pdf(y)[0] == (np.inf if tiny_logpdf > 0 else 0.0)
    # ppf at the ends of [0, 1] as for any scale, NaN outside
    assert_array_equal(d.ppf([0.0, 1.0, 1.5]), [-np.inf, np.inf, np.nan])


def test_zero_std_mixed_with_positive_std_and_nan_targets():
    d = Normal([0.0, 0.0], [0.0, 1.0])
    assert_array_equal(d.cdf([0.0, 0.0]), [0.5, 0.5])
    assert_allclose(d.logpdf([1.0, 1.0]), [-np.inf, stats.norm.logpdf(1.0)])
    assert np.isnan(d.cdf([np.nan, np.nan])).all()
    assert np.isnan(d.logpdf([np.nan, np.nan])).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mean": [0.0, np.nan], "std": 1.0}, "mean contains NaN"),
        ({"mean": [0.0, np.inf], "std": 1.0}, "mean contains infinity"),
        ({"mean": [0.0, -np.inf], "std": 1.0}, "mean contains infinity"),
        ({"mean": [0.0], "std": [np.nan]}, "std contains NaN"),
        ({"mean": [0.0], "std": [np.inf]}, "std contains infinity"),
        ({"mean": [0.0], "std": [1.0 + 1j]}, "std must be real"),
        ({"mean": [1.0 + 0j], "std": [1.0]}, "mean must be real"),
        ({"mean": [0.0], "std": 1.0, "epistemic_std": np.nan}, "NaN"),
        ({"mean": [0.0], "std": 1.0, "aleatoric_std": 1j}, "must be real"),
    ],
)
def test_non_finite_or_complex_parameters_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Normal(**kwargs)


@pytest.mark.parametrize("confidence", [0.0, 1.0, True, "0.9", np.nan])
def test_interval_refuses_bad_confidence(confidence):
    with pytest.raises(ValueError, match="confidence"):
        Normal([0.0], [1.0]).interval(confidence)
