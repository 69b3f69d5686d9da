"""The hand-written training gradients equal autograd's on the same loss."""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skbayes._priors import GaussianPrior, LaplacePrior  # noqa: E402
from skbayes.nn._base import BaseStochasticMLP  # noqa: E402
from skbayes.nn._fused import PriorTerm, loss_and_grads  # noqa: E402
from skbayes.nn._heads import CategoricalHead, GaussianHead  # noqa: E402
from skbayes.nn._modules import StochasticMLP, prior_penalty  # noqa: E402


def _setup(head, hidden, activation, members, draws, seed=0):
    gen = torch.Generator().manual_seed(seed)
    net = StochasticMLP(4, hidden, head.n_outputs, activation, n_members=members)
    net.reset_parameters(gen, 0.5, head.init_bias())
    net.double()
    x = torch.randn(7, 4, generator=gen, dtype=torch.float64)
    noises = net.sample_noise(draws, 7, gen, dtype=torch.float64)
    if isinstance(head, GaussianHead):
        target = torch.randn(7, head.n_targets, generator=gen, dtype=torch.float64)
    else:
        target = torch.randint(0, head.n_classes, (7,), generator=gen)
    return net, x, noises, target


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize(
    "head", [GaussianHead(1), GaussianHead(3), CategoricalHead(2), CategoricalHead(4)]
)
@pytest.mark.parametrize(("members", "draws"), [(1, 1), (3, 2)])
@pytest.mark.parametrize("weighted", [False, True])
def test_gradients_match_autograd(activation, head, members, draws, weighted):
    net, x, noises, target = _setup(head, (5, 6), activation, members, draws)
    weight = None
    if weighted:
        weight = torch.tensor([0.0, 1.0, 2.0, 0.5, 1.5, 1.0, 1.0], dtype=torch.float64)
    prior = GaussianPrior(np.array([0.5, 1.0, 2.0, 1.0]))
    penalty = PriorTerm(prior, 50)
    loss, grads = loss_and_grads(net, head, x, noises, target, weight, penalty)

    ref = BaseStochasticMLP._get_loss(head, net(x, noises), target, weight)
    # The reference prior term: the mean scale beyond the first layer.
    first = torch.as_tensor(1.0 / prior.scale)[:, None]
    inv = 1.0 / prior.scale.mean()
    ref = ref + prior_penalty(net.weights(), prior, first, inv) / 50
    ref_grads = torch.autograd.grad(ref, net.ordered_parameters())
    torch.testing.assert_close(loss, ref.detach(), rtol=1e-12, atol=1e-12)
    assert len(grads) == len(ref_grads)
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-12)


def test_laplace_prior_gradient_and_one_layer():
    head = GaussianHead(1)
    net, x, noises, target = _setup(head, (5,), "relu", 1, 1)
    prior = LaplacePrior(np.array([1.0, 2.0, 0.5, 1.0]))
    penalty = PriorTerm(prior, 10)
    loss, grads = loss_and_grads(net, head, x, noises, target, None, penalty)
    ref = BaseStochasticMLP._get_loss(head, net(x, noises), target, None)
    ref = ref + penalty.torch_value(net.weights())
    ref_grads = torch.autograd.grad(ref, net.ordered_parameters())
    torch.testing.assert_close(loss, ref.detach(), rtol=1e-12, atol=1e-12)
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-12)
    # The routes used off the CPU (closed-form torch gradient; autograd for
    # a prior without one) give the same.
    value_np, grads_np = penalty.value_and_grads(net.weights())
    for route in (penalty._autograd, penalty._torch):
        value, other = route(net.weights())
        assert abs(float(value) - value_np) < 1e-12
        for g, r in zip(other, grads_np):
            torch.testing.assert_close(g, r, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("prior_cls", [GaussianPrior, LaplacePrior])
def test_prior_routes_agree_with_anchors(prior_cls):
    # Anchored members: the penalty of w - anchor, by every route.
    net = StochasticMLP(4, (5,), 2, "relu", n_members=3, anchored=True)
    net.reset_parameters(torch.Generator().manual_seed(0), 0.5, [0.0, 0.5])
    net = net.double()
    with torch.no_grad():
        for w in net.weights():
            w.add_(torch.randn(w.shape, generator=torch.Generator().manual_seed(1),
                               dtype=w.dtype))  # fmt: skip
    penalty = PriorTerm(prior_cls(np.array([1.0, 2.0, 0.5, 1.5])), 7)
    shifted = [w.detach() - a for w, a in zip(net.weights(), net.anchors())]
    value_np, grads_np = penalty.value_and_grads(net.weights(), net.anchors())
    ref = penalty.torch_value([s.requires_grad_(True) for s in shifted])
    ref_grads = torch.autograd.grad(ref, shifted)
    assert abs(float(ref.detach()) - value_np) < 1e-12
    value_t, grads_t = penalty._torch(
        [w.detach() - a for w, a in zip(net.weights(), net.anchors())]
    )
    assert abs(float(value_t) - value_np) < 1e-12
    for a, b, c in zip(grads_np, grads_t, ref_grads):
        torch.testing.assert_close(a, c, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(b, c, rtol=1e-12, atol=1e-14)


def test_adam_step_is_torch_adam():
    from skbayes.nn._training import adam_step, make_adam

    gen = torch.Generator().manual_seed(0)
    a = [torch.nn.Parameter(torch.randn(3, 4, generator=gen)) for _ in range(2)]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    ours = make_adam(a, 0.01)
    step = adam_step(ours)
    ref = torch.optim.Adam(b, lr=0.01)
    for i in range(5):
        grads = [torch.randn(3, 4, generator=gen) for _ in range(2)]
        if i == 3:  # the plateau schedule changes the rate between steps
            ours.param_groups[0]["lr"] = ref.param_groups[0]["lr"] = 0.002
        step(grads)
        for p, g in zip(b, grads):
            p.grad = g.clone()
        ref.step()
    for p, q in zip(a, b):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)
    assert int(ours.state[a[0]]["step"]) == 5


def test_adam_step_after_a_state_dict_round_trip():
    """A loaded state has one counter per parameter; the step shares them."""
    from skbayes.nn._training import adam_step, make_adam

    gen = torch.Generator().manual_seed(1)
    a = [torch.nn.Parameter(torch.randn(2, 3, generator=gen)) for _ in range(3)]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    first = make_adam(a, 0.01)
    ref = torch.optim.Adam(b, lr=0.01)
    grads = [[torch.randn(2, 3, generator=gen) for _ in a] for _ in range(6)]
    step = adam_step(first)
    for g in grads[:3]:
        step(g)
    again = make_adam(a, 0.01)
    again.load_state_dict(copy.deepcopy(first.state_dict()))
    step = adam_step(again)
    for g in grads[3:]:
        step(g)
    for g in grads:
        for p, gi in zip(b, g):
            p.grad = gi.clone()
        ref.step()
    for p, q in zip(a, b):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)
    assert [int(again.state[p]["step"]) for p in a] == [6, 6, 6]


def test_huge_sigma_pre_activation_stays_finite():
    """softplus(ρ) as -log sigmoid(-ρ) is capped, not infinite, at huge ρ."""
    net, x, noises, target = _setup(GaussianHead(1), (5,), "relu", 1, 1)
    net.float()
    with torch.no_grad():
        net.hidden[0].bias[..., 5:] = 200.0  # σ = softplus(200) overflows exp
    x, noises = x.float(), [z.float() for z in noises]
    loss, grads = loss_and_grads(net, GaussianHead(1), x, noises, target.float(), None)
    assert torch.isfinite(loss)
    assert all(torch.isfinite(g).all() for g in grads)
