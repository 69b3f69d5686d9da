"""scikit-learn's own estimator checks, run over every estimator in the package."""

import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)

from skbayes import (
    BayesianLogisticRegression,
    GaussianLinearRegression,
    StochasticMLPClassifier,
    StochasticMLPRegressor,
)

# One instance per distinct code path a user can reach.
LINEAR = [
    GaussianLinearRegression(),
    GaussianLinearRegression(prior_scale=1.0),
    GaussianLinearRegression(prior_scale="ard"),
    GaussianLinearRegression(prior="laplace", prior_scale=0.5),
    GaussianLinearRegression(prior=None),
    GaussianLinearRegression(prior=None, noise_scale=1.0),
    GaussianLinearRegression(fit_intercept=False, noise_scale=0.5),
    GaussianLinearRegression(prior="laplace", prior_scale=0.1, noise_scale=0.3),
    BayesianLogisticRegression(),
    BayesianLogisticRegression(
        prior="laplace", covariance="diag", predictive="mc", n_predictive_samples=50
    ),
    BayesianLogisticRegression(prior=None, class_weight="balanced", predictive="map"),
    BayesianLogisticRegression(prior_scale="auto", covariance=None),
    BayesianLogisticRegression(approximation="laplace", predictive="probit"),
]
# Small and quick, but trained enough for check_regressors_train's R² > 0.5.
MLP = [
    StochasticMLPRegressor(
        hidden_layer_sizes=(16,),
        max_iter=30,
        learning_rate_init=1e-2,
        n_predict_samples=10,
        random_state=0,
        early_stopping=early_stopping,
    )
    for early_stopping in (False, True)
] + [
    StochasticMLPClassifier(
        hidden_layer_sizes=(16,),
        max_iter=30,
        n_predict_samples=10,
        random_state=0,
        early_stopping=early_stopping,
        class_weight=class_weight,
    )
    for early_stopping, class_weight in ((False, None), (True, "balanced"))
]
MLP_EXPECTED_FAILURES = {
    # Minibatch SGD draws rows, not weight units: a weight of 2 and a repeated row
    # change the minibatches and so the optimiser's path, not the objective.
    "check_sample_weight_equivalence_on_dense_data": (
        "minibatch SGD: weighting a row is not the same optimisation path as "
        "repeating it, although both minimise the same objective"
    ),
}
MLP_EXPECTED_FAILURES["check_sample_weight_equivalence_on_sparse_data"] = (
    MLP_EXPECTED_FAILURES["check_sample_weight_equivalence_on_dense_data"]
)


def _expected_failed_checks(estimator):
    if isinstance(estimator, (StochasticMLPRegressor, StochasticMLPClassifier)):
        return MLP_EXPECTED_FAILURES
    return {}


@parametrize_with_checks(
    [*LINEAR, *MLP], expected_failed_checks=_expected_failed_checks
)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        # A few epochs are enough for the checks; the MLP says it could go on.
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize("estimator", [*LINEAR, *MLP], ids=repr)
def test_param_validation(estimator):
    check_param_validation(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", [*LINEAR, *MLP], ids=repr)
def test_dataframe_column_names_consistency(estimator):
    pytest.importorskip("pandas")
    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)
