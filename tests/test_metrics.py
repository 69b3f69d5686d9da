"""Tests of skbayes.metrics: scoring rules, calibration measures and scorers."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import sklearn
from _doubles import REGRESSORS, DistRidge
from numpy.testing import assert_allclose, assert_array_equal
from scipy import integrate, stats
from sklearn.base import clone
from sklearn.calibration import calibration_curve
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skbayes import Normal
from skbayes.metrics import (
    crps_gaussian,
    expected_calibration_error,
    gaussian_nll,
    interval_calibration_curve,
    interval_coverage,
    interval_width,
    make_dist_scorer,
    neg_crps_scorer,
    neg_gaussian_nll_scorer,
    pit,
    regression_calibration_error,
)


def _regression_data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 + rng.normal(scale=0.5, size=n)
    return X, y


@pytest.fixture
def preds():
    rng = np.random.default_rng(42)
    y = rng.normal(size=25)
    mu = y + rng.normal(scale=0.8, size=25)
    sigma = rng.uniform(0.2, 2.0, size=25)
    return y, mu, sigma


# --------------------------------------------------------------------------
# values against independent computations
def test_gaussian_nll_equals_scipy_logpdf(preds):
    y, mu, sigma = preds
    expected = -np.mean(stats.norm.logpdf(y, loc=mu, scale=sigma))
    assert gaussian_nll(y, mu, sigma) == pytest.approx(expected, rel=1e-12)
    assert gaussian_nll(y, Normal(mu, sigma)) == pytest.approx(expected, rel=1e-12)


def _crps_by_quadrature(y: float, mu: float, sigma: float) -> float:
    cdf = stats.norm(mu, sigma).cdf
    left, _ = integrate.quad(lambda x: cdf(x) ** 2, -np.inf, y)
    right, _ = integrate.quad(lambda x: (1 - cdf(x)) ** 2, y, np.inf)
    return left + right


@pytest.mark.parametrize(
    "y, mu, sigma",
    [(0.0, 0.0, 1.0), (1.3, -0.4, 0.7), (-5.0, 2.0, 3.0), (2.0, 2.1, 0.05)],
)
def test_crps_equals_numerical_integration(y, mu, sigma):
    assert crps_gaussian([y], [mu], [sigma]) == pytest.approx(
        _crps_by_quadrature(y, mu, sigma), rel=1e-7, abs=1e-10
    )


def test_crps_mean_over_samples_and_properscoring_oracle(preds):
    y, mu, sigma = preds
    by_quad = np.mean([_crps_by_quadrature(*row) for row in zip(y, mu, sigma)])
    assert crps_gaussian(y, mu, sigma) == pytest.approx(by_quad, rel=1e-7)
    ps = pytest.importorskip("properscoring")
    assert crps_gaussian(y, Normal(mu, sigma)) == pytest.approx(
        np.mean(ps.crps_gaussian(y, mu, sigma)), rel=1e-10
    )


def test_crps_zero_sigma_is_absolute_error():
    y, mu = np.array([1.0, -2.0, 0.5]), np.array([0.0, 0.0, 0.5])
    assert crps_gaussian(y, mu, 0.0) == pytest.approx(np.mean(np.abs(y - mu)))
    # continuous in sigma at 0
    assert crps_gaussian(y, mu, 1e-9) == pytest.approx(np.mean(np.abs(y - mu)))


def test_interval_coverage_and_width(preds):
    y, mu, sigma = preds
    z = stats.norm.ppf(0.95)
    inside = np.abs(y - mu) <= z * sigma
    assert interval_coverage(y, mu, sigma) == pytest.approx(inside.mean())
    assert interval_width(y, mu, sigma) == pytest.approx(np.mean(2 * z * sigma))
    assert interval_width(None, Normal(mu, sigma), confidence=0.5) == pytest.approx(
        np.mean(2 * stats.norm.ppf(0.75) * sigma)
    )


def test_calibrated_predictions_look_calibrated():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=20_000)
    sigma = rng.uniform(0.5, 2.0, size=mu.size)
    y = rng.normal(mu, sigma)
    assert interval_coverage(y, mu, sigma, confidence=0.9) == pytest.approx(
        0.9, abs=0.01
    )
    u = pit(y, mu, sigma)
    assert u.shape == y.shape
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    assert regression_calibration_error(y, mu, sigma) < 0.01
    # over-confident by a factor of 3: far from the diagonal
    assert regression_calibration_error(y, mu, sigma / 3) > 0.2


def test_pit_values():
    assert_allclose(
        pit([0.0, 1.0, -1.0], Normal([0.0, 0.0, 0.0], 1.0)),
        stats.norm.cdf([0.0, 1.0, -1.0]),
    )


def test_calibration_curve_and_error_agree_with_coverage(preds):
    y, mu, sigma = preds
    levels = [0.9, 0.2, 0.5]
    expected, observed = interval_calibration_curve(
        y, mu, sigma, confidence_levels=levels
    )
    assert_allclose(expected, sorted(levels))
    assert_allclose(
        observed, [interval_coverage(y, mu, sigma, confidence=c) for c in expected]
    )
    assert regression_calibration_error(
        y, mu, sigma, confidence_levels=levels
    ) == pytest.approx(np.mean(np.abs(observed - expected)))
    default_expected, _ = interval_calibration_curve(y, mu, sigma)
    assert_allclose(default_expected, np.linspace(0.05, 0.95, 19))


def test_multioutput_is_averaged_over_outputs(preds):
    y, mu, sigma = preds
    Y = np.column_stack([y, 2 * y])
    M = np.column_stack([mu, 2 * mu])
    S = np.column_stack([sigma, 2 * sigma])
    expected = np.mean(-stats.norm.logpdf(Y, M, S))
    assert gaussian_nll(Y, M, S) == pytest.approx(expected)
    assert crps_gaussian(Y, M, S) == pytest.approx(
        (crps_gaussian(y, mu, sigma) + crps_gaussian(2 * y, 2 * mu, 2 * sigma)) / 2
    )
    assert pit(Y, M, S).shape == Y.shape


# --------------------------------------------------------------------------
# sample weights
WEIGHTED = [
    gaussian_nll,
    crps_gaussian,
    interval_coverage,
    interval_width,
    regression_calibration_error,
]


@pytest.mark.parametrize("metric", WEIGHTED)
def test_integer_weights_equal_repeated_rows(metric, preds):
    y, mu, sigma = preds
    w = np.random.default_rng(1).integers(0, 4, size=y.size)
    rep = np.repeat(np.arange(y.size), w)
    assert metric(y, mu, sigma, sample_weight=w) == pytest.approx(
        metric(y[rep], mu[rep], sigma[rep]), rel=1e-12
    )
    assert metric(y, mu, sigma, sample_weight=np.ones(y.size)) == pytest.approx(
        metric(y, mu, sigma), rel=1e-12
    )


@pytest.mark.parametrize("metric", WEIGHTED)
def test_bad_weights(metric, preds):
    y, mu, sigma = preds
    with pytest.raises(ValueError, match=r"(?i)sample.weight"):
        metric(y, mu, sigma, sample_weight=np.zeros(y.size))
    with pytest.raises(ValueError, match=r"[Nn]egative"):
        metric(y, mu, sigma, sample_weight=-np.ones(y.size))
    with pytest.raises(ValueError):
        metric(y, mu, sigma, sample_weight=np.ones(y.size - 1))


# --------------------------------------------------------------------------
# bad input
@pytest.mark.parametrize("metric", [*WEIGHTED, pit])
def test_bad_regression_input(metric):
    y, mu, sigma = np.zeros(4), np.zeros(4), np.ones(4)
    with pytest.raises(ValueError, match="non-negative"):
        metric(y, mu, -sigma)
    with pytest.raises(ValueError, match="NaN"):
        metric(np.array([0.0, np.nan, 0, 0]), mu, sigma)
    with pytest.raises(ValueError, match="NaN"):
        metric(y, np.array([0.0, np.nan, 0, 0]), sigma)
    with pytest.raises(ValueError, match="NaN"):
        metric(y, mu, np.array([1.0, np.nan, 1, 1]))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        metric(np.zeros(5), mu, sigma)
    with pytest.raises(ValueError, match="does not match"):
        metric(y, mu, np.ones(3))
    with pytest.raises(ValueError, match="does not match"):
        metric(np.zeros((4, 2)), mu, sigma)
    with pytest.raises(TypeError, match="sigma is required"):
        metric(y, mu)
    with pytest.raises(TypeError, match="not both"):
        metric(y, Normal(mu, sigma), sigma)


def test_nll_needs_positive_sigma_and_confidence_in_range():
    with pytest.raises(ValueError, match="strictly positive"):
        gaussian_nll([0.0], [0.0], [0.0])
    with pytest.raises(ValueError, match="confidence"):
        interval_coverage([0.0], [0.0], [1.0], confidence=1.0)
    with pytest.raises(ValueError, match="confidence_levels"):
        regression_calibration_error([0.0], [0.0], [1.0], confidence_levels=[0.5, 1.2])


# --------------------------------------------------------------------------
# sigma == 0 is a point mass at mu in every metric: the limit sigma -> 0,
# read off each metric at a sigma so small that the limit is reached.
TINY = 1e-300


def _point_mass_case():
    # targets on the mean, below and above it; two point masses, one not
    y = np.array([1.0, 0.5, 2.0, 1.0])
    mu = np.array([1.0, 1.0, 1.0, 0.0])
    sigma = np.array([0.0, 0.0, 0.0, 1.0])
    return y, mu, sigma, np.where(sigma == 0, TINY, sigma)


@pytest.mark.parametrize(
    "metric",
    [crps_gaussian, interval_coverage, regression_calibration_error, pit],
)
def test_zero_sigma_is_the_limit_of_a_vanishing_sigma(metric):
    y, mu, sigma, tiny = _point_mass_case()
    with np.errstate(over="ignore"):  # scipy's pdf at z = 1e300
        reference = metric(y, mu, tiny)
    assert_allclose(metric(y, mu, sigma), reference, rtol=1e-12, atol=0)
    assert_allclose(metric(y, Normal(mu, sigma)), metric(y, mu, sigma), rtol=0)


def test_zero_sigma_agrees_across_metrics():
    y, mu, sigma, tiny = _point_mass_case()
    levels = [0.1, 0.5, 0.99]
    _, observed = interval_calibration_curve(y, mu, sigma, confidence_levels=levels)
    coverage = [interval_coverage(y, mu, sigma, confidence=c) for c in levels]
    assert_array_equal(observed, coverage)
    # the point mass on its target is inside, the two off it outside, at
    # every level; the unit Gaussian covers |y - mu| = 1 from level 0.6827 on
    assert_array_equal(observed, [0.25, 0.25, 0.5])
    assert_array_equal(pit(y, mu, sigma), [0.5, 0.0, 1.0, stats.norm.cdf(1.0)])
    # width: zero for the point masses, exact for the rest
    z = stats.norm.ppf(0.95)
    assert interval_width(y, mu, sigma) == pytest.approx(2 * z / 4, rel=1e-15)
    assert interval_width(y, mu, sigma) == pytest.approx(
        interval_width(y, mu, tiny), rel=1e-12
    )
    assert interval_width(None, [3.0], [0.0]) == 0.0
    with pytest.raises(ValueError, match="point mass"):
        gaussian_nll(y, mu, sigma)


@pytest.mark.parametrize("metric", [*WEIGHTED, pit, interval_calibration_curve])
def test_complex_sigma_is_refused(metric):
    y, mu = np.zeros(3), np.zeros(3)
    with pytest.raises(ValueError, match="real"):
        metric(y, mu, np.array([1.0 + 1e-3j, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"[Cc]omplex"):
        metric(y, np.array([0.0 + 1j, 0, 0]), np.ones(3))


@pytest.mark.parametrize(
    "metric", [interval_coverage, interval_width, interval_calibration_curve, pit]
)
def test_bad_shapes(metric):
    y, mu, sigma = np.zeros(4), np.zeros(4), np.ones(4)
    with pytest.raises(ValueError, match="dim 3"):
        metric(y, np.zeros((4, 1, 1)), sigma)
    with pytest.raises(ValueError, match="does not match"):
        metric(y, mu, np.ones((4, 2)))
    with pytest.raises(ValueError):
        metric(y, [], [])


@pytest.mark.parametrize("metric", [interval_coverage, interval_width])
@pytest.mark.parametrize("confidence", [True, False, 0, 1, 1.5, "0.9", None, np.nan])
def test_bad_confidence_is_an_invalid_parameter(metric, confidence):
    with pytest.raises(InvalidParameterError, match="'confidence' parameter"):
        metric([0.0], [0.0], [1.0], confidence=confidence)


@pytest.mark.parametrize(
    "levels", [[0.5, 1.0], [0.0], [], [[0.5, 0.6]], ["0.5"], [0.5 + 0j], [np.nan]]
)
def test_bad_confidence_levels(levels):
    for metric in (interval_calibration_curve, regression_calibration_error):
        with pytest.raises(ValueError, match="confidence_levels"):
            metric([0.0], [0.0], [1.0], confidence_levels=levels)


@pytest.mark.parametrize("metric", [*WEIGHTED, interval_calibration_curve])
def test_bad_sample_weight_type(metric):
    with pytest.raises(InvalidParameterError, match="'sample_weight' parameter"):
        metric([0.0], [0.0], [1.0], sample_weight="balanced")
    with pytest.raises(ValueError, match=r"(?i)sample.weight"):
        metric([0.0, 1.0], [0.0, 0.0], [1.0, 1.0], sample_weight=np.ones((2, 2)))


def test_column_vector_target_is_accepted():
    y = np.array([[0.0], [1.0]])
    assert gaussian_nll(y, [0.0, 0.0], 1.0) == gaussian_nll(y.ravel(), [0.0, 0.0], 1.0)


# --------------------------------------------------------------------------
# expected calibration error
@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_binary_ece_matches_calibration_curve(strategy):
    rng = np.random.default_rng(0)
    p = rng.uniform(size=300)
    y = (rng.uniform(size=300) < p**1.5).astype(int)
    ece = expected_calibration_error(y, p, n_bins=8, strategy=strategy)
    # recompute from scikit-learn's reliability-diagram data
    bins = (
        np.linspace(0, 1, 9)
        if strategy == "uniform"
        else np.percentile(p, np.linspace(0, 100, 9))
    )
    counts = np.bincount(np.searchsorted(bins[1:-1], p), minlength=8)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=8, strategy=strategy)
    expected = np.sum(counts[counts > 0] * np.abs(prob_true - prob_pred)) / p.size
    assert ece == pytest.approx(expected, rel=1e-12)
    assert 0.0 < ece < 1.0


def test_ece_of_calibrated_probabilities_is_small():
    rng = np.random.default_rng(1)
    p = rng.uniform(size=50_000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.01
    assert expected_calibration_error(y, p**3) > 0.1


def test_multiclass_top_label_ece():
    rng = np.random.default_rng(2)
    proba = rng.dirichlet(np.ones(3), size=200)
    classes = np.array(["a", "b", "c"])
    y = classes[rng.integers(0, 3, size=200)]
    conf = proba.max(axis=1)
    correct = classes[proba.argmax(axis=1)] == y
    binids = np.searchsorted(np.linspace(0, 1, 11)[1:-1], conf)
    expected = (
        sum(
            abs(correct[binids == b].sum() - conf[binids == b].sum()) for b in range(10)
        )
        / y.size
    )
    assert expected_calibration_error(y, proba) == pytest.approx(expected)
    assert expected_calibration_error(y, proba, labels=classes) == pytest.approx(
        expected
    )
    # integer weights == repeated rows
    w = rng.integers(0, 3, size=200)
    rep = np.repeat(np.arange(200), w)
    assert expected_calibration_error(y, proba, sample_weight=w) == pytest.approx(
        expected_calibration_error(y[rep], proba[rep])
    )


def test_ece_input_checks():
    with pytest.raises(ValueError, match="outside"):
        expected_calibration_error([0, 1], [0.5, 1.5])
    with pytest.raises(ValueError, match="pos_label"):
        expected_calibration_error(["x", "y"], [0.5, 0.5])
    assert expected_calibration_error(
        ["x", "y"], [0.0, 1.0], pos_label="y"
    ) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="labels="):
        expected_calibration_error([0, 1, 1], [[0.2, 0.3, 0.5]] * 3)
    with pytest.raises(ValueError, match="binary"):
        expected_calibration_error([0, 1, 2], [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="strategy"):
        expected_calibration_error([0, 1], [0.2, 0.3], strategy="bogus")
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error([0, 1], [0.2, 0.3], n_bins=0)
    with pytest.raises(ValueError, match="dim 3"):
        expected_calibration_error([0, 1], np.full((2, 2, 1), 0.5))
    with pytest.raises(ValueError, match=r"[Cc]omplex"):
        expected_calibration_error([0, 1], [0.2 + 0j, 0.3])


@pytest.mark.parametrize("n_bins", [True, False, 2.0, 10.5, "10", None, 0, -3])
def test_ece_n_bins_is_validated_like_scikit_learn(n_bins):
    with pytest.raises(InvalidParameterError, match="'n_bins' parameter"):
        expected_calibration_error([0, 1], [0.2, 0.3], n_bins=n_bins)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"strategy": None}, "strategy"),
        ({"strategy": "bogus"}, "strategy"),
        ({"sample_weight": "balanced"}, "sample_weight"),
        ({"labels": 3}, "labels"),
    ],
)
def test_ece_other_parameters_are_validated(kwargs, name):
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        expected_calibration_error([0, 1], [0.2, 0.3], **kwargs)


# --------------------------------------------------------------------------
# scorers
@pytest.mark.parametrize("make", REGRESSORS)
def test_scorers_sign_and_value(make):
    X, y = _regression_data()
    est, _ = make()
    est.fit(X, y)
    mu, sigma = est.predict_dist(X)
    assert neg_gaussian_nll_scorer(est, X, y) == pytest.approx(
        -gaussian_nll(y, mu, sigma)
    )
    assert neg_crps_scorer(est, X, y) == pytest.approx(-crps_gaussian(y, mu, sigma))
    # greater is better: a worse model scores lower
    y_noisy = y + np.random.default_rng(3).normal(scale=5, size=y.size)
    assert neg_crps_scorer(est, X, y_noisy) < neg_crps_scorer(est, X, y)
    assert neg_gaussian_nll_scorer(est, X, y_noisy) < neg_gaussian_nll_scorer(est, X, y)
    w = np.arange(y.size) % 3
    assert neg_crps_scorer(est, X, y, sample_weight=w) == pytest.approx(
        -crps_gaussian(y, mu, sigma, sample_weight=w)
    )


@pytest.mark.parametrize("make", REGRESSORS)
def test_scorers_work_on_pipelines_and_in_cross_validate(make):
    X, y = _regression_data()
    est, _ = make()
    pipe = make_pipeline(StandardScaler(), est).fit(X, y)
    Xt = pipe[0].transform(X)
    assert neg_crps_scorer(pipe, X, y) == pytest.approx(
        -crps_gaussian(y, pipe[-1].predict_dist(Xt))
    )
    res = cross_validate(
        pipe,
        X,
        y,
        cv=3,
        scoring={"nll": neg_gaussian_nll_scorer, "crps": neg_crps_scorer},
    )
    assert np.all(np.isfinite(res["test_nll"]))
    assert np.all(res["test_crps"] < 0)


@pytest.mark.parametrize("make", REGRESSORS)
def test_scorers_in_grid_search_with_two_jobs(make):
    X, y = _regression_data()
    est, grid = make()
    pipe = make_pipeline(StandardScaler(), est)
    grid = {f"{type(est).__name__.lower()}__{k}": v for k, v in grid.items()}
    search = GridSearchCV(
        pipe,
        grid,
        scoring={"crps": neg_crps_scorer, "nll": neg_gaussian_nll_scorer},
        refit="crps",
        cv=3,
        n_jobs=2,
    ).fit(X, y)
    serial = GridSearchCV(pipe, grid, scoring=neg_crps_scorer, cv=3, n_jobs=1).fit(X, y)
    assert_allclose(
        search.cv_results_["mean_test_crps"], serial.cv_results_["mean_test_score"]
    )
    # the refitted search is itself scorable
    assert neg_crps_scorer(search, X, y) == pytest.approx(
        neg_crps_scorer(search.best_estimator_, X, y)
    )


def test_make_dist_scorer():
    X, y = _regression_data()
    est = DistRidge().fit(X, y)
    coverage = make_dist_scorer(interval_coverage, confidence=0.5)
    assert coverage(est, X, y) == pytest.approx(
        interval_coverage(y, est.predict_dist(X), confidence=0.5)
    )
    width = make_dist_scorer(interval_width, greater_is_better=False, confidence=0.5)
    assert width(est, X, y) == pytest.approx(
        -interval_width(y, est.predict_dist(X), confidence=0.5)
    )
    assert repr(width) == (
        "make_dist_scorer(interval_width, greater_is_better=False, confidence=0.5)"
    )
    assert repr(neg_crps_scorer) == (
        "make_dist_scorer(crps_gaussian, greater_is_better=False)"
    )
    with pytest.raises(TypeError, match="callable"):
        make_dist_scorer("crps")


@pytest.mark.parametrize(
    "scorer",
    [
        neg_crps_scorer,
        neg_gaussian_nll_scorer,
        make_dist_scorer(interval_coverage, confidence=0.8),
    ],
)
def test_scorers_pickle(scorer):
    X, y = _regression_data()
    est = DistRidge().fit(X, y)
    clone = pickle.loads(pickle.dumps(scorer))
    assert clone(est, X, y) == scorer(est, X, y)


def test_scorer_on_estimator_without_distribution():
    X, y = _regression_data()
    with pytest.raises(TypeError, match="no predictive distribution"):
        neg_crps_scorer(LinearRegression().fit(X, y), X, y)


@pytest.mark.parametrize("make", REGRESSORS)
def test_scorer_sample_weight_with_metadata_routing(make):
    X, y = _regression_data()
    w = np.random.default_rng(4).integers(1, 4, size=y.size).astype(float)
    est, _ = make()
    with sklearn.config_context(enable_metadata_routing=True):
        est = est.set_fit_request(sample_weight=True)
        scorer = neg_crps_scorer.set_score_request(sample_weight=True)
        assert scorer is not neg_crps_scorer  # the shared scorer is untouched
        res = cross_validate(
            est,
            X,
            y,
            scoring=scorer,
            cv=3,
            params={"sample_weight": w},
            return_indices=True,
        )
        with pytest.raises(UnsetMetadataPassedError):
            cross_validate(
                est, X, y, scoring=neg_crps_scorer, cv=3, params={"sample_weight": w}
            )
    train, test = res["indices"]["train"][0], res["indices"]["test"][0]
    model = clone(est).fit(X[train], y[train], sample_weight=w[train])
    assert res["test_score"][0] == pytest.approx(
        -crps_gaussian(y[test], model.predict_dist(X[test]), sample_weight=w[test])
    )


def test_builtin_scorers_refuse_classifiers():
    X, y = _regression_data()
    clf = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y > 0)
    for scorer in (neg_crps_scorer, neg_gaussian_nll_scorer):
        with pytest.raises(TypeError, match="classifier"):
            scorer(clf, X, y > 0)
        with pytest.raises(TypeError, match="classifier"):
            scorer.set_score_request(sample_weight=True)(clf, X, y > 0)
