"""The showcase: ``python -m skbayes [--quick] [--out DIR]``.

Fits each skbayes estimator beside its scikit-learn counterpart on data that
ships with scikit-learn (or is generated), prints one Markdown table of
accuracy, negative log-likelihood, 90% interval coverage and fit time, and
saves figures of the predictive distributions to ``--out``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import BayesianRidge, LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from . import BayesianLogisticRegression, GaussianLinearRegression
from .datasets import make_heteroscedastic
from .metrics import gaussian_nll, interval_coverage

CONFIDENCE = 0.9


@dataclass
class Row:
    data: str
    model: str
    score_name: str
    score: float
    nll: float
    coverage: float | None
    fit_seconds: float
    note: str = ""


def _timed_fit(est, X, y):
    start = time.perf_counter()
    est.fit(X, y)
    return est, time.perf_counter() - start


def _regression_row(data, model, y, mean, std, seconds, note=""):
    return Row(
        data,
        model,
        "RMSE",
        float(np.sqrt(np.mean((y - mean) ** 2))),
        float(gaussian_nll(y, mean, std)),
        float(interval_coverage(y, mean, std, confidence=CONFIDENCE)),
        seconds,
        note,
    )


def _residual_std(est, X, y) -> float:
    # What a point-prediction model can offer as uncertainty: one σ for all x.
    return float(np.std(y - est.predict(X)))


def diabetes(seed: int, out: Path | None) -> list[Row]:
    X, y = load_diabetes(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=seed)
    rows = []
    for name, est, note in [
        (
            "GaussianLinearRegression(auto)",
            GaussianLinearRegression(),
            "default: σ_w, σ_n by evidence",
        ),
        (
            "GaussianLinearRegression(σ_w=1)",
            GaussianLinearRegression(prior_scale=1.0),
            "prior too tight for these small-scaled features",
        ),
        ("sklearn BayesianRidge", BayesianRidge(), ""),
    ]:
        est, seconds = _timed_fit(est, X_tr, y_tr)
        mean, std = est.predict(X_te, return_std=True)
        rows.append(_regression_row("diabetes", name, y_te, mean, std, seconds, note))
        if out is not None and name.endswith("(auto)"):
            _save_diabetes_figure(est, X_te, y_te, out)
    ridge, seconds = _timed_fit(Ridge(alpha=1.0), X_tr, y_tr)
    sigma = _residual_std(ridge, X_tr, y_tr)
    mean = ridge.predict(X_te)
    rows.append(
        _regression_row(
            "diabetes",
            "sklearn Ridge",
            y_te,
            mean,
            np.full_like(mean, sigma),
            seconds,
            "σ from train residuals",
        )
    )
    return rows


def breast_cancer(seed: int, out: Path | None) -> list[Row]:
    X, y = load_breast_cancer(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.3, random_state=seed, stratify=y
    )
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    bayes, seconds = _timed_fit(
        BayesianLogisticRegression(prior_scale="auto"), X_tr, y_tr
    )
    mu, s = bayes.predict_dist(X_te)
    # Unsure: the 90% credible interval of the logit contains 0, so the
    # posterior cannot tell which class is more likely.
    z = stats.norm.ppf(0.5 + CONFIDENCE / 2)
    unsure = int(np.sum(np.abs(mu) < z * s))
    models = [
        (
            "BayesianLogisticRegression(auto)",
            bayes,
            seconds,
            f"{unsure}/{len(y_te)} test points unsure",
        ),
        (
            "sklearn LogisticRegression",
            *_timed_fit(LogisticRegression(), X_tr, y_tr),
            "",
        ),
    ]
    if out is not None:
        _save_reliability_figure([m[:2] for m in models], X_te, y_te, out)
    return [
        _classification_row("breast_cancer", name, est, X_te, y_te, secs, note)
        for name, est, secs, note in models
    ]


def _classification_row(data, name, est, X_te, y_te, secs, note="") -> Row:
    return Row(
        data,
        name,
        "accuracy",
        float(accuracy_score(y_te, est.predict(X_te))),
        float(log_loss(y_te, est.predict_proba(X_te), labels=est.classes_)),
        None,
        secs,
        note,
    )


def digits(seed: int, quick: bool) -> list[Row]:
    """The lecture's path from logistic regression to the stochastic network."""
    from .nn._classifier import StochasticMLPClassifier

    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.3, random_state=seed, stratify=y
    )
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    quick_kw = {"max_iter": 20} if quick else {}
    models = [
        ("BayesianLogisticRegression", BayesianLogisticRegression(), "defaults"),
        ("sklearn LogisticRegression", LogisticRegression(max_iter=1000), ""),
        (
            "StochasticMLPClassifier",
            StochasticMLPClassifier(random_state=seed, **quick_kw),
            "defaults" + (" (quick: 20 epochs)" if quick else ""),
        ),
        (
            "sklearn MLPClassifier",
            MLPClassifier(random_state=seed, **quick_kw),
            "defaults" + (" (quick: 20 epochs)" if quick else ""),
        ),
    ]
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, est, note in models:
            est, secs = _timed_fit(est, X_tr, y_tr)
            rows.append(
                _classification_row("digits", name, est, X_te, y_te, secs, note)
            )
    return rows


def heteroscedastic(seed: int, quick: bool, out: Path | None) -> tuple[list[Row], str]:
    from .nn._mlp import StochasticMLPRegressor

    X, y = make_heteroscedastic(1000 if quick else 3000, random_state=seed)
    X_te, y_te = make_heteroscedastic(5000, random_state=seed + 1)
    # The defaults (early stopping on validation NLL) in a full run; a capped
    # number of epochs for --quick.
    quick_kw = {"max_iter": 100} if quick else {}
    stoch = StochasticMLPRegressor(random_state=seed, **quick_kw)
    max_iter = 100 if quick else 500
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # --quick stops early
        stoch, seconds = _timed_fit(stoch, X, y)
        mlp = make_pipeline(
            StandardScaler(),
            MLPRegressor(
                hidden_layer_sizes=(50,), max_iter=max_iter, random_state=seed
            ),
        )
        mlp, mlp_seconds = _timed_fit(mlp, X, y)
    mean, std = stoch.predict(X_te, return_std=True)
    rows = [
        _regression_row(
            "heteroscedastic 1-D", "StochasticMLPRegressor", y_te, mean, std, seconds
        )
    ]
    sigma = _residual_std(mlp, X, y)
    mlp_mean = mlp.predict(X_te)
    rows.append(
        _regression_row(
            "heteroscedastic 1-D",
            "sklearn MLPRegressor",
            y_te,
            mlp_mean,
            np.full_like(mlp_mean, sigma),
            mlp_seconds,
            "σ from train residuals",
        )
    )
    if out is not None:
        _save_figures(stoch, X, y, X_te, y_te, mlp, sigma, out)
    return rows, off_data_line(stoch, X)


def off_data_line(est, X) -> str:
    """How much the network's epistemic std grows away from its training data."""
    lo, hi = float(X.min()), float(X.max())
    width = hi - lo
    inside = np.linspace(lo, hi, 101)[:, None]
    far = np.r_[np.linspace(lo - width / 2, lo - width / 4, 26),
                np.linspace(hi + width / 4, hi + width / 2, 26)][:, None]  # fmt: skip
    ratio = np.median(est.predict_dist(far).epistemic_std) / np.median(
        est.predict_dist(inside).epistemic_std
    )
    return (
        f"Off the data (x {width / 4:.1f} to {width / 2:.1f} beyond the training "
        f"range [{lo:.1f}, {hi:.1f}]): the StochasticMLPRegressor's epistemic std is "
        f"{ratio:.1f}x its median inside (its n_estimators={est.n_estimators} "
        "anchored members disagree there; see the heteroscedastic_band figure)."
    )


def _pyplot():
    """pyplot on the Agg backend, or None (with a hint) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figures (pip install skbayes[plot]).")
        return None
    return plt


def _save(plt, fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _save_figures(stoch, X, y, X_te, y_te, mlp, sigma, out: Path) -> None:
    plt = _pyplot()
    if plt is None:
        return
    from .plotting import IntervalCalibrationDisplay, PredictiveBandDisplay

    # Past the data on both sides: the off-data band of the ensemble.
    lo, hi = float(X.min()), float(X.max())
    pad = (hi - lo) / 2
    grid = np.linspace(lo - pad, hi + pad, 600)[:, None]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax in axes:
        ax.scatter(X[:, 0], y, s=4, alpha=0.3, color="grey", zorder=0)
        ax.axvspan(lo - pad, lo, color="grey", alpha=0.08, lw=0)
        ax.axvspan(hi, hi + pad, color="grey", alpha=0.08, lw=0)
    PredictiveBandDisplay.from_estimator(stoch, grid, ax=axes[0])
    axes[0].set_title(
        "StochasticMLPRegressor: mean, 50% and 90% bands (shaded: no data)"
    )
    m = mlp.predict(grid)
    z = stats.norm.ppf(0.5 + CONFIDENCE / 2)
    axes[1].plot(grid[:, 0], m, color="C1", label="MLPRegressor")
    axes[1].fill_between(
        grid[:, 0],
        m - z * sigma,
        m + z * sigma,
        alpha=0.3,
        color="C1",
        label="90% interval (constant σ)",
    )
    axes[1].legend(loc="upper left")
    axes[1].set_title("MLPRegressor + constant σ from residuals")
    axes[1].set_xlabel("x")
    _save(plt, fig, out / "heteroscedastic_band.png")

    fig, ax = plt.subplots(figsize=(5, 5))
    IntervalCalibrationDisplay.from_estimator(
        stoch, X_te, y_te, ax=ax, name="StochasticMLPRegressor"
    )
    ax.set_title("Interval calibration, heteroscedastic test set")
    _save(plt, fig, out / "interval_calibration.png")


def _save_diabetes_figure(est, X_te, y_te, out: Path) -> None:
    plt = _pyplot()
    if plt is None:
        return
    from .plotting import PredictiveBandDisplay

    fig, ax = plt.subplots(figsize=(7, 4))
    PredictiveBandDisplay.from_estimator(est, X_te, y_te, ax=ax)
    ax.set_title("diabetes test set: GaussianLinearRegression, sorted by prediction")
    _save(plt, fig, out / "diabetes_predictive.png")


def _save_reliability_figure(models, X_te, y_te, out: Path) -> None:
    plt = _pyplot()
    if plt is None:
        return
    from sklearn.calibration import CalibrationDisplay

    fig, ax = plt.subplots(figsize=(5, 5))
    for name, est in models:
        CalibrationDisplay.from_estimator(
            est, X_te, y_te, n_bins=6, strategy="quantile", name=name, ax=ax
        )
    ax.set_title("breast_cancer: reliability diagram")
    _save(plt, fig, out / "breast_cancer_reliability.png")


def _format_table(rows: list[Row]) -> str:
    lines = [
        "| data | model | accuracy / RMSE | NLL / log-loss | 90% coverage "
        "| fit time (s) | note |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        cov = "—" if r.coverage is None else f"{r.coverage:.3f}"
        lines.append(
            f"| {r.data} | {r.model} | {r.score_name} {r.score:.4g} | {r.nll:.4f} "
            f"| {cov} | {r.fit_seconds:.3f} | {r.note} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m skbayes",
        description="skbayes estimators beside their scikit-learn counterparts.",
    )
    parser.add_argument("--quick", action="store_true", help="small, fast run (CI)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the figures (default: a new temporary one)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="skbayes_showcase_"))
    out.mkdir(parents=True, exist_ok=True)

    rows = diabetes(args.seed, out) + breast_cancer(args.seed, out)
    print("fitting the classifiers on digits ...", flush=True)
    rows += digits(args.seed, args.quick)
    print("fitting StochasticMLPRegressor on the heteroscedastic data ...", flush=True)
    het_rows, off_data = heteroscedastic(args.seed, args.quick, out)
    print()
    print(_format_table(rows + het_rows))
    print()
    print(off_data)
    print()
    print(f"Figures saved in {out}:")
    for path in sorted(out.glob("*.png")):
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
