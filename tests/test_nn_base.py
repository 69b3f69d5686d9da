"""What both stochastic networks share: inputs, and "nothing lost" on failure."""

import copy
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

torch = pytest.importorskip("torch")

from _nets import make_net, toy_data  # noqa: E402

from skbayes import StochasticMLPRegressor  # noqa: E402
from skbayes.nn._base import BaseStochasticMLP  # noqa: E402

KW = dict(
    hidden_layer_sizes=(8,),
    max_iter=5,
    n_predict_samples=8,
    early_stopping=False,
    random_state=0,
)


_data = toy_data


def _make(kind, **kw):
    return make_net(kind, KW, **kw)


def _target(kind, y, labels):
    return y if kind == "reg" else labels


def _quiet_fit(est, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kw)


def _outputs(est, X):
    if isinstance(est, StochasticMLPRegressor):
        d = est.predict_dist(X)
        return np.stack([d.mean, d.std])
    return est.predict_proba(X)


def _assert_same_model(a, b, X):
    """Same parameters, optimizer moments, generator, attributes, outputs."""
    for (ka, va), (kb, vb) in zip(
        a.module_.state_dict().items(), b.module_.state_dict().items()
    ):
        assert ka == kb and torch.equal(va, vb)
    sa, sb = a._optimizer.state_dict(), b._optimizer.state_dict()
    for k in sa["state"]:
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(sa["state"][k][name], sb["state"][k][name])
    assert len(a._generators) == len(b._generators)
    for ga, gb in zip(a._generators, b._generators):
        assert torch.equal(ga.get_state(), gb.get_state())
    assert a.n_iter_ == b.n_iter_ and a.loss_curve_ == b.loss_curve_
    assert a.n_features_in_ == b.n_features_in_
    np.testing.assert_array_equal(_outputs(a, X), _outputs(b, X))


KINDS = ["reg", "clf"]


@pytest.mark.parametrize("kind", KINDS)
def test_failed_partial_fit_leaves_model_untouched(kind, monkeypatch):
    X, y, labels = _data()
    t = _target(kind, y, labels)
    est = _make(kind).partial_fit(
        X, t, **({"classes": ["no", "yes"]} if kind == "clf" else {})
    )
    kept = copy.deepcopy(est)
    # A non-finite loss: inputs far outside the fitted standardisation.
    with pytest.raises(ValueError, match="not finite"):
        est.partial_fit(X * 1e300, t)
    _assert_same_model(est, kept, X)
    # A Ctrl-C in the middle of an epoch, after some steps have been taken.
    calls = {"n": 0}
    real_step = BaseStochasticMLP._train_step

    def interrupted(self, *args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_step(self, *args)

    monkeypatch.setattr(BaseStochasticMLP, "_train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        est.partial_fit(np.vstack([X] * 4), np.concatenate([t] * 4))
    monkeypatch.undo()
    _assert_same_model(est, kept, X)
    # The next epoch is the one the untouched copy takes.
    est.partial_fit(X, t)
    kept.partial_fit(X, t)
    _assert_same_model(est, kept, X)


@pytest.mark.parametrize("kind", KINDS)
def test_optimizer_state_is_not_shared_between_fits(kind):
    X, y, labels = _data()
    t = _target(kind, y, labels)
    est = _quiet_fit(_make(kind), X, t)
    old = est._optimizer
    old_moments = [s["exp_avg"].clone() for s in old.state.values()]
    est.partial_fit(X, t)
    new_tensors = {id(s["exp_avg"]) for s in est._optimizer.state.values()}
    assert not new_tensors & {id(s["exp_avg"]) for s in old.state.values()}
    for s, m in zip(old.state.values(), old_moments):
        assert torch.equal(s["exp_avg"], m)


@pytest.mark.parametrize("kind", KINDS)
def test_failed_fit_keeps_features_and_predictions(kind):
    pd = pytest.importorskip("pandas")
    X, y, labels = _data()
    t = _target(kind, y, labels)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    est = _quiet_fit(_make(kind), df, t)
    kept = copy.deepcopy(est)
    other = pd.DataFrame(np.hstack([X, X]), columns=list("uvwxyz"))
    bad_weights = -np.ones(len(X))
    failures = [
        lambda: est.fit(other, t, sample_weight=bad_weights),  # bad weights
        lambda: est.set_params(early_stopping=True, validation_fraction=0.5).fit(
            other.iloc[:1], t[:1]
        ),  # empty early-stopping split (or one class)
        lambda: est.set_params(learning_rate_init=1e30).fit(other, t),
    ]
    for fail in failures:
        try:
            fail()
        except ValueError:
            pass
        est.set_params(**kept.get_params())
        assert est.n_features_in_ == 3
        np.testing.assert_array_equal(est.feature_names_in_, ["a", "b", "c"])
        _assert_same_model(est, kept, df)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sizes", [(), [], (4, 0), (-1,)])
def test_bad_hidden_layer_sizes(kind, sizes):
    X, y, labels = _data()
    with pytest.raises(InvalidParameterError, match="hidden_layer_sizes"):
        _make(kind, hidden_layer_sizes=sizes).fit(X, _target(kind, y, labels))


@pytest.mark.parametrize("kind", KINDS)
def test_zero_weight_on_every_validation_row(kind):
    X, y, labels = _data()
    est = _make(kind, early_stopping=True, validation_fraction=0.2)
    _quiet_fit(est, X, _target(kind, y, labels))
    val = np.ones(len(X), dtype=bool)
    val[est._split_indices(_target(kind, y, labels))[0]] = False
    sw = np.where(val, 0.0, 1.0)
    with pytest.raises(ValueError, match="zero on every validation row"):
        _make(kind, early_stopping=True, validation_fraction=0.2).fit(
            X, _target(kind, y, labels), sample_weight=sw
        )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("w", [1e-50, 1e300])
def test_uniform_weights_of_any_size_are_no_weights(kind, w):
    X, y, labels = _data()
    t = _target(kind, y, labels)
    ref = _quiet_fit(_make(kind), X, t)
    got = _quiet_fit(_make(kind), X, t, sample_weight=np.full(len(X), w))
    np.testing.assert_array_equal(_outputs(got, X), _outputs(ref, X))
    # Non-uniform weights of that size act as their ratios do.
    ratios = np.r_[np.ones(60), 2 * np.ones(60)]
    a = _quiet_fit(_make(kind), X, t, sample_weight=ratios)
    b = _quiet_fit(_make(kind), X, t, sample_weight=ratios * w)
    np.testing.assert_allclose(_outputs(b, X), _outputs(a, X), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("factor", [1e-16, 1e-300, 1e300])
def test_standardisation_is_scale_relative(kind, factor):
    # X scaled by any factor is the same problem: the same model.
    X, y, labels = _data()
    t = _target(kind, y, labels)
    ref = _quiet_fit(_make(kind), X, t)
    got = _quiet_fit(_make(kind), X * factor, t)
    np.testing.assert_allclose(
        _outputs(got, X * factor), _outputs(ref, X), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("factor", [1e-16, 1e-300, 1e300])
def test_target_scale_relative(factor):
    X, y, _ = _data()
    ref = _quiet_fit(_make("reg"), X, y).predict_dist(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow anywhere
        got = _quiet_fit(_make("reg"), X, y * factor).predict_dist(X)
    np.testing.assert_allclose(got.mean, ref.mean * factor, rtol=1e-5)
    np.testing.assert_allclose(got.std, ref.std * factor, rtol=1e-5)
    # A constant target is scaled by its own size, std floor included.
    const = _quiet_fit(_make("reg"), X, np.full(len(X), 3.0)).predict_dist(X)
    got = _quiet_fit(_make("reg"), X, np.full(len(X), 3.0 * factor)).predict_dist(X)
    np.testing.assert_allclose(got.mean, const.mean * factor, rtol=1e-5)
    np.testing.assert_allclose(got.std, const.std * factor, rtol=1e-5)
    assert np.all(np.abs(const.mean - 3.0) < 3 * const.std)


@pytest.mark.parametrize("kind", KINDS)
def test_sparse_input(kind):
    # One-hot columns (as a ColumnTransformer gives) plus a numeric one.
    rng = np.random.RandomState(0)
    cat = rng.randint(0, 6, size=300)
    num = rng.randn(300)
    Xd = np.column_stack([np.eye(6)[cat], num])
    f = np.array([-2, -1, 0, 0.5, 1, 2])[cat] + num
    t = f + 0.2 * rng.randn(300) if kind == "reg" else (f > 0).astype(int)
    Xs = sp.csr_matrix(Xd)
    est = _quiet_fit(_make(kind, max_iter=60, hidden_layer_sizes=(16,)), Xs, t)
    np.testing.assert_allclose(_outputs(est, Xs), _outputs(est, Xd), rtol=1e-12)
    np.testing.assert_allclose(
        _outputs(est, sp.csc_matrix(Xd)), _outputs(est, Xd), rtol=1e-12
    )
    dense = _quiet_fit(_make(kind, max_iter=60, hidden_layer_sizes=(16,)), Xd, t)
    # As good as on the dense copy (sparse X is scaled, not centred).
    assert est.score(Xs, t) > dense.score(Xd, t) - 0.05
    est.partial_fit(Xs, t)


def test_two_dimensional_target():
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(400, 2))
    Y = np.column_stack([np.sin(X[:, 0]), 100 * X[:, 1] + 5])
    Y = Y + rng.randn(400, 2) * np.array([0.1, 10.0])
    est = _quiet_fit(_make("reg", max_iter=100, hidden_layer_sizes=(16,)), X, Y)
    d = est.predict_dist(X)
    assert d.mean.shape == d.std.shape == d.epistemic_std.shape == (400, 2)
    assert est.n_outputs_ == 2
    # Each column in its own units: far better than a constant Gaussian.
    from scipy import stats

    for j in range(2):
        nll = -np.mean(d[:, j].logpdf(Y[:, j]))
        base = -np.mean(stats.norm.logpdf(Y[:, j], Y[:, j].mean(), Y[:, j].std()))
        assert nll < base - 1.0
    assert est.score(X, Y) > 0.9
    with pytest.raises(ValueError, match="target"):
        est.partial_fit(X, Y[:, :1].repeat(3, 1))
    # A column vector is a 1-D target, as in MLPRegressor.
    from sklearn.exceptions import DataConversionWarning

    with pytest.warns(DataConversionWarning):
        col = _quiet_fit(_make("reg"), X, Y[:, :1])
    assert col.predict(X).shape == (400,)


@pytest.mark.parametrize("kind", KINDS)
def test_warnings_point_at_the_callers_line(kind):
    X, y, labels = _data()
    with pytest.warns(ConvergenceWarning) as record:
        _make(kind, max_iter=1).fit(X, _target(kind, y, labels))
    assert record[0].filename == __file__


@pytest.mark.parametrize("kind", KINDS)
def test_skops_persistence(kind):
    # skops cannot rebuild torch objects; the docs point to pickle / joblib.
    X, y, labels = _data()
    est = _quiet_fit(_make(kind), X, _target(kind, y, labels))
    import joblib

    path = __import__("io").BytesIO()
    joblib.dump(est, path)
    path.seek(0)
    np.testing.assert_array_equal(_outputs(joblib.load(path), X), _outputs(est, X))
    sio = pytest.importorskip("skops.io")
    try:
        payload = sio.dumps(est)
        loaded = sio.loads(payload, trusted=sio.get_untrusted_types(data=payload))
    except Exception as exc:
        assert "torch" in type(est).__doc__ or "skops" in type(est).__doc__, exc
    else:
        np.testing.assert_array_equal(_outputs(loaded, X), _outputs(est, X))
