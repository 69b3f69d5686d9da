"""The torch modules behind StochasticMLPRegressor."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skbayes._priors import FlatPrior, GaussianPrior, LaplacePrior  # noqa: E402
from skbayes.nn._modules import (  # noqa: E402
    GaussianActivationLayer,
    StochasticMLP,
    gaussian_nll,
    prior_penalty,
)


def _net(n_features=3, hidden=(7, 5), activation="relu", seed=0):
    net = StochasticMLP(n_features, hidden, activation)
    net.reset_parameters(torch.Generator().manual_seed(seed))
    return net


def test_building_and_initialising_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b = _net(seed=1), _net(seed=1)
    assert torch.equal(state, torch.random.get_rng_state())
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    c = _net(seed=2)
    assert not torch.equal(a.hidden[0].weight, c.hidden[0].weight)


def test_gradients_reach_sigma_parameters():
    # The reparameterisation a = μ + σ·ξ must let the loss see σ's weights.
    net = _net()
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 3, generator=gen), torch.randn(32, generator=gen)
    noises = net.sample_noise(4, 32, gen)
    mean, std = net(x, noises)
    gaussian_nll(y, mean, std).mean().backward()
    for layer in net.hidden:
        out = layer.out_features
        assert layer.weight.grad[out:].abs().sum() > 0  # σ head weights
        assert layer.bias.grad[out:].abs().sum() > 0  # σ head bias
        assert layer.weight.grad[:out].abs().sum() > 0  # μ head
    # Without noise the σ heads are cut off from the loss.
    net.zero_grad()
    mean, std = net(x, None)
    gaussian_nll(y, mean, std).mean().backward()
    for layer in net.hidden:
        out = layer.out_features
        assert layer.weight.grad[out:].abs().sum() == 0


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
    for layer in net.hidden:
        lin = torch.nn.Linear(layer.in_features, layer.out_features)
        with torch.no_grad():
            lin.weight.copy_(layer.weight[: layer.out_features])
            lin.bias.copy_(layer.bias[: layer.out_features])
        layers += [lin, acts[activation]]
    head = torch.nn.Linear(net.out_weight.shape[1], 2)
    with torch.no_grad():
        head.weight.copy_(net.out_weight)
        head.bias.copy_(net.out_bias)
    plain = torch.nn.Sequential(*layers, head)

    x = torch.randn(10, 3, generator=torch.Generator().manual_seed(1))
    out = plain(x)
    mean, std = net(x, None)
    # One fused matmul for both heads vs separate ones: equal up to float32 ulps.
    torch.testing.assert_close(mean, out[:, 0])
    torch.testing.assert_close(std, torch.nn.functional.softplus(out[:, 1]) + 1e-4)

    # σ forced to 0 through zero noise gives the same network.
    zeros = [torch.zeros(2, 10, w) for w in net.widths]
    mean0, _ = net(x, zeros)
    torch.testing.assert_close(mean0, mean.expand(2, -1))


def test_noise_changes_output_and_sigma_is_positive():
    layer = GaussianActivationLayer(3, 4, "identity", floor=1e-3)
    layer.reset_parameters(torch.Generator().manual_seed(0), sigma_init=0.5)
    h = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    mu, sigma = layer.moments(h)
    assert torch.all(sigma >= 1e-3)
    torch.testing.assert_close(sigma.mean(), torch.tensor(0.5), atol=0.1, rtol=0)
    xi = torch.randn(6, 4, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(layer(h, xi), mu + sigma * xi)


def test_float64_forward_matches_float32():
    net = _net()
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    noises = net.sample_noise(3, 1, torch.Generator().manual_seed(0))
    m32, s32 = net(x, noises)
    m64, s64 = net(x.double(), [z.double() for z in noises], torch.float64)
    assert m64.dtype == torch.float64
    torch.testing.assert_close(m64.float(), m32, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(s64.float(), s32, rtol=1e-5, atol=1e-6)


def test_gaussian_nll_matches_scipy():
    from scipy import stats

    y, m, s = np.array([0.3, -1.0]), np.array([0.0, 1.0]), np.array([0.5, 2.0])
    got = gaussian_nll(torch.tensor(y), torch.tensor(m), torch.tensor(s)).numpy()
    np.testing.assert_allclose(got, -stats.norm.logpdf(y, m, s), rtol=1e-12)


def test_prior_penalty_gaussian_and_laplace():
    w1 = torch.tensor([[1.0, -2.0], [3.0, 0.5]])
    w2 = torch.tensor([[0.5, -1.0]])
    first_inv = torch.tensor([1 / 2.0, 1 / 4.0])  # one scale per input feature
    scale = np.array([2.0, 4.0])
    gauss = prior_penalty([w1, w2], GaussianPrior(scale), first_inv, 1 / 3.0)
    expected = (
        0.5 * ((1 / 2) ** 2 + (2 / 4) ** 2 + (3 / 2) ** 2 + (0.5 / 4) ** 2)
        + 0.5 * (0.5**2 + 1.0) / 9
    )
    assert math.isclose(float(gauss), expected, rel_tol=1e-6)
    lap = prior_penalty([w1, w2], LaplacePrior(scale), first_inv, 1 / 3.0)
    expected = (1 / 2 + 2 / 4 + 3 / 2 + 0.5 / 4) + (0.5 + 1.0) / 3
    assert math.isclose(float(lap), expected, rel_tol=1e-6)
    assert float(prior_penalty([w1, w2], FlatPrior(), None, 0.0)) == 0.0


def test_module_pickles():
    import pickle

    net = _net(activation="identity")
    net2 = pickle.loads(pickle.dumps(net))
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(net(x)[0], net2(x)[0], rtol=0, atol=0)
