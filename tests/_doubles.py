"""Shared test double and regressor list for the tests that use ``predict_dist``.

A plain module, not a test file: the tests import it as ``from _doubles import
...`` (pytest puts ``tests/`` on ``sys.path`` because it holds conftest.py and
no ``__init__.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import BayesianRidge
from sklearn.utils.validation import check_is_fitted

from skbayes import GaussianLinearRegression, Normal


class DistRidge(RegressorMixin, BaseEstimator):
    """BayesianRidge with a predict_dist that splits epistemic and aleatoric."""

    def __init__(self, lambda_1=1e-6):
        self.lambda_1 = lambda_1

    def fit(self, X, y, sample_weight=None):
        self.model_ = BayesianRidge(lambda_1=self.lambda_1).fit(X, y, sample_weight)
        self.n_features_in_ = self.model_.n_features_in_
        return self

    def predict(self, X):
        check_is_fitted(self)
        return self.model_.predict(X)

    def predict_dist(self, X):
        check_is_fitted(self)
        mean, std = self.model_.predict(X, return_std=True)
        aleatoric = np.full_like(std, 1.0 / np.sqrt(self.model_.alpha_))
        epistemic = np.sqrt(np.maximum(std**2 - aleatoric**2, 0.0))
        return Normal(mean, std, epistemic_std=epistemic, aleatoric_std=aleatoric)


def _make_double():
    return DistRidge(), {"lambda_1": [1e-6, 1.0]}


def _make_gaussian():
    return GaussianLinearRegression(), {"prior_scale": [0.1, 10.0]}


# Each maker returns a fresh (estimator, parameter grid) pair.
REGRESSORS = [
    pytest.param(_make_double, id="double"),
    pytest.param(_make_gaussian, id="GaussianLinearRegression"),
]
