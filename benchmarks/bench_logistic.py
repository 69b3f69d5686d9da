"""BayesianLogisticRegression against scikit-learn's LogisticRegression, and the floor.

One process, one run, the same arrays for every method; BLAS pinned to one
thread; each time is the best of 3 after a warm-up. Peers: lbfgs (L2, the
same MAP as the Gaussian prior with ``C = σ²``), liblinear and saga (L1, the
same MAP as the Laplace prior with ``C = b``). The floors are the bare costs
no method can avoid: one gradient pass (``X @ w`` and ``X.T @ r``) and one
Hessian pass (``X.T @ diag(c) @ X``, per pair of classes for softmax).

Log-loss is on held-out data: plug-in MAP probabilities for the MAP-only fits
and the peers, moderated (quadrature) probabilities for the fits with a
posterior: the Laplace approximation (``approximation="laplace"``) and the
variational Gaussian (the default).

    python benchmarks/bench_logistic.py           # the full run (a few minutes)
    python benchmarks/bench_logistic.py --quick   # a smoke run (seconds)
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np
from scipy.special import expit, softmax
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skbayes import BayesianLogisticRegression

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import best_of, environment  # beside this file


def header() -> None:
    print("# BayesianLogisticRegression benchmark\n")
    print(*environment(), sep="\n")  # called under threadpool_limits(1)
    print("- times: best of 3 after a warm-up, seconds\n")


def make_problem(n: int, d: int, n_classes: int, seed: int):
    X, y = make_classification(
        n_samples=n + 20_000,
        n_features=d,
        n_informative=min(d, 20),
        n_redundant=min(d // 10, 10),
        n_classes=n_classes,
        n_clusters_per_class=1,
        class_sep=0.8,
        flip_y=0.05,
        random_state=seed,
    )
    X = StandardScaler().fit_transform(X)
    return train_test_split(X, y, train_size=n, random_state=seed)


def gradient_pass(X, y, K):
    """Floor: one evaluation of the loss gradient (two passes over X)."""
    if K == 2:
        z = X @ np.full(X.shape[1], 0.01)
        return X.T @ (expit(z) - y)
    Z = X @ np.full((X.shape[1], K), 0.01)
    P = softmax(Z, axis=1)
    P[np.arange(len(y)), y] -= 1
    return X.T @ P


def hessian_pass(X, y, K):
    """Floor: one weighted Gram matrix per (pair of) class(es), plain numpy."""
    if K == 2:
        p = expit(X @ np.full(X.shape[1], 0.01))
        return X.T @ (X * (p * (1 - p))[:, None])
    P = softmax(X @ np.full((X.shape[1], K), 0.01), axis=1)
    out = []
    for k in range(K):
        for m in range(k, K):
            c = P[:, k] * ((k == m) - P[:, m])
            out.append(X.T @ (X * c[:, None]))
    return out


def run_case(title, X, y, X_test, y_test, sigma, b, repeat) -> dict:
    K = len(np.unique(y))
    print(f"## {title}: n={X.shape[0]:,}, d={X.shape[1]}, classes={K}\n")
    print(
        f"Gaussian prior σ={sigma} (C={sigma**2:g}); Laplace prior b={b} (C={b:g}).\n"
    )
    rows = {}

    def add(name, fn, proba="auto"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t, model = best_of(fn, repeat, return_result=True)
        if model is None:
            rows[name] = (t, None, None, None)
            return
        ll = log_loss(y_test, model.predict_proba(X_test), labels=np.unique(y))
        n_iter = np.ravel(getattr(model, "n_iter_", [np.nan]))[0]
        nnz = int(np.count_nonzero(model.coef_))
        rows[name] = (t, ll, n_iter, nnz)

    def blr(**kw):
        return lambda: BayesianLogisticRegression(**kw).fit(X, y)

    add(
        "skbayes Gaussian MAP (covariance=None)",
        blr(prior_scale=sigma, covariance=None),
    )
    add(
        "skbayes Gaussian MAP + Laplace full covariance",
        blr(prior_scale=sigma, approximation="laplace"),
    )
    add("skbayes Gaussian variational full covariance", blr(prior_scale=sigma))
    add("sklearn lbfgs (L2)", lambda: LogisticRegression(C=sigma**2).fit(X, y))
    add(
        "skbayes Laplace MAP (covariance=None)",
        blr(prior="laplace", prior_scale=b, covariance=None),
    )
    add(
        "skbayes Laplace MAP + Laplace full covariance",
        blr(prior="laplace", prior_scale=b, approximation="laplace"),
    )
    if K == 2:
        add(
            "sklearn liblinear (L1)",
            lambda: LogisticRegression(C=b, l1_ratio=1, solver="liblinear").fit(X, y),
        )
    add(
        "sklearn saga (L1)",
        lambda: LogisticRegression(C=b, l1_ratio=1, solver="saga").fit(X, y),
    )
    add("floor: one gradient pass", lambda: (gradient_pass(X, y, K), None)[1])
    add("floor: one Hessian pass", lambda: (hessian_pass(X, y, K), None)[1])

    lbfgs = rows["sklearn lbfgs (L2)"][0]
    print(
        "| method | fit time (s) | × lbfgs | test log-loss | iterations "
        "| non-zero coef |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, (t, ll, it, nnz) in rows.items():
        ll_s = "—" if ll is None else f"{ll:.5f}"
        it_s = "—" if it is None or np.isnan(it) else f"{int(it)}"
        nnz_s = "—" if nnz is None else f"{nnz}"
        print(f"| {name} | {t:.4f} | {t / lbfgs:.2f} | {ll_s} | {it_s} | {nnz_s} |")
    print()

    t_map, ll_map = rows["skbayes Gaussian MAP (covariance=None)"][:2]
    t_cov = rows["skbayes Gaussian MAP + Laplace full covariance"][0]
    t_vi = rows["skbayes Gaussian variational full covariance"][0]
    t_l1 = rows["skbayes Laplace MAP (covariance=None)"][0]
    ll_lbfgs = rows["sklearn lbfgs (L2)"][1]
    t_hess = rows["floor: one Hessian pass"][0]
    print("Goals:\n")
    print(
        f"- Gaussian MAP / lbfgs time = {t_map / lbfgs:.2f} (goal ≤ 1.0), "
        f"|Δ log-loss| = {abs(ll_map - ll_lbfgs):.1e} (goal ≤ 1e-3)"
    )
    print(
        f"- MAP + covariance / (lbfgs + one Hessian pass) = "
        f"{t_cov / (lbfgs + t_hess):.2f} (goal ≤ 1.0)"
    )
    print(f"- variational / Laplace posterior time = {t_vi / t_cov:.2f}")
    if K == 2:
        t_lib = rows["sklearn liblinear (L1)"][0]
        print(f"- Laplace MAP / liblinear time = {t_l1 / t_lib:.2f} (goal ≤ 1.0)")
    t_saga = rows["sklearn saga (L1)"][0]
    print(f"- Laplace MAP / saga time = {t_l1 / t_saga:.2f}\n")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args()
    repeat = 1 if args.quick else 3
    n_bin, n_multi = (20_000, 10_000) if args.quick else (200_000, 100_000)

    with threadpool_limits(1):
        header()
        X, Xt, y, yt = make_problem(n_bin, 100, 2, seed=0)
        run_case("Synthetic binary", X, y, Xt, yt, sigma=1.0, b=0.01, repeat=repeat)
        X, Xt, y, yt = make_problem(n_multi, 50, 10, seed=1)
        run_case("Synthetic 10-class", X, y, Xt, yt, sigma=1.0, b=0.01, repeat=repeat)
        X, y = load_breast_cancer(return_X_y=True)
        X, Xt, y, yt = train_test_split(X, y, test_size=0.3, random_state=0)
        scaler = StandardScaler().fit(X)
        X, Xt = scaler.transform(X), scaler.transform(Xt)
        run_case(
            "breast_cancer (standardised)",
            X,
            y,
            Xt,
            yt,
            sigma=1.0,
            b=1.0,
            repeat=repeat,
        )


if __name__ == "__main__":
    main()
