"""GaussianLinearRegression on what users try: defaults, bad input, edge cases."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import BayesianRidge
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
