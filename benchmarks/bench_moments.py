"""Deterministic predict_dist of the stochastic network: accuracy and time.

For trained ``StochasticMLPRegressor`` networks (hidden (50,) and (50, 50),
relu and tanh, on the showcase's heteroscedastic data and the UCI concrete
set, split 0) the script compares, on the test rows, against a 10,000-draw
Monte Carlo reference of the predictive mixture:

* ``moments``: :func:`skbayes.nn._moments.regression_moments` (deterministic
  moment propagation, float64);
* ``crn-100``: the estimator's current ``predict_dist`` (100 common random
  numbers, float64);
* ``qmc-S``: S scrambled-Sobol noise draws (inverse normal cdf), common to
  every row, float64.

Errors per row: ``|mean - ref| / ref_std``, ``|std / ref_std - 1|`` and
``|epistemic_std / ref_epistemic_std - 1|``; the table gives the median and
the 99th percentile over the test rows. Time: ``predict`` on 100,000 rows
against scikit-learn's ``MLPRegressor.predict`` of the same architecture,
best of 5 after a warm-up, one thread (the current CRN-100 path: one run).

Usage::

    python benchmarks/bench_moments.py           # full run (long: fits 14 networks)
    python benchmarks/bench_moments.py --datasets concrete --configs 50:relu 50-50:tanh
    python benchmarks/bench_moments.py --task classification
    python benchmarks/bench_moments.py --quick   # smoke run
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy import stats
from scipy.stats import qmc
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from threadpoolctl import threadpool_limits

try:
    from skbayes import StochasticMLPRegressor
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from skbayes import StochasticMLPRegressor
from skbayes.datasets import make_heteroscedastic
from skbayes.nn._heads import GaussianHead
from skbayes.nn._moments import classification_proba, regression_moments

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import best_of, environment  # beside this file

try:  # the classifier is newer than this script; skip its table without it
    from skbayes.nn._classifier import StochasticMLPClassifier
except ImportError:
    StochasticMLPClassifier = None

UCI = Path(__file__).resolve().parents[2] / "shared" / "data" / "uci"


def load_data(name: str, n_test_max: int):
    if name == "heteroscedastic":
        X, y = make_heteroscedastic(2000, random_state=0)
        Xt, _ = make_heteroscedastic(n_test_max, random_state=1)
        return X, y, Xt
    root = UCI / name
    data = np.loadtxt(root / "data.txt")
    f = np.loadtxt(root / "index_features.txt", dtype=int)
    t = int(np.loadtxt(root / "index_target.txt"))
    tr = np.loadtxt(root / "index_train_0.txt", dtype=int)
    te = np.loadtxt(root / "index_test_0.txt", dtype=int)[:n_test_max]
    return data[tr][:, f], data[tr, t], data[te][:, f]


def tensors(est):
    """The plain tensors regression_moments needs, from the fitted module."""
    mod = est.module_
    return {
        "layers": mod.layer_weights(),
        "head": mod.head_weights(),
        "activation": mod.config["activation"],
        "floor": mod.config["floor"],
        "output_floor": GaussianHead(1).floor,
    }


def _scale(est, X):
    return torch.as_tensor(est._x_scaling.transform(X, np.float64))


def _mixture(mean, epi, ale, axis):
    """Moments of the equal-weight mixture over ``axis`` (members)."""
    m = mean.mean(axis)
    return m, (epi + (mean - m) ** 2).mean(axis), ale.mean(axis)


def _unscale(est, mean, epi, ale):
    sc = est._y_scaling
    ys = sc.scale[0]
    return mean * ys + sc.mean[0], np.sqrt(epi) * ys, np.sqrt(ale) * ys


def predict_moments(est, X):
    t = tensors(est)
    with torch.no_grad():
        m, e, a = regression_moments(_scale(est, X), **t)  # (M, n, 1)
    m, e, a = (u[..., 0].numpy() for u in (m, e, a))
    return _unscale(est, *_mixture(m, e, a, 0))


def predict_bank(est, X, noises):
    """Mixture moments over a bank of noise, (M, S, 1 or n, width) per layer."""
    head = GaussianHead(1)
    # A bank with one member dimension serves every member (each member's
    # integral over the same quasi-random points).
    M = est.module_.n_members
    noises = [z.expand(M, *z.shape[1:]) for z in noises]
    with torch.no_grad():
        x = _scale(est, X)
        S = noises[0].shape[1]
        ms, s2 = [], []
        for i in range(0, S, 250):
            out = est.module_(x, [z[:, i : i + 250] for z in noises], torch.float64)
            mean, std = head.mean_std(out)
            ms.append(mean[..., 0])
            s2.append(std[..., 0] ** 2)
        m, s2 = torch.cat(ms, 1), torch.cat(s2, 1)  # (M, S, n)
        m, s2 = m.flatten(0, 1), s2.flatten(0, 1)
        return _unscale(
            est, m.mean(0).numpy(), m.var(0, correction=0).numpy(), s2.mean(0).numpy()
        )


def mc_reference(est, X, n_draws, seed=123, chunk=250):
    """Fresh noise per row and draw, generated chunk by chunk (memory)."""
    gen = torch.Generator().manual_seed(seed)
    M, head = est.module_.n_members, GaussianHead(1)
    x = _scale(est, X)
    s1 = s2 = a2 = 0.0
    with torch.no_grad():
        for _ in range(0, n_draws, chunk):
            noises = [
                torch.randn(
                    (M, chunk, X.shape[0], w), generator=gen, dtype=torch.float64
                )
                for w in est.module_.widths
            ]
            mean, std = head.mean_std(est.module_(x, noises, torch.float64))
            m = mean[..., 0].flatten(0, 1)
            s1, s2 = s1 + m.sum(0), s2 + m.square().sum(0)
            a2 = a2 + std[..., 0].square().flatten(0, 1).sum(0)
    n = M * (n_draws // chunk) * chunk
    m = s1 / n
    return _unscale(est, m.numpy(), (s2 / n - m**2).numpy(), (a2 / n).numpy())


def qmc_bank(widths, n_draws, seed=0):
    u = qmc.Sobol(sum(widths), scramble=True, seed=seed).random(n_draws)
    z = torch.as_tensor(stats.norm.ppf(u), dtype=torch.float64)
    return [c[None, :, None] for c in z.split(list(widths), dim=1)]


def errors(pred, ref):
    m, e, a = pred
    rm, re_, ra = ref
    rs, s = np.sqrt(re_**2 + ra**2), np.sqrt(e**2 + a**2)
    out = {}
    for key, err in (
        ("mean", np.abs(m - rm) / rs),
        ("std", np.abs(s / rs - 1)),
        ("epi", np.abs(e / re_ - 1)),
    ):
        out[key] = (np.median(err), np.quantile(err, 0.99))
    return out


def header():
    print(*environment(), sep="\n")
    print("- 1 thread (threadpool_limits(1), torch.set_num_threads(1)); best of 5\n")


def run_one(data, hidden, act, quick):
    """Accuracy rows (method, errors) and time rows (method, s, ratio)."""
    X, y, Xt, Xbig = data
    n_ref, max_iter, repeats = (2000, 20, 1) if quick else (10_000, 1000, 5)
    est = StochasticMLPRegressor(
        hidden_layer_sizes=hidden, activation=act, max_iter=max_iter, random_state=0
    ).fit(X, y)
    widths = est.module_.widths
    ref = mc_reference(est, Xt, n_ref)
    d = est.predict_dist(Xt)
    methods = {
        "moments": predict_moments(est, Xt),
        "crn-100 (current)": (d.mean, d.epistemic_std, d.aleatoric_std),
    }
    for S in (16, 64):
        methods[f"qmc-{S}"] = predict_bank(est, Xt, qmc_bank(widths, S))
    acc = [(meth, errors(pred, ref)) for meth, pred in methods.items()]

    sk = MLPRegressor(
        hidden_layer_sizes=hidden, activation=act, max_iter=5, random_state=0
    ).fit(X, y)
    bank16 = qmc_bank(widths, 16)
    timings = {
        "sklearn MLPRegressor.predict": lambda: sk.predict(Xbig),
        "moments": lambda: predict_moments(est, Xbig),
        "qmc-16": lambda: predict_bank(est, Xbig, bank16),
        "crn-100 (current)": lambda: est.predict_dist(Xbig),
    }
    tim, t_sk = [], None
    for meth, fn in timings.items():
        t = best_of(fn, 1 if meth.startswith("crn") else repeats)
        t_sk = t if t_sk is None else t_sk
        tim.append((meth, t, t / t_sk))
    return acc, tim


def _clf_bank_proba(est, X, noises):
    with torch.no_grad():
        out = est.module_(_scale(est, X), noises, torch.float64)  # (M, S, n, k)
        return torch.softmax(out, -1).mean((0, 1)).numpy()


def clf_mc_reference(est, X, n_draws, seed=123, chunk=250):
    gen = torch.Generator().manual_seed(seed)
    M, total = est.module_.n_members, 0.0
    for _ in range(0, n_draws, chunk):
        noises = [
            torch.randn((M, chunk, X.shape[0], w), generator=gen, dtype=torch.float64)
            for w in est.module_.widths
        ]
        total = total + _clf_bank_proba(est, X, noises)
    return total / (n_draws // chunk)


def clf_moments(est, X, method):
    mod = est.module_
    with torch.no_grad():
        p = classification_proba(
            _scale(est, X),
            mod.layer_weights(),
            mod.head_weights(),
            activation=mod.config["activation"],
            floor=mod.config["floor"],
            method=method,
        )
    return p.mean(0).numpy()  # mixture over members


def run_clf(name, hidden, act, quick):
    """Classifier: probability error vs Monte Carlo, log-loss, time."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    est = StochasticMLPClassifier(
        hidden_layer_sizes=hidden,
        activation=act,
        max_iter=20 if quick else 1000,
        random_state=0,
    ).fit(Xtr, ytr)
    ref = clf_mc_reference(est, Xte, 2000 if quick else 10_000)
    yi = np.searchsorted(est.classes_, yte)
    methods = {
        m: clf_moments(est, Xte, m)
        for m in ("auto", "sigma_points", "pairwise", "probit")
    }
    methods["crn-100 (current)"] = est.predict_proba(Xte)
    rows = []
    ll_ref = -np.mean(np.log(ref[np.arange(len(yi)), yi]))
    for meth, p in methods.items():
        err = np.abs(p - ref).max(1)
        ll = -np.mean(np.log(p[np.arange(len(yi)), yi]))
        rows.append((meth, np.median(err), np.quantile(err, 0.99), ll, ll_ref))
    rng = np.random.RandomState(0)
    n_time = 10_000 if quick else 100_000
    Xbig = Xte[rng.randint(0, len(Xte), n_time)]
    sk = MLPClassifier(
        hidden_layer_sizes=hidden, activation=act, max_iter=5, random_state=0
    ).fit(Xtr, ytr)
    timings = {
        "sklearn MLPClassifier.predict_proba": lambda: sk.predict_proba(Xbig),
        "moments (auto)": lambda: clf_moments(est, Xbig, "auto"),
        "moments (pairwise)": lambda: clf_moments(est, Xbig, "pairwise"),
        "crn-100 (current)": lambda: est.predict_proba(Xbig),
    }
    tim, t_sk = [], None
    for meth, fn in timings.items():
        t = best_of(fn, 1 if (quick or meth.startswith("crn")) else 5)
        t_sk = t if t_sk is None else t_sk
        tim.append((meth, t, t / t_sk))
    return rows, tim


def main_clf(quick):
    if StochasticMLPClassifier is None:
        print("(StochasticMLPClassifier not available: no classifier table)")
        return
    acc, times = [], []
    for name in ["digits"] if quick else ["digits", "wine", "breast_cancer"]:
        for hidden, act in (
            [((50,), "relu")]
            if quick
            else [
                ((50,), "relu"),
                ((50, 50), "tanh"),
            ]
        ):
            label = f"{name} {hidden} {act}"
            a, t = run_clf(name, hidden, act, quick)
            acc += [(label, *r) for r in a]
            times += [(label, *r) for r in t]
            print(f"done {label}", file=sys.stderr)
    n_ref = "2,000" if quick else "10,000"
    print(f"\n## Classifier: E[softmax] against {n_ref}-draw Monte Carlo (30% test)\n")
    print(
        "| network | method | max abs prob err: median, p99 | test log-loss | "
        "MC log-loss |"
    )
    print("|---|---|---|---:|---:|")
    for label, meth, med, p99, ll, ll_ref in acc:
        print(f"| {label} | {meth} | {med:.4f}, {p99:.4f} | {ll:.4f} | {ll_ref:.4f} |")
    print("\n## Classifier: time to predict_proba (rows resampled from the test set)\n")
    print("| network | method | seconds | ratio to MLPClassifier.predict_proba |")
    print("|---|---|---:|---:|")
    for label, meth, t, r in times:
        print(f"| {label} | {meth} | {t:.4f} | {r:.1f}x |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--datasets", nargs="+", default=None)
    p.add_argument("--configs", nargs="+", default=None, help="e.g. 50:relu 50-50:tanh")
    p.add_argument(
        "--task", choices=["all", "regression", "classification"], default="all"
    )
    args = p.parse_args(argv)
    if args.task == "classification":
        torch.set_num_threads(1)
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        header()
        return main_clf(args.quick)
    q = args.quick
    n_test, n_ref = (100, 2000) if q else (500, 10_000)  # n_ref: see run_one
    n_time = 10_000 if q else 100_000
    datasets = ["heteroscedastic"] if q else ["heteroscedastic", "concrete"]
    configs = (
        [((50,), "relu")]
        if q
        else [
            ((50,), "relu"),
            ((50,), "tanh"),
            ((50, 50), "relu"),
            ((50, 50), "tanh"),
        ]
    )
    if args.datasets:
        datasets = args.datasets
    if args.configs:
        configs = [
            (tuple(int(w) for w in c.split(":")[0].split("-")), c.split(":")[1])
            for c in args.configs
        ]
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    header()
    acc_rows, time_rows = [], []
    for name in datasets:
        X, y, Xt = load_data(name, n_test)
        rng = np.random.RandomState(0)
        idx = rng.randint(0, len(Xt), n_time)
        Xbig = Xt[idx] + 0.01 * Xt.std(0) * rng.standard_normal((n_time, X.shape[1]))
        for hidden, act in configs:
            label = f"{name} {hidden} {act}"
            acc, tim = run_one((X, y, Xt, Xbig), hidden, act, args.quick)
            acc_rows += [(label, *r) for r in acc]
            time_rows += [(label, *r) for r in tim]
            print(f"done {label}", file=sys.stderr)

    print(f"## Accuracy against {n_ref:,}-draw Monte Carlo ({n_test} test rows)\n")
    print(
        "| network | method | mean err / std: median, p99 | std rel err: "
        "median, p99 | epistemic std rel err: median, p99 |"
    )
    print("|---|---|---|---|---|")
    for label, meth, e in acc_rows:
        cells = " | ".join(
            f"{e[k][0]:.4f}, {e[k][1]:.4f}" for k in ("mean", "std", "epi")
        )
        print(f"| {label} | {meth} | {cells} |")
    print(f"\n## Time to predict {n_time:,} rows\n")
    print("| network | method | seconds | ratio to MLPRegressor.predict |")
    print("|---|---|---:|---:|")
    for label, meth, t, r in time_rows:
        print(f"| {label} | {meth} | {t:.4f} | {r:.1f}x |")
    if args.task == "all":
        main_clf(args.quick)


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
