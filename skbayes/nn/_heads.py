"""Likelihood heads: how a network's raw outputs become a log-likelihood.

A head says how many raw outputs the network needs, how to initialise their
bias, and the per-row negative log-likelihood of a target given the outputs
``out`` of shape ``(M, S, R, n_outputs)`` (members, noise draws, rows). A new
task is a new head plus a small estimator subclass of
:class:`~skbayes.nn._base.BaseStochasticMLP`.

* :class:`GaussianHead` — regression on ``k`` targets: ``out = [mean_1..k,
  ρ_1..k]``, ``std = softplus(ρ) + floor``; ``-log N(y | mean, std)`` summed
  over the targets.
* :class:`CategoricalHead` — classification on ``K`` classes: ``out`` are
  logits; ``-log softmax(out)[y]``.

Targets and row weights are either shared by the members (``(R, ...)`` and
``(R,)``) or given per member (``(M, R, ...)`` and ``(M, R)``), as when each
member of an ensemble sees the rows in its own order.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._modules import _LOG_SQRT_2PI, gaussian_nll

__all__ = ["CategoricalHead", "GaussianHead"]


def _rows(t: torch.Tensor, row_dim: int) -> torch.Tensor:
    """Insert the draws axis into a per-member ``(M, R, ...)`` tensor.

    ``row_dim`` is the rank of the shared form (2 for ``(R, k)`` targets, 1
    for ``(R,)``); a shared tensor is returned as is (it broadcasts).
    """
    return t.unsqueeze(1) if t.dim() > row_dim else t


class GaussianHead:
    """Mean and heteroscedastic std of ``n_targets`` real targets.

    Parameters
    ----------
    n_targets : int
    floor : float, default=1e-4
        Smallest std, in the standardised units the network is trained in
        (so relative to the target's own scale).
    """

    def __init__(self, n_targets: int, floor: float = 1e-4) -> None:
        self.n_targets = int(n_targets)
        self.floor = float(floor)

    @property
    def n_outputs(self) -> int:
        return 2 * self.n_targets

    def init_bias(self) -> list[float]:
        # Start at mean 0 and std 1, the standardised target's moments.
        rho = 1.0 + math.log(-math.expm1(-1.0))  # softplus(rho) = 1
        return [0.0] * self.n_targets + [rho] * self.n_targets

    def mean_std(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, std)`` of shape ``(..., n_targets)``."""
        k = self.n_targets
        return out[..., :k], F.softplus(out[..., k:]) + self.floor

    def nll(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``-log N(target | mean, std)`` per row, ``(M, S, R)``.

        ``target`` is ``(R, k)``, or ``(M, R, k)`` per member.
        """
        mean, std = self.mean_std(out)
        return gaussian_nll(_rows(target, 2), mean, std).sum(-1)

    def nll_and_grad(self, out, target, weight):
        """``Σ w nll / (S R)`` and its gradient with respect to ``out``."""
        k = self.n_targets
        scale = 1.0 / (out.shape[1] * out.shape[2])
        rho = out[..., k:]
        std = F.softplus(rho).add_(self.floor)
        inv = torch.reciprocal(std)
        err = (_rows(target, 2) - out[..., :k]).mul_(inv)  # (y - mean) / std
        sq = err.square()
        terms = torch.log(std).add_(sq, alpha=0.5)  # log std + err² / 2
        if weight is None:
            ws = scale
            loss = terms.sum() * scale
        else:
            ws = _rows(weight, 1)[..., None] * scale
            loss = (terms * ws).sum()
        # The constant: Σ_{m,s,i} w_i log √(2π) k / (S R).
        n_terms = out.shape[0] * k * (1.0 if weight is None else weight.mean())
        loss = loss + _LOG_SQRT_2PI * n_terms
        # Both halves written into one buffer: a cat along a last axis of
        # size k is a slow strided copy.
        d_out = torch.empty_like(out)
        # ∂/∂mean = -w err / std
        torch.mul(err, inv, out=d_out[..., :k]).mul_(-ws)
        # ∂/∂ρ = w sigmoid(ρ) (1 - err²) / std = a - a err² with a = w sigmoid(ρ) / std
        d_rho = torch.mul(inv, torch.sigmoid(rho), out=d_out[..., k:]).mul_(ws)
        d_rho.addcmul_(d_rho, sq, value=-1.0)
        return loss, d_out


class CategoricalHead:
    """Softmax over ``n_classes`` logits.

    Parameters
    ----------
    n_classes : int
    """

    def __init__(self, n_classes: int) -> None:
        self.n_classes = int(n_classes)

    @property
    def n_outputs(self) -> int:
        return self.n_classes

    def init_bias(self) -> list[float]:
        return [0.0] * self.n_classes

    def nll(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``-log softmax(out)[target]`` per row, ``(M, S, R)``.

        ``target`` is ``(R,)``, or ``(M, R)`` per member.
        """
        m, s, r, k = out.shape
        target = _rows(target, 1).expand(m, s, r).reshape(-1)
        return F.cross_entropy(out.reshape(-1, k), target, reduction="none").view(
            m, s, r
        )

    def nll_and_grad(self, out, target, weight):
        """``Σ w nll / (S R)`` and its gradient with respect to ``out``.

        Computed over the classes axis of the class-major ``(M, K, S, R)``
        layout the fused step keeps the logits in (``out`` is a view of it):
        a softmax over a strided last axis is several times slower.
        """
        _, s, r, k = out.shape
        scale = 1.0 / (s * r)
        log_p = torch.log_softmax(out.permute(0, 3, 1, 2), dim=1)  # (M, K, S, R)
        # One-hot targets in that layout, (1 or M, K, 1, R), without the
        # range checks of F.one_hot (a host synchronisation at every step).
        classes = torch.arange(k, device=out.device).view(1, k, 1, 1)
        onehot = torch.eq(target.view(-1, 1, 1, r), classes).to(out.dtype)
        d_out = torch.exp(log_p).sub_(onehot)
        picked = log_p.mul_(onehot)  # log p of the targets, zeros elsewhere
        if weight is None:
            loss = picked.sum() * -scale
            d_out.mul_(scale)
        else:
            w = weight.view(-1, 1, 1, r) * scale
            loss = -(picked * w).sum()
            d_out.mul_(w)
        return loss, d_out.permute(0, 2, 3, 1)
