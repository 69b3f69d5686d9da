import numpy as np
import pytest

from skbayes.datasets import heteroscedastic_mean, make_heteroscedastic


def test_noise_matches_its_stated_std():
    X, y, s = make_heteroscedastic(200_000, random_state=0, return_std=True)
    z = (y - heteroscedastic_mean(X[:, 0])) / s
    assert abs(z.mean()) < 0.01
    assert abs(z.std() - 1.0) < 0.01
    np.testing.assert_allclose(s, 0.1 + 0.3 * np.abs(X[:, 0]))


def test_reproducible_and_shaped():
    a = make_heteroscedastic(10, random_state=1)
    b = make_heteroscedastic(10, random_state=1)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[0].shape == (10, 1) and a[1].shape == (10,)


@pytest.mark.parametrize("kw", [{"n_samples": 0}, {"base_noise": 0.0}])
def test_bad_arguments(kw):
    with pytest.raises(ValueError):
        make_heteroscedastic(**kw)
