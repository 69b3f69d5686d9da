"""Torch modules of the stochastic networks (:mod:`skbayes.nn`).

The network is the lecture's "distribution on activations": every hidden layer
predicts a mean μ(h) and a standard deviation σ(h) of its pre-activation,
samples ``a = μ + σ·ξ`` with ``ξ ~ N(0, I)`` (the reparameterisation trick, so
gradients reach both μ and σ) and applies the nonlinearity. A linear output
layer gives the raw outputs that a likelihood head (:mod:`._heads`) reads:
mean and std of y for regression, logits for classification.

Every parameter has a leading **member** dimension ``M`` (``n_members``), so
several independent networks train and predict as one batched module
(``torch.baddbmm``); ``M = 1`` is a single network. Layer ``l`` computes
``z = h @ W + b`` with ``W`` of shape ``(M, in, 2 * out)`` (μ columns first,
then the σ columns) and ``b`` of shape ``(M, 1, 2 * out)``;
:meth:`StochasticMLP.layer_weights` hands out the four pieces separately.

Shapes: the input ``x`` is ``(R, n_features)`` (shared by the members); a
noise tensor of layer ``l`` is ``(M, S, R or 1, width_l)`` (S draws; a middle
size of 1 is a bank of common random numbers shared by every row); outputs are
``(M, S, R, n_outputs)``.

Anchored members (Pearce et al. 2020): with ``anchored=True`` each member's
mean-path weights start at a draw ``θ₀ ~ N(0, 1/fan_in)`` (mean-path biases
``N(0, 1)``), kept as a buffer, the *anchor*; the prior's penalty then acts on
``θ - θ₀`` instead of ``θ``, so every member is pulled towards its own random
function and the members disagree where the data do not constrain them.

Noise is always passed in explicitly: the estimator draws it from its own
``torch.Generator`` (one per member, so member ``m`` of an ensemble sees the
same random numbers as a single network seeded like it). Parameters are
created with ``torch.empty`` and initialised under an explicit generator, so
building a module never touches torch's global random state.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .._priors import Prior

__all__ = [
    "ACTIVATIONS",
    "GaussianActivationLayer",
    "LayerWeights",
    "StochasticMLP",
    "gaussian_nll",
    "prior_penalty",
]


def _identity(a: torch.Tensor) -> torch.Tensor:
    return a


# Module-level functions (no lambdas) so that modules pickle.
ACTIVATIONS = {
    "identity": _identity,
    "logistic": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
}

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class LayerWeights(NamedTuple):
    """One Gaussian layer, ``μ = h @ W_mu + b_mu``, ``σ = softplus(h @ W_sigma +
    b_sigma) + floor``; shapes ``(M, in, out)`` and ``(M, out)``."""

    W_mu: torch.Tensor
    b_mu: torch.Tensor
    W_sigma: torch.Tensor
    b_sigma: torch.Tensor
    activation: str
    floor: float


def _inv_softplus(x: float) -> float:
    """Inverse of softplus, to place an initial bias at a chosen σ."""
    return x + math.log(-math.expm1(-x))


def _affine(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, dtype):
    """``h @ W + b`` per member; ``h`` is ``(R, in)`` (shared) or ``(M, N, in)``."""
    # ``.to`` is a no-op in the training dtype; predictions pass float64 so that
    # a row's answer does not depend on the size of the batch it is in.
    if dtype is not None and weight.dtype != dtype:
        weight, bias = weight.to(dtype), bias.to(dtype)
    if h.dim() == 2:
        h = h.expand(weight.shape[0], *h.shape)
    return torch.baddbmm(bias, h, weight)


class GaussianActivationLayer(nn.Module):
    """Dense layer whose pre-activation is Gaussian with learned mean and std.

    ``μ(h) = h W_μ + b_μ``, ``σ(h) = softplus(h W_σ + b_σ) + floor`` and the
    output is ``activation(μ + σ·ξ)``. Both heads share one weight tensor of
    shape ``(n_members, in_features, 2 * out_features)``, so a forward pass is
    one batched matmul.

    Parameters
    ----------
    in_features, out_features : int
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
    floor : float, default=1e-3
        Smallest σ, keeps the log-likelihood's gradient finite.
    n_members : int, default=1
        Independent copies of the layer, trained as one batched module.
    anchored : bool, default=False
        Keep the initial mean-path weights as the ``anchor`` buffer.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str = "relu",
        floor: float = 1e-3,
        n_members: int = 1,
        anchored: bool = False,
    ) -> None:
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.activation = activation
        self.floor = float(floor)
        self.n_members = int(n_members)
        self.anchored = bool(anchored)
        self.weight = nn.Parameter(
            torch.empty(n_members, in_features, 2 * out_features)
        )
        self.bias = nn.Parameter(torch.empty(n_members, 1, 2 * out_features))
        # The anchor of the weight: the initial mean-path weights, zero on the
        # σ path (whose prior stays centred at zero).
        anchor = torch.zeros_like(self.weight) if self.anchored else None
        self.register_buffer("anchor", anchor)

    @torch.no_grad()
    def reset_parameters(
        self,
        generator: torch.Generator | Sequence[torch.Generator],
        sigma_init: float = 0.1,
    ) -> None:
        """Initialise under ``generator`` (one, or one per member).

        Mean path: PyTorch's default uniform, or with ``anchored`` a draw from
        ``N(0, 1/in_features)`` (biases ``N(0, 1)``) that becomes the anchor.
        σ path: small weights and ``σ ≈ sigma_init``.
        """
        out = self.out_features
        for m, gen in _per_member(generator, self.n_members):
            weight, bias = self.weight[m], self.bias[m]
            bound = 1.0 / math.sqrt(self.in_features)
            if self.anchored:
                weight[..., :out].normal_(0.0, bound, generator=gen)
                weight[..., out:].uniform_(-bound, bound, generator=gen)
                bias[..., :out].normal_(0.0, 1.0, generator=gen)
            else:
                weight.uniform_(-bound, bound, generator=gen)
                bias.uniform_(-bound, bound, generator=gen)
            weight[..., out:].mul_(0.1)
            bias[..., out:].fill_(_inv_softplus(max(sigma_init - self.floor, 1e-6)))
            if self.anchored:
                self.anchor[m].copy_(weight)
                self.anchor[m][..., out:].zero_()

    def moments(
        self, h: torch.Tensor, dtype: torch.dtype | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation of the pre-activation, ``(M, N, out)``."""
        z = _affine(h, self.weight, self.bias, dtype)
        # Contiguous halves: elementwise ops on a strided half are slow.
        mu, rho = (t.contiguous() for t in z.split(self.out_features, dim=-1))
        return mu, F.softplus(rho) + self.floor

    def forward(
        self,
        h: torch.Tensor,
        noise: torch.Tensor | None,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """``activation(μ(h) + σ(h)·noise)``; ``noise=None`` forces σ to 0.

        ``noise`` broadcasts against ``(M, N, out)``.
        """
        mu, sigma = self.moments(h, dtype)
        a = mu if noise is None else torch.addcmul(mu, sigma, noise)
        return ACTIVATIONS[self.activation](a)

    def layer_weights(self) -> LayerWeights:
        """The four pieces of the layer, detached (for moment propagation)."""
        out = self.out_features
        w, b = self.weight.detach(), self.bias.detach()[:, 0]
        return LayerWeights(
            w[..., :out],
            b[:, :out],
            w[..., out:],
            b[:, out:],
            self.activation,
            self.floor,
        )

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"activation={self.activation!r}, floor={self.floor}, "
            f"n_members={self.n_members}, anchored={self.anchored}"
        )


class StochasticMLP(nn.Module):
    """Stack of :class:`GaussianActivationLayer` and a linear output layer.

    Parameters
    ----------
    n_features : int
    hidden_layer_sizes : sequence of int
        At least one layer.
    n_outputs : int, default=2
        Raw outputs per row that the likelihood head reads (2 per target for
        a Gaussian head: mean and std; one logit per class for a categorical).
    activation : str, default="relu"
    floor : float, default=1e-3
        Smallest σ of the hidden pre-activations.
    n_members : int, default=1
        Independent networks in the batched module.
    anchored : bool, default=False
        Draw the mean-path weights from ``N(0, 1/fan_in)`` at initialisation
        and keep them as anchors (:meth:`anchors`) for the prior's penalty.
    """

    def __init__(
        self,
        n_features: int,
        hidden_layer_sizes: Sequence[int],
        n_outputs: int = 2,
        activation: str = "relu",
        floor: float = 1e-3,
        n_members: int = 1,
        anchored: bool = False,
    ) -> None:
        super().__init__()
        # Kept so the module can be rebuilt elsewhere (e.g. on the CPU when
        # unpickling a model trained on a GPU).
        self.config = {
            "n_features": int(n_features),
            "hidden_layer_sizes": tuple(int(h) for h in hidden_layer_sizes),
            "n_outputs": int(n_outputs),
            "activation": activation,
            "floor": float(floor),
            "n_members": int(n_members),
            "anchored": bool(anchored),
        }
        if not self.config["hidden_layer_sizes"]:
            raise ValueError("StochasticMLP needs at least one hidden layer.")
        sizes = [int(n_features), *self.config["hidden_layer_sizes"]]
        self.hidden = nn.ModuleList(
            GaussianActivationLayer(i, o, activation, floor, n_members, anchored)
            for i, o in itertools.pairwise(sizes)
        )
        self.out_weight = nn.Parameter(torch.empty(n_members, sizes[-1], n_outputs))
        self.out_bias = nn.Parameter(torch.empty(n_members, 1, n_outputs))
        anchor = torch.zeros_like(self.out_weight) if anchored else None
        self.register_buffer("out_anchor", anchor)

    @property
    def n_members(self) -> int:
        return self.config["n_members"]

    @property
    def widths(self) -> list[int]:
        return [layer.out_features for layer in self.hidden]

    @property
    def anchored(self) -> bool:
        return self.config.get("anchored", False)

    @torch.no_grad()
    def reset_parameters(
        self,
        generator: torch.Generator | Sequence[torch.Generator],
        sigma_init: float = 0.1,
        out_bias: Sequence[float] | None = None,
    ) -> None:
        """Initialise every parameter (global RNG untouched).

        ``generator`` is one generator, or one per member: member ``m`` then
        draws its initial weights from ``generator[m]`` alone, layer by
        layer, so it is the network a single-member module would get from
        that generator. ``out_bias`` sets the output layer's initial bias
        (e.g. the std column of a Gaussian head); zeros when None.
        """
        members = _per_member(generator, self.n_members)
        bound = 1.0 / math.sqrt(self.out_weight.shape[1])
        if isinstance(generator, torch.Generator):
            for layer in self.hidden:
                layer.reset_parameters(generator, sigma_init)
            self._reset_out_weight(self.out_weight, bound, generator)
        else:
            for m, gen in members:
                for layer in self.hidden:
                    layer.reset_parameters(_OneMember(m, gen), sigma_init)
                self._reset_out_weight(self.out_weight[m], bound, gen)
        self.out_bias.zero_()
        if out_bias is not None:
            self.out_bias.copy_(torch.as_tensor(out_bias, dtype=self.out_bias.dtype))
        if self.anchored:
            self.out_anchor.copy_(self.out_weight)

    def _reset_out_weight(self, weight, bound: float, generator) -> None:
        if self.anchored:
            weight.normal_(0.0, bound, generator=generator)
        else:
            weight.uniform_(-bound, bound, generator=generator)

    def sample_noise(
        self,
        n_samples: int,
        n_rows: int,
        generator: torch.Generator | Sequence[torch.Generator],
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
        antithetic: bool = False,
    ) -> list[torch.Tensor]:
        """Standard normal noise per hidden layer, ``(M, S, n_rows, width)``.

        With one generator per member, member ``m``'s noise (every layer, in
        order) comes from ``generator[m]`` alone.

        ``antithetic=True`` draws the first ``n_rows // 2`` rows and gives the
        next as many their negation (antithetic variates): each row's noise is
        still exactly standard normal, so a loss summed over rows keeps its
        expectation and its gradient stays unbiased, for half the random
        numbers (drawing them is a fifth of a training step). Training pairs
        rows of a random permutation; never use it where rows must be
        independent jointly (a prediction's bank).
        """
        device = self.out_weight.device if device is None else device
        # Stored feature-major, (M, width, S, n_rows), the layout training
        # reads (a minibatch of rows is then a run of contiguous memory).
        noises = [
            torch.empty((self.n_members, w, n_samples, n_rows), dtype=dtype,
                        device=device)
            for w in self.widths
        ]  # fmt: skip
        half = n_rows // 2 if antithetic else 0
        # Filled in place (as randn would, without a stack copy): by one
        # generator layer by layer, or member by member, layer by layer.
        for m, gen in _per_member(generator, self.n_members):
            for z in noises:
                z = z[m]
                if half == 0:
                    z.normal_(generator=gen)
                    continue
                # Drawn contiguous (a strided normal_ is several times slower).
                drawn = z.new_empty((*z.shape[:-1], half)).normal_(generator=gen)
                z[..., :half] = drawn
                torch.neg(drawn, out=z[..., half : 2 * half])
                if n_rows % 2:
                    z[..., 2 * half :].normal_(generator=gen)
        return [z.permute(0, 2, 3, 1) for z in noises]

    def forward(
        self,
        x: torch.Tensor,
        noises: Sequence[torch.Tensor] | None = None,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """Raw outputs, one set per member and noise draw.

        Parameters
        ----------
        x : Tensor of shape (n_rows, n_features)
        noises : list of Tensor of shape (M, S, n_rows or 1, width), or None
            One per hidden layer; ``None`` forces every σ to 0 (a plain MLP).
        dtype : torch.dtype, optional
            Compute in this dtype (parameters are cast on the fly).

        Returns
        -------
        out : Tensor of shape (M, S, n_rows, n_outputs)
            S is 1 when ``noises`` is None.
        """
        n_rows = x.shape[0]
        h = x
        for i, layer in enumerate(self.hidden):
            if noises is None:
                h = layer(h, None, dtype)
                continue
            noise = noises[i]
            m, s = noise.shape[0], noise.shape[1]
            if i == 0:  # (M, R, out) -> (M, 1, R, out): the draws share μ, σ
                mu, sigma = (t.unsqueeze(1) for t in layer.moments(h, dtype))
            else:
                mu, sigma = (t.view(m, s, n_rows, -1) for t in layer.moments(h, dtype))
            a = torch.addcmul(mu, sigma, noise)
            # reshape: ``a`` takes the memory order of ``noise``.
            h = ACTIVATIONS[layer.activation](a).reshape(m, -1, layer.out_features)
        out = _affine(h, self.out_weight, self.out_bias, dtype)
        return out.view(out.shape[0], -1, n_rows, out.shape[-1])

    def ordered_parameters(self) -> list[nn.Parameter]:
        """Parameters layer by layer (weight, bias), the output layer last."""
        params = [p for layer in self.hidden for p in (layer.weight, layer.bias)]
        return [*params, self.out_weight, self.out_bias]

    def weights(self) -> list[torch.Tensor]:
        """The weight tensors the prior applies to (biases have a flat prior)."""
        return [layer.weight for layer in self.hidden] + [self.out_weight]

    def anchors(self) -> list[torch.Tensor] | None:
        """The prior's centre for each of :meth:`weights`; None when zero."""
        if not self.anchored:
            return None
        return [layer.anchor for layer in self.hidden] + [self.out_anchor]

    def layer_weights(self) -> list[LayerWeights]:
        """Each hidden layer's ``(W_mu, b_mu, W_sigma, b_sigma)``, detached."""
        return [layer.layer_weights() for layer in self.hidden]

    def head_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Output layer ``(W, b)``, ``out = h @ W + b``: ``(M, H, P)``, ``(M, P)``."""
        return self.out_weight.detach(), self.out_bias.detach()[:, 0]


class _OneMember(NamedTuple):
    """Member ``m`` of a batched layer, initialised from ``generator``."""

    member: int
    generator: torch.Generator


def _per_member(generator, n_members: int):
    """``(index, generator)`` pairs: ``slice(None)`` for one shared generator."""
    if isinstance(generator, _OneMember):
        return [(generator.member, generator.generator)]
    if isinstance(generator, torch.Generator):
        return [(slice(None), generator)]
    generators = list(generator)
    if len(generators) != n_members:
        raise ValueError(
            f"Expected one generator per member ({n_members}), got {len(generators)}."
        )
    return list(enumerate(generators))


def gaussian_nll(y: torch.Tensor, mean: torch.Tensor, std: torch.Tensor):
    """Element-wise ``-log N(y | mean, std)``."""
    return _LOG_SQRT_2PI + torch.log(std) + 0.5 * ((y - mean) / std) ** 2


def prior_penalty(
    weights: Sequence[torch.Tensor],
    prior: Prior,
    first_inv_scale: torch.Tensor | None,
    inv_scale: float,
) -> torch.Tensor:
    """``-log prior(weights)`` up to a constant, asked of the prior object.

    ``first_inv_scale`` holds one inverse scale per input feature for the
    first weight tensor, broadcast against it (shape ``(n_features, 1)`` for
    the ``(M, n_features, 2 * width)`` layout); the other tensors use the
    scalar ``inv_scale``. The flat prior gives 0.
    """
    total = weights[0].new_zeros(())
    if prior.is_flat:
        return total
    for i, w in enumerate(weights):
        total = total + prior.torch_penalty(w, first_inv_scale if i == 0 else inv_scale)
    return total
