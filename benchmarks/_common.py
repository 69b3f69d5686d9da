"""What the benchmark scripts share: a best-of timer and the machine's description.

Not part of skbayes: each script puts its own folder on ``sys.path`` and
imports this file from beside itself.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy
import sklearn
from threadpoolctl import threadpool_info


def best_of(
    fn: Callable[[], Any],
    repeat: int = 3,
    *,
    clock: Callable[[], float] | None = time.perf_counter,
    return_result: bool = False,
) -> float | tuple[float, Any]:
    """Shortest of ``repeat`` timed calls of ``fn``, after one untimed warm-up.

    Parameters
    ----------
    fn : callable
        Called with no arguments.
    repeat : int, default=3
        Timed calls.
    clock : callable or None, default=time.perf_counter
        Wall seconds by default; ``time.process_time`` for CPU seconds.
        ``None`` when ``fn`` times itself and returns its seconds (e.g. per
        epoch, with its set-up left out): the least of them is returned.
    return_result : bool, default=False
        Also return what the last call of ``fn`` returned.

    Returns
    -------
    seconds : float
        The shortest time.
    result : object
        Only with ``return_result=True``: the last call's return value.
    """
    result = fn()  # warm-up: imports, page faults, BLAS buffers
    times = []
    for _ in range(repeat):
        if clock is None:
            result = fn()
            times.append(result)
        else:
            start = clock()
            result = fn()
            times.append(clock() - start)
    seconds = min(times)
    return (seconds, result) if return_result else seconds


def cpu_name() -> str:
    """The CPU's model name from ``/proc/cpuinfo``, else what platform knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _threads(n: int | None) -> str:
    return f"{n} thread" if n == 1 else f"{n} threads"


def _owner(path: str) -> str:
    """Which package ships a shared library: ``numpy`` for ``.../numpy.libs/...``."""
    parent = os.path.basename(os.path.dirname(path))
    if parent == "lib":  # torch/lib/libgomp.so.1
        parent = os.path.basename(os.path.dirname(os.path.dirname(path)))
    return parent.removesuffix(".libs") or "?"


def blas_description() -> str:
    """Every thread pool loaded (BLAS, OpenMP where a package loaded one), by ``;``.

    Each says its library, version, build, threading layer, the threads it
    runs now and the package that ships it (numpy and scipy each bring an
    OpenBLAS of their own).
    """
    pools = []
    # BLAS first, then by the shipping package: threadpool_info's own order
    # follows the load order, which differs from run to run.
    infos = sorted(
        threadpool_info(),
        key=lambda i: (i.get("user_api") != "blas", i.get("filepath", "")),
    )
    for info in infos:
        name = info.get("internal_api", "?")
        if info.get("user_api") != "blas":  # OpenMP: the name says little
            name = f"{info.get('user_api')} {info.get('prefix', '')}".rstrip()
        if info.get("version"):
            name += f" {info['version']}"
        details = [
            info.get("architecture"),
            info.get("threading_layer"),
            _threads(info.get("num_threads")),
            _owner(info.get("filepath", "")),
        ]
        pools.append(f"{name} ({', '.join(d for d in details if d)})")
    return "; ".join(pools) or "unknown"


def environment(extra: str = "", *, bullet: str = "- ") -> list[str]:
    """Three lines: the machine, the library versions and the thread pools.

    Parameters
    ----------
    extra : str, default=""
        Appended to the versions line, e.g. ``", numpyro 0.15"``.
    bullet : str, default="- "
        Put before each line: ``"- "`` for a Markdown list, ``""`` for plain.

    Returns
    -------
    lines : list of str
    """
    versions = (
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, scikit-learn {sklearn.__version__}"
    )
    # Only what the script loaded: importing torch here would slow every
    # script down and add torch's OpenMP pool to the thread pools listed.
    torch = sys.modules.get("torch")
    if torch is not None:
        versions += f", torch {torch.__version__} ({_threads(torch.get_num_threads())})"
    skbayes = sys.modules.get("skbayes")
    if skbayes is not None:
        versions += f", skbayes {skbayes.__version__}"
    machine = (
        f"{platform.platform()}, {cpu_name()}, {os.cpu_count()} logical CPUs, "
        f"load average {os.getloadavg()[0]:.1f} (shared machine: expect noise)"
    )
    return [
        f"{bullet}machine: {machine}",
        f"{bullet}{versions}{extra}",
        f"{bullet}BLAS: {blas_description()}",
    ]
