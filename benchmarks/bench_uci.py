"""StochasticMLPRegressor on the six UCI regression sets, beside its peers.

For each data set and standard 90/10 split (from ``../shared/data/uci``, see
its README) the script fits, on the same arrays and in the same run:

* ``StochasticMLPRegressor`` with its plain defaults (``n_estimators=5``
  anchored members of one hidden layer of 50), what a user gets from
  ``StochasticMLPRegressor()``. With ``--select`` (an option, labelled as
  such in the output) it instead chooses per split, on the training split
  only, between the defaults and two hidden layers of 50
  (``SELECTION_GRID``) by NLL on the estimator's own inner validation split
  (10% of the training rows, the one its early stopping uses); the deeper one
  only when better by more than 2 paired standard errors;
* scikit-learn's ``MLPRegressor`` (defaults, ``hidden_layer_sizes=(50,)``) on
  standardised inputs and target, with a homoscedastic Gaussian σ set to the
  RMS of its training residuals.

It prints test RMSE and test NLL (mean negative Gaussian log predictive
density) in the original units of y, mean ± standard error over the splits,
the fit time per split, and the published NLL of PBP, MC dropout, Deep
Ensembles (M=5) and NGBoost read at run time from the data README (reference
numbers, not computed here), with the count of sets where the estimator's mean
NLL is at or below Deep Ensembles'. No hyperparameter looks at the test split.

It then times one training epoch of the estimator against a plain torch
autograd loop of the same batched network (same members, anchors, loss, prior
term, Adam and per-member minibatches), best of 3 after a warm-up; the goal is
``epoch time <= 1.2 x plain loop``.

Usage::

    python benchmarks/bench_uci.py                 # defaults, all sets, 20 splits
    python benchmarks/bench_uci.py --splits 5      # first 5 splits of each
    python benchmarks/bench_uci.py --quick         # smoke run (CI)
    python benchmarks/bench_uci.py --select        # per-split selection (option)
    python benchmarks/bench_uci.py --set anchored=False   # a non-default variant
    python benchmarks/bench_uci.py --datasets yacht energy --set max_iter=500
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from threadpoolctl import threadpool_limits

try:
    from skbayes import StochasticMLPRegressor
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from skbayes import StochasticMLPRegressor

from skbayes._priors import resolve_prior
from skbayes.nn._fused import PriorTerm
from skbayes.nn._heads import GaussianHead
from skbayes.nn._modules import ACTIVATIONS, StochasticMLP

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import best_of, environment  # beside this file

DATASETS = [
    "concrete",
    "energy",
    "yacht",
    "wine-quality-red",
    "kin8nm",
    "power-plant",
]
PEERS = ["PBP", "MC dropout (2016)", "Deep Ensembles (M=5)", "NGBoost"]
EPOCH_GOAL = 1.2
DE_GOAL = 5  # sets (of 6) at or below Deep Ensembles' published NLL
# Per-split model selection (--select only), on the training split. Each candidate is
# fitted with the estimator's own early stopping (its inner validation split,
# 10% of the training rows, the same rows for every candidate) and kept as
# fitted: one network, no ensemble of the grid and no refit. The first
# candidate (the defaults) is kept unless another has a smaller validation NLL
# by more than SELECT_N_SE paired standard errors (over the validation rows)
# -- a k-s.e. rule that prefers the smaller network when the validation split
# cannot tell them apart. Candidates override the estimator's defaults.
SELECTION_GRID = [{}, {"hidden_layer_sizes": (50, 50)}]
SELECT_N_SE = 2.0
DEFAULT_DATA_DIR = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "uci"
)


def published_nll(readme: Path) -> dict[str, dict[str, float]]:
    """The published test-NLL table of the data README, by data set and method."""
    table: dict[str, dict[str, float]] = {}
    header = None
    for line in readme.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 5 or not line.lstrip().startswith("|"):
            continue
        if cells[0] == "data":
            header = cells[1:]
            continue
        if header is None or set(cells[1]) <= set("-: "):
            continue
        # The README writes negative numbers with a minus sign, U+2212.
        values = [float(c.replace("\u2212", "-")) for c in cells[1:]]
        table[cells[0]] = dict(zip(header, values))
    return table


def load_split(data_dir: Path, name: str, k: int):
    folder = data_dir / name
    data = np.loadtxt(folder / "data.txt")
    feat = np.loadtxt(folder / "index_features.txt", dtype=int, ndmin=1)
    target = int(np.loadtxt(folder / "index_target.txt", dtype=int))
    train = np.loadtxt(folder / f"index_train_{k}.txt", dtype=int)
    test = np.loadtxt(folder / f"index_test_{k}.txt", dtype=int)
    X, y = data[:, feat], data[:, target]
    return X[train], y[train], X[test], y[test]


def n_splits_of(data_dir: Path, name: str) -> int:
    return int((data_dir / name / "n_splits.txt").read_text().split()[0])


def nll(y, mean, std) -> float:
    return float(-np.mean(stats.norm.logpdf(y, loc=mean, scale=std)))


def rmse(y, mean) -> float:
    return float(np.sqrt(np.mean((y - mean) ** 2)))


def fit_skbayes(X, y, Xt, seed, params):
    est = StochasticMLPRegressor(random_state=seed, **params)
    t0 = time.perf_counter()
    est.fit(X, y)
    fit_time = time.perf_counter() - t0
    mean, std = est.predict_dist(Xt)
    return mean, std, fit_time, est.n_iter_


def fit_selected(X, y, Xt, seed, params, grid):
    """Fit every candidate of ``grid``; predict with the one selected.

    Only the training split is looked at: per-row NLLs on the estimator's
    inner validation rows (``early_stopping``'s split). The fit time is that of
    the whole grid. Returns the index of the chosen candidate too.
    """
    if not grid:
        return (*fit_skbayes(X, y, Xt, seed, params), None)
    fits, val_nll = [], []
    t0 = time.perf_counter()
    for cand in grid:
        est = StochasticMLPRegressor(random_state=seed, **{**params, **cand})
        est.fit(X, y)
        fits.append(est)
    fit_time = time.perf_counter() - t0
    for est in fits:
        _, val_idx = est._split_indices(y)
        m, s = est.predict_dist(X[val_idx])
        val_nll.append(-stats.norm.logpdf(y[val_idx], loc=m, scale=s))
    best = 0
    for j in range(1, len(grid)):
        diff = val_nll[j] - val_nll[best]
        se = diff.std(ddof=1) / np.sqrt(len(diff))
        if diff.mean() < -SELECT_N_SE * se:
            best = j
    mean, std = fits[best].predict_dist(Xt)
    return mean, std, fit_time, fits[best].n_iter_, best


def fit_mlp(X, y, Xt, seed):
    # Standardise on the training split, as the papers' protocol does.
    xm, xs = X.mean(0), X.std(0)
    xs[xs == 0] = 1.0
    ym, ys = y.mean(), y.std()
    est = MLPRegressor(hidden_layer_sizes=(50,), random_state=seed)
    t0 = time.perf_counter()
    est.fit((X - xm) / xs, (y - ym) / ys)
    fit_time = time.perf_counter() - t0
    resid = y - (est.predict((X - xm) / xs) * ys + ym)
    sigma = float(np.sqrt(np.mean(resid**2)))  # homoscedastic, training residuals
    mean = est.predict((Xt - xm) / xs) * ys + ym
    return mean, np.full_like(mean, sigma), fit_time, est.n_iter_


def mean_se(values) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    se = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else float("nan")
    return float(v.mean()), float(se)


def fmt(values) -> str:
    m, se = mean_se(values)
    return f"{m:.2f} ± {se:.2f}" if np.isfinite(se) else f"{m:.2f}"


# ------------------------------------------------------------ epoch timing
def _members_forward(net: StochasticMLP, x: torch.Tensor, noises) -> torch.Tensor:
    """Raw outputs ``(M, S, R, P)`` for per-member rows ``x`` ``(M, R, d)``."""
    m, s = noises[0].shape[:2]
    r = x.shape[-2]
    h = x
    for i, layer in enumerate(net.hidden):
        mu, sigma = layer.moments(h)
        if i == 0:  # the draws share the first layer's μ and σ
            mu, sigma = mu.unsqueeze(1), sigma.unsqueeze(1)
        else:
            mu, sigma = mu.view(m, s, r, -1), sigma.view(m, s, r, -1)
        a = mu + sigma * noises[i]
        h = ACTIVATIONS[layer.activation](a).view(m, -1, layer.out_features)
    out = torch.baddbmm(net.out_bias, h, net.out_weight)
    return out.view(m, s, r, -1)


def plain_loop_epoch_time(X, y, est_params, n_epochs, seed=0) -> float:
    """Seconds per epoch of a bare torch autograd loop training the same network.

    Like with like: the estimator's ``n_estimators`` members as one batched
    module, each with its own minibatch order and noise, anchored when the
    estimator is, the same prior term and Adam.
    """
    hidden = est_params["hidden_layer_sizes"]
    M = est_params["n_estimators"]
    S = est_params["n_train_samples"]
    gens = [torch.Generator().manual_seed(seed + m) for m in range(M)]
    head = GaussianHead(1)
    net = StochasticMLP(
        X.shape[1],
        hidden,
        head.n_outputs,
        est_params["activation"],
        n_members=M,
        anchored=est_params["anchored"],
    )
    net.reset_parameters(gens, 0.5, head.init_bias())
    Xs = (X - X.mean(0)) / X.std(0)
    ys = (y - y.mean()) / y.std()
    Xt = torch.tensor(Xs, dtype=torch.float32)
    yt = torch.tensor(ys[:, None], dtype=torch.float32)
    n = len(Xt)
    batch = est_params["batch_size"]
    bs = min(200 if batch == "auto" else batch, n)
    opt = torch.optim.Adam(net.parameters(), lr=est_params["learning_rate_init"])
    prior, _ = resolve_prior(est_params["prior"], est_params["prior_scale"], X.shape[1])
    penalty = None if prior.is_flat else PriorTerm(prior, n)
    anchors = net.anchors()
    t0 = time.perf_counter()
    for _ in range(n_epochs):
        perm = torch.stack([torch.randperm(n, generator=g) for g in gens])
        for start in range(0, n, bs):
            idx = perm[:, start : start + bs]  # (M, R): each member's rows
            noises = net.sample_noise(S, idx.shape[1], gens)
            out = _members_forward(net, Xt[idx], noises)
            loss = head.nll(out, yt[idx]).sum() / (S * idx.shape[1])
            if penalty is not None:
                w = net.weights()
                if anchors is not None:
                    w = [wi - a for wi, a in zip(w, anchors, strict=True)]
                loss = loss + penalty.torch_value(w)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return (time.perf_counter() - t0) / n_epochs


def estimator_epoch_time(X, y, est_params, n_epochs, seed=0) -> float:
    params = dict(est_params)
    params.update(max_iter=n_epochs, n_iter_no_change=np.inf, early_stopping=False)
    est = StochasticMLPRegressor(random_state=seed, **params)
    t0 = time.perf_counter()
    est.fit(X, y)
    return (time.perf_counter() - t0) / est.n_iter_


# -------------------------------------------------------------------- main
def header() -> str:
    return "\n".join(environment(bullet=""))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--splits", type=int, default=None, help="splits per set")
    parser.add_argument("--datasets", nargs="+", default=DATASETS, choices=DATASETS)
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a StochasticMLPRegressor default (for exploring only)",
    )
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument(
        "--select",
        action="store_true",
        help="an option, not the defaults: per split, choose one of SELECTION_GRID "
        "on the training split's inner validation NLL",
    )
    args = parser.parse_args(argv)

    params = {}
    for item in args.set:
        key, value = item.split("=", 1)
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    if args.quick:
        args.datasets = args.datasets if args.datasets != DATASETS else ["yacht"]
        params.setdefault("max_iter", 20)
        args.splits = args.splits or 2

    torch.set_num_threads(1)  # in the benchmark only, never in the library
    warnings.simplefilter("ignore", ConvergenceWarning)
    data_dir = args.data_dir.resolve()
    published = published_nll(data_dir / "README.md")

    print(header())
    print(f"data: {data_dir}")
    grid = SELECTION_GRID if args.select else []
    # What the table's StochasticMLP column is: the plain defaults unless an
    # option changed them, and then said so.
    label = "defaults" + (f" + {params}" if params else "")
    if grid:
        label = f"per-split selection ({label} or {grid[1:]})"
    est = StochasticMLPRegressor(**params)
    print(
        f"StochasticMLPRegressor: {label}; n_estimators={est.n_estimators}, "
        f"anchored={est.anchored}, hidden_layer_sizes={est.hidden_layer_sizes}"
    )
    if grid:
        print(
            f"  SELECTION (an option, not the defaults): per split, one of {grid} "
            f"chosen on the inner validation split (training split only): the "
            f"first unless another's NLL is lower by > {SELECT_N_SE:g} paired s.e."
        )
    print()

    rows = []
    with threadpool_limits(1):
        # Warm-up: torch's first backward pass and allocations are slow.
        X, y, _, _ = load_split(data_dir, args.datasets[0], 0)
        fit_skbayes(X, y, X[:5], 0, {**params, "max_iter": 2})
        for name in args.datasets:
            n_splits = n_splits_of(data_dir, name)
            if args.splits:
                n_splits = min(n_splits, args.splits)
            res = {
                k: []
                for k in (
                    "sk_rmse",
                    "sk_nll",
                    "sk_t",
                    "sk_it",
                    "sk_pick",
                    "mlp_rmse",
                    "mlp_nll",
                    "mlp_t",
                )
            }
            for k in range(n_splits):
                X, y, Xt, yt = load_split(data_dir, name, k)
                m, s, t, it, pick = fit_selected(X, y, Xt, k, params, grid)
                res["sk_pick"].append(pick)
                res["sk_rmse"].append(rmse(yt, m))
                res["sk_nll"].append(nll(yt, m, s))
                res["sk_t"].append(t)
                res["sk_it"].append(it)
                m, s, t, _ = fit_mlp(X, y, Xt, k)
                res["mlp_rmse"].append(rmse(yt, m))
                res["mlp_nll"].append(nll(yt, m, s))
                res["mlp_t"].append(t)
                # Per split as it finishes: a cut-short run still has its numbers.
                print(
                    f"    {name} split {k}: NLL {res['sk_nll'][-1]:.3f}, "
                    f"RMSE {res['sk_rmse'][-1]:.3f}, {res['sk_t'][-1]:.1f} s, "
                    f"{res['sk_it'][-1]} epochs (MLPRegressor NLL "
                    f"{res['mlp_nll'][-1]:.3f}, RMSE {res['mlp_rmse'][-1]:.3f}, "
                    f"{res['mlp_t'][-1]:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
            rows.append((name, n_splits, res))
            print(
                f"  {name}: {n_splits} splits, NLL {fmt(res['sk_nll'])} "
                f"(MLPRegressor {fmt(res['mlp_nll'])}), "
                f"{np.mean(res['sk_t']):.1f} s/fit, "
                f"{np.mean(res['sk_it']):.0f} epochs"
                + (
                    f", picks {np.bincount(res['sk_pick'], minlength=len(grid))}"
                    if grid
                    else ""
                ),
                file=sys.stderr,
                flush=True,
            )

    print("### Test NLL (lower is better), original units, mean ± s.e.\n")
    print(
        f"| data | splits | StochasticMLP, {label} | MLPRegressor + \u03c3 | "
        + " | ".join(f"{p}*" for p in PEERS)
        + " | ≤ DE | < PBP |"
    )
    print("|---|---:|---:|---:|" + "---:|" * len(PEERS) + ":---:|:---:|")
    n_de = n_pbp = 0
    for name, n_splits, res in rows:
        ours = mean_se(res["sk_nll"])[0]
        pub = published.get(name, {})
        de, pbp = pub.get(PEERS[2], np.nan), pub.get(PEERS[0], np.nan)
        # Compared at the precision the papers publish (2 decimals).
        beat_de, beat_pbp = round(ours, 2) <= de, round(ours, 2) < pbp
        n_de += beat_de
        n_pbp += beat_pbp
        print(
            f"| {name} | {n_splits} | {fmt(res['sk_nll'])} | {fmt(res['mlp_nll'])} | "
            + " | ".join(f"{pub.get(p, np.nan):.2f}" for p in PEERS)
            + f" | {'yes' if beat_de else 'no'} | {'yes' if beat_pbp else 'no'} |"
        )
    print(
        f"\nStochasticMLP ({label}): mean test NLL at or below Deep Ensembles' on "
        f"{n_de}/{len(rows)} sets (goal ≥ {DE_GOAL}/6 with the plain defaults), "
        f"below PBP on {n_pbp}/{len(rows)}.\n"
        "*published numbers (20 splits), read from the data README; not computed "
        "here. Comparisons at their precision (2 decimals).\n"
    )
    if grid:
        for name, _, res in rows:
            counts = np.bincount(res["sk_pick"], minlength=len(grid))
            print(f"- {name}: candidate picked per split {counts.tolist()}")
        print("(selection: fit time below is that of the whole grid)\n")

    print("### Test RMSE (original units) and fit time, mean ± s.e.\n")
    print(
        "| data | n_train | StochasticMLP RMSE | MLPRegressor RMSE | "
        "StochasticMLP fit s | MLPRegressor fit s | epochs | time ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, _, res in rows:
        X, _, _, _ = load_split(data_dir, name, 0)
        ratio = np.mean(res["sk_t"]) / np.mean(res["mlp_t"])
        print(
            f"| {name} | {len(X)} | {fmt(res['sk_rmse'])} | {fmt(res['mlp_rmse'])} | "
            f"{np.mean(res['sk_t']):.2f} | {np.mean(res['mlp_t']):.2f} | "
            f"{np.mean(res['sk_it']):.0f} | {ratio:.2f} |"
        )
    print()

    if args.no_timing:
        return 0
    print(
        "### Epoch time: estimator vs plain torch autograd loop of the same "
        "batched network (best of 3 after warm-up)\n"
    )
    timing_sets = ["yacht"] if args.quick else ["concrete", "kin8nm", "power-plant"]
    n_epochs = 20 if args.quick else 10  # fit setup is amortised over these
    # Time the largest network of the grid; the same members for both.
    params = {**params, **(grid[-1] if grid else {})}
    defaults = StochasticMLPRegressor(**params).get_params()
    print(
        f"network: hidden_layer_sizes={defaults['hidden_layer_sizes']}, "
        f"n_estimators={defaults['n_estimators']}, anchored={defaults['anchored']}, "
        f"{n_epochs} epochs per timing\n"
    )
    print(
        "| data | n_train | estimator ms/epoch | plain loop ms/epoch | ratio | goal |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    with threadpool_limits(1):
        for name in timing_sets:
            X, y, _, _ = load_split(data_dir, name, 0)
            # clock=None: each call times its epochs itself, set-up left out.
            t_est = best_of(
                lambda X=X, y=y: estimator_epoch_time(X, y, params, n_epochs),
                clock=None,
            )
            t_plain = best_of(
                lambda X=X, y=y: plain_loop_epoch_time(X, y, defaults, n_epochs),
                clock=None,
            )
            ratio = t_est / t_plain
            print(
                f"| {name} | {len(X)} | {1e3 * t_est:.1f} | {1e3 * t_plain:.1f} | "
                f"{ratio:.2f} | {'ok' if ratio <= EPOCH_GOAL else 'MISSED'} "
                f"(≤ {EPOCH_GOAL}) |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
