"""Tests of skbayes.predict_dist through scikit-learn's meta-estimators."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn
from _doubles import REGRESSORS, DistRidge
from numpy.testing import assert_allclose
from sklearn.compose import TransformedTargetRegressor
from sklearn.decomposition import PCA
from sklearn.ensemble import BaggingRegressor, VotingRegressor
from sklearn.exceptions import NotFittedError, UnsetMetadataPassedError
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.multioutput import MultiOutputRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    QuantileTransformer,
    RobustScaler,
    StandardScaler,
)

import skbayes
from skbayes import (
    BayesianLogisticRegression,
    GaussianLinearRegression,
    Normal,
    StochasticMLPRegressor,
    predict_dist,
)


def _data(n=50, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = 50.0 + 10.0 * (X @ np.array([1.0, -2.0, 0.5])) + rng.normal(size=n)
    return X, y


def _assert_same_dist(a: Normal, b: Normal) -> None:
    assert_allclose(a.mean, b.mean, rtol=1e-10, atol=1e-10)
    assert_allclose(a.std, b.std, rtol=1e-10, atol=1e-10)


def test_lazy_export():
    from skbayes._meta import predict_dist as direct

    assert skbayes.predict_dist is direct


@pytest.mark.parametrize("make", REGRESSORS)
def test_bare_estimator(make):
    X, y = _data()
    est = make()[0].fit(X, y)
    _assert_same_dist(predict_dist(est, X), est.predict_dist(X))


@pytest.mark.parametrize("make", REGRESSORS)
def test_pipeline(make):
    X, y = _data()
    est = make()[0]
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("skip", "passthrough"),
            ("pca", PCA(2)),
            ("model", est),
        ]
    ).fit(X, y)
    Xt = pipe["pca"].transform(pipe["scale"].transform(X))
    dist = predict_dist(pipe, X)
    _assert_same_dist(dist, pipe["model"].predict_dist(Xt))
    assert_allclose(dist.mean, pipe.predict(X))


def test_pipeline_with_passthrough_final_step():
    X, y = _data()
    pipe = Pipeline([("scale", StandardScaler()), ("model", "passthrough")]).fit(X, y)
    with pytest.raises(TypeError, match="passthrough"):
        predict_dist(pipe, X)


@pytest.mark.parametrize("make", REGRESSORS)
@pytest.mark.parametrize("search_cls", [GridSearchCV, RandomizedSearchCV])
def test_search(make, search_cls):
    X, y = _data()
    est, grid = make()
    kwargs = (
        {"n_iter": 2, "random_state": 0} if search_cls is RandomizedSearchCV else {}
    )
    search = search_cls(est, grid, cv=3, **kwargs).fit(X, y)
    _assert_same_dist(predict_dist(search, X), search.best_estimator_.predict_dist(X))


def test_search_without_refit_and_unfitted():
    X, y = _data()
    search = GridSearchCV(DistRidge(), {"lambda_1": [1e-6, 1.0]}, refit=False, cv=3)
    search.fit(X, y)
    with pytest.raises(AttributeError, match="refit=False"):
        predict_dist(search, X)
    unfitted = GridSearchCV(DistRidge(), {"lambda_1": [1e-6, 1.0]})
    with pytest.raises(NotFittedError):
        predict_dist(unfitted, X)


AFFINE = {
    "identity": {},
    "standard": {"transformer": StandardScaler()},
    "standard-no-mean": {"transformer": StandardScaler(with_mean=False)},
    "minmax": {"transformer": MinMaxScaler(feature_range=(-3, 5))},
    "maxabs": {"transformer": MaxAbsScaler()},
    "robust": {"transformer": RobustScaler()},
    "pipeline": {"transformer": make_pipeline(StandardScaler(), MinMaxScaler((2, 7)))},
}


@pytest.mark.parametrize("make", REGRESSORS)
@pytest.mark.parametrize("kwargs", AFFINE.values(), ids=AFFINE.keys())
def test_transformed_target_affine(make, kwargs):
    X, y = _data()
    ttr = TransformedTargetRegressor(make()[0], **kwargs).fit(X, y)
    dist = predict_dist(ttr, X)
    assert dist.shape == (X.shape[0],)
    # the mean is what scikit-learn's own predict gives
    assert_allclose(dist.mean, ttr.predict(X), rtol=1e-10)
    # interval endpoints are the inverse-transformed endpoints in the
    # transformed space (all these maps are increasing)
    inner = ttr.regressor_.predict_dist(X)
    for confidence in (0.5, 0.9):
        lo_z, hi_z = inner.interval(confidence)
        lo, hi = dist.interval(confidence)
        inv = ttr.transformer_.inverse_transform
        assert_allclose(lo, inv(lo_z.reshape(-1, 1)).ravel(), rtol=1e-10)
        assert_allclose(hi, inv(hi_z.reshape(-1, 1)).ravel(), rtol=1e-10)


def test_transformed_target_std_scaling_and_parts():
    X, y = _data()
    ttr = TransformedTargetRegressor(DistRidge(), transformer=StandardScaler())
    ttr.fit(X, y)
    inner = ttr.regressor_.predict_dist(X)
    dist = predict_dist(ttr, X)
    scale = ttr.transformer_.scale_[0]
    assert scale > 5  # the target is on a large scale: the map matters
    assert_allclose(dist.std, inner.std * scale)
    assert_allclose(dist.epistemic_std, inner.epistemic_std * scale)
    assert_allclose(dist.aleatoric_std, inner.aleatoric_std * scale)
    assert_allclose(dist.var, dist.epistemic_std**2 + dist.aleatoric_std**2)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"transformer": QuantileTransformer(n_quantiles=20)},
        {"func": np.log, "inverse_func": np.exp},
        {"func": lambda y: 2 * y, "inverse_func": lambda z: z / 2},
    ],
    ids=["quantile", "log", "lambda"],
)
def test_transformed_target_non_affine(kwargs):
    X, y = _data()
    ttr = TransformedTargetRegressor(DistRidge(), check_inverse=False, **kwargs)
    ttr.fit(X, y)
    with pytest.raises(ValueError, match="not a known affine map"):
        predict_dist(ttr, X)


def test_transformed_target_unfitted():
    X, _ = _data()
    with pytest.raises(NotFittedError):
        predict_dist(TransformedTargetRegressor(DistRidge()), X)


@pytest.mark.parametrize("make", REGRESSORS)
def test_nested_meta_estimators(make):
    X, y = _data()
    est, grid = make()
    # TTR inside a Pipeline inside a GridSearchCV
    pipe = make_pipeline(
        StandardScaler(),
        TransformedTargetRegressor(est, transformer=MinMaxScaler()),
    )
    grid = {f"transformedtargetregressor__regressor__{k}": v for k, v in grid.items()}
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    dist = predict_dist(search, X)
    assert_allclose(dist.mean, search.predict(X), rtol=1e-10)
    ttr = search.best_estimator_[-1]
    inner = ttr.regressor_.predict_dist(search.best_estimator_[0].transform(X))
    assert_allclose(dist.std, inner.std / ttr.transformer_.scale_[0], rtol=1e-10)

    # a Pipeline inside a TTR
    ttr = TransformedTargetRegressor(
        make_pipeline(StandardScaler(), make()[0]), transformer=StandardScaler()
    ).fit(X, y)
    dist = predict_dist(ttr, X)
    assert_allclose(dist.mean, ttr.predict(X), rtol=1e-10)


@pytest.mark.parametrize(
    "estimator",
    [LinearRegression(), make_pipeline(StandardScaler(), LinearRegression())],
    ids=["LinearRegression", "Pipeline"],
)
def test_no_predictive_distribution(estimator):
    X, y = _data()
    estimator.fit(X, y)
    with pytest.raises(TypeError, match="no predictive distribution"):
        predict_dist(estimator, X)
    with pytest.raises(TypeError, match="no predictive distribution"):
        predict_dist(TransformedTargetRegressor(estimator).fit(X, y), X)


def test_classifier_in_pipeline_and_search():
    X, y = _data()
    y = (y > np.median(y)).astype(int)
    pipe = make_pipeline(StandardScaler(), BayesianLogisticRegression()).fit(X, y)
    _assert_same_dist(
        predict_dist(pipe, X), pipe[-1].predict_dist(pipe[0].transform(X))
    )
    search = GridSearchCV(
        pipe, {"bayesianlogisticregression__prior_scale": [0.5, 2.0]}, cv=3
    ).fit(X, y)
    _assert_same_dist(predict_dist(search, X), predict_dist(search.best_estimator_, X))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_stochastic_mlp_in_pipeline_inside_ttr():
    X, y = _data()
    mlp = StochasticMLPRegressor(
        hidden_layer_sizes=(8,), max_iter=3, n_predict_samples=5, random_state=0
    )
    ttr = TransformedTargetRegressor(
        make_pipeline(StandardScaler(), mlp), transformer=StandardScaler()
    ).fit(X, y)
    dist = predict_dist(ttr, X)
    assert_allclose(dist.mean, ttr.predict(X), rtol=1e-6)
    inner = ttr.regressor_[-1].predict_dist(ttr.regressor_[0].transform(X))
    assert_allclose(dist.std, inner.std * ttr.transformer_.scale_[0], rtol=1e-10)


# --------------------------------------------------------------------------
# ensembles: the Gaussian with the moments of the members' mixture
def _member_moments(dists, repeats=None):
    """Mixture moments from the members, by plain means over (repeated) members.

    Integer weights are members repeated that many times, so np.mean and
    np.var over the repeated stack check the weighted formulas independently.
    """
    repeats = np.ones(len(dists), dtype=int) if repeats is None else repeats
    dists = [d for d, r in zip(dists, repeats, strict=True) for _ in range(r)]
    means = np.stack([d.mean for d in dists])
    mean = means.mean(axis=0)
    var = np.mean([d.var for d in dists], axis=0) + means.var(axis=0)
    aleatoric = np.sqrt(np.mean([d.aleatoric_std**2 for d in dists], axis=0))
    epistemic = np.sqrt(
        np.mean([d.epistemic_std**2 for d in dists], axis=0) + means.var(axis=0)
    )
    return mean, var, epistemic, aleatoric


def _assert_mixture(dist, mean, var, epistemic, aleatoric):
    assert_allclose(dist.mean, mean, rtol=1e-12)
    assert_allclose(dist.var, var, rtol=1e-12)
    assert_allclose(dist.epistemic_std, epistemic, rtol=1e-12)
    assert_allclose(dist.aleatoric_std, aleatoric, rtol=1e-12)
    assert_allclose(dist.var, dist.epistemic_std**2 + dist.aleatoric_std**2)


@pytest.mark.parametrize("make", REGRESSORS)
def test_bagging_mixture_moments(make):
    X, y = _data(n=80)
    # two of three features per member, drawn with replacement: the members
    # see different columns, so X[:, features] must reach each one
    bag = BaggingRegressor(
        make()[0],
        n_estimators=6,
        max_features=2,
        bootstrap_features=True,
        random_state=0,
    ).fit(X, y)
    assert len({tuple(f) for f in bag.estimators_features_}) > 1
    dist = predict_dist(bag, X)
    assert dist.shape == (80,)
    assert_allclose(dist.mean, bag.predict(X), rtol=1e-12)
    members = [
        m.predict_dist(X[:, f])
        for m, f in zip(bag.estimators_, bag.estimators_features_, strict=True)
    ]
    _assert_mixture(dist, *_member_moments(members))
    # the members disagree: the mixture is wider than the mean member
    assert np.all(dist.var > np.mean([m.var for m in members], axis=0))


def test_voting_mixture_moments_with_weights_and_drop():
    X, y = _data(n=60)
    voting = VotingRegressor(
        [
            ("tight", GaussianLinearRegression(prior_scale=0.05)),
            ("off", "drop"),
            ("ridge", DistRidge()),
            ("wide", GaussianLinearRegression(prior_scale=10.0)),
        ],
        weights=[1, 5, 3, 2],  # the dropped member's weight is ignored
    ).fit(X, y)
    dist = predict_dist(voting, X)
    assert_allclose(dist.mean, voting.predict(X), rtol=1e-12)
    members = [
        voting.named_estimators_[k].predict_dist(X) for k in ("tight", "ridge", "wide")
    ]
    _assert_mixture(dist, *_member_moments(members, repeats=[1, 3, 2]))
    # without weights: equal weights
    voting.set_params(weights=None)
    dist = predict_dist(voting, X)
    assert_allclose(dist.mean, voting.predict(X), rtol=1e-12)
    _assert_mixture(dist, *_member_moments(members))


def test_multioutput_stacks_per_output():
    X, y = _data(n=40)
    Y = np.column_stack([y, -3.0 * y + X[:, 0], X[:, 1]])
    multi = MultiOutputRegressor(GaussianLinearRegression()).fit(X, Y)
    dist = predict_dist(multi, X)
    assert dist.shape == (40, 3)
    assert_allclose(dist.mean, multi.predict(X), rtol=1e-12)
    for j, est in enumerate(multi.estimators_):
        own = est.predict_dist(X)
        assert_allclose(dist.std[:, j], own.std, rtol=1e-12)
        assert_allclose(dist.epistemic_std[:, j], own.epistemic_std, rtol=1e-12)
        assert_allclose(dist.aleatoric_std[:, j], own.aleatoric_std, rtol=1e-12)


def test_ensembles_nest_with_pipelines_and_searches():
    X, y = _data(n=60)
    member = make_pipeline(StandardScaler(), GaussianLinearRegression())
    bag = BaggingRegressor(member, n_estimators=4, max_features=2, random_state=1)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), bag),
        {
            "baggingregressor__estimator__gaussianlinearregression__prior_scale": [
                0.1,
                1.0,
            ]
        },
        cv=2,
    ).fit(X, y)
    dist = predict_dist(search, X)
    assert_allclose(dist.mean, search.predict(X), rtol=1e-12)
    fitted = search.best_estimator_
    Xs = fitted[0].transform(X)
    inner = fitted[-1]
    members = [
        predict_dist(m, Xs[:, f])
        for m, f in zip(inner.estimators_, inner.estimators_features_, strict=True)
    ]
    _assert_mixture(dist, *_member_moments(members))
    # a Voting inside a MultiOutput
    voting = VotingRegressor([("a", DistRidge()), ("b", GaussianLinearRegression())])
    multi = MultiOutputRegressor(voting).fit(X, np.column_stack([y, 2 * y]))
    assert_allclose(predict_dist(multi, X).mean, multi.predict(X), rtol=1e-12)


def test_ensembles_without_member_parts_have_no_parts():
    X, y = _data()

    class NoParts(DistRidge):
        def predict_dist(self, X):
            return Normal(*super().predict_dist(X))

    voting = VotingRegressor([("a", NoParts()), ("b", DistRidge())]).fit(X, y)
    dist = predict_dist(voting, X)
    assert dist.epistemic_std is None and dist.aleatoric_std is None
    members = [m.predict_dist(X) for m in voting.estimators_]
    means = np.stack([m.mean for m in members])
    var = np.mean([m.var for m in members], axis=0) + means.var(axis=0)
    mean = means.mean(axis=0)
    assert_allclose(dist.mean, mean, rtol=1e-12)
    assert_allclose(dist.var, var, rtol=1e-12)


def test_ensemble_errors():
    X, y = _data()
    bag = BaggingRegressor(LinearRegression(), n_estimators=3).fit(X, y)
    with pytest.raises(TypeError, match="no predictive distribution"):
        predict_dist(bag, X)
    with pytest.raises(NotFittedError):
        predict_dist(BaggingRegressor(DistRidge()), X)
    with pytest.raises(NotFittedError):
        predict_dist(VotingRegressor([("a", DistRidge())]), X)
    bag = BaggingRegressor(DistRidge(), n_estimators=3, max_features=2).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        predict_dist(bag, X[:, :2])
    voting = VotingRegressor(
        [("a", DistRidge()), ("b", DistRidge())], weights=[0.0, 0.0]
    ).fit(X, y)
    with pytest.raises(ValueError, match="positive total weight"):
        predict_dist(voting, X)


# --------------------------------------------------------------------------
# Pipeline.predict(return_std=True) under scikit-learn's metadata routing
def _mlp():
    return StochasticMLPRegressor(
        hidden_layer_sizes=(8,), max_iter=3, n_predict_samples=5, random_state=0
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(GaussianLinearRegression, id="GaussianLinearRegression"),
        pytest.param(_mlp, id="MLP", marks=pytest.mark.slow),
    ],
)
def test_pipeline_predict_return_std_with_metadata_routing(make):
    X, y = _data()
    with sklearn.config_context(enable_metadata_routing=True):
        model = make().set_predict_request(return_std=True)
        pipe = make_pipeline(StandardScaler(), model).fit(X, y)
        mean, std = pipe.predict(X, return_std=True)
        expected = predict_dist(pipe, X)
        assert_allclose(mean, expected.mean, rtol=1e-12)
        assert_allclose(std, expected.std, rtol=1e-12)
        # without the request, routing refuses the parameter
        unrequested = make_pipeline(StandardScaler(), make()).fit(X, y)
        with pytest.raises(UnsetMetadataPassedError, match="return_std"):
            unrequested.predict(X, return_std=True)
    # routing off: Pipeline passes the parameter on as before
    mean_off, std_off = unrequested.predict(X, return_std=True)
    off = predict_dist(unrequested, X)
    assert_allclose(mean_off, off.mean, rtol=1e-12)
    assert_allclose(std_off, off.std, rtol=1e-12)
