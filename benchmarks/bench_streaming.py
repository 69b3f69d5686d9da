"""Stream rows through ``GaussianLinearRegression.partial_fit``, out of core.

Rows are generated chunk by chunk (never all in memory) and fed to
``partial_fit``. For each chunk the script times ``partial_fit`` and, on the
same chunk, the bare ``X.T @ X`` (the floor: the one product no method that
forms the normal equations can avoid); the time to generate the data is in
neither. It prints a Markdown table at checkpoints (by default 2M, 5M and 20M
rows of the default 20M): rows per second, time against the floor, and the
peak resident memory of the process, which must stay flat as rows grow. The
goal is ``partial_fit <= 1.3 x floor``.

At the end the streamed model is checked against the coefficients that
generated the data (accuracy beside speed), and, in ``--quick`` runs, against
``fit`` on all the rows at once (exactness).

Usage::

    python benchmarks/bench_streaming.py            # 20M rows x 50 features
    python benchmarks/bench_streaming.py --quick    # smoke run, a few seconds
    python benchmarks/bench_streaming.py --rows 5_000_000 --chunk 50_000
    python benchmarks/bench_streaming.py --quick --profile   # where the time goes
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import sys
import time
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

try:
    from skbayes import GaussianLinearRegression
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from skbayes import GaussianLinearRegression

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import environment  # beside this file

GOAL = 1.3


@dataclass
class Stream:
    """Synthetic regression data, one reproducible chunk at a time."""

    n_features: int
    noise_std: float = 0.5
    seed: int = 0
    coef: np.ndarray = field(init=False)
    intercept: float = 1.5
    offset: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.coef = rng.normal(size=self.n_features)
        # Features away from 0, so that the statistics' centring matters.
        self.offset = rng.uniform(-5.0, 5.0, size=self.n_features)

    def chunk(self, index: int, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``index``-th chunk (index >= -1): C-contiguous float64 ``X``, ``y``."""
        rng = np.random.default_rng([self.seed, index + 1])
        X = rng.standard_normal((n_rows, self.n_features))
        X += self.offset
        y = X @ self.coef
        y += self.intercept
        y += self.noise_std * rng.standard_normal(n_rows)
        return X, y


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (MiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # kilobytes on Linux, bytes on macOS
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def current_rss_mib() -> float:
    """Resident set size now (MiB), where /proc tells it; else the peak."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return peak_rss_mib()


def header(args: argparse.Namespace) -> str:
    """Machine, versions and BLAS, as a Markdown preamble."""
    lines = [
        f"### Streaming partial_fit: {args.rows:,} rows x {args.features} features, "
        f"chunks of {args.chunk:,} rows",
        "",
        *environment(),
        f"- estimator: GaussianLinearRegression({args.params})",
        "- threads pinned to 1 (threadpoolctl); data generation timed in neither "
        "column; floor = bare `X.T @ X` on the same chunk; one warm-up chunk first",
        "",
    ]
    return "\n".join(lines)


def checkpoints(total: int) -> list[int]:
    """Rows at which to report: 10%, 25% and 100% (2M, 5M, 20M of 20M)."""
    return sorted({max(1, total // 10), max(1, total // 4), total})


def parse_params(text: str) -> dict:
    """``"prior_scale=1.0,noise_scale=None"`` -> keyword arguments."""
    params = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = item.partition("=")
        try:
            params[key] = eval(value, {"__builtins__": {}}, {})  # literals only
        except Exception:
            params[key] = value
    return params


def run(args: argparse.Namespace) -> int:
    stream = Stream(args.features, seed=args.seed)
    est = GaussianLinearRegression(**parse_params(args.params))
    marks = checkpoints(args.rows)

    # Warm-up: one chunk through a throw-away model and the floor.
    X, y = stream.chunk(-1, min(args.chunk, args.rows))
    GaussianLinearRegression(**parse_params(args.params)).partial_fit(X, y)
    _ = X.T @ X
    del X, y

    print(header(args))
    print(
        "| rows | partial_fit (s) | rows/s | floor `X.T @ X` (s) | ratio to floor "
        "| median chunk ratio | peak RSS (MiB) | RSS now (MiB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")

    t_fit = t_floor = 0.0
    ratios: list[float] = []
    seen = 0
    index = 0
    profiler = cProfile.Profile() if args.profile else None
    final_ratio = float("nan")
    while seen < args.rows:
        n = min(args.chunk, args.rows - seen)
        X, y = stream.chunk(index, n)
        # Alternate which goes first, so cache warmth favours neither.
        if index % 2:
            tf = _time_floor(X)
            tp = _time_fit(est, X, y, profiler)
        else:
            tp = _time_fit(est, X, y, profiler)
            tf = _time_floor(X)
        t_fit += tp
        t_floor += tf
        ratios.append(tp / tf)
        seen += n
        index += 1
        del X, y
        if marks and seen >= marks[0]:
            marks.pop(0)
            final_ratio = t_fit / t_floor
            print(
                f"| {seen:,} | {t_fit:.2f} | {seen / t_fit:,.0f} | {t_floor:.2f} "
                f"| {final_ratio:.2f} | {np.median(ratios):.2f} "
                f"| {peak_rss_mib():.0f} | {current_rss_mib():.0f} |",
                flush=True,
            )

    verdict = "meets" if final_ratio <= GOAL else "misses"
    print(f"\nratio {final_ratio:.2f} {verdict} the goal of <= {GOAL} x floor.")
    err = np.max(np.abs(est.coef_ - stream.coef))
    print(
        f"accuracy: max |coef_ - true coef| = {err:.2e}, intercept_ = "
        f"{float(est.intercept_):.4f} (true {stream.intercept}), noise_std_ = "
        f"{float(getattr(est, 'noise_std_', np.nan)):.4f} (true {stream.noise_std})"
    )
    if args.quick:
        status = check_exact(args, stream, est)
        if status:
            return status
    if profiler is not None:
        print("\n```")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(15)
        print("```")
    return 0


def _time_fit(est, X, y, profiler) -> float:
    if profiler is not None:
        profiler.enable()
    t0 = time.perf_counter()
    est.partial_fit(X, y)
    t = time.perf_counter() - t0
    if profiler is not None:
        profiler.disable()
    return t


def _time_floor(X: np.ndarray) -> float:
    t0 = time.perf_counter()
    G = X.T @ X
    t = time.perf_counter() - t0
    del G
    return t


def check_exact(args, stream: Stream, est) -> int:
    """``fit`` on all rows at once equals the stream (small ``--rows`` only)."""
    parts = []
    seen = index = 0
    while seen < args.rows:
        n = min(args.chunk, args.rows - seen)
        parts.append(stream.chunk(index, n))
        seen += n
        index += 1
    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    full = GaussianLinearRegression(**parse_params(args.params)).fit(X, y)
    diff = max(
        np.max(np.abs(full.coef_ - est.coef_) / np.maximum(np.abs(full.coef_), 1e-12)),
        np.max(np.abs(full.coef_cov_ - est.coef_cov_) / np.max(np.abs(full.coef_cov_))),
    )
    print(f"exactness: max relative difference to fit on all rows = {diff:.1e}")
    if not diff < 1e-8:
        print("FAILED: partial_fit over chunks does not match fit", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 400,000 rows in chunks of 50,000, and an exactness check",
    )
    parser.add_argument("--rows", type=int, default=None, help="total rows (20M)")
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument(
        "--chunk", type=int, default=None, help="rows per chunk (100,000)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--params",
        default="",
        help="estimator keyword arguments, e.g. 'prior_scale=1.0,noise_scale=None'",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile partial_fit and print where its time goes",
    )
    args = parser.parse_args(argv)
    if args.rows is None:
        args.rows = 400_000 if args.quick else 20_000_000
    if args.chunk is None:
        args.chunk = 50_000 if args.quick else 100_000
    if args.rows < 1 or args.chunk < 1 or args.features < 1:
        parser.error("--rows, --chunk and --features must be positive")
    with threadpool_limits(1):
        return run(args)


if __name__ == "__main__":
    sys.exit(main())
