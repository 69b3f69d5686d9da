"""The torch modules behind the stochastic networks."""

import math
import pickle

import numpy as np
import pytest
from scipy import stats

torch = pytest.importorskip("torch")

from skbayes._priors import FlatPrior, GaussianPrior, LaplacePrior  # noqa: E402
from skbayes.nn._heads import CategoricalHead, GaussianHead  # noqa: E402
from skbayes.nn._modules import (  # noqa: E402
    GaussianActivationLayer,
    StochasticMLP,
    gaussian_nll,
    prior_penalty,
)


def _net(n_features=3, hidden=(7, 5), activation="relu", seed=0, members=1):
    net = StochasticMLP(n_features, hidden, 2, activation, n_members=members)
    net.reset_parameters(torch.Generator().manual_seed(seed), 0.5, [0.0, 0.5])
    return net


def test_building_and_initialising_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b = _net(seed=1), _net(seed=1)
    assert torch.equal(state, torch.random.get_rng_state())
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    c = _net(seed=2)
    assert not torch.equal(a.hidden[0].weight, c.hidden[0].weight)
    with pytest.raises(ValueError, match="at least one hidden layer"):
        StochasticMLP(3, ())


def test_gradients_reach_sigma_parameters():
    # The reparameterisation a = μ + σ·ξ must let the loss see σ's weights.
    net = _net()
    head = GaussianHead(1)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 3, generator=gen), torch.randn(32, 1, generator=gen)
    out = net(x, net.sample_noise(4, 32, gen))
    head.nll(out, y).mean().backward()
    for layer in net.hidden:
        out_f = layer.out_features
        assert layer.weight.grad[..., out_f:].abs().sum() > 0  # σ head weights
        assert layer.bias.grad[..., out_f:].abs().sum() > 0  # σ head bias
        assert layer.weight.grad[..., :out_f].abs().sum() > 0  # μ head
    # Without noise the σ heads are cut off from the loss.
    net.zero_grad()
    head.nll(net(x, None), y).mean().backward()
    for layer in net.hidden:
        assert layer.weight.grad[..., layer.out_features :].abs().sum() == 0


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_sigma_zero_is_a_plain_mlp(activation):
    net = _net(activation=activation)
    acts = {
        "relu": torch.nn.ReLU(),
        "tanh": torch.nn.Tanh(),
        "logistic": torch.nn.Sigmoid(),
        "identity": torch.nn.Identity(),
    }
    layers = []
    for layer, pieces in zip(net.hidden, net.layer_weights()):
        lin = torch.nn.Linear(layer.in_features, layer.out_features)
        with torch.no_grad():
            lin.weight.copy_(pieces.W_mu[0].T)
            lin.bias.copy_(pieces.b_mu[0])
        layers += [lin, acts[activation]]
    W, b = net.head_weights()
    head = torch.nn.Linear(W.shape[1], 2)
    with torch.no_grad():
        head.weight.copy_(W[0].T)
        head.bias.copy_(b[0])
    plain = torch.nn.Sequential(*layers, head)

    x = torch.randn(10, 3, generator=torch.Generator().manual_seed(1))
    out = net(x, None)
    assert out.shape == (1, 1, 10, 2)
    torch.testing.assert_close(out[0, 0], plain(x))
    # σ forced to 0 through zero noise gives the same network.
    zeros = [torch.zeros(1, 2, 10, w) for w in net.widths]
    torch.testing.assert_close(net(x, zeros), out.expand(1, 2, 10, 2))


def test_layer_weights_give_the_noisy_forward_pass():
    # The pieces handed to moment propagation reproduce the module exactly.
    net = _net(members=2)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(6, 3, generator=gen)
    noises = net.sample_noise(4, 6, gen)
    h = x.expand(2, 1, 6, 3)
    for pieces, z in zip(net.layer_weights(), noises):
        mu = h @ pieces.W_mu[:, None] + pieces.b_mu[:, None, None]
        rho = h @ pieces.W_sigma[:, None] + pieces.b_sigma[:, None, None]
        sigma = torch.nn.functional.softplus(rho) + pieces.floor
        h = torch.relu(mu + sigma * z)
    W, b = net.head_weights()
    torch.testing.assert_close(net(x, noises), h @ W[:, None] + b[:, None, None])


def test_members_are_independent_networks():
    net = _net(members=3, seed=4)
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(8, 3, generator=gen)
    noises = net.sample_noise(2, 8, gen)
    out = net(x, noises)
    assert out.shape == (3, 2, 8, 2)
    single = _net(members=1)
    for m in range(3):
        with torch.no_grad():
            for p, q in zip(single.ordered_parameters(), net.ordered_parameters()):
                p.copy_(q[m : m + 1])
        ref = single(x, [z[m : m + 1] for z in noises])
        torch.testing.assert_close(out[m : m + 1], ref)
    assert not torch.allclose(out[0], out[1])


def test_noise_changes_output_and_sigma_is_positive():
    layer = GaussianActivationLayer(3, 4, "identity", floor=1e-3)
    layer.reset_parameters(torch.Generator().manual_seed(0), sigma_init=0.5)
    h = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    mu, sigma = layer.moments(h)
    assert mu.shape == (1, 6, 4)
    assert torch.all(sigma >= 1e-3)
    torch.testing.assert_close(sigma.mean(), torch.tensor(0.5), atol=0.1, rtol=0)
    xi = torch.randn(1, 6, 4, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(layer(h, xi), mu + sigma * xi)


def test_float64_forward_matches_float32():
    net = _net()
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    noises = net.sample_noise(3, 1, torch.Generator().manual_seed(0))
    o32 = net(x, noises)
    o64 = net(x.double(), [z.double() for z in noises], torch.float64)
    assert o64.dtype == torch.float64
    torch.testing.assert_close(o64.float(), o32, rtol=1e-5, atol=1e-6)


def test_gaussian_nll_matches_scipy():
    from scipy import stats

    y, m, s = np.array([0.3, -1.0]), np.array([0.0, 1.0]), np.array([0.5, 2.0])
    got = gaussian_nll(torch.tensor(y), torch.tensor(m), torch.tensor(s)).numpy()
    np.testing.assert_allclose(got, -stats.norm.logpdf(y, m, s), rtol=1e-12)


def test_heads_match_scipy_and_sklearn():
    from scipy import stats
    from sklearn.metrics import log_loss

    gen = torch.Generator().manual_seed(0)
    out = torch.randn(1, 1, 6, 4, generator=gen, dtype=torch.float64)
    y = torch.randn(6, 2, generator=gen, dtype=torch.float64)
    head = GaussianHead(2, floor=0.0)
    std = np.log1p(np.exp(out[0, 0, :, 2:].numpy()))
    ref = -stats.norm.logpdf(y.numpy(), out[0, 0, :, :2].numpy(), std).sum(-1)
    np.testing.assert_allclose(head.nll(out, y)[0, 0].numpy(), ref, rtol=1e-12)
    labels = torch.tensor([0, 3, 1, 2, 3, 0])
    probs = torch.softmax(out[0, 0], -1).numpy()
    got = CategoricalHead(4).nll(out, labels)[0, 0].mean().item()
    assert math.isclose(got, log_loss(labels, probs, labels=range(4)), rel_tol=1e-12)


def test_prior_penalty_gaussian_and_laplace():
    w1 = torch.tensor([[1.0, -2.0], [3.0, 0.5]])  # rows: input features
    w2 = torch.tensor([[0.5, -1.0]])
    first_inv = torch.tensor([[1 / 2.0], [1 / 4.0]])  # one scale per input feature
    scale = np.array([2.0, 4.0])
    gauss = prior_penalty([w1, w2], GaussianPrior(scale), first_inv, 1 / 3.0)
    expected = (
        0.5 * ((1 / 2) ** 2 + (2 / 2) ** 2 + (3 / 4) ** 2 + (0.5 / 4) ** 2)
        + 0.5 * (0.5**2 + 1.0) / 9
    )
    assert math.isclose(float(gauss), expected, rel_tol=1e-6)
    lap = prior_penalty([w1, w2], LaplacePrior(scale), first_inv, 1 / 3.0)
    expected = (1 / 2 + 2 / 2 + 3 / 4 + 0.5 / 4) + (0.5 + 1.0) / 3
    assert math.isclose(float(lap), expected, rel_tol=1e-6)
    assert float(prior_penalty([w1, w2], FlatPrior(), None, 0.0)) == 0.0


def test_module_pickles():
    net = _net(activation="identity")
    net2 = pickle.loads(pickle.dumps(net))
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(net(x), net2(x), rtol=0, atol=0)


@pytest.mark.parametrize("n_rows", [9, 10])
def test_antithetic_noise_pairs_rows_and_keeps_members_apart(n_rows):
    net = _net(members=3)
    gens = [torch.Generator().manual_seed(s) for s in (1, 2, 3)]
    noises = net.sample_noise(2, n_rows, gens, antithetic=True)
    half = n_rows // 2
    for z, width in zip(noises, (7, 5)):
        assert z.shape == (3, 2, n_rows, width)
        # rows [half, 2 half) are the negation of rows [0, half)
        torch.testing.assert_close(z[:, :, half : 2 * half], -z[:, :, :half])
        assert not torch.allclose(z[:, :, :half], z[:, :, 1 : half + 1])
    # member m's noise is the noise one member draws from generators[m] alone
    single = _net(members=1)
    again = single.sample_noise(
        2, n_rows, torch.Generator().manual_seed(2), antithetic=True
    )
    for z, ref in zip(noises, again):
        torch.testing.assert_close(z[1:2], ref)


def test_antithetic_noise_is_standard_normal_per_row():
    net = StochasticMLP(1, (400,), 2, n_members=1)
    z = net.sample_noise(1, 2000, torch.Generator().manual_seed(0), antithetic=True)
    z = z[0].reshape(-1).double().numpy()
    # each value is N(0, 1); the pairs only make the sample mean exactly 0
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert abs(z.var() - 1.0) < 0.01
