"""One training step's loss and gradients, written out by hand.

A minibatch of a small network costs little arithmetic; what dominates is the
per-operation overhead of building and walking an autograd graph (about a
hundred small nodes for a one-hidden-layer network with its head and prior).
This module computes the same gradients with a handful of fused tensor
operations per layer, no graph and no per-step allocations beyond the
activations. ``tests/test_fused.py`` checks every gradient against autograd.

Backward through a Gaussian layer ``a = μ + σ ξ``, ``σ = softplus(ρ) + floor``,
``h = act(a)`` given ``∂L/∂h``::

    ∂L/∂a = ∂L/∂h · act'(a)
    ∂L/∂μ = ∂L/∂a,    ∂L/∂ρ = ∂L/∂a · ξ · sigmoid(ρ)
    ∂L/∂W = hᵢₙᵀ [∂L/∂μ, ∂L/∂ρ],   ∂L/∂b = Σ_rows [∂L/∂μ, ∂L/∂ρ]
    ∂L/∂hᵢₙ = [∂L/∂μ, ∂L/∂ρ] Wᵀ

The first layer's μ and σ are shared by the S noise draws, so its gradients
are summed over the draws before the matmuls.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .._priors import Prior
from ._modules import StochasticMLP

__all__ = ["PriorTerm", "loss_and_grads"]


def _act_grad(activation: str, a: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``act'(a)`` from the pre-activation ``a`` and the output ``h``."""
    if activation == "relu":
        return a > 0
    if activation == "tanh":
        return 1 - h * h
    if activation == "logistic":
        return h * (1 - h)
    return torch.ones((), dtype=a.dtype, device=a.device)


def loss_and_grads(
    module: StochasticMLP,
    head,
    x: torch.Tensor,
    noises: Sequence[torch.Tensor],
    target: torch.Tensor,
    weight: torch.Tensor | None,
    penalty: PriorTerm | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Loss and gradients of one minibatch, in ``module.ordered_parameters()`` order.

    The loss is the one of :meth:`BaseStochasticMLP._get_loss`: the
    Monte-Carlo NLL ``Σ_{m,s,i} w_i nll_{m,s,i} / (S R)`` (summed over
    members), plus ``penalty(weights)`` when given.

    Parameters
    ----------
    module : StochasticMLP
    head : GaussianHead or CategoricalHead
    x : Tensor of shape (R, n_features) or (M, R, n_features)
        Shared by the members, or each member's own rows.
    noises : list of Tensor of shape (M, S, R, width)
    target : Tensor
        ``(R, ...)``, or ``(M, R, ...)`` per member.
    weight : Tensor of shape (R,) or (M, R), or None
    penalty : PriorTerm, optional
        The prior's term ``-log prior(weights) / N``.
    """
    with torch.no_grad():
        n_rows = x.shape[-2]  # x is (R, d), or (M, R, d) per member
        h = x
        cache = []
        for i, layer in enumerate(module.hidden):
            m, s = noises[i].shape[:2]
            h_b = h.expand(m, *h.shape) if h.dim() == 2 else h
            z = torch.baddbmm(layer.bias, h_b, layer.weight)
            # Contiguous halves: softplus and sigmoid on a strided half run
            # several times slower than a copy followed by the contiguous op.
            mu, rho = (t.contiguous() for t in z.split(layer.out_features, dim=-1))
            if i == 0:
                mu, rho = mu.unsqueeze(1), rho.unsqueeze(1)
            else:
                mu, rho = mu.view(m, s, n_rows, -1), rho.view(m, s, n_rows, -1)
            a = torch.addcmul(mu, F.softplus(rho).add_(layer.floor), noises[i])
            out = _ACT[layer.activation](a)
            cache.append((h_b, rho, a, out))
            h = out.view(m, -1, layer.out_features)
        out = torch.baddbmm(module.out_bias, h, module.out_weight)
        out = out.view(m, s, n_rows, -1)
        loss, d_out = head.nll_and_grad(out, target, weight)

        # Backward.
        g = d_out.view(m, -1, d_out.shape[-1])
        grads = [torch.bmm(h.transpose(1, 2), g), g.sum(1, keepdim=True)]
        dh = torch.bmm(g, module.out_weight.transpose(1, 2))
        for i in range(len(module.hidden) - 1, -1, -1):
            layer = module.hidden[i]
            h_in, rho, a, out = cache[i]
            # [∂L/∂μ, ∂L/∂ρ] written into the halves of one buffer (no cat).
            width = layer.out_features
            dz = a.new_empty((*a.shape[:-1], 2 * width))  # (M, S, R, 2H)
            if layer.activation == "relu":
                # relu's own backward kernel: several times faster on the
                # CPU than multiplying by a boolean mask.
                da = torch.ops.aten.threshold_backward.grad_input(
                    dh.view(a.shape), out, 0.0, grad_input=dz[..., :width]
                )
            else:
                da = torch.mul(dh.view(a.shape), _act_grad(layer.activation, a, out),
                               out=dz[..., :width])  # fmt: skip
            torch.mul(da, noises[i], out=dz[..., width:])
            dz[..., width:].mul_(torch.sigmoid(rho))
            # The first layer's μ and σ are shared by the draws.
            if i > 0:
                dz = dz.view(dz.shape[0], -1, dz.shape[-1])
            else:
                dz = dz[:, 0] if dz.shape[1] == 1 else dz.sum(1)
            d_w = torch.bmm(h_in.transpose(1, 2), dz)
            grads[:0] = [d_w, dz.sum(1, keepdim=True)]
            if i > 0:
                dh = torch.bmm(dz, layer.weight.transpose(1, 2))
    if penalty is not None:
        value, extra = penalty.value_and_grads(module.weights(), module.anchors())
        for j, e in enumerate(extra):
            grads[2 * j].add_(e)
        loss = loss + value
    return loss, grads


class PriorTerm:
    """``-log prior(weights) / N`` and its gradient, asked of the prior.

    The first weight tensor, ``(M, n_features, 2 * width)``, has one prior
    scale per input feature; the others use the mean scale.

    Parameters
    ----------
    prior : Prior
        Not flat.
    n_rows : int
        N, the number of training rows with positive weight.
    """

    def __init__(self, prior: Prior, n_rows: int) -> None:
        self.first = prior
        self.rest = prior.with_scale(np.array([np.mean(prior.scale)]))
        self.factor = 1.0 / n_rows
        self._inv = None  # the first tensor's 1/scale, per device and dtype

    def _inv_scales(self, like: torch.Tensor):
        if self._inv is None or (self._inv.device, self._inv.dtype) != (
            like.device,
            like.dtype,
        ):
            inv = 1.0 / np.asarray(self.first.scale, dtype=np.float64)
            self._inv = torch.as_tensor(inv, dtype=like.dtype, device=like.device)
        # Features on the middle axis of (M, n_features, 2 * width).
        return self._inv[:, None], float(1.0 / self.rest.scale[0])

    def value_and_grads(
        self,
        weights: Sequence[torch.Tensor],
        anchors: Sequence[torch.Tensor] | None = None,
    ):
        """Penalty and one gradient tensor per weight tensor.

        With ``anchors`` (anchored members), the prior is centred there: the
        penalty of ``w - anchor``. On the CPU the prior's own NumPy
        ``penalty`` / ``gradient`` run on zero-copy views (cheaper than a
        dozen small torch operations); elsewhere its closed-form
        ``torch_gradient`` avoids a host synchronisation, and autograd of
        ``torch_penalty`` serves a prior without one.
        """
        weights = [w.detach() for w in weights]
        if anchors is not None:
            weights = [w - a for w, a in zip(weights, anchors, strict=True)]
        if weights[0].device.type == "cpu":
            return self._numpy(weights)
        return self._torch(weights)

    def _torch(self, weights):
        first_inv, rest_inv = self._inv_scales(weights[0])
        grads = []
        for i, w in enumerate(weights):
            prior = self.first if i == 0 else self.rest
            g = prior.torch_gradient(w, first_inv if i == 0 else rest_inv)
            if g is None:
                return self._autograd(weights)
            grads.append(g * self.factor)
        with torch.no_grad():
            value = self.torch_value(weights)
        return value, grads

    def _numpy(self, weights):
        value, grads = 0.0, []
        for i, w in enumerate(weights):
            # Features on the last axis, as the prior's maths expects.
            a = w.numpy().swapaxes(-1, -2)
            prior = self.first if i == 0 else self.rest
            value += prior.penalty(a)
            g = np.asarray(prior.gradient(a), dtype=a.dtype) * self.factor
            grads.append(torch.from_numpy(g.swapaxes(-1, -2)))
        return value * self.factor, grads

    def _autograd(self, weights):
        ws = [w.detach().requires_grad_(True) for w in weights]
        value = self.torch_value(ws)
        return value.detach(), list(torch.autograd.grad(value, ws))

    def torch_value(self, weights: Sequence[torch.Tensor]) -> torch.Tensor:
        """The penalty as a differentiable torch scalar (the reference)."""
        first_inv, rest_inv = self._inv_scales(weights[0])
        total = self.first.torch_penalty(weights[0], first_inv)
        for w in weights[1:]:
            total = total + self.rest.torch_penalty(w, rest_inv)
        return total * self.factor


def _identity(a: torch.Tensor) -> torch.Tensor:
    return a.clone()


_ACT = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "logistic": torch.sigmoid,
    "identity": _identity,
}
