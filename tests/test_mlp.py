"""StochasticMLPRegressor: behaviour, uncertainty quality, persistence, errors."""

import pickle
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

torch = pytest.importorskip("torch")

from skbayes import Normal, StochasticMLPRegressor  # noqa: E402


def _small(**kw):
    params = dict(
        hidden_layer_sizes=(16,),
        max_iter=30,
        learning_rate_init=1e-2,
        n_predict_samples=10,
        early_stopping=False,
        random_state=0,
    )
    params.update(kw)
    return StochasticMLPRegressor(**params)


def _data(n=200, d=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    y = X @ rng.randn(d) + 0.3 * rng.randn(n)
    return X, y


def _fit_quiet(est, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kw)


# scikit-learn's estimator checks live in tests/test_common.py.


def test_import_skbayes_does_not_import_torch():
    code = "import sys, skbayes; assert 'torch' not in sys.modules; print('ok')"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "ok"


# --------------------------------------------------------------- the model
@pytest.fixture(scope="module")
def hetero():
    """1-D data whose noise std grows with |x| (the lecture's figure)."""

    def noise_std(x):
        return 0.1 + 0.25 * np.abs(x)

    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, size=(2000, 1))
    y = np.sin(2 * X[:, 0]) + noise_std(X[:, 0]) * rng.randn(2000)
    est = StochasticMLPRegressor(
        hidden_layer_sizes=(32, 32),
        max_iter=150,
        learning_rate_init=5e-3,
        random_state=0,
    )
    _fit_quiet(est, X, y)
    return est, noise_std, rng


def test_heteroscedastic_std_tracks_true_noise(hetero):
    est, noise_std, _ = hetero
    grid = np.linspace(-2.8, 2.8, 57)[:, None]
    dist = est.predict_dist(grid)
    corr = np.corrcoef(dist.std, noise_std(grid[:, 0]))[0, 1]
    assert corr > 0.9
    # The noise is aleatoric: the predicted noise carries most of the std.
    assert np.mean(dist.aleatoric_std) > np.mean(dist.epistemic_std)
    np.testing.assert_allclose(dist.mean, np.sin(2 * grid[:, 0]), atol=0.4)


def test_heteroscedastic_interval_coverage(hetero):
    est, noise_std, rng = hetero
    X = rng.uniform(-3, 3, size=(5000, 1))
    y = np.sin(2 * X[:, 0]) + noise_std(X[:, 0]) * rng.randn(5000)
    lo, hi = est.predict_dist(X).interval(0.9)
    coverage = np.mean((y >= lo) & (y <= hi))
    assert 0.85 <= coverage <= 0.95


def test_predict_dist_moments_and_parts():
    X, y = _data()
    est = _fit_quiet(_small(), X, y)
    d = est.predict_dist(X[:20])
    assert isinstance(d, Normal)
    np.testing.assert_allclose(d.var, d.epistemic_std**2 + d.aleatoric_std**2)
    assert np.all(d.epistemic_std > 0)
    mean, std = est.predict(X[:20], return_std=True)
    np.testing.assert_array_equal(mean, d.mean)
    np.testing.assert_array_equal(std, d.std)
    assert est.sample_y(X[:20], n_samples=3, random_state=0).shape == (20, 3)
    # One noise draw: the epistemic part is the spread of the members' means
    # alone, computed here directly from the module's raw outputs.
    mc1 = est.set_params(predict_method="mc", n_predict_samples=1)
    d1 = mc1.predict_dist(X[:20])
    xs = torch.as_tensor(est._x_scaling.transform(X[:20]))
    bank = [
        torch.randn(
            (5, 1, 1, w),
            generator=torch.Generator().manual_seed(est._seeds.predict),
            dtype=torch.float64,
        )
        for w in est.module_.widths
    ]
    with torch.no_grad():
        means = est.module_(xs, bank, torch.float64)[:, 0, :, 0].numpy()
    spread = means.std(axis=0) * est._y_scaling.scale[0]
    np.testing.assert_allclose(d1.epistemic_std, spread, rtol=1e-10)
    # A single network with one draw has no epistemic part.
    one = _fit_quiet(_small(n_estimators=1), X, y)
    d1 = one.set_params(predict_method="mc", n_predict_samples=1).predict_dist(X[:20])
    np.testing.assert_array_equal(d1.epistemic_std, 0.0)


def test_outputs_in_original_units():
    # Scaling y by 1000 and shifting it scales the predictive by the same.
    X, y = _data()
    a = _fit_quiet(_small(), X, y).predict_dist(X)
    b = _fit_quiet(_small(), X, 1000 * y + 5).predict_dist(X)
    np.testing.assert_allclose(b.mean, 1000 * a.mean + 5, rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(b.std, 1000 * a.std, rtol=1e-4)


@pytest.mark.parametrize("method", ["moments", "mc"])
def test_predictions_do_not_depend_on_batch_or_order(method):
    # mc: many noise draws split the rows into several chunks; moments: more
    # rows than one chunk of the propagation (2048).
    X, y = _data(n=200 if method == "mc" else 2500)
    est = _fit_quiet(_small(predict_method=method, n_predict_samples=5000), X, y)
    full = est.predict_dist(X)
    perm = np.random.RandomState(0).permutation(len(X))
    shuffled = est.predict_dist(X[perm])
    np.testing.assert_allclose(shuffled.mean, full.mean[perm], rtol=1e-12)
    np.testing.assert_allclose(shuffled.std, full.std[perm], rtol=1e-12)
    for i in (0, 57, 199, len(X) - 1):
        one = est.predict_dist(X[i : i + 1])
        np.testing.assert_allclose(one.mean, full.mean[i : i + 1], rtol=1e-12)
        np.testing.assert_allclose(one.std, full.std[i : i + 1], rtol=1e-12)
    again = est.predict_dist(X)
    np.testing.assert_array_equal(again.mean, full.mean)


@pytest.mark.parametrize("hidden", [(16,), (16, 16)])
def test_moments_match_many_draw_monte_carlo(hidden):
    # The reference is the definition: the mixture over S = 20,000 draws.
    # Its standard error is at most 1/sqrt(S) = 0.007 predictive stds for the
    # mean and about sqrt(2/S)/2 = 0.005 relative for a std; the propagation
    # itself was measured within 2e-3 (mean, std units) and 5e-3 (relative
    # std). Tolerances: about four standard errors plus that.
    # One network: the propagation, not the (exact) mixture over members.
    X, y = _data()
    est = _fit_quiet(_small(hidden_layer_sizes=hidden, n_estimators=1), X, y)
    d = est.predict_dist(X[:10])
    mc = est.set_params(predict_method="mc", n_predict_samples=20_000)
    ref = mc.predict_dist(X[:10])
    np.testing.assert_allclose((d.mean - ref.mean) / ref.std, 0.0, atol=0.03)
    np.testing.assert_allclose(d.std, ref.std, rtol=0.02)
    np.testing.assert_allclose(d.aleatoric_std, ref.aleatoric_std, rtol=0.02)
    # The epistemic part is a third to three quarters of the std here.
    assert np.all(ref.epistemic_std > 0.3 * ref.std)
    np.testing.assert_allclose(d.epistemic_std, ref.epistemic_std, rtol=0.04)
    np.testing.assert_allclose(d.var, d.epistemic_std**2 + d.aleatoric_std**2)


def test_predict_method_is_validated():
    X, y = _data()
    with pytest.raises(InvalidParameterError, match="predict_method"):
        _small(predict_method="exact").fit(X, y)


# ---------------------------------------------------------- randomness
def test_same_seed_bit_identical_and_global_rng_untouched():
    X, y = _data()
    torch_state = torch.random.get_rng_state()
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002
    a = _fit_quiet(_small(n_train_samples=3), X, y)
    b = _fit_quiet(_small(n_train_samples=3), X, y)
    assert torch.equal(torch_state, torch.random.get_rng_state())
    np.testing.assert_array_equal(np_state, np.random.get_state()[1])  # noqa: NPY002
    for (ka, va), (kb, vb) in zip(
        a.module_.state_dict().items(), b.module_.state_dict().items()
    ):
        assert ka == kb and torch.equal(va, vb)
    assert a.loss_curve_ == b.loss_curve_
    np.testing.assert_array_equal(a.predict_dist(X).std, b.predict_dist(X).std)
    c = _fit_quiet(_small(n_train_samples=3, random_state=1), X, y)
    assert not np.array_equal(a.predict(X), c.predict(X))


def test_fit_does_not_change_torch_thread_count():
    X, y = _data()
    n = torch.get_num_threads()
    _fit_quiet(_small(max_iter=2), X, y)
    assert torch.get_num_threads() == n


# --------------------------------------------------------- persistence
def test_pickle_and_clone_round_trip():
    X, y = _data()
    unfitted = _small()
    assert pickle.loads(pickle.dumps(unfitted)).get_params() == unfitted.get_params()
    est = _fit_quiet(_small(), X, y)
    est2 = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(est2.predict(X), est.predict(X))
    np.testing.assert_array_equal(est2.predict_dist(X).std, est.predict_dist(X).std)
    for e in (est, est2):  # the noise bank, too, is rebuilt the same
        e.set_params(predict_method="mc")
    np.testing.assert_array_equal(est2.predict_dist(X).std, est.predict_dist(X).std)
    for e in (est, est2):
        e.set_params(predict_method="moments")
    # The live model keeps working after being pickled.
    np.testing.assert_array_equal(est.predict(X[:5]), est2.predict(X[:5]))
    # Training continues identically from the restored optimiser and generator.
    est.partial_fit(X, y)
    est2.partial_fit(X, y)
    np.testing.assert_array_equal(est2.predict(X), est.predict(X))
    cl = clone(est)
    assert not hasattr(cl, "module_")
    np.testing.assert_array_equal(
        _fit_quiet(cl, X, y).predict(X), _fit_quiet(_small(), X, y).predict(X)
    )


def test_load_gpu_model_on_cpu_only_machine(monkeypatch):
    # Simulate a model trained on CUDA being unpickled where no GPU exists:
    # __getstate__ stores CPU tensors, __setstate__ falls back to the CPU.
    X, y = _data()
    est = _fit_quiet(_small(), X, y)
    expected = est.predict_dist(X)
    est.device_ = "cuda"
    payload = pickle.dumps(est)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="not available here"):
        loaded = pickle.loads(payload)
    assert loaded.device_ == "cpu"
    assert all(p.device.type == "cpu" for p in loaded.module_.parameters())
    got = loaded.predict_dist(X)
    np.testing.assert_array_equal(got.mean, expected.mean)
    np.testing.assert_array_equal(got.std, expected.std)
    loaded.partial_fit(X, y)  # optimiser state restored on the CPU
    # A state dict saved from the model loads through map_location as well.
    import io

    buf = io.BytesIO()
    torch.save(est.module_.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, map_location="cpu")
    assert all(v.device.type == "cpu" for v in state.values())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fit_predict_and_pickle_to_cpu(monkeypatch):
    X, y = _data()
    est = _fit_quiet(_small(device="cuda"), X, y)
    assert est.device_ == "cuda"
    assert next(est.module_.parameters()).is_cuda
    d = est.predict_dist(X)
    payload = pickle.dumps(est)
    assert next(est.module_.parameters()).is_cuda  # the live model stays
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="not available here"):
        loaded = pickle.loads(payload)
    np.testing.assert_allclose(loaded.predict_dist(X).mean, d.mean, rtol=1e-10)


def test_cuda_requested_but_absent():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    X, y = _data()
    with pytest.raises(ValueError, match="CUDA is not available"):
        _small(device="cuda").fit(X, y)
    assert _fit_quiet(_small(device="auto", max_iter=2), X, y).device_ == "cpu"


# ----------------------------------------------- partial_fit, warm start
def test_partial_fit_is_one_epoch_and_keeps_optimizer_state():
    X, y = _data()
    est = _small(n_iter_no_change=1000)
    est.partial_fit(X, y)
    assert est.n_iter_ == 1 and len(est.loss_curve_) == 1
    n_batches = int(np.ceil(len(X) / 200))
    steps = lambda e: max(int(s["step"]) for s in e._optimizer.state.values())  # noqa: E731
    assert steps(est) == n_batches
    est.partial_fit(X, y)
    assert est.n_iter_ == 2 and steps(est) == 2 * n_batches
    # Two partial_fit epochs are exactly two fit epochs.
    ref = _fit_quiet(_small(max_iter=2, n_iter_no_change=1000), X, y)
    np.testing.assert_array_equal(est.predict(X), ref.predict(X))
    with pytest.raises(ValueError, match="X has 2 features"):
        est.partial_fit(X[:, :2], y)


def test_warm_start_continues():
    X, y = _data()
    est = _fit_quiet(_small(max_iter=5, warm_start=True, n_iter_no_change=1000), X, y)
    first_curve = list(est.loss_curve_)
    weights = est.module_.hidden[0].weight.detach().clone()
    _fit_quiet(est, X, y)
    assert est.n_iter_ == 10 and est.loss_curve_[:5] == first_curve
    assert est.loss_curve_[5] < first_curve[0]
    assert not torch.equal(weights, est.module_.hidden[0].weight)
    cold = _fit_quiet(est.set_params(warm_start=False), X, y)
    assert cold.n_iter_ == 5 and cold.loss_curve_ == first_curve


def test_early_stopping_keeps_best_epoch():
    rng = np.random.RandomState(0)
    X = rng.randn(120, 10)
    y = X[:, 0] + rng.randn(120)  # few rows, many features: it overfits
    est = _small(
        hidden_layer_sizes=(64,),
        early_stopping=True,
        max_iter=300,
        n_iter_no_change=10,
        prior=None,
        learning_rate_init=1e-2,
    ).fit(X, y)
    assert est.n_iter_ < 300
    assert len(est.validation_scores_) == est.n_iter_
    assert est.best_loss_ is None
    assert est.best_validation_loss_ == min(est.validation_scores_)
    # The kept weights are those of the best epoch, not of the last.
    assert np.argmin(est.validation_scores_) < est.n_iter_ - 1
    plain = _fit_quiet(_small(max_iter=3), X, y)
    assert plain.validation_scores_ is None and plain.best_loss_ == min(
        plain.loss_curve_
    )


def test_convergence_warning_and_convergence():
    X, y = _data()
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        _small(max_iter=2).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = _small(max_iter=500, tol=1.0, n_iter_no_change=2, n_estimators=1,
                     anchored=False).fit(X, y)  # fmt: skip
    # Nothing improves by tol=1 after epoch 1: each plateau of more than
    # n_iter_no_change epochs divides the step by 5, the third one stops.
    assert est.n_iter_ == 1 + 3 * 3
    assert est._optimizer.param_groups[0]["lr"] == pytest.approx(1e-2 / 25)


def test_verbose_progress_bar(capsys):
    X, y = _data()
    _fit_quiet(_small(max_iter=3, verbose=True), X, y)
    err = capsys.readouterr().err
    assert "loss=" in err


# --------------------------------------------------------- sample weights
def test_unit_weights_equal_no_weights_and_zero_weight_drops_rows():
    X, y = _data()
    a = _fit_quiet(_small(), X, y)
    b = _fit_quiet(_small(), X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    # Outliers with weight 0 change nothing beyond SGD noise (the minibatches
    # differ); with weight 1 they wreck the fit.
    a = _fit_quiet(_small(max_iter=200), X, y)
    Xo = np.vstack([X, X[:40]])
    yo = np.concatenate([y, np.full(40, 50.0)])
    zero = np.r_[np.ones(len(y)), np.zeros(40)]
    w0 = _fit_quiet(_small(max_iter=200), Xo, yo, sample_weight=zero)
    w1 = _fit_quiet(_small(max_iter=200), Xo, yo)
    dropped_err = np.abs(w0.predict(X) - a.predict(X)).mean()
    outlier_err = np.abs(w1.predict(X) - a.predict(X)).mean()
    assert dropped_err < 0.25 * y.std()
    assert outlier_err > 2 * y.std()
    np.testing.assert_allclose(w0._y_scaling.mean, a._y_scaling.mean)


def test_prior_shrinks_weights():
    X, y = _data()
    norms = {}
    for prior, scale in [(None, 1.0), ("gaussian", 0.05), ("laplace", 0.01)]:
        est = _fit_quiet(_small(prior=prior, prior_scale=scale, max_iter=40), X, y)
        norms[prior] = float(est.module_.hidden[0].weight.detach().abs().sum())
    assert norms["gaussian"] < norms[None]
    assert norms["laplace"] < norms[None]
    # One scale per feature is accepted.
    _fit_quiet(_small(prior_scale=[1.0, 2.0, 3.0], max_iter=2), X, y)


# ----------------------------------------------------------------- errors
def test_bad_input_errors():
    X, y = _data()
    est = _small(max_iter=2)
    with pytest.raises(NotFittedError):
        est.predict(X)
    with pytest.raises(NotFittedError):
        est.predict_dist(X)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.fit(Xn, y)
    Xi = X.copy()
    Xi[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        est.fit(Xi, y)
    yn = y.copy()
    yn[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.fit(X, yn)
    with pytest.raises(ValueError, match="Expected 2D array"):
        est.fit(X[:, 0], y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.fit(X, y[:-1])
    with pytest.warns(DataConversionWarning):
        _fit_quiet(est, X, y[:, None])
    with pytest.raises(ValueError, match=re.escape("X has 2 features")):
        est.predict(X[:, :2])
    with pytest.raises(ValueError, match="sample_weight"):
        est.fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="auto"):
        _small(prior_scale="auto").fit(X, y)
    with pytest.raises(InvalidParameterError, match="activation"):
        _small(activation="gelu").fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        _small(hidden_layer_sizes=(4, 0)).fit(X, y)


def test_failed_fit_leaves_fitted_model_unchanged():
    X, y = _data()
    est = _fit_quiet(_small(warm_start=True), X, y)
    before = est.predict(X)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError):
        est.partial_fit(Xn, y)
    with pytest.raises(ValueError):
        est.fit(X[:, :2], y)
    np.testing.assert_array_equal(est.predict(X), before)


def test_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = _data()
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    est = _fit_quiet(_small(max_iter=2), df, y)
    np.testing.assert_array_equal(est.feature_names_in_, ["a", "b", "c"])
    with pytest.raises(ValueError, match="feature names"):
        est.predict(df[["c", "b", "a"]])
