"""Deterministic moment propagation (skbayes.nn._moments) against references.

References: scipy quadrature for the one-unit moments, many-draw Monte Carlo
of the network itself for the propagation (seeded, so the tests are
deterministic; tolerances are a few Monte-Carlo standard errors plus, where
the method approximates, a bound measured on these networks and stated next
to it).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import integrate, special, stats

from skbayes.nn._moments import (
    activation_moments,
    classification_proba,
    member_mixture,
    regression_moments,
    softmax_gaussian_mean,
    softplus_square_mean,
)

ACT = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "logistic": torch.sigmoid,
    "identity": lambda a: a,
}
DT = torch.float64
FLOOR, OUT_FLOOR = 1e-3, 1e-4


def _quad_moments(f, m, s, lower=-np.inf):
    """E f(a) and Var f(a), a ~ N(m, s²), by adaptive quadrature; f is
    constant below ``lower``."""
    lo, hi = max(m - 14 * s, lower), m + 14 * s
    pts = [0.0] if lo < 0 < hi else None
    kw = {"points": pts, "limit": 400, "epsabs": 0, "epsrel": 1e-12}
    dens = stats.norm(m, s).pdf
    below = stats.norm(m, s).cdf(lo) if lo > m - 14 * s else 0.0
    e1 = integrate.quad(lambda a: f(a) * dens(a), lo, hi, **kw)[0] + below * f(lo)
    c = f(m)  # centred second moment: no cancellation for small s
    e2 = integrate.quad(lambda a: (f(a) - c) ** 2 * dens(a), lo, hi, **kw)[0]
    e2 += below * (f(lo) - c) ** 2
    return e1, e2 - (e1 - c) ** 2


def _trapezoid_moments(f, m, s, n=40_001):
    """E f(a) and Var f(a) for arrays m, s, by the trapezoid rule on ±14 sd
    (exponentially accurate for smooth f times a Gaussian)."""
    t = np.linspace(-14, 14, n)
    w = stats.norm.pdf(t) * (t[1] - t[0])
    fa = f(m[:, None] + s[:, None] * t)
    e1 = fa @ w
    c = f(m)[:, None]
    return e1, ((fa - c) ** 2) @ w - (e1 - c[:, 0]) ** 2


def _grid(stds):
    m = np.linspace(-4, 4, 9)
    mm, ss = np.meshgrid(m, stds)
    return mm.ravel(), ss.ravel()


def test_relu_moments_closed_form_matches_quadrature():
    m, s = _grid([1e-3, 0.1, 0.7, 2.5])
    m = m * s * 1.5  # m/s from -6 to 6: both tails and the kink
    mean, var, gain = activation_moments(torch.tensor(m), torch.tensor(s**2), "relu")
    relu = lambda a: max(a, 0.0)  # noqa: E731
    ref = np.array([_quad_moments(relu, a, b, lower=0.0) for a, b in zip(m, s)])
    # Φ comes from erf (fast), exact to 1e-16 absolute: relative accuracy
    # only down to moments of ~1e-7 s (m/s ≈ -5); far tails to 1e-15 s.
    assert np.all(np.abs(mean.numpy() - ref[:, 0]) <= 1e-9 * ref[:, 0] + 1e-15 * s)
    assert np.all(np.abs(var.numpy() - ref[:, 1]) <= 1e-7 * ref[:, 1] + 1e-15 * s**2)
    np.testing.assert_allclose(
        gain.numpy(), special.ndtr(m / s), rtol=1e-12, atol=1e-16
    )


def test_relu_moments_far_tails_are_finite_and_exact():
    m = torch.tensor([-1e3, 1e3, 0.0], dtype=DT)
    mean, var, gain = activation_moments(m, torch.full((3,), 1e-6, dtype=DT), "relu")
    at_zero = 1e-3 / math.sqrt(2 * math.pi)  # s φ(0)
    np.testing.assert_allclose(mean.numpy(), [0.0, 1e3, at_zero], rtol=1e-15)
    np.testing.assert_allclose(var.numpy(), [0.0, 1e-6, 1e-6 * 0.5 - at_zero**2])
    np.testing.assert_array_equal(gain.numpy(), [0.0, 1.0, 0.5])


@pytest.mark.parametrize(
    ("name", "f"),
    [("tanh", np.tanh), ("logistic", special.expit)],
)
def test_tanh_logistic_moments_match_quadrature(name, f):
    m, s = _grid([0.01, 0.2, 0.45, 0.6, 1.0, 3.0])
    mean, var, gain = activation_moments(torch.tensor(m), torch.tensor(s**2), name)
    ref = np.stack(_trapezoid_moments(f, m, s), axis=1)
    # Large σ uses Σ w_i erf(c_i a), fitted to tanh and tanh' within 3.9e-5:
    # its Gaussian averages are within that of the truth (absolute).
    np.testing.assert_allclose(mean.numpy(), ref[:, 0], rtol=0, atol=4e-5)
    np.testing.assert_allclose(var.numpy(), ref[:, 1], rtol=0, atol=4e-5)
    # Small σ (tanh: σ < 0.5) uses quadrature: relative accuracy even where
    # the variance is tiny.
    scale = 1.0 if name == "tanh" else 0.5
    small = s * scale < 0.5
    np.testing.assert_allclose(var.numpy()[small], ref[small, 1], rtol=1e-3)
    # E[f'] by Stein's lemma: Cov(f(a), a) / v, from the same quadrature.
    d = {"tanh": lambda a: 1 - np.tanh(a) ** 2, "logistic": lambda a: f(a) * (1 - f(a))}
    ref_gain = _trapezoid_moments(d[name], m, s)[0]
    np.testing.assert_allclose(gain.numpy(), ref_gain, rtol=0, atol=1e-4)


def test_softplus_square_mean_matches_quadrature():
    m, s = _grid([0.1, 1.0, 2.0])
    got = softplus_square_mean(torch.tensor(m), torch.tensor(s**2), 0.01, 20)
    ref = _trapezoid_moments(lambda r: (np.logaddexp(0, r) + 0.01) ** 2, m, s)[0]
    # 20 nodes: ~1e-5 relative at σ = 2 (softplus is nearly a kink there).
    np.testing.assert_allclose(got.numpy(), ref, rtol=3e-5)


# ------------------------------------------------------------- networks
def _net(widths, seed, *, n_in=3, k=1, members=()):
    """Random Gaussian-activation network with σ ≈ 0.1-1 (as after training)."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*members, *shape, generator=g, dtype=DT)

    layers, prev = [], n_in
    for w in widths:
        layers.append(
            (
                r(prev, w) * 1.5 / math.sqrt(prev),
                r(w) * 0.5,
                r(prev, w) * 0.5 / math.sqrt(prev),
                r(w) * 0.5 - 1.0,
            )
        )
        prev = w
    head = (r(prev, k) / math.sqrt(prev), r(k) * 0.3)
    return layers, head


def _mc_hidden(x, layers, act, n_draws, seed):
    g = torch.Generator().manual_seed(seed)
    h = x.expand(n_draws, *x.shape)
    for W_mu, b_mu, W_sig, b_sig in layers:
        mu, sig = h @ W_mu + b_mu, F.softplus(h @ W_sig + b_sig) + FLOOR
        h = ACT[act](mu + sig * torch.randn(mu.shape, generator=g, dtype=DT))
    return h


def _mc_regression(x, layers, head, act, n_draws=40_000, seed=0):
    out = _mc_hidden(x, layers, act, n_draws, seed) @ head[0] + head[1]
    k = out.shape[-1] // 2
    mean, s2 = out[..., :k], (F.softplus(out[..., k:]) + OUT_FLOOR) ** 2
    dev = mean - mean.mean(0)
    # Standard errors of the three Monte-Carlo estimates.
    se = (
        mean.std(0) / math.sqrt(n_draws),
        ((dev**2).var(0) / n_draws).sqrt(),
        s2.std(0) / math.sqrt(n_draws),
    )
    return (mean.mean(0), dev.pow(2).mean(0), s2.mean(0)), se


# (mean in sd, relative epistemic var, relative aleatoric var): the
# approximation error allowed on top of 5 Monte-Carlo standard errors. One
# hidden layer: the mean and epistemic variance are exact up to the tanh
# surrogate (4e-5 per unit), E[std²] uses a Gaussian for the sum behind the
# std head (measured ≤ 1%). Two layers: moment matching of the second layer
# and first-order correlations (measured ≤ 0.04 sd, 8% and 4%).
ALLOW = {1: (1e-3, 1e-3, 0.02), 2: (0.06, 0.15, 0.08)}


@pytest.mark.parametrize("act", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("depth", [1, 2])
def test_regression_moments_match_monte_carlo(act, depth):
    layers, head = _net([12] * depth, seed=depth, k=2)
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(7), dtype=DT)
    mean, epi, ale = regression_moments(
        x, layers, head, activation=act, floor=FLOOR, output_floor=OUT_FLOOR
    )
    (r_mean, r_epi, r_ale), (se_m, se_e, se_a) = _mc_regression(x, layers, head, act)
    a_m, a_e, a_a = ALLOW[depth]
    sd = (r_epi + r_ale).sqrt()
    assert torch.all((mean - r_mean).abs() <= 5 * se_m + a_m * sd)
    assert torch.all((epi - r_epi).abs() <= 5 * se_e + a_e * r_epi)
    assert torch.all((ale - r_ale).abs() <= 5 * se_a + a_a * r_ale)


def test_cross_covariance_is_what_makes_two_layers_right():
    # Identity activation: Cov(h₂) = W₂ᵀ diag(v₁) W₂ + diag(E σ₂²) exactly,
    # so the epistemic variance is exact with the correlations, and the
    # diagonal (mean-field) approximation misses them.
    layers, head = _net([12, 12], seed=3, k=2)
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(8), dtype=DT)
    kw = {"activation": "identity", "floor": FLOOR, "output_floor": OUT_FLOOR}
    _, epi, _ = regression_moments(x, layers, head, **kw)
    _, epi_diag, _ = regression_moments(x, layers, head, cross_cov=False, **kw)
    (_, r_epi, _), (_, se_e, _) = _mc_regression(x, layers, head, "identity")
    assert torch.all((epi - r_epi).abs() <= 5 * se_e + 0.01 * r_epi)
    assert torch.any((epi_diag - r_epi).abs() > 5 * se_e + 0.1 * r_epi)


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_a_row_alone_equals_the_row_in_a_batch(act):
    layers, head = _net([16, 16], seed=4, n_in=5, k=4)
    # Inputs spread so that tanh's two branches (σ below/above 0.5) mix in
    # the batch but not in every single row.
    x = 3 * torch.randn(67, 5, generator=torch.Generator().manual_seed(9), dtype=DT)
    kw = {"activation": act, "floor": FLOOR, "output_floor": OUT_FLOOR}
    full = regression_moments(x, layers, head, **kw)
    chunked = regression_moments(x, layers, head, chunk_rows=5, **kw)
    perm = torch.randperm(67, generator=torch.Generator().manual_seed(1))
    shuffled = regression_moments(x[perm], layers, head, **kw)
    for i in (0, 13, 66):
        alone = regression_moments(x[i : i + 1], layers, head, **kw)
        for a, b in zip(alone, full, strict=True):
            np.testing.assert_allclose(a[0].numpy(), b[i].numpy(), rtol=1e-12)
    for a, b, c in zip(chunked, full, shuffled, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
        np.testing.assert_allclose(c.numpy(), b[perm].numpy(), rtol=1e-12)
    p_full = classification_proba(x, layers, head, activation=act, floor=FLOOR)
    p_one = classification_proba(x[5:6], layers, head, activation=act, floor=FLOOR)
    np.testing.assert_allclose(p_one[0].numpy(), p_full[5].numpy(), rtol=1e-12)


def test_member_dimension_broadcasts():
    n_members = 3
    layers, head = _net([8, 8], seed=5, k=2, members=(n_members,))
    x = torch.randn(10, 3, generator=torch.Generator().manual_seed(2), dtype=DT)
    kw = {"activation": "relu", "floor": FLOOR, "output_floor": OUT_FLOOR}
    stacked = regression_moments(x, layers, head, **kw)
    # Per-member inputs too, (M, n, d): e.g. bootstrap-resampled rows.
    xm = x.expand(n_members, *x.shape)
    stacked_x = regression_moments(xm, layers, head, **kw)
    proba = classification_proba(x, layers, head, activation="tanh", floor=FLOOR)
    for i in range(n_members):
        one_layers = [tuple(t[i] for t in layer) for layer in layers]
        one_head = tuple(t[i] for t in head)
        one = regression_moments(x, one_layers, one_head, **kw)
        for a, b, c in zip(stacked, stacked_x, one, strict=True):
            assert a.shape == (n_members, 10, 1)
            np.testing.assert_allclose(a[i].numpy(), c.numpy(), rtol=1e-12)
            np.testing.assert_allclose(b[i].numpy(), c.numpy(), rtol=1e-12)
        p = classification_proba(
            x, one_layers, one_head, activation="tanh", floor=FLOOR
        )
        np.testing.assert_allclose(proba[i].numpy(), p.numpy(), rtol=1e-12)


def test_member_mixture_is_the_pooled_monte_carlo():
    layers, head = _net([8], seed=6, k=2, members=(3,))
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(3), dtype=DT)
    kw = {"activation": "relu", "floor": FLOOR, "output_floor": OUT_FLOOR}
    mean, epi, ale = member_mixture(*regression_moments(x, layers, head, **kw))
    # Pool 20,000 draws of each member (1 layer: the moments are exact).
    outs = [
        _mc_hidden(x, [tuple(t[i] for t in lay) for lay in layers], "relu", 20_000, i)
        @ head[0][i]
        + head[1][i]
        for i in range(3)
    ]
    pooled = torch.cat(outs)[..., :1]
    se = pooled.std(0) / math.sqrt(pooled.shape[0])
    assert torch.all((mean - pooled.mean(0)).abs() <= 5 * se)
    np.testing.assert_allclose(epi.numpy(), pooled.var(0).numpy(), rtol=0.05)
    assert ale.shape == (4, 1)


# -------------------------------------------------------- classification
def _random_gaussians(k, n, seed, scale):
    g = torch.Generator().manual_seed(seed)
    mean = 2 * torch.randn(n, k, generator=g, dtype=DT)
    a = torch.randn(n, k, k, generator=g, dtype=DT) * scale / math.sqrt(k)
    return mean, a @ a.mT + 1e-6 * torch.eye(k, dtype=DT)


@pytest.mark.parametrize(("k", "max_err"), [(2, 0.03), (5, 0.08)])
def test_softmax_gaussian_mean_close_to_monte_carlo(k, max_err):
    mean, cov = _random_gaussians(k, 40, seed=0, scale=1.0)
    g = torch.Generator().manual_seed(1)
    z = torch.randn(20_000, 40, k, generator=g, dtype=DT)
    draws = mean + (torch.linalg.cholesky(cov) @ z.unsqueeze(-1)).squeeze(-1)
    ref = torch.softmax(draws, -1).mean(0)  # standard error < 0.004

    def kl(p):  # excess log-loss under the reference
        return (ref * (ref.log() - p.log())).sum(-1).mean().item()

    got = softmax_gaussian_mean(mean, cov)
    np.testing.assert_allclose(got.sum(-1).numpy(), 1.0, rtol=1e-12)
    # Measured on these Gaussians (logit sd ~1): 0.011 (k=2, pairwise) and
    # 0.048 (k=5, sigma points) max error; KL 1e-4 and 6e-4 nats.
    assert (got - ref).abs().max().item() < max_err
    assert kl(got) < 2e-3
    # Far better than ignoring the spread, and than the per-logit probit.
    assert kl(got) < 0.2 * kl(torch.softmax(mean, -1))
    assert kl(got) < 0.5 * kl(softmax_gaussian_mean(mean, cov, "probit"))


def test_binary_pairwise_is_the_probit_approximation():
    # Two classes: the pairwise rule reduces to E σ(d) ≈ σ(m_d / √(1 + π v_d / 8)),
    # checked against quadrature of E σ(d) (MacKay's bound ~0.02).
    mean, cov = _random_gaussians(2, 30, seed=2, scale=2.0)
    got = softmax_gaussian_mean(mean, cov, "pairwise")[:, 0].numpy()
    md = (mean[:, 0] - mean[:, 1]).numpy()
    vd = (cov[:, 0, 0] + cov[:, 1, 1] - 2 * cov[:, 0, 1]).numpy()
    ref = _trapezoid_moments(special.expit, md, np.sqrt(vd))[0]
    np.testing.assert_allclose(got, ref, atol=0.02)


@pytest.mark.parametrize("act", ["relu", "tanh"])
@pytest.mark.parametrize("depth", [1, 2])
def test_classification_proba_close_to_monte_carlo(act, depth):
    layers, head = _net([12] * depth, seed=10 + depth, k=4)
    head = (3 * head[0], head[1])  # confident logits, as after training
    x = torch.randn(20, 3, generator=torch.Generator().manual_seed(3), dtype=DT)
    got = classification_proba(x, layers, head, activation=act, floor=FLOOR)
    logits = _mc_hidden(x, layers, act, 20_000, seed=4) @ head[0] + head[1]
    ref = torch.softmax(logits, -1).mean(0)
    np.testing.assert_allclose(got.sum(-1).numpy(), 1.0, rtol=1e-12)
    # Gaussian logits + probit-type softmax: measured ≤ 0.03 here.
    assert (got - ref).abs().max().item() < 0.05
    ll_got = -(ref * got.log()).sum(-1).mean()
    ll_ref = -(ref * ref.log()).sum(-1).mean()
    assert abs(ll_got - ll_ref).item() < 0.02
