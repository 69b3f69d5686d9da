"""Deterministic moment propagation through Gaussian-activation networks.

A fast, deterministic replacement for averaging a stochastic network over a
bank of noise draws. Each hidden layer computes ``μ = h W_μ + b_μ`` and
``σ = softplus(h W_σ + b_σ) + floor``, samples ``a = μ + σ·ξ`` and applies an
activation. Given x, the first layer's pre-activations are exactly Gaussian
and independent, so the mean and variance of every first hidden unit are
closed forms (ReLU, Frey & Hinton 1999) or nearly so (tanh, logistic). Deeper
layers see a random input: the mean and the variance of ``μ`` and of the σ
pre-activation are exact given the input's mean and (diagonal) variance,
``E[σ²]`` comes from Gauss–Hermite quadrature over the Gaussian approximation
of the σ pre-activation, and ``a`` is moment-matched to a Gaussian (as in
deterministic variational inference, Wu et al. 2019). The head sees the
correlations between the last hidden units that the shared input of the last
layer induces, to first order in the correlation (Stein's lemma, see
:func:`head_moments`).

Everything works on plain tensors, in the layout of
:meth:`StochasticMLP.layer_weights` (``h @ W + b``, ``W`` of shape
``(..., in, out)``), and every weight may carry leading "member" dimensions,
e.g. ``(n_members, in, out)``: the results then have
shape ``(n_members, n_rows, ...)``. All operations act on each row alone, so
computing in float64 makes a row's answer the same alone as in any batch (up
to the last bit of a float64 matmul).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch

__all__ = [
    "activation_moments",
    "classification_proba",
    "head_moments",
    "member_mixture",
    "propagate_hidden",
    "regression_moments",
    "softmax_gaussian_mean",
    "softplus_square_mean",
]

# (W_mu (..., in, out), b_mu (..., out), W_sig (..., in, out), b_sig (..., out));
# longer tuples (e.g. LayerWeights, which adds activation and floor) are fine.
Layer = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
# tanh(x) ≈ Σ w_i erf(c_i x) with Σ w_i = 1: least squares on tanh and its
# derivative over [0, 12]; max error 3.9e-5 on both. Exact Gaussian
# expectations of the surrogate give tanh's moments at large σ.
_TANH_ERF_W = (
    0.08370608250508446,
    0.082975576689332,
    0.41121760031859117,
    0.4221007404869923,
)
_TANH_ERF_C = (
    1.4886812394346283,
    0.4720347726031026,
    0.7021529141799597,
    1.0274231584538567,
)
# Below this σ, centred Gauss–Hermite quadrature of tanh is more accurate
# than the erf surrogate (whose absolute error does not shrink with σ).
_TANH_GH_MAX_STD = 0.5
_TANH_GH_NODES = 8
# Quadrature nodes for E[softplus(ρ)²]: hidden units (many, small spread of
# ρ in trained networks) and the output std (one per row and target; 12
# nodes: relative error 5e-7 at sd(ρ) = 1, 1e-3 at 2, 5e-3 at 3).
HIDDEN_SOFTPLUS_NODES = 3
HEAD_SOFTPLUS_NODES = 12
# λ of the probit approximation of the logistic, sigmoid(x) ≈ Φ(√λ x).
_PROBIT_LAMBDA = math.pi / 8.0
CHUNK_ROWS = 2048


@lru_cache(maxsize=16)
def _hermite_nodes(n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilists' Gauss–Hermite nodes and weights summing to one."""
    t, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    return t, w / w.sum()


def _nodes(n_nodes: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    t, w = _hermite_nodes(n_nodes)
    return (
        torch.as_tensor(t, dtype=like.dtype, device=like.device),
        torch.as_tensor(w, dtype=like.dtype, device=like.device),
    )


# ------------------------------------------------------------ activations
def relu_moments(m: torch.Tensor, v: torch.Tensor):
    """Mean, variance and ``E[relu'(a)]`` of ``relu(a)``, ``a ~ N(m, v)``.

    With ``u = -|m|/s``, ``Φ = Φ(u)``, ``A = uΦ + φ(u)`` and
    ``g = P(a > 0)`` (Φ or 1 - Φ): ``E[relu(a)] = relu(m) + sA`` and
    ``Var = v (g + A(u - A))``. Working on the tail side ``u <= 0`` avoids the
    cancellation of ``E[relu²] - E[relu]²`` when the unit is almost always
    active (it follows from ``relu(a) = a + relu(-a)``).
    """
    # In-place steps wherever a value is not needed again: a fresh large
    # tensor costs more than the arithmetic on it (page faults on the CPU).
    r = v.clamp_min(torch.finfo(v.dtype).tiny).rsqrt_()
    s = v * r
    # Beyond 40 standard deviations every tail term is 0 in float64.
    u = torch.abs(m).mul_(r).neg_().clamp_min_(-40.0)
    # erf, not erfc: several times faster in float64 on the CPU; Φ(u) then
    # has an absolute (not relative) error of 1e-16 in the far tail, where
    # the unit contributes nothing.
    cdf = torch.mul(u, _INV_SQRT_2).erf_().add_(1).mul_(0.5)
    a = torch.square(u).mul_(-0.5).exp_().mul_(_INV_SQRT_2PI).addcmul_(u, cdf)
    # P(a > 0): 1 - Φ(u) for m > 0, Φ(u) below, 1/2 at m = 0 (a select is
    # several times slower than this arithmetic in float64 on the CPU).
    gain = torch.sign(m).mul_(cdf.neg_().add_(0.5)).add_(0.5)
    var = u.sub_(a).mul_(a).add_(gain).mul_(v).clamp_min_(0)
    mean = torch.relu(m).addcmul_(s, a)
    return mean, var, gain


def _tanh_quadrature(m: torch.Tensor, s: torch.Tensor):
    t, w = _nodes(_TANH_GH_NODES, m)
    f0 = torch.tanh(m)
    d = torch.tanh(torch.addcmul(m.unsqueeze(-1), s.unsqueeze(-1), t))
    d -= f0.unsqueeze(-1)
    d_mean = (d * w).sum(-1)
    var = (d.square_() * w).sum(-1).sub_(d_mean.square()).clamp_min_(0)
    return f0 + d_mean, var


def _tanh_erf(m: torch.Tensor, v: torch.Tensor):
    mean = torch.zeros_like(m)
    slope = torch.zeros_like(m)  # E[f'(a)] of the surrogate, = 1 - E[f²]
    for wi, ci in zip(_TANH_ERF_W, _TANH_ERF_C, strict=True):
        cp = torch.rsqrt(v * (2 * ci * ci) + 1).mul_(ci)
        y = cp * m
        mean.add_(torch.special.erf(y), alpha=wi)
        slope.addcmul_(cp, torch.exp(y.square_().neg_()), value=wi * _TWO_OVER_SQRT_PI)
    var = (1 - slope).sub_(mean.square())
    # Var f(a) >= v E[f'(a)]² (first Hermite term): keeps tails, where the
    # difference above is below the surrogate's error, from reading 0.
    return mean, torch.maximum(var, slope.square_().mul_(v))


def tanh_moments(m: torch.Tensor, v: torch.Tensor):
    """Mean, variance and ``E[tanh'(a)]`` of ``tanh(a)``, ``a ~ N(m, v)``.

    Small σ: 8-node Gauss–Hermite quadrature of the deviations from
    ``tanh(m)`` (no cancellation, error < 3e-4 relative in the variance at
    σ = 0.5). Large σ, where tanh looks like a step: exact expectations of
    ``Σ w_i erf(c_i a)`` (absolute error < 4e-5). Each element takes its
    branch from its own σ, so a branch that no element of the batch needs is
    skipped without changing any result.
    """
    s = v * torch.rsqrt(v.clamp_min(torch.finfo(v.dtype).tiny))  # sqrt is slow
    small = s < _TANH_GH_MAX_STD
    if bool(small.all()):
        mean, var = _tanh_quadrature(m, s)
    elif not bool(small.any()):
        mean, var = _tanh_erf(m, v)
    else:
        mean_q, var_q = _tanh_quadrature(m, s)
        mean_e, var_e = _tanh_erf(m, v)
        mean = torch.where(small, mean_q, mean_e)
        var = torch.where(small, var_q, var_e)
    # E[tanh'] = 1 - E[tanh²] (tanh' = 1 - tanh²).
    gain = (1 - var).sub_(mean.square()).clamp_min_(0)
    return mean, var, gain


def logistic_moments(m: torch.Tensor, v: torch.Tensor):
    """Moments of ``sigmoid(a) = (1 + tanh(a / 2)) / 2``, ``a ~ N(m, v)``."""
    mean, var, gain = tanh_moments(0.5 * m, 0.25 * v)
    return 0.5 * (1 + mean), 0.25 * var, 0.25 * gain


def identity_moments(m: torch.Tensor, v: torch.Tensor):
    return m, v, torch.ones_like(m)


_MOMENTS = {
    "relu": relu_moments,
    "tanh": tanh_moments,
    "logistic": logistic_moments,
    "identity": identity_moments,
}


def activation_moments(m: torch.Tensor, v: torch.Tensor, activation: str):
    """Mean, variance and mean slope ``E[f'(a)]`` of ``f(a)``, ``a ~ N(m, v)``.

    Parameters
    ----------
    m, v : Tensor
        Mean and variance (``v > 0``) of the pre-activation, element-wise.
    activation : {"relu", "tanh", "logistic", "identity"}

    Returns
    -------
    mean, var, gain : Tensor
        The mean slope is the first-order factor of the covariance between
        two units (Stein's lemma).
    """
    try:
        fn = _MOMENTS[activation]
    except KeyError:
        raise ValueError(f"Unknown activation {activation!r}.") from None
    return fn(m, v)


def _softplus(x: torch.Tensor) -> torch.Tensor:
    # Same values as F.softplus, faster in float64 on the CPU.
    return torch.abs(x).neg_().exp_().log1p_().add_(torch.relu(x))


def softplus_square_mean(
    m: torch.Tensor, v: torch.Tensor | None, floor: float, n_nodes: int
) -> torch.Tensor:
    """``E[(softplus(ρ) + floor)²]`` for ``ρ ~ N(m, v)``, by quadrature.

    ``v=None`` means ρ is known (no quadrature).
    """
    if v is None:
        return _softplus(m).add_(floor).square_()
    t, w = _nodes(n_nodes, m)
    v = v.clamp_min(torch.finfo(v.dtype).tiny)
    rho = torch.addcmul(m.unsqueeze(-1), (v * torch.rsqrt(v)).unsqueeze(-1), t)
    return (_softplus(rho).add_(floor).square_() * w).sum(-1)


# ------------------------------------------------------------ propagation
class HiddenMoments(NamedTuple):
    """Moments of the last hidden layer, and what the head needs for the
    correlations between its units (None with a single hidden layer)."""

    mean: torch.Tensor  # (..., n, w_L)
    var: torch.Tensor  # (..., n, w_L)
    gain: torch.Tensor  # (..., n, w_L), E[f'(a_L)]
    prev_var: torch.Tensor | None  # (..., n, w_{L-1}), var of h_{L-1}
    w_mu: torch.Tensor | None  # (..., w_{L-1}, w_L), W_μ of the last layer
    var_mu: torch.Tensor | None  # (..., n, w_L), Var(μ_L) given prev_var


def _linear(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor):
    # Broadcasts leading member dimensions of the weights over rows.
    return torch.matmul(h, weight).add_(bias.unsqueeze(-2))


def propagate_hidden(
    x: torch.Tensor,
    layers: Sequence[Layer],
    activation: str,
    floor: float,
    *,
    n_softplus_nodes: int = HIDDEN_SOFTPLUS_NODES,
) -> HiddenMoments:
    """Mean and diagonal variance of every hidden layer, in turn.

    Parameters
    ----------
    x : Tensor of shape (..., n, n_features)
    layers : sequence of (W_mu, b_mu, W_sig, b_sig, ...)
        Shapes ``(..., in, out)`` and ``(..., out)``; at least one layer.
        Items after the fourth are ignored.
    activation : {"relu", "tanh", "logistic", "identity"}
    floor : float
        Added to the softplus of the σ pre-activation.

    Returns
    -------
    HiddenMoments
    """
    if len(layers) == 0:
        raise ValueError("At least one hidden layer is needed.")
    mean, var = x, None
    prev_var = w_mu = var_mu = gain = None
    for layer in layers:
        W_mu, b_mu, W_sig, b_sig = (t.to(x) for t in tuple(layer)[:4])
        mu = _linear(mean, W_mu, b_mu)
        rho = _linear(mean, W_sig, b_sig)
        if var is None:  # deterministic input: a ~ N(μ, σ²) exactly
            a_var = softplus_square_mean(rho, None, floor, 0)
            vmu = None
        else:  # the input's units are independent (exactly so for layer 2)
            vmu = torch.matmul(var, W_mu.square())
            vrho = torch.matmul(var, W_sig.square())
            a_var = vmu + softplus_square_mean(rho, vrho, floor, n_softplus_nodes)
        prev_var, w_mu, var_mu = var, W_mu, vmu
        mean, var, gain = activation_moments(mu, a_var, activation)
    return HiddenMoments(mean, var, gain, prev_var, w_mu, var_mu)


def head_moments(
    hidden: HiddenMoments,
    weight: torch.Tensor,
    bias: torch.Tensor,
    *,
    full_cov: bool = False,
    cross_cov: bool = True,
):
    """Mean and variance (or covariance) of ``h @ weight + bias``.

    The last hidden units are correlated through their shared random input
    ``h_{L-1}``: ``Cov(μ_L) = W_μᵀ diag(v_{L-1}) W_μ`` and, to first order in
    the correlation, ``Cov(h_k, h_l) ≈ g_k g_l Cov(μ_k, μ_l)`` for k ≠ l
    with ``g = E[f'(a_L)]``. With ``cross_cov`` these terms are added, at the
    cost of one ``(k·n, w_L) @ (w_L, w_{L-1})`` matmul, never forming a
    per-row covariance of the hidden layer.

    Parameters
    ----------
    hidden : HiddenMoments
    weight : Tensor of shape (..., w_L, k)
    bias : Tensor of shape (..., k)
    full_cov : bool, default=False
        Return the (k, k) covariance per row instead of the variances.
    cross_cov : bool, default=True

    Returns
    -------
    mean : Tensor of shape (..., n, k)
    var : Tensor of shape (..., n, k), or (..., n, k, k) with ``full_cov``
    """
    weight, bias = weight.to(hidden.mean), bias.to(hidden.mean)
    mean = _linear(hidden.mean, weight, bias)
    wt = weight.mT.unsqueeze(-3)  # (..., 1, k, w_L)
    if full_cov:
        out = (wt * hidden.var.unsqueeze(-2)) @ wt.mT
    else:
        out = torch.matmul(hidden.var, weight.square())
    if cross_cov and hidden.prev_var is not None:
        u = wt * hidden.gain.unsqueeze(-2)  # (..., n, k, w_L)
        q = u @ hidden.w_mu.mT.unsqueeze(-3)  # (..., n, k, w_{L-1})
        qv = q * hidden.prev_var.unsqueeze(-2)
        uv = u * hidden.var_mu.unsqueeze(-2)
        if full_cov:
            out = out + qv @ q.mT - uv @ u.mT
        else:
            out = out + (qv * q).sum(-1) - (uv * u).sum(-1)
    if not full_cov:
        out = out.clamp_min(0)
    return mean, out


# ------------------------------------------------------------------ heads
def _by_chunks(fn, x: torch.Tensor, chunk_rows: int, layers: Sequence[Layer]):
    """Apply ``fn`` to row chunks of x (cache-sized, each row alone).

    ``chunk_rows`` rows of one network; with M members a chunk holds
    ``chunk_rows / M`` rows, so that its activations stay cache-sized.
    """
    n_members = math.prod(layers[0][0].shape[:-2])
    rows = max(1, chunk_rows // n_members)
    parts = [fn(xb) for xb in x.split(rows, dim=-2)]
    if isinstance(parts[0], tuple):
        return tuple(torch.cat(p, dim=-2) for p in zip(*parts, strict=True))
    return torch.cat(parts, dim=-2)


def regression_moments(
    x: torch.Tensor,
    layers: Sequence[Layer],
    head: tuple[torch.Tensor, torch.Tensor],
    *,
    activation: str,
    floor: float,
    output_floor: float,
    cross_cov: bool = True,
    chunk_rows: int = CHUNK_ROWS,
):
    """Predictive moments of a Gaussian-activation regression network.

    The output ``o = h @ W + b`` of the (random) last hidden layer h holds
    the k means and then the k std pre-activations ρ (the layout of
    :class:`~skbayes.nn._heads.GaussianHead`): ``y ~ N(o[:k], (softplus(o[k:])
    + output_floor)²)``.

    Parameters
    ----------
    x : Tensor of shape (..., n, n_features)
        In the dtype to compute in (float64 for row independence).
    layers : sequence of (W_mu, b_mu, W_sig, b_sig)
    head : (weight (..., w_L, 2k), bias (..., 2k))
    activation : str
    floor, output_floor : float
    cross_cov : bool, default=True
        Include the correlations of the last hidden layer (see
        :func:`head_moments`); no effect with one hidden layer.
    chunk_rows : int, default=2048
        Rows per chunk for one network (divided by the number of members).

    Returns
    -------
    mean : Tensor of shape (..., n, k)
        ``E[mean]`` over the activation noise.
    epistemic_var : Tensor of shape (..., n, k)
        ``Var[mean]`` over the activation noise.
    aleatoric_var : Tensor of shape (..., n, k)
        ``E[std²]``.
    """
    weight, bias = head
    k = weight.shape[-1] // 2

    def one(xb):
        hidden = propagate_hidden(xb, layers, activation, floor)
        m, v = head_moments(hidden, weight, bias, cross_cov=cross_cov)
        ale = softplus_square_mean(
            m[..., k:], v[..., k:], output_floor, HEAD_SOFTPLUS_NODES
        )
        return m[..., :k], v[..., :k], ale

    return _by_chunks(one, x, chunk_rows, layers)


def member_mixture(
    mean: torch.Tensor,
    epistemic_var: torch.Tensor,
    aleatoric_var: torch.Tensor,
    dim: int = 0,
):
    """Moments of the equal-weight mixture over members (law of total variance).

    The spread of the members' means joins the epistemic part.

    Parameters
    ----------
    mean, epistemic_var, aleatoric_var : Tensor of shape (M, ...)
        Per member, e.g. from :func:`regression_moments` with stacked weights.
    dim : int, default=0

    Returns
    -------
    mean, epistemic_var, aleatoric_var : Tensor of shape (...)
    """
    m = mean.mean(dim)
    spread = (mean - m.unsqueeze(dim)).square()
    return m, (epistemic_var + spread).mean(dim), aleatoric_var.mean(dim)


def _sigma_points_softmax(mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """Unscented transform: 2k + 1 points ``m ± √(k+κ) L_i``, κ = 1."""
    k = mean.shape[-1]
    diag = cov.diagonal(dim1=-2, dim2=-1)
    # Jitter relative to the row's own scale keeps a (numerically) singular
    # covariance factorable without coupling rows.
    jitter = 1e-10 * diag.amax(-1, keepdim=True) + torch.finfo(cov.dtype).tiny
    eye = torch.eye(k, dtype=cov.dtype, device=cov.device)
    chol, info = torch.linalg.cholesky_ex(cov + jitter.unsqueeze(-1) * eye)
    # Rows whose covariance is not positive definite fall back to its diagonal.
    bad = (info != 0)[..., None, None]
    chol = torch.where(bad, torch.diag_embed(diag.clamp_min(0).sqrt()), chol)
    step = chol.mT * math.sqrt(k + 1.0)  # (..., k points, k logits)
    m = mean.unsqueeze(-2)
    p = torch.softmax(torch.cat([m, m + step, m - step], dim=-2), dim=-1)
    w_centre = 1.0 / (k + 1.0)
    return p[..., 0, :] * w_centre + p[..., 1:, :].sum(-2) * (0.5 / (k + 1.0))


def softmax_gaussian_mean(
    mean: torch.Tensor, cov: torch.Tensor, method: str = "auto"
) -> torch.Tensor:
    """Approximate ``E[softmax(z)]`` for ``z ~ N(mean, cov)``.

    Parameters
    ----------
    mean : Tensor of shape (..., k)
    cov : Tensor of shape (..., k, k)
    method : {"auto", "sigma_points", "pairwise", "probit"}, default="auto"
        "probit" scales each logit by ``1/√(1 + λ Var z_k)`` (MacKay 1992,
        λ = π/8); "pairwise" applies the probit approximation to every
        logistic ``1/(1 + exp(-(z_k - z_j)))`` with the variance of the
        difference, covariances included (mean-field softmax, Lu et al.
        2020), then renormalises: for two classes it is MacKay's
        approximation of ``E[sigmoid]`` on the logit difference;
        "sigma_points" averages the softmax over the 2k + 1 points of the
        unscented transform (κ = 1). "auto" is "pairwise" for two classes and
        "sigma_points" otherwise (the more accurate of the two in each case,
        measured against Monte Carlo).

    Returns
    -------
    proba : Tensor of shape (..., k)
    """
    k = mean.shape[-1]
    if method == "auto":
        method = "pairwise" if k == 2 else "sigma_points"
    diag = cov.diagonal(dim1=-2, dim2=-1)
    if method == "probit":
        return torch.softmax(mean * torch.rsqrt(1 + _PROBIT_LAMBDA * diag), dim=-1)
    if method == "sigma_points":
        return _sigma_points_softmax(mean, cov)
    if method != "pairwise":
        raise ValueError(f"Unknown method {method!r}.")
    var_diff = (diag.unsqueeze(-1) + diag.unsqueeze(-2) - 2 * cov).clamp_min(0)
    diff = mean.unsqueeze(-1) - mean.unsqueeze(-2)  # z_k - z_j
    scaled = diff * torch.rsqrt(1 + _PROBIT_LAMBDA * var_diff)
    # p_k ≈ 1 / Σ_j exp(-(z_k - z_j)/√(1+λ v_kj)), the j = k term being 1.
    p = torch.exp(-torch.logsumexp(-scaled, dim=-1))
    return p / p.sum(-1, keepdim=True)


def classification_proba(
    x: torch.Tensor,
    layers: Sequence[Layer],
    head: tuple[torch.Tensor, torch.Tensor],
    *,
    activation: str,
    floor: float,
    method: str = "auto",
    cross_cov: bool = True,
    chunk_rows: int = CHUNK_ROWS,
) -> torch.Tensor:
    """``E[softmax(logits)]`` of a Gaussian-activation classification network.

    The logits ``W h + b`` are approximated as Gaussian (mean and covariance
    from :func:`head_moments`) and :func:`softmax_gaussian_mean` is applied.

    Parameters
    ----------
    x : Tensor of shape (..., n, n_features)
    layers : sequence of (W_mu, b_mu, W_sig, b_sig)
    head : (weight (..., w_L, k), bias (..., k))
    activation : str
    floor : float
    method : {"auto", "sigma_points", "pairwise", "probit"}, default="auto"
        See :func:`softmax_gaussian_mean`.
    cross_cov : bool, default=True
    chunk_rows : int, default=2048
        Rows per chunk for one network (divided by the number of members).

    Returns
    -------
    proba : Tensor of shape (..., n, k)
    """

    def one(xb):
        hidden = propagate_hidden(xb, layers, activation, floor)
        m, cov = head_moments(hidden, *head, full_cov=True, cross_cov=cross_cov)
        return softmax_gaussian_mean(m, cov, method)

    return _by_chunks(one, x, chunk_rows, layers)
