"""Tests of skbayes.plotting: the Display classes, rendered with Agg."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from _doubles import REGRESSORS
from numpy.testing import assert_allclose
from scipy import stats
from sklearn.calibration import CalibrationDisplay
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbayes import BayesianLogisticRegression, Normal
from skbayes.metrics import (
    expected_calibration_error,
    interval_calibration_curve,
    regression_calibration_error,
)
from skbayes.plotting import IntervalCalibrationDisplay, PredictiveBandDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _data(n=40, n_features=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, n_features))
    y = X.sum(axis=1) + rng.normal(scale=0.3, size=n)
    return X, y


def _check_band(poly, x, lo, hi):
    """Each x of the band polygon spans exactly [lo, hi]."""
    verts = poly.get_paths()[0].vertices
    for xi, li, hi_ in zip(x, lo, hi):
        ys = verts[np.isclose(verts[:, 0], xi), 1]
        assert ys.size >= 2
        assert ys.min() == pytest.approx(li)
        assert ys.max() == pytest.approx(hi_)


# --------------------------------------------------------------------------
# PredictiveBandDisplay
def test_band_from_predictions_artists_hold_the_intervals():
    rng = np.random.default_rng(0)
    x = rng.permutation(np.linspace(0, 1, 15))
    mu, sigma = np.sin(6 * x), 0.1 + x
    y = mu + rng.normal(scale=sigma)
    disp = PredictiveBandDisplay.from_predictions(
        y, mu, sigma, X=x.reshape(-1, 1), confidence_levels=(0.5, 0.9), name="m"
    )
    assert disp.kind == "band"
    assert disp.confidence_levels == (0.5, 0.9)
    order = np.argsort(x)
    assert_allclose(disp.line_.get_xdata(), x[order])
    assert_allclose(disp.line_.get_ydata(), mu[order])
    assert disp.line_.get_label() == "m"
    for level, poly in zip((0.5, 0.9), disp.intervals_):
        lo, hi = Normal(mu, sigma).interval(level)
        _check_band(poly, x[order], lo[order], hi[order])
        assert poly.get_label() == f"{level:.0%} interval"
    assert_allclose(disp.scatter_.get_offsets(), np.column_stack([x, y]))
    assert isinstance(disp.figure_, matplotlib.figure.Figure)
    assert disp.ax_.get_xlabel() == "x"
    # user styling wins over the defaults
    disp = PredictiveBandDisplay.from_predictions(
        y, mu, sigma, X=x, interval_kwargs={"alpha": 0.9, "color": "r"}
    )
    assert all(poly.get_alpha() == 0.9 for poly in disp.intervals_)


def test_ordered_from_predictions_error_bars():
    rng = np.random.default_rng(1)
    mu, sigma = rng.normal(size=12), rng.uniform(0.1, 1, size=12)
    y = mu + rng.normal(size=12)
    disp = PredictiveBandDisplay.from_predictions(
        y, Normal(mu, sigma), confidence_levels=[0.9, 0.5]
    )
    assert disp.kind == "ordered"
    order = np.argsort(mu)
    assert_allclose(disp.line_.get_ydata(), mu[order])
    assert_allclose(disp.line_.get_xdata(), np.arange(12))
    for level, container in zip((0.9, 0.5), disp.intervals_):
        lo, hi = Normal(mu, sigma).interval(level)
        segments = container.lines[2][0].get_segments()
        assert_allclose([s[0][1] for s in segments], lo[order])
        assert_allclose([s[1][1] for s in segments], hi[order])
        assert_allclose([s[0][0] for s in segments], np.arange(12))
    # each observation sits at the rank of its own prediction
    offsets = disp.scatter_.get_offsets()
    assert_allclose(offsets[order, 0], np.arange(12))
    assert_allclose(offsets[:, 1], y)


@pytest.mark.parametrize("make", REGRESSORS)
def test_band_from_estimator(make):
    X, y = _data()
    est = make()[0].fit(X, y)
    fig, ax = plt.subplots()
    disp = PredictiveBandDisplay.from_estimator(est, X, y, ax=ax)
    assert disp.ax_ is ax and disp.figure_ is fig
    assert disp.kind == "band"
    assert disp.estimator_name == type(est).__name__
    dist = est.predict_dist(X)
    assert_allclose(disp.mu, dist.mean)
    assert_allclose(disp.sigma, dist.std)
    order = np.argsort(X[:, 0])
    lo, hi = dist.interval(0.9)
    _check_band(disp.intervals_[1], X[order, 0], lo[order], hi[order])


@pytest.mark.parametrize("make", REGRESSORS)
def test_from_estimator_many_features_pipeline_and_grid(make):
    X, y = _data(n_features=3)
    pipe = make_pipeline(StandardScaler(), make()[0]).fit(X, y)
    disp = PredictiveBandDisplay.from_estimator(pipe, X, y)
    assert disp.kind == "ordered"
    assert disp.estimator_name == "Pipeline"
    assert_allclose(np.sort(disp.line_.get_ydata()), np.sort(pipe.predict(X)))
    # a grid without targets over one feature: no scatter
    X1, y1 = _data()
    est = make()[0].fit(X1, y1)
    grid = np.linspace(-3, 3, 50).reshape(-1, 1)
    disp = PredictiveBandDisplay.from_estimator(est, grid, kind="band")
    assert disp.scatter_ is None
    assert_allclose(disp.line_.get_xdata(), grid.ravel())
    # kind="ordered" also for one feature
    disp = PredictiveBandDisplay.from_estimator(est, X1, y1, kind="ordered")
    assert disp.x is None


def test_band_bad_input():
    mu = np.zeros(5)
    with pytest.raises(ValueError, match="single feature"):
        PredictiveBandDisplay.from_predictions(
            None, mu, 1.0, X=np.zeros((5, 2)), kind="band"
        )
    with pytest.raises(ValueError, match="kind"):
        PredictiveBandDisplay.from_predictions(None, mu, 1.0, kind="bands")
    with pytest.raises(ValueError, match="confidence_levels"):
        PredictiveBandDisplay.from_predictions(
            None, mu, 1.0, confidence_levels=(0.5, 1.5)
        )
    with pytest.raises(ValueError, match="y_true"):
        PredictiveBandDisplay.from_predictions(np.zeros(4), mu, 1.0)
    with pytest.raises(ValueError, match="non-negative"):
        PredictiveBandDisplay.from_predictions(None, mu, -1.0)
    with pytest.raises(ValueError, match="1-D"):
        PredictiveBandDisplay.from_predictions(None, np.zeros((5, 2)), 1.0)


# --------------------------------------------------------------------------
# IntervalCalibrationDisplay
def test_interval_calibration_from_predictions():
    rng = np.random.default_rng(2)
    mu = rng.normal(size=500)
    y = mu + rng.normal(size=500)
    sigma = np.full(500, 0.6)  # over-confident
    disp = IntervalCalibrationDisplay.from_predictions(y, mu, sigma, name="m")
    expected, observed = interval_calibration_curve(y, mu, sigma)
    assert_allclose(disp.expected, expected)
    assert_allclose(disp.observed, observed)
    assert_allclose(disp.line_.get_xdata(), expected)
    assert_allclose(disp.line_.get_ydata(), observed)
    assert_allclose(disp.ref_line_.get_xydata(), [[0, 0], [1, 1]])
    assert disp.calibration_error == pytest.approx(
        regression_calibration_error(y, mu, sigma)
    )
    assert disp.line_.get_label() == f"m (error {disp.calibration_error:.3f})"
    assert np.all(disp.observed < disp.expected)  # below the diagonal
    assert disp.ax_.get_xlabel().startswith("Expected coverage")


@pytest.mark.parametrize("make", REGRESSORS)
def test_interval_calibration_from_estimator(make):
    X, y = _data(n_features=2)
    est = make()[0].fit(X, y)
    fig, ax = plt.subplots()
    disp = IntervalCalibrationDisplay.from_estimator(
        est, X, y, confidence_levels=[0.5, 0.8], ref_line=False, ax=ax, color="r"
    )
    assert disp.ax_ is ax and disp.figure_ is fig
    assert disp.ref_line_ is None
    assert disp.line_.get_color() == "r"
    _, observed = interval_calibration_curve(
        y, est.predict_dist(X), confidence_levels=[0.5, 0.8]
    )
    assert_allclose(disp.line_.get_ydata(), observed)
    assert disp.estimator_name == type(est).__name__


# --------------------------------------------------------------------------
# reliability diagram: scikit-learn's CalibrationDisplay as is
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(LogisticRegression, id="double"),
        pytest.param(BayesianLogisticRegression, id="BayesianLogisticRegression"),
    ],
)
def test_reliability_diagram_with_sklearn_calibration_display(make):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    clf = make().fit(X, y)
    disp = CalibrationDisplay.from_estimator(clf, X, y, n_bins=5)
    proba = clf.predict_proba(X)[:, 1]
    assert_allclose(disp.y_prob, proba)
    # the ECE is the count-weighted distance of the diagram from the diagonal
    binids = np.searchsorted(np.linspace(0, 1, 6)[1:-1], proba)
    counts = np.bincount(binids, minlength=5)
    ece = np.sum(counts[counts > 0] * np.abs(disp.prob_true - disp.prob_pred))
    assert expected_calibration_error(y, proba, n_bins=5) == pytest.approx(ece / y.size)


# --------------------------------------------------------------------------
# matplotlib is optional
def test_clear_error_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install skbayes\[plot\]"):
        PredictiveBandDisplay.from_predictions(None, np.zeros(3), 1.0)
    with pytest.raises(ImportError, match=r"pip install skbayes\[plot\]"):
        IntervalCalibrationDisplay.from_predictions(np.zeros(3), np.zeros(3), 1.0)


def test_import_does_not_import_matplotlib():
    code = (
        "import sys, skbayes.plotting, skbayes.metrics; "
        "assert 'matplotlib' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_std_interval_formula_matches_scipy():
    # the band half-widths use the same quantile as Normal.interval
    disp = PredictiveBandDisplay.from_predictions(
        None,
        np.zeros(3),
        np.array([1.0, 2.0, 3.0]),
        X=np.arange(3.0),
        confidence_levels=(0.8,),
    )
    verts = disp.intervals_[0].get_paths()[0].vertices
    z = stats.norm.ppf(0.9)
    assert verts[:, 1].max() == pytest.approx(3.0 * z)
