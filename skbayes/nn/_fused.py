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

Activations are kept feature-major, ``(M, width, S·R)``, and every product is
taken transposed (``zᵀ = Wᵀ hᵀ``, ``∂Wᵀ = ∂zᵀ h``), with ``W`` and ``x`` read
as transposed views: the μ and ρ halves of ``zᵀ`` are then contiguous blocks
(no copies), and the output layer's skinny products (2 outputs for a
regression) are wide ones, which the CPU BLAS runs 3-4x faster.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

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
        m, s, n_rows = noises[0].shape[:3]
        # Feature-major activations, (M, width, S·R): the products are W^T h^T
        # (W and x are used as transposed views, no copies), so the skinny
        # output layer (2 outputs) is a wide product, several times faster
        # than h W, and the μ and ρ halves are contiguous blocks.
        h_t = x.transpose(-1, -2)
        if h_t.dim() == 2:
            h_t = h_t.expand(m, *h_t.shape)
        cache = []
        for i, layer in enumerate(module.hidden):
            width = layer.out_features
            z_t = torch.baddbmm(
                layer.bias.transpose(1, 2), layer.weight.transpose(1, 2), h_t
            )
            # (M, width, 1, R) for the first layer (shared by the draws), else
            # (M, width, S, R).
            mu_t = z_t[:, :width].view(m, width, -1, n_rows)
            rho_t = z_t[:, width:].view(m, width, -1, n_rows)
            noise_t = noises[i].permute(0, 3, 1, 2)
            # softplus(ρ) = -log sigmoid(-ρ), and the backward's sigmoid(ρ) is
            # 1 - sigmoid(-ρ): one sigmoid and one log serve both, 1.4x
            # faster than torch's softplus and sigmoid. The clamp caps σ at
            # -log(tiny) (87 in float32) instead of an infinite σ.
            q = torch.neg(rho_t).sigmoid_().clamp_min_(torch.finfo(rho_t.dtype).tiny)
            std = torch.rsub(torch.log(q), layer.floor)  # floor - log q
            a = torch.addcmul(mu_t, std, noise_t)  # (M, width, S, R)
            out = _ACT[layer.activation](a)
            cache.append((h_t, q, noise_t, a, out))
            h_t = out.view(m, width, s * n_rows)
        out_t = torch.baddbmm(
            module.out_bias.transpose(1, 2), module.out_weight.transpose(1, 2), h_t
        )
        # The head reads (M, S, R, outputs): a view, whose gradient comes back
        # in the same memory order.
        loss, d_out = head.nll_and_grad(
            out_t.view(m, -1, s, n_rows).permute(0, 2, 3, 1), target, weight
        )

        # Backward.
        g_t = d_out.permute(0, 3, 1, 2).reshape(m, -1, s * n_rows)
        d_w_out = torch.bmm(g_t, h_t.transpose(1, 2)).transpose(1, 2).contiguous()
        grads = [d_w_out, g_t.sum(-1).unsqueeze(1)]
        dh_t = torch.bmm(module.out_weight, g_t)
        for i in range(len(module.hidden) - 1, -1, -1):
            layer = module.hidden[i]
            h_in_t, q, noise_t, a, out = cache[i]
            width = layer.out_features
            # [∂L/∂μ; ∂L/∂ρ] written into the halves of one buffer (no cat).
            dz = a.new_empty((m, 2 * width, s, n_rows))
            if layer.activation == "relu":
                # relu's own backward kernel: several times faster on the
                # CPU than multiplying by a boolean mask.
                da = torch.ops.aten.threshold_backward.grad_input(
                    dh_t.view(a.shape), out, 0.0, grad_input=dz[:, :width]
                )
            else:
                da = torch.mul(dh_t.view(a.shape), _act_grad(layer.activation, a, out),
                               out=dz[:, :width])  # fmt: skip
            # ∂L/∂ρ = ∂L/∂a ξ sigmoid(ρ) = g - g q with g = ∂L/∂a ξ
            d_rho = torch.mul(da, noise_t, out=dz[:, width:])
            d_rho.addcmul_(d_rho, q, value=-1.0)
            if i > 0:
                dz = dz.view(m, 2 * width, s * n_rows)
            else:
                # The first layer's μ and σ are shared by the draws.
                dz = dz[:, :, 0] if s == 1 else dz.sum(2)
            grads[:0] = [torch.bmm(h_in_t, dz.transpose(1, 2)), dz.sum(-1).unsqueeze(1)]
            if i > 0:
                dh_t = torch.bmm(layer.weight, dz)
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
        self._coef = None  # (1/σ²/N of the first tensor, of the others)

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
        penalty of ``w - anchor``. The Gaussian prior (the default) takes
        three fused torch operations per tensor on every device
        (:meth:`_gaussian`). For other priors, on the CPU the prior's own
        NumPy ``penalty`` / ``gradient`` run on zero-copy views (cheaper than
        a dozen small torch operations); elsewhere its closed-form
        ``torch_gradient`` avoids a host synchronisation, and autograd of
        ``torch_penalty`` serves a prior without one. The value is a float
        or a 0-d tensor.
        """
        if self.first.name == "gaussian":
            return self._gaussian(weights, anchors)
        if weights[0].device.type == "cpu":
            return self._numpy(weights, anchors)
        weights = [w.detach() for w in weights]
        if anchors is not None:
            weights = [w - a for w, a in zip(weights, anchors, strict=True)]
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

    def _gaussian(self, weights, anchors=None):
        """The Gaussian prior in three fused operations per tensor (any device).

        ``g = d / σ² / N`` and ``-log prior / N = ½ d·g``, with ``d`` the
        weights (minus their anchors): a dot product instead of a second pass,
        and no host synchronisation.
        """
        first_inv, rest_inv = self._inv_scales(weights[0])
        if self._coef is None or self._coef[0].dtype != first_inv.dtype:
            self._coef = (first_inv * first_inv * self.factor,
                          rest_inv * rest_inv * self.factor)  # fmt: skip
        value, grads = None, []
        for i, w in enumerate(weights):
            d = w.detach()
            if anchors is not None:
                d = d - anchors[i]
            g = torch.mul(d, self._coef[min(i, 1)])
            v = torch.vdot(d.view(-1), g.view(-1))
            value = v if value is None else value.add_(v)
            grads.append(g)
        return value.mul_(0.5), grads

    def _numpy(self, weights, anchors=None):
        value, grads = 0.0, []
        for i, w in enumerate(weights):
            a = w.detach().numpy()
            if anchors is not None:
                a = a - anchors[i].numpy()
            # Features on the last axis, as the prior's maths expects.
            a = a.swapaxes(-1, -2)
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
