"""The true posterior predictive of Bayesian logistic / softmax regression by NUTS.

Benchmark-only helper of ``bench_classification.py`` (needs ``numpyro``, the
``bench`` extra). The model is the one ``BayesianLogisticRegression`` fits:

* weights ``w ~ N(0, σ²)`` i.i.d. on the (standardised) features, all ``K``
  columns for softmax, as in skbayes. Their common mode (the mean over the
  classes) is independent of the rest a priori and invisible to the softmax,
  so it is integrated out exactly: the sampler works in the ``K - 1``
  sum-zero coordinates (see ``_potential_gen``);
* a flat (improper) prior on the intercept. For softmax a flat prior on all
  ``K`` intercepts is improper in their common shift, which the likelihood
  never sees; the intercepts are sampled in the same ``K - 1`` sum-zero
  coordinates, the flat measure on the quotient, so the posterior predictive
  is unchanged;
* binary: Bernoulli with logit ``X @ w + b``; multiclass: categorical softmax.

The predictive is the mean over posterior draws of the class probabilities.
The sampler is numpyro's NUTS (functional ``hmc`` API on the explicit log
posterior, step size and diagonal mass adapted in the warm-up), compiled once
per data shape; it runs on the CPU in float64, chains one after another.
Results are cached on disk (``.npz``), keyed by everything that determines
them.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# One thread for XLA too: the machine is shared and the benchmark pins BLAS.
os.environ.setdefault(
    "XLA_FLAGS",
    "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
)

try:
    import jax
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp
    from numpyro.diagnostics import effective_sample_size, split_gelman_rubin
    from numpyro.infer.hmc import hmc

    jax.config.update("jax_enable_x64", True)
    HAVE_NUMPYRO = True
except ImportError:  # the benchmark prints a line and skips the NUTS columns
    HAVE_NUMPYRO = False

# Convergence warnings: split r_hat over 2 chains above 1.05 (Vehtari et al.
# 2021 ask < 1.01 with 4 chains) or a smallest ESS under 100 (a predictive
# mean then has a Monte-Carlo error of a few % of its spread).
RHAT_MAX = 1.05
NEFF_MIN = 100


@dataclass
class NutsSettings:
    num_warmup: int = 1000
    num_samples: int = 1000
    num_chains: int = 2
    target_accept: float = 0.8
    max_tree_depth: int = 10
    # "laplace": sample u with z = MAP + L u, L L' the inverse Hessian at the
    # MAP. A linear change of variables (same posterior, same predictive) that
    # removes the correlations a diagonal mass matrix cannot (digits).
    precondition: str = "none"

    def key(self) -> str:
        key = (
            f"w{self.num_warmup}-s{self.num_samples}-c{self.num_chains}"
            f"-a{self.target_accept}-t{self.max_tree_depth}"
        )
        return key if self.precondition == "none" else f"{key}-{self.precondition}"


def _sum_zero_basis(n_classes: int) -> np.ndarray:
    """Orthonormal basis Q (K, K-1) of the vectors whose entries sum to zero."""
    q, _ = np.linalg.qr(np.eye(n_classes) - 1.0 / n_classes)
    return q[:, : n_classes - 1]


def _potential_gen(n_classes: int):
    """Negative log posterior as a function of the flat parameter vector ``z``.

    Binary: ``z = [w (d), b]``, logit ``X @ w + b``. Softmax: ``z = [V (d, K-1)
    row-major, β (K-1)]``, logits ``(X @ V + β) @ Q.T``. ``W = V @ Q.T`` is
    the projection of the ``K`` weight columns on the sum-zero subspace: under
    ``W ~ N(0, σ²)`` entrywise, ``V ~ N(0, σ²)`` entrywise and the common mode
    ``W @ 1 / K`` is independent of ``V`` and of the data (the softmax does not
    see it), so sampling ``V`` alone gives the exact posterior predictive
    without the badly scaled common-mode direction. The intercept's flat
    prior adds nothing to the potential.
    """
    Q = None if n_classes == 2 else _sum_zero_basis(n_classes)

    def gen(X, Y, sigma, shift=None, L=None):
        d = X.shape[1]

        def potential(z):
            if L is not None:  # preconditioned: z = shift + L u
                z = shift + L @ z
            if n_classes == 2:
                w, f = z[:d], X @ z[:d] + z[d]
                loglik = jnp.sum(Y * f - jnp.logaddexp(0.0, f))
            else:
                w = z[: d * (n_classes - 1)].reshape(d, n_classes - 1)
                F = (X @ w + z[d * (n_classes - 1) :]) @ Q.T
                loglik = jnp.sum(Y * F) - jnp.sum(logsumexp(F, axis=1))
            return 0.5 * jnp.sum(w**2) / sigma**2 - loglik

        return potential

    return gen


def _n_params(d: int, n_classes: int) -> int:
    return d + 1 if n_classes == 2 else (d + 1) * (n_classes - 1)


if HAVE_NUMPYRO:

    @functools.partial(jax.jit, static_argnums=(0, 1, 2, 3, 4))
    def _chain(
        n_classes,
        num_warmup,
        num_samples,
        target_accept,
        max_tree_depth,
        key,
        X,
        y,
        sigma,
        shift,
        L,
    ):
        """One NUTS chain (warm-up adapts step size and diagonal mass) of
        ``u``, ``z = shift + L u``; returns the draws of ``u``.

        Compiled once per data shape: every split and σ reuses it.
        """
        init_kernel, sample_kernel = hmc(
            potential_fn_gen=_potential_gen(n_classes), algo="NUTS"
        )
        k_init, k_run = jax.random.split(key)
        n_params = _n_params(X.shape[1], n_classes)
        # numpyro's default: uniform(-2, 2) in the unconstrained space.
        z0 = jax.random.uniform(k_init, (n_params,), minval=-2.0, maxval=2.0)
        args = (X, y, sigma, shift, L)
        state = init_kernel(
            z0,
            num_warmup=num_warmup,
            model_args=args,
            rng_key=k_run,
            target_accept_prob=target_accept,
            max_tree_depth=max_tree_depth,
        )

        def step(state, _):
            state = sample_kernel(state, model_args=args)
            return state, (state.z, state.num_steps, state.diverging)

        _, (z, steps, div) = jax.lax.scan(
            step, state, None, length=num_warmup + num_samples
        )
        return z[num_warmup:], steps[num_warmup:], div[num_warmup:]


def _predictive(z: np.ndarray, X_test: np.ndarray, n_classes: int) -> np.ndarray:
    """Mean over draws ``z`` (n_draws, n_params) of the class probabilities."""
    d = X_test.shape[1]
    if n_classes == 2:
        f = z[:, :d] @ X_test.T + z[:, d : d + 1]  # (draws, n_test)
        p1 = (0.5 * (1.0 + np.tanh(0.5 * f))).mean(axis=0)
        return np.column_stack([1.0 - p1, p1])
    Q = _sum_zero_basis(n_classes)
    V = z[:, : d * (n_classes - 1)].reshape(-1, d, n_classes - 1)
    beta = z[:, d * (n_classes - 1) :]
    P = np.zeros((X_test.shape[0], n_classes))
    for Vi, bi in zip(V, beta):  # one draw at a time keeps memory small
        F = (X_test @ Vi + bi) @ Q.T
        F = np.exp(F - F.max(axis=1, keepdims=True))
        P += F / F.sum(axis=1, keepdims=True)
    return P / len(z)


def _laplace(X, Y, sigma, n_classes):
    """MAP and Cholesky factor of the inverse Hessian there (the Laplace fit)."""
    potential = _potential_gen(n_classes)(X, Y, sigma)
    value_and_grad = jax.jit(jax.value_and_grad(potential))
    n_params = _n_params(X.shape[1], n_classes)
    res = minimize(
        lambda z: tuple(np.asarray(a, dtype=np.float64) for a in value_and_grad(z)),
        np.zeros(n_params),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 10_000, "gtol": 1e-9, "ftol": 0.0},
    )
    H = np.asarray(jax.hessian(potential)(jnp.asarray(res.x)))
    # The flat intercept and separable data can leave H nearly singular.
    w, V = np.linalg.eigh(0.5 * (H + H.T))
    w = np.maximum(w, 1e-8 * w.max())
    return res.x, V / np.sqrt(w)


def _run(X, y, X_test, n_classes, sigma, settings: NutsSettings, seed: int):
    keys = jax.random.split(jax.random.PRNGKey(seed), settings.num_chains)
    Y = y.astype(np.float64) if n_classes == 2 else np.eye(n_classes)[y]
    args = (jnp.asarray(X), jnp.asarray(Y), jnp.asarray(float(sigma)))
    n_params = _n_params(X.shape[1], n_classes)
    start = time.perf_counter()
    if settings.precondition == "laplace":
        shift, L = _laplace(*args, n_classes)
    else:
        shift, L = np.zeros(n_params), np.eye(n_params)
    args += (jnp.asarray(shift), jnp.asarray(L))
    start = time.perf_counter()
    chains, steps, n_div = [], 0, 0
    for key in keys:  # sequential chains: one core
        z, n_steps, div = _chain(
            n_classes,
            settings.num_warmup,
            settings.num_samples,
            settings.target_accept,
            settings.max_tree_depth,
            key,
            *args,
        )
        chains.append(shift + np.asarray(z) @ L.T)
        steps += int(np.sum(n_steps))
        n_div += int(np.sum(div))
    seconds = time.perf_counter() - start
    z = np.stack(chains)  # (chains, draws, params)
    rhat = float(np.max(split_gelman_rubin(z)))
    neff = float(np.min(effective_sample_size(z)))
    proba = _predictive(z.reshape(-1, z.shape[2]), X_test, n_classes)
    # Per-chain predictives: their spread shows the Monte-Carlo error of proba.
    chain_proba = np.stack([_predictive(c, X_test, n_classes) for c in chains])
    n_draws = settings.num_chains * settings.num_samples
    return proba, chain_proba, rhat, neff, n_div, steps / n_draws, seconds


def nuts_predictive(
    X: np.ndarray,
    y: np.ndarray,
    X_test: np.ndarray,
    *,
    n_classes: int,
    sigma: float,
    settings: NutsSettings,
    cache_dir: Path | None,
    tag: str,
    seed: int = 0,
    compute: bool = True,
) -> dict | None:
    """NUTS posterior predictive on ``X_test``, from the cache when present.

    ``y`` holds class indices ``0 .. n_classes - 1``. ``tag`` names the data
    set and split (it goes into the cache key beside a hash of the arrays,
    so a changed split or scaler never reuses a stale result). With
    ``compute=False`` a result missing from the cache gives None.

    Returns a dict with ``proba`` (n_test, n_classes), ``chain_proba``
    (n_chains, n_test, n_classes), ``rhat`` (largest split r_hat), ``neff``
    (smallest effective sample size), ``divergences`` (after warm-up),
    ``mean_steps`` (leapfrog steps per draw after warm-up) and
    ``seconds`` (the sampling time, compilation included, when computed).
    """
    digest = hashlib.sha1()
    for a in (X, y, X_test):
        digest.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    key = f"{tag}-sigma{sigma:g}-{settings.key()}-seed{seed}-{digest.hexdigest()[:12]}"
    path = None if cache_dir is None else Path(cache_dir) / f"{key}.npz"
    if path is not None and path.exists():
        with np.load(path) as f:
            return {k: (f[k] if f[k].ndim else f[k].item()) for k in f.files}
    if not compute:
        return None
    proba, chains, rhat, neff, n_div, mean_steps, seconds = _run(
        X, y.astype(np.int32), X_test, n_classes, sigma, settings, seed
    )
    out = {
        "proba": proba,
        "chain_proba": chains,
        "rhat": rhat,
        "neff": neff,
        "divergences": n_div,
        "mean_steps": mean_steps,
        "seconds": seconds,
    }
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **out)
        os.replace(tmp, path)
    return out
