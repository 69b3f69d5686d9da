"""Ensembles of stochastic networks: ``n_estimators`` batched members, anchoring."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")

from _nets import make_net, toy_data  # noqa: E402

from skbayes import StochasticMLPRegressor  # noqa: E402
from skbayes.nn import _base  # noqa: E402
from skbayes.nn._modules import StochasticMLP  # noqa: E402
from skbayes.nn._training import Seeds  # noqa: E402

KW = dict(
    hidden_layer_sizes=(8,),
    max_iter=6,
    early_stopping=False,
    n_iter_no_change=np.inf,
    random_state=0,
)


def _data():
    return toy_data(n=150)


def _make(kind, **kw):
    return make_net(kind, KW, **kw)


def _fit(est, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y, **kw)


def _member(est, m):
    """A copy of a fitted ensemble that keeps member ``m`` alone."""
    one = copy.deepcopy(est)
    config = {**est.module_.config, "n_members": 1}
    module = StochasticMLP(**config)
    state = {k: v[m : m + 1] for k, v in est.module_.state_dict().items()}
    module.load_state_dict(state)
    one.module_ = module.eval()
    one.n_estimators = 1
    return one


@pytest.mark.parametrize("kind", ["reg", "clf"])
def test_members_differ(kind):
    X, y, labels = _data()
    est = _fit(_make(kind), X, y if kind == "reg" else labels)
    assert est.module_.n_members == 5
    w = est.module_.hidden[0].weight.detach()
    for a in range(5):
        for b in range(a):
            assert not torch.allclose(w[a], w[b])
    preds = [
        _member(est, m).predict(X[:20]) if kind == "reg"
        else _member(est, m).predict_proba(X[:20])
        for m in range(5)
    ]  # fmt: skip
    assert all(not np.allclose(preds[0], p) for p in preds[1:])


@pytest.mark.parametrize("anchored", [True, False])
@pytest.mark.parametrize("sparse", [False, True])
def test_member_equals_single_network_seeded_like_it(monkeypatch, anchored, sparse):
    # Batched members are independent networks: member m of an ensemble is
    # the network a single-member fit trains from the member's seed (its own
    # initial weights, minibatch order and noise), up to float32 rounding of
    # the batched matmuls.
    X, y, _ = _data()
    X = sp.csr_matrix(X) if sparse else X
    kw = dict(anchored=anchored, n_train_samples=2, batch_size=32)
    ens = _fit(_make("reg", n_estimators=3, **kw), X, y)
    seeds = ens._seeds
    for m in range(3):
        shifted = Seeds(seeds.init + m, seeds.predict, seeds.split)
        draw = classmethod(lambda cls, rng, s=shifted: s)
        monkeypatch.setattr(_base.Seeds, "draw", draw)
        single = _fit(_make("reg", n_estimators=1, **kw), X, y)
        for (name, a), b in zip(
            ens.module_.state_dict().items(), single.module_.state_dict().values()
        ):
            torch.testing.assert_close(a[m : m + 1], b, rtol=1e-4, atol=1e-5, msg=name)


def test_regression_mixture_moments_by_direct_computation():
    X, y, _ = _data()
    est = _fit(_make("reg", n_estimators=4), X, y)
    d = est.predict_dist(X[:30])
    parts = [_member(est, m).predict_dist(X[:30]) for m in range(4)]
    means = np.stack([p.mean for p in parts])
    # Law of total variance: the spread of the member means is epistemic.
    epi = np.mean([p.epistemic_std**2 for p in parts], 0) + means.var(0)
    ale = np.mean([p.aleatoric_std**2 for p in parts], 0)
    np.testing.assert_allclose(d.mean, means.mean(0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(d.epistemic_std**2, epi, rtol=1e-9)
    np.testing.assert_allclose(d.aleatoric_std**2, ale, rtol=1e-9)
    np.testing.assert_allclose(d.var, epi + ale, rtol=1e-9)


@pytest.mark.parametrize("method", ["moments", "mc"])
def test_classifier_mixture_is_the_mean_of_the_members(method):
    X, _, labels = _data()
    est = _fit(_make("clf", n_estimators=3, predict_method=method), X, labels)
    members = [_member(est, m).predict_proba(X[:30]) for m in range(3)]
    if method == "mc":
        # The bank of member m is its slice of the ensemble's bank.
        bank = _base._noise_bank(est._seeds.predict, est.n_predict_samples,
                                 est.module_, torch.float64)  # fmt: skip
        xs = torch.as_tensor(est._x_scaling.transform(X[:30]))
        with torch.no_grad():
            logits = est.module_(xs, bank, torch.float64)
        members = list(torch.softmax(logits, -1).mean(1).numpy())
    np.testing.assert_allclose(est.predict_proba(X[:30]), np.mean(members, 0),
                               rtol=1e-10, atol=1e-12)  # fmt: skip


def test_anchors_are_the_initial_mean_path_draw_and_pull_the_fit():
    X, y, _ = _data()
    init = _make("reg", max_iter=1, learning_rate_init=1e-12)
    init = _fit(init, X, y)
    layer = init.module_.hidden[0]
    width = layer.out_features
    # Anchor = the initial mean-path weights; the σ path's prior stays at 0.
    torch.testing.assert_close(layer.anchor[..., :width], layer.weight[..., :width])
    assert torch.all(layer.anchor[..., width:] == 0)
    torch.testing.assert_close(init.module_.out_anchor, init.module_.out_weight)
    # N(0, 1/fan_in) draws: the mean path's sample std is about 1/sqrt(3).
    std = float(layer.anchor[..., :width].std())
    assert 0.35 < std < 0.85
    # A very strong prior keeps the weights near their anchors (anchored) or
    # near 0 (not anchored), whatever the data say (Adam jitters by about
    # its step size around the optimum).
    strong = dict(prior_scale=1e-3, max_iter=40, batch_size=16)
    a = _fit(_make("reg", **strong), X, y).module_
    b = _fit(_make("reg", anchored=False, **strong), X, y).module_
    with torch.no_grad():
        anchor = a.hidden[0].anchor[..., :width]
        scale = float(anchor.abs().mean())
        assert scale > 0.2
        moved = (a.hidden[0].weight[..., :width] - anchor).abs().mean()
        assert float(moved) < 0.1 * scale
        assert float(b.hidden[0].weight[..., :width].abs().mean()) < 0.1 * scale


def test_epistemic_std_grows_off_the_data():
    # The probe: trained on x in [-3, 3], evaluated at |x| in [6, 10].
    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, size=(500, 1))
    y = X[:, 0] + 0.2 * rng.randn(500)
    est = _fit(StochasticMLPRegressor(random_state=0), X, y)
    inside = est.predict_dist(np.linspace(-3, 3, 61)[:, None])
    far_x = np.r_[np.linspace(-10, -6, 21), np.linspace(6, 10, 21)][:, None]
    far = est.predict_dist(far_x)
    ratio = np.median(far.epistemic_std) / np.median(inside.epistemic_std)
    assert ratio >= 2.0
    lo, hi = far.interval(0.95)
    assert np.mean((lo <= far_x[:, 0]) & (far_x[:, 0] <= hi)) >= 0.9


@pytest.mark.parametrize("kind", ["reg", "clf"])
def test_continuing_needs_the_same_members(kind):
    X, y, labels = _data()
    target = y if kind == "reg" else labels
    est = _fit(_make(kind, n_estimators=3), X, target)
    before = est.predict(X)
    for change in ({"n_estimators": 2}, {"anchored": False}):
        est.set_params(warm_start=True, **change)
        with pytest.raises(ValueError, match="must stay as in the first fit"):
            est.fit(X, target)
        with pytest.raises(ValueError, match="must stay as in the first fit"):
            est.partial_fit(X, target)
        np.testing.assert_array_equal(est.predict(X), before)
        est.set_params(n_estimators=3, anchored=True)
    # Continuing with the same members works and pickles with each member's
    # own generator state: the copy continues exactly as the original.
    copy_ = pickle.loads(pickle.dumps(est))
    assert len(copy_._generators) == 3
    est.partial_fit(X, target)
    copy_.partial_fit(X, target)
    np.testing.assert_array_equal(est.predict(X), copy_.predict(X))


def test_n_estimators_is_validated():
    X, y, _ = _data()
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="n_estimators"):
        _make("reg", n_estimators=0).fit(X, y)
    with pytest.raises(InvalidParameterError, match="anchored"):
        _make("reg", anchored="yes").fit(X, y)
