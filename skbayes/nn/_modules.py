"""Torch modules of :class:`~skbayes.nn.StochasticMLPRegressor`.

The network is the lecture's "distribution on activations": every hidden layer
predicts a mean μ(h) and a standard deviation σ(h) of its pre-activation,
samples ``a = μ + σ·ξ`` with ``ξ ~ N(0, I)`` (the reparameterisation trick, so
gradients reach both μ and σ) and applies the nonlinearity. The output layer
predicts the mean and the (heteroscedastic) standard deviation of y.

Noise is always passed in explicitly: the estimator draws it from its own
``torch.Generator`` while training, and uses a fixed bank of common random
numbers at prediction time. Parameters are created with ``torch.empty`` and
initialised under an explicit generator, so building a module never touches
torch's global random state.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .._priors import Prior

__all__ = [
    "ACTIVATIONS",
    "GaussianActivationLayer",
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


def _inv_softplus(x: float) -> float:
    """Inverse of softplus, to place an initial bias at a chosen σ."""
    return x + math.log(-math.expm1(-x))


def _linear(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, dtype):
    # ``.to`` is a no-op in the training dtype; predictions pass float64 so that
    # a row's answer does not depend on the size of the batch it is in.
    if dtype is not None and weight.dtype != dtype:
        weight, bias = weight.to(dtype), bias.to(dtype)
    return F.linear(h, weight, bias)


class GaussianActivationLayer(nn.Module):
    """Dense layer whose pre-activation is Gaussian with learned mean and std.

    ``μ(h) = W_μ h + b_μ``, ``σ(h) = softplus(W_σ h + b_σ) + floor`` and the
    output is ``activation(μ + σ·ξ)``. Both heads share one weight matrix of
    shape ``(2 * out_features, in_features)``, so a forward pass is one matmul.

    Parameters
    ----------
    in_features, out_features : int
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
    floor : float, default=1e-3
        Smallest σ, keeps the log-likelihood's gradient finite.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str = "relu",
        floor: float = 1e-3,
    ) -> None:
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.activation = activation
        self.floor = float(floor)
        self.weight = nn.Parameter(torch.empty(2 * out_features, in_features))
        self.bias = nn.Parameter(torch.empty(2 * out_features))

    @torch.no_grad()
    def reset_parameters(
        self, generator: torch.Generator, sigma_init: float = 0.1
    ) -> None:
        """Initialise under ``generator``: PyTorch's default for μ, σ ≈ sigma_init."""
        bound = 1.0 / math.sqrt(self.in_features)
        self.weight.uniform_(-bound, bound, generator=generator)
        self.bias.uniform_(-bound, bound, generator=generator)
        out = self.out_features
        self.weight[out:].mul_(0.1)
        self.bias[out:].fill_(_inv_softplus(max(sigma_init - self.floor, 1e-6)))

    def moments(
        self, h: torch.Tensor, dtype: torch.dtype | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation of the pre-activation."""
        z = _linear(h, self.weight, self.bias, dtype)
        mu, rho = z.split(self.out_features, dim=-1)
        return mu, F.softplus(rho) + self.floor

    def forward(
        self,
        h: torch.Tensor,
        noise: torch.Tensor | None,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """``activation(μ(h) + σ(h)·noise)``; ``noise=None`` forces σ to 0."""
        mu, sigma = self.moments(h, dtype)
        a = mu if noise is None else mu + sigma * noise
        return ACTIVATIONS[self.activation](a)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"activation={self.activation!r}, floor={self.floor}"
        )


class StochasticMLP(nn.Module):
    """Stack of :class:`GaussianActivationLayer` and a mean/std output layer.

    Parameters
    ----------
    n_features : int
    hidden_layer_sizes : sequence of int
    activation : str, default="relu"
    floor : float, default=1e-3
        Smallest σ of the hidden pre-activations.
    output_floor : float, default=1e-4
        Smallest predicted std of y (in the units the network is trained in).
    """

    def __init__(
        self,
        n_features: int,
        hidden_layer_sizes: Sequence[int],
        activation: str = "relu",
        floor: float = 1e-3,
        output_floor: float = 1e-4,
    ) -> None:
        super().__init__()
        # Kept so the module can be rebuilt elsewhere (e.g. on the CPU when
        # unpickling a model trained on a GPU).
        self.config = {
            "n_features": int(n_features),
            "hidden_layer_sizes": tuple(int(h) for h in hidden_layer_sizes),
            "activation": activation,
            "floor": float(floor),
            "output_floor": float(output_floor),
        }
        sizes = [int(n_features), *self.config["hidden_layer_sizes"]]
        self.hidden = nn.ModuleList(
            GaussianActivationLayer(i, o, activation, floor)
            for i, o in itertools.pairwise(sizes)
        )
        self.output_floor = float(output_floor)
        self.out_weight = nn.Parameter(torch.empty(2, sizes[-1]))
        self.out_bias = nn.Parameter(torch.empty(2))

    @property
    def widths(self) -> list[int]:
        return [layer.out_features for layer in self.hidden]

    @torch.no_grad()
    def reset_parameters(
        self, generator: torch.Generator, sigma_init: float = 0.1
    ) -> None:
        """Initialise every parameter under ``generator`` (global RNG untouched)."""
        for layer in self.hidden:
            layer.reset_parameters(generator, sigma_init)
        bound = 1.0 / math.sqrt(self.out_weight.shape[1])
        self.out_weight.uniform_(-bound, bound, generator=generator)
        self.out_bias[0].zero_()
        # Start near the standardised target's std of 1.
        self.out_bias[1].fill_(_inv_softplus(1.0))

    def sample_noise(
        self,
        n_samples: int,
        n_rows: int,
        generator: torch.Generator,
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> list[torch.Tensor]:
        """Standard normal noise for every hidden layer, ``(S, n_rows, width)``."""
        device = self.out_weight.device if device is None else device
        return [
            torch.randn(
                (n_samples, n_rows, w), generator=generator, dtype=dtype, device=device
            )
            for w in self.widths
        ]

    def forward(
        self,
        x: torch.Tensor,
        noises: Sequence[torch.Tensor] | None = None,
        dtype: torch.dtype | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std of y, one per noise draw.

        Parameters
        ----------
        x : Tensor of shape (n_rows, n_features)
        noises : list of Tensor of shape (S, n_rows or 1, width), or None
            One per hidden layer; ``None`` forces every σ to 0 (a plain MLP).
        dtype : torch.dtype, optional
            Compute in this dtype (parameters are cast on the fly).

        Returns
        -------
        mean, std : Tensor of shape (S, n_rows), or (n_rows,) when noises is None
        """
        h = x
        for i, layer in enumerate(self.hidden):
            h = layer(h, None if noises is None else noises[i], dtype)
        out = _linear(h, self.out_weight, self.out_bias, dtype)
        mean, rho = out.unbind(-1)
        return mean, F.softplus(rho) + self.output_floor

    def weights(self) -> list[torch.Tensor]:
        """The weight matrices the prior applies to (biases have a flat prior)."""
        return [layer.weight for layer in self.hidden] + [self.out_weight]


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

    ``first_inv_scale`` (shape ``(n_features,)``) holds one inverse scale per
    input feature for the first weight matrix; the other matrices use the
    scalar ``inv_scale``. The flat prior gives 0.
    """
    total = weights[0].new_zeros(())
    if prior.is_flat:
        return total
    for i, w in enumerate(weights):
        total = total + prior.torch_penalty(w, first_inv_scale if i == 0 else inv_scale)
    return total
