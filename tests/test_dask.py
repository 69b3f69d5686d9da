"""skbayes on Dask: joblib's Dask backend, dask-ml's Incremental, skbayes.dask.

All on a small in-process ``distributed.LocalCluster``; the module is skipped
where the ``dask`` extra (``pip install skbayes[dask]``) is not installed.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("dask")
pytest.importorskip("dask.array")
pytest.importorskip("distributed")
pytest.importorskip("dask_ml")

import dask
import dask.array as da
import joblib
from dask_ml.wrappers import Incremental
from distributed import Client, LocalCluster
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import BaggingRegressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import BayesianRidge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skbayes
from skbayes import Normal
from skbayes.dask import predict_dist as dask_predict_dist
from skbayes.metrics import neg_crps_scorer, neg_gaussian_nll_scorer

# A three-iteration MLP has not converged: that is the point of a fast test.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = [
    "GaussianLinearRegression",
    "BayesianLogisticRegression",
    "StochasticMLPRegressor",
]


def _estimator_class(name: str) -> type:
    return getattr(skbayes, name)


@pytest.fixture(scope="module")
def client():
    """One small in-process cluster for the whole module (threads, no processes)."""
    with (
        LocalCluster(
            processes=False,
            n_workers=2,
            threads_per_worker=1,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


class _DistRidge(BayesianRidge):
    """A stand-in with a predictive distribution, so the helper is tested alone."""

    def predict_dist(self, X):
        return Normal(*self.predict(X, return_std=True))


class _DistMultiOutput(_DistRidge):
    """Three outputs per row, like the logits of a three-class classifier."""

    def predict_dist(self, X):
        mean, std = self.predict(X, return_std=True)
        k = np.arange(1.0, 4.0)
        return Normal(np.outer(mean, k), np.outer(std, k))


def _regression(n_samples=240, n_features=4, random_state=0):
    X, y = make_regression(
        n_samples=n_samples,
        n_features=n_features,
        noise=5.0,
        bias=3.0,
        random_state=random_state,
    )
    return X, y


# --------------------------------------------------------------------------
# 1. GridSearchCV under joblib's Dask backend
# --------------------------------------------------------------------------
def _search_cases():
    X, y = _regression()
    Xc, yc = make_classification(
        n_samples=150, n_features=4, n_informative=3, n_redundant=0, random_state=0
    )
    return {
        "GaussianLinearRegression": (
            {},
            {"prior_scale": [0.1, 1.0, 10.0], "prior": ["gaussian", None]},
            X,
            y,
        ),
        "BayesianLogisticRegression": ({}, {"prior_scale": [0.1, 1.0, 10.0]}, Xc, yc),
        "StochasticMLPRegressor": (
            {
                "hidden_layer_sizes": (6,),
                "max_iter": 3,
                "n_predict_samples": 8,
                "random_state": 0,
            },
            {"learning_rate_init": [1e-3, 1e-2]},
            X,
            y,
        ),
    }


@pytest.mark.parametrize("name", ESTIMATORS)
def test_grid_search_dask_backend_matches_default(client, name):
    """n_jobs=-1 on the Dask cluster gives the default backend's cv_results_."""
    Est = _estimator_class(name)
    params, grid, X, y = _search_cases()[name]
    cv = KFold(3, shuffle=True, random_state=0)

    reference = GridSearchCV(Est(**params), grid, cv=cv).fit(X, y)
    with joblib.parallel_backend("dask"):
        on_dask = GridSearchCV(Est(**params), grid, cv=cv, n_jobs=-1).fit(X, y)

    ref, got = reference.cv_results_, on_dask.cv_results_
    assert got["params"] == ref["params"]
    score_keys = [k for k in ref if k.endswith("_test_score")]
    assert score_keys
    for key in score_keys:
        assert_allclose(got[key], ref[key], rtol=1e-12, atol=1e-12, err_msg=key)
    assert on_dask.best_params_ == reference.best_params_
    mean, std = skbayes.predict_dist(on_dask, X[:5])
    ref_mean, ref_std = skbayes.predict_dist(reference, X[:5])
    assert_allclose(mean, ref_mean, rtol=1e-12)
    assert_allclose(std, ref_std, rtol=1e-12)


def test_grid_search_dask_backend_with_predict_dist_scorer(client):
    """A scorer that calls predict_dist runs on the workers too."""
    X, y = _regression()
    grid = {"alpha_1": [1e-6, 1e-2, 10.0], "lambda_1": [1e-6, 10.0]}
    scoring = {"nll": neg_gaussian_nll_scorer, "crps": neg_crps_scorer}
    search = GridSearchCV(_DistRidge(), grid, scoring=scoring, refit="nll", cv=3)
    reference = clone(search).fit(X, y)
    with joblib.parallel_backend("dask"):
        on_dask = clone(search).set_params(n_jobs=-1).fit(X, y)
    for key in ("mean_test_nll", "mean_test_crps", "split2_test_nll"):
        assert_allclose(
            on_dask.cv_results_[key], reference.cv_results_[key], rtol=1e-12
        )


# --------------------------------------------------------------------------
# 2. dask-ml's Incremental over partial_fit
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"prior_scale": 0.3, "noise_scale": 2.0},
        {"prior_scale": "auto"},
        {"fit_intercept": False},
    ],
    ids=["evidence-noise", "fixed-scales", "auto", "no-intercept"],
)
def test_incremental_gaussian_is_exact(client, params):
    """Block-wise partial_fit through Incremental == fit on all rows (1e-8)."""
    Est = _estimator_class("GaussianLinearRegression")
    try:
        Est(**params).get_params()
    except TypeError:
        pytest.skip(f"GaussianLinearRegression does not take {params}")
    X, y = _regression(n_samples=1000, n_features=5)
    X = X + 50.0  # far from 0: the streamed statistics must not cancel
    Xd = da.from_array(X, chunks=(137, 5))  # uneven last block
    yd = da.from_array(y, chunks=137)

    inc = Incremental(Est(**params), shuffle_blocks=True, random_state=0)
    inc.fit(Xd, yd)
    streamed = inc.estimator_
    full = Est(**params).fit(X, y)

    assert streamed.n_features_in_ == 5
    for attr in ("coef_", "intercept_", "coef_cov_", "noise_std_"):
        if hasattr(full, attr):
            assert_allclose(
                getattr(streamed, attr),
                getattr(full, attr),
                rtol=1e-8,
                atol=1e-12,
                err_msg=attr,
            )
    X_new = X[:50] + 1.0
    s_mean, s_std = streamed.predict(X_new, return_std=True)
    f_mean, f_std = full.predict(X_new, return_std=True)
    assert_allclose(s_mean, f_mean, rtol=1e-8)
    assert_allclose(s_std, f_std, rtol=1e-8)

    # dask-ml's own r2 scorer fails on dask >= 2025.2 (dask/dask-ml#1012);
    # its other scorers work on dask arrays.
    mse = Incremental(Est(**params), scoring="neg_mean_squared_error")
    mse.fit(Xd, yd)
    assert_allclose(mse.score(Xd, yd), -np.mean((full.predict(X) - y) ** 2), rtol=1e-8)

    # Incremental's own block-wise predict, and ours for the std.
    pred = inc.predict(Xd)
    assert isinstance(pred, da.Array)
    assert_allclose(pred.compute(), full.predict(X), rtol=1e-8)
    mean, std = dask_predict_dist(inc, Xd)
    f_mean, f_std = full.predict(X, return_std=True)
    assert_allclose(mean.compute(), f_mean, rtol=1e-8)
    assert_allclose(std.compute(), f_std, rtol=1e-8)


def test_incremental_mlp_trains_and_predicts(client):
    """The MLP takes one epoch per block through Incremental."""
    Est = _estimator_class("StochasticMLPRegressor")
    X, y = _regression(n_samples=600)
    Xd = da.from_array(X, chunks=(150, 4))
    yd = da.from_array(y, chunks=150)
    est = Est(hidden_layer_sizes=(8,), n_predict_samples=8, random_state=0)
    inc = Incremental(est, random_state=0).fit(Xd, yd)
    fitted = inc.estimator_
    assert fitted.n_features_in_ == 4
    assert len(fitted.loss_curve_) == Xd.numblocks[0]
    assert np.all(np.isfinite(fitted.loss_curve_))
    pred = inc.predict(Xd)
    assert isinstance(pred, da.Array)
    pred = pred.compute()
    assert pred.shape == (600,)
    assert np.all(np.isfinite(pred))
    mean, std = dask.compute(*dask_predict_dist(inc, Xd))
    assert np.all(np.isfinite(mean)) and np.all(std > 0)
    assert_allclose(mean, fitted.predict(X), rtol=1e-10)


# --------------------------------------------------------------------------
# 3. skbayes.dask.predict_dist
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ridge_data():
    X, y = _regression(n_samples=500)
    return _DistRidge().fit(X, y), X


def _counting_array(X: np.ndarray, chunks, counter: list) -> da.Array:
    """A dask array equal to X that counts the blocks it computes."""

    def touch(block):
        counter.append(block.shape)
        return block

    return da.from_array(X, chunks=chunks).map_blocks(
        touch, dtype=X.dtype, meta=np.empty((0, 0), dtype=X.dtype)
    )


def test_predict_dist_returns_lazy_dask_arrays(ridge_data):
    est, X = ridge_data
    seen = []
    Xd = _counting_array(X, (120, 4), seen)
    mean, std = dask_predict_dist(est, Xd)
    assert isinstance(mean, da.Array) and isinstance(std, da.Array)
    assert mean.shape == std.shape == (500,)
    assert mean.chunks == std.chunks == (Xd.chunks[0],)
    assert mean.dtype == std.dtype == np.float64
    assert seen == []  # building the graph did not touch X

    with dask.config.set(scheduler="sync"):
        mean_np, std_np = dask.compute(mean, std)
    # every block once, for both outputs together, and never all of X at once
    assert sorted(seen) == sorted(b for b in ((120, 4),) * 4 + ((20, 4),))
    expected = est.predict_dist(X)
    assert_allclose(mean_np, expected.mean, rtol=1e-12)
    assert_allclose(std_np, expected.std, rtol=1e-12)


def test_predict_dist_block_by_block_equals_in_memory(ridge_data):
    est, X = ridge_data
    Xd = da.from_array(X, chunks=(64, 4))
    mean, std = dask_predict_dist(est, Xd)
    with dask.config.set(scheduler="sync"):
        for i in range(Xd.numblocks[0]):
            rows = slice(i * 64, min((i + 1) * 64, len(X)))
            block = est.predict_dist(X[rows])
            assert_array_equal(mean.blocks[i].compute(), block.mean)
            assert_array_equal(std.blocks[i].compute(), block.std)


def test_predict_dist_on_the_cluster(client, ridge_data):
    est, X = ridge_data
    Xd = da.from_array(X, chunks=(100, 4))
    mean, std = client.compute(dask_predict_dist(est, Xd), sync=True)
    expected = est.predict_dist(X)
    assert_allclose(mean, expected.mean, rtol=1e-12)
    assert_allclose(std, expected.std, rtol=1e-12)


def test_predict_dist_calls_have_their_own_keys(ridge_data):
    # Two inputs of the same block structure and two estimators, computed
    # in one dask.compute: each result must be its own call's.
    est, X = ridge_data
    other = _DistRidge(alpha_1=1.0).fit(X, X @ np.arange(1.0, 5.0))
    X2 = X[::-1] * 2.0
    calls = [(est, X), (est, X2), (other, X)]
    lazy = [dask_predict_dist(e, da.from_array(x, chunks=(100, 4))) for e, x in calls]
    results = dask.compute(*lazy, scheduler="sync")
    for (e, x), (mean, std) in zip(calls, results, strict=True):
        expected = e.predict_dist(x)
        assert_allclose(mean, expected.mean, rtol=1e-12)
        assert_allclose(std, expected.std, rtol=1e-12)
    # the same estimator and input give the same keys (dask can share them)
    first, again = (
        dask_predict_dist(est, da.from_array(X, chunks=(100, 4)))[0],
        lazy[0][0],
    )
    assert first.name == again.name


def test_predict_dist_persisted_result_does_not_leak(client, ridge_data):
    # On a cluster an earlier persisted result stays under its keys; a later
    # call on other rows must not be answered from it.
    est, X = ridge_data
    early = client.persist(
        dask_predict_dist(est, da.from_array(X[:90], chunks=(45, 4)))
    )
    mean, std = client.compute(
        dask_predict_dist(est, da.from_array(X[90:192], chunks=(51, 4))), sync=True
    )
    expected = est.predict_dist(X[90:192])
    assert mean.shape == (102,)
    assert_allclose(mean, expected.mean, rtol=1e-12)
    assert_allclose(std, expected.std, rtol=1e-12)
    assert_allclose(early[0].compute(), est.predict_dist(X[:90]).mean, rtol=1e-12)


def test_predict_dist_column_chunks_and_float32(ridge_data):
    est, X = ridge_data
    Xd = da.from_array(X.astype(np.float32), chunks=(100, 2))
    mean, std = dask.compute(*dask_predict_dist(est, Xd), scheduler="sync")
    expected = est.predict_dist(X.astype(np.float32))
    assert mean.dtype == np.float64
    assert_allclose(mean, expected.mean, rtol=1e-6)
    assert_allclose(std, expected.std, rtol=1e-6)


def test_predict_dist_multi_output():
    X, y = _regression(n_samples=90)
    est = _DistMultiOutput().fit(X, y)
    Xd = da.from_array(X, chunks=(40, 4))
    mean, std = dask_predict_dist(est, Xd)
    assert mean.shape == std.shape == (90, 3)
    assert mean.chunks == ((40, 40, 10), (3,))
    expected = est.predict_dist(X)
    mean, std = dask.compute(mean, std, scheduler="sync")
    assert_allclose(mean, expected.mean)
    assert_allclose(std, expected.std)


def test_predict_dist_through_meta_estimators(ridge_data):
    _, X = ridge_data
    y = X @ np.arange(1.0, 5.0)
    pipe = make_pipeline(StandardScaler(), _DistRidge()).fit(X, y)
    search = GridSearchCV(pipe, {"_distridge__alpha_1": [1e-6, 1e-3]}, cv=2)
    search.fit(X, y)
    Xd = da.from_array(X, chunks=(200, 4))
    bag = BaggingRegressor(_DistRidge(), n_estimators=3, max_features=3)
    bag.fit(X, y)
    for est in (pipe, search, bag):
        mean, std = dask.compute(*dask_predict_dist(est, Xd), scheduler="sync")
        expected = skbayes.predict_dist(est, X)
        assert_allclose(mean, expected.mean, rtol=1e-12)
        assert_allclose(std, expected.std, rtol=1e-12)


@pytest.mark.parametrize("name", [*ESTIMATORS, "multiclass"])
def test_predict_dist_skbayes_estimators(name):
    if name == "multiclass":
        Est = _estimator_class("BayesianLogisticRegression")
        params = {}
        X, y = make_classification(
            n_samples=150,
            n_features=4,
            n_informative=3,
            n_redundant=0,
            n_classes=3,
            random_state=0,
        )
    else:
        Est = _estimator_class(name)
        params, _, X, y = _search_cases()[name]
    est = Est(**params).fit(X, y)
    Xd = da.from_array(X, chunks=(len(X) // 3 + 1, X.shape[1]))
    mean, std = dask.compute(*dask_predict_dist(est, Xd), scheduler="sync")
    expected = est.predict_dist(X)
    assert mean.shape == np.shape(expected.mean)
    assert_allclose(mean, expected.mean, rtol=1e-10, atol=1e-12)
    assert_allclose(std, expected.std, rtol=1e-10, atol=1e-12)


def test_predict_dist_checks_early(ridge_data):
    est, X = ridge_data
    with pytest.raises(NotFittedError):
        dask_predict_dist(_DistRidge(), da.from_array(X))
    with pytest.raises(ValueError, match="features"):
        dask_predict_dist(est, da.from_array(X[:, :3]))
    with pytest.raises(TypeError, match=r"dask\.array\.Array"):
        dask_predict_dist(est, X)
    with pytest.raises(ValueError, match="2D"):
        dask_predict_dist(est, da.from_array(X[:, 0]))


def test_import_error_names_the_extra(monkeypatch, ridge_data):
    est, X = ridge_data
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.array", None)
    with pytest.raises(ImportError, match=r"pip install skbayes\[dask\]"):
        dask_predict_dist(est, X)
