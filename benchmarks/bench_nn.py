"""The stochastic networks against scikit-learn's MLPs: speed and quality.

One process, one run, the same arrays for every method; BLAS and torch pinned
to one thread; each time is the best of 3 after a warm-up, measured as the
process's CPU time (``time.process_time``: on a shared machine it does not
count the time other processes take the core; with one thread it equals the
wall time of an idle machine). Tables print ratios skbayes / peer.

* **epoch**: one training epoch, n=10,000 × 10, one hidden layer of 50,
  batch 200: one network (regressor vs ``MLPRegressor``, classifier vs
  ``MLPClassifier``, goal ≤ 1.5×), the default five batched anchored members
  vs one member (``n_estimators=1``, all else the same; goal ≤ 2×) and vs one
  plain network, beside a plain torch autograd loop of the same network (the
  floor a straightforward implementation reaches). The runs are interleaved
  in rounds and the ratios are medians of per-round ratios: this machine's
  speed drifts too much for ratios of separate bests.
* **defaults end to end**: ``StochasticMLPRegressor()`` (five members) vs
  ``MLPRegressor()`` on the showcase's 1-D heteroscedastic data (2,000 rows),
  with test NLL (goal ≤ 5×), and one network beside it.
* **predict**: ``predict_dist`` on 100,000 rows, ``predict_method="moments"``
  (the default) and ``"mc"`` (100 noise draws), vs ``MLPRegressor.predict``
  (the defaults fitted on the 1-D data above), with each method's error
  against a 5,000-draw Monte Carlo on 2,000 of the rows; the same for
  ``predict_proba`` vs ``MLPClassifier.predict_proba`` (fitted on digits,
  100,000 rows drawn from it).
* **classifier quality**: digits, wine, breast_cancer, ``Pipeline(StandardScaler(),
  clf)``, 3 stratified 70/30 splits, test log-loss and accuracy, defaults on
  both sides.

    python benchmarks/bench_nn.py           # the full run (minutes)
    python benchmarks/bench_nn.py --quick   # a smoke run
    python benchmarks/bench_nn.py --only predict   # one part
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from functools import partial

import numpy as np
import torch
from scipy import stats
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for _common
from _common import best_of as _best_of
from _common import environment

from skbayes import StochasticMLPClassifier, StochasticMLPRegressor
from skbayes.datasets import make_heteroscedastic
from skbayes.nn._heads import GaussianHead
from skbayes.nn._modules import StochasticMLP

EPOCH_GOAL = 1.5
MEMBERS_GOAL = 2.0
DEFAULTS_GOAL = 5.0
PREDICT_GOAL = 10.0


# CPU seconds, as the docstring says: the shared timer on time.process_time.
best_of = partial(_best_of, clock=time.process_time)


def header() -> str:
    return "\n".join(
        [
            *environment(bullet=""),
            "times: CPU seconds, best of 3 (epochs: see their table)",
        ]
    )


# ------------------------------------------------------------------ epochs
def _epoch_data(n=10_000, d=10, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    f = np.sin(X[:, 0]) + X @ rng.randn(d) / 3
    return X, f + 0.3 * rng.randn(n), (f > np.median(f)).astype(int)


def _fit_epochs(make, X, y, n_epochs):
    """A function that fits ``make(n_epochs)`` on ``(X, y)``."""

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            make(n_epochs).fit(X, y)

    return run


def interleaved(runs: dict, n_rounds: int) -> dict:
    """CPU seconds of each run in each of ``n_rounds`` rounds, runs interleaved.

    On a shared machine the speed drifts by tens of percent within a minute;
    ratios taken within one round, where the runs are seconds apart, are far
    steadier than ratios of separate bests.
    """
    for run in runs.values():
        run()  # warm-up
    times = {name: [] for name in runs}
    for _ in range(n_rounds):
        for name, run in runs.items():
            t0 = time.process_time()
            run()
            times[name].append(time.process_time() - t0)
    return {name: np.array(t) for name, t in times.items()}


def ratio_text(num: np.ndarray, den: np.ndarray) -> str:
    """Median of the per-round ratios, with their range."""
    r = num / den
    return f"{np.median(r):.2f}× [{r.min():.2f}–{r.max():.2f}]"


def plain_torch_epoch(X, y, n_epochs, seed=0):
    """A straightforward autograd loop of the same network and loss (a run)."""
    head = GaussianHead(1)
    gen = torch.Generator().manual_seed(seed)
    net = StochasticMLP(X.shape[1], (50,), head.n_outputs)
    net.reset_parameters(gen, 0.5, head.init_bias())
    Xt = torch.tensor((X - X.mean(0)) / X.std(0), dtype=torch.float32)
    yt = torch.tensor(((y - y.mean()) / y.std())[:, None], dtype=torch.float32)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)

    def run():
        for _ in range(n_epochs):
            perm = torch.randperm(len(Xt), generator=gen)
            for start in range(0, len(Xt), 200):
                idx = perm[start : start + 200]
                noises = net.sample_noise(1, len(idx), gen)
                loss = head.nll(net(Xt[idx], noises), yt[idx]).mean()
                loss = loss + sum(w.square().sum() for w in net.weights()) / 2e4
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

    return run


def epoch_table(quick: bool) -> str:
    X, y, labels = _epoch_data()
    n_epochs, n_rounds = (3, 2) if quick else (10, 7)
    common = dict(hidden_layer_sizes=(50,), batch_size=200, random_state=0)
    ours = dict(early_stopping=False, n_iter_no_change=np.inf, **common)
    member = dict(n_estimators=1, **ours)  # one anchored member, else defaults
    plain = dict(member, anchored=False)
    theirs = dict(tol=0.0, n_iter_no_change=10**6, **common)

    def reg(**kw):
        return _fit_epochs(
            lambda e: StochasticMLPRegressor(max_iter=e, **kw), X, y, n_epochs
        )

    def clf(**kw):
        return _fit_epochs(
            lambda e: StochasticMLPClassifier(max_iter=e, **kw), X, labels, n_epochs
        )

    t = interleaved(
        {
            "reg": reg(**plain),
            "reg1": reg(**member),
            "reg5": reg(**ours),
            "mlp_reg": _fit_epochs(
                lambda e: MLPRegressor(max_iter=e, **theirs), X, y, n_epochs
            ),
            "clf": clf(**plain),
            "clf1": clf(**member),
            "clf5": clf(**ours),
            "mlp_clf": _fit_epochs(
                lambda e: MLPClassifier(max_iter=e, **theirs), X, labels, n_epochs
            ),
            "plain": plain_torch_epoch(X, y, n_epochs),
        },
        n_rounds,
    )

    def ms(name):
        return f"{1e3 * np.median(t[name]) / n_epochs:.1f}"

    rows = [
        f"{n_rounds} interleaved rounds of {n_epochs} epochs; ms per epoch: median; "
        "ratios: median of the rounds' ratios [range]",
        "",
        "| one epoch (10,000 × 10, (50,), batch 200) | ms | ratio to peer |",
        "|---|---|---|",
        f"| StochasticMLPRegressor, one network (n_estimators=1, anchored=False) | "
        f"{ms('reg')} | {ratio_text(t['reg'], t['mlp_reg'])} MLPRegressor "
        f"(goal ≤ {EPOCH_GOAL}) |",
        f"| StochasticMLPRegressor, one anchored member (n_estimators=1) | "
        f"{ms('reg1')} | {ratio_text(t['reg1'], t['mlp_reg'])} MLPRegressor |",
        f"| StochasticMLPRegressor, 5 anchored members (default) | {ms('reg5')} | "
        f"{ratio_text(t['reg5'], t['reg1'])} one member (goal ≤ {MEMBERS_GOAL}); "
        f"{ratio_text(t['reg5'], t['reg'])} one network |",
        f"| MLPRegressor | {ms('mlp_reg')} | 1 |",
        f"| StochasticMLPClassifier, one network (n_estimators=1, anchored=False) | "
        f"{ms('clf')} | {ratio_text(t['clf'], t['mlp_clf'])} MLPClassifier "
        f"(goal ≤ {EPOCH_GOAL}) |",
        f"| StochasticMLPClassifier, one anchored member (n_estimators=1) | "
        f"{ms('clf1')} | {ratio_text(t['clf1'], t['mlp_clf'])} MLPClassifier |",
        f"| StochasticMLPClassifier, 5 anchored members (default) | {ms('clf5')} | "
        f"{ratio_text(t['clf5'], t['clf1'])} one member (goal ≤ {MEMBERS_GOAL}); "
        f"{ratio_text(t['clf5'], t['clf'])} one network |",
        f"| MLPClassifier | {ms('mlp_clf')} | 1 |",
        f"| plain torch autograd loop, one network | {ms('plain')} | "
        f"{ratio_text(t['plain'], t['mlp_reg'])} MLPRegressor |",
    ]
    return "\n".join(rows)


# ------------------------------------------------------- end to end, predict
def defaults_table(quick: bool) -> str:
    X, y = make_heteroscedastic(2000, random_state=0)
    X_te, y_te = make_heteroscedastic(5000, random_state=1)
    fits = {}

    def fit(name, make):
        def run():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                fits[name] = make().fit(X, y)

        return best_of(run, repeat=1 if quick else 3)

    t_ours = fit("ours", lambda: StochasticMLPRegressor(random_state=0))
    t_one = fit(
        "one",
        lambda: StochasticMLPRegressor(random_state=0, n_estimators=1, anchored=False),
    )
    t_mc = fit(
        "mc", lambda: StochasticMLPRegressor(random_state=0, predict_method="mc")
    )
    t_mlp = fit("mlp", lambda: MLPRegressor(random_state=0))
    sigma = np.std(y - fits["mlp"].predict(X))
    nll_mlp = -np.mean(stats.norm.logpdf(y_te, fits["mlp"].predict(X_te), sigma))
    rows = [
        "| 1-D heteroscedastic, 2,000 rows | fit s | ratio | epochs | test NLL |",
        "|---|---|---|---|---|",
    ]
    for key, label, t in [
        ("ours", f"StochasticMLPRegressor() (goal ≤ {DEFAULTS_GOAL}×)", t_ours),
        ("one", "StochasticMLPRegressor(n_estimators=1, anchored=False)", t_one),
        ("mc", 'StochasticMLPRegressor(predict_method="mc")', t_mc),
    ]:
        nll = -np.mean(fits[key].predict_dist(X_te).logpdf(y_te))
        rows.append(
            f"| {label} | {t:.2f} | {t / t_mlp:.2f}× | {fits[key].n_iter_} | "
            f"{nll:.3f} |"
        )
    rows.append(
        f"| MLPRegressor() (σ from train residuals) | {t_mlp:.2f} | 1 | "
        f"{fits['mlp'].n_iter_} | {nll_mlp:.3f} |"
    )
    return "\n".join(rows)


# ------------------------------------------------------------------ predict
def _timed_methods(est, Xp, call):
    """Seconds of ``call(est, Xp)`` per predict_method (restored after)."""
    out = {}
    for method in ("moments", "mc"):
        est.set_params(predict_method=method, n_predict_samples=100)
        out[method] = best_of(lambda: call(est, Xp))
    est.set_params(predict_method="moments", n_predict_samples=100)
    return out


def _regressor_errors(est, Xa):
    """Max |mean error| / std and max relative std error vs 5,000 draws."""
    ref = est.set_params(predict_method="mc", n_predict_samples=5000).predict_dist(Xa)
    errs = {}
    for method in ("moments", "mc"):
        d = est.set_params(predict_method=method, n_predict_samples=100).predict_dist(
            Xa
        )
        errs[method] = (
            np.max(np.abs(d.mean - ref.mean) / ref.std),
            np.max(np.abs(d.std / ref.std - 1)),
        )
    est.set_params(predict_method="moments")
    return errs


def _classifier_errors(est, Xa):
    """Max |probability error| vs 5,000 draws."""
    ref = est.set_params(predict_method="mc", n_predict_samples=5000).predict_proba(Xa)
    errs = {}
    for method in ("moments", "mc"):
        est.set_params(predict_method=method, n_predict_samples=100)
        errs[method] = np.max(np.abs(est.predict_proba(Xa) - ref))
    est.set_params(predict_method="moments")
    return errs


def predict_table(quick: bool) -> str:
    n_pred = 10_000 if quick else 100_000
    n_ref = 200 if quick else 2000
    rng = np.random.RandomState(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        X, y = make_heteroscedastic(2000, random_state=0)
        reg = StochasticMLPRegressor(random_state=0).fit(X, y)
        one = StochasticMLPRegressor(
            n_estimators=1, anchored=False, random_state=0
        ).fit(X, y)
        mlp = MLPRegressor(random_state=0).fit(X, y)
        Xd, yd = load_digits(return_X_y=True)
        scaler = StandardScaler().fit(Xd)
        Xd = scaler.transform(Xd)
        clf = StochasticMLPClassifier(random_state=0).fit(Xd, yd)
        mlpc = MLPClassifier(random_state=0).fit(Xd, yd)
    Xp = rng.uniform(-3, 3, size=(n_pred, 1))
    t_reg = _timed_methods(reg, Xp, lambda e, x: e.predict_dist(x))
    t_one = best_of(lambda: one.predict_dist(Xp))
    t_mlp = best_of(lambda: mlp.predict(Xp))
    e_reg = _regressor_errors(reg, Xp[:n_ref])
    Xc = Xd[rng.randint(len(Xd), size=n_pred)] + 0.1 * rng.randn(n_pred, Xd.shape[1])
    t_clf = _timed_methods(clf, Xc, lambda e, x: e.predict_proba(x))
    t_mlpc = best_of(lambda: mlpc.predict_proba(Xc))
    e_clf = _classifier_errors(clf, Xc[:n_ref])
    rows = [
        f"| predict on {n_pred:,} rows | s | ratio | error vs 5,000 draws "
        f"({n_ref:,} rows) |",
        "|---|---|---|---|",
    ]
    rows.append(
        f'| one network (n_estimators=1, anchored=False).predict_dist, "moments" | '
        f"{t_one:.3f} | {t_one / t_mlp:.1f}× (goal ≤ {PREDICT_GOAL:.0f}) | |"
    )
    for method in ("moments", "mc"):
        t = t_reg[method]
        rows.append(
            f'| StochasticMLPRegressor.predict_dist (5 members), "{method}" | '
            f"{t:.3f} | {t / t_mlp:.1f}× | mean "
            f"{e_reg[method][0]:.4f} std units, std {e_reg[method][1]:.4f} rel |"
        )
    rows.append(f"| MLPRegressor.predict | {t_mlp:.4f} | 1 | |")
    for method in ("moments", "mc"):
        t = t_clf[method]
        rows.append(
            f'| StochasticMLPClassifier.predict_proba (digits), "{method}" | '
            f"{t:.3f} | {t / t_mlpc:.1f}× | max |Δp| {e_clf[method]:.4f} |"
        )
    rows.append(f"| MLPClassifier.predict_proba (digits) | {t_mlpc:.4f} | 1 | |")
    return "\n".join(rows)


# --------------------------------------------------------------- classifier
def classifier_table(quick: bool, n_splits: int = 3) -> str:
    sets = [("digits", load_digits), ("wine", load_wine)]
    sets += [("breast_cancer", load_breast_cancer)]
    seeds = range(1 if quick else n_splits)
    rows = [
        "| data | MLPClassifier log-loss | StochasticMLPClassifier log-loss | "
        "MLPClassifier acc | StochasticMLPClassifier acc | goal met |",
        "|---|---|---|---|---|---|",
    ]
    for name, load in sets:
        X, y = load(return_X_y=True)
        res = {"mlp": [], "ours": []}
        for seed in seeds:
            split = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
            Xtr, Xte, ytr, yte = split
            for key, clf in [
                ("mlp", MLPClassifier(random_state=seed)),
                ("ours", StochasticMLPClassifier(random_state=seed)),
            ]:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    pipe = make_pipeline(StandardScaler(), clf).fit(Xtr, ytr)
                proba = pipe.predict_proba(Xte)
                res[key].append(
                    (log_loss(yte, proba), accuracy_score(yte, pipe.predict(Xte)))
                )
        m, o = np.mean(res["mlp"], 0), np.mean(res["ours"], 0)
        ok = o[0] <= m[0] and o[1] >= m[1] - 0.01
        rows.append(
            f"| {name} | {m[0]:.4f} | {o[0]:.4f} | {m[1]:.4f} | {o[1]:.4f} | "
            f"{'yes' if ok else 'no'} |"
        )
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument(
        "--only",
        nargs="*",
        default=["epoch", "defaults", "predict", "classifier"],
        choices=["epoch", "defaults", "predict", "classifier"],
    )
    parser.add_argument(
        "--splits", type=int, default=3, help="classifier: stratified 70/30 splits"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    with threadpool_limits(1):
        print(header(), end="\n\n")
        if "epoch" in args.only:
            print(epoch_table(args.quick), end="\n\n")
        if "defaults" in args.only:
            print(defaults_table(args.quick), end="\n\n")
        if "predict" in args.only:
            print(predict_table(args.quick), end="\n\n")
        if "classifier" in args.only:
            print(f"classifier quality, {args.splits} splits:")
            print(classifier_table(args.quick, args.splits))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
