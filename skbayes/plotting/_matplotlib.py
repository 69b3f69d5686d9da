"""Lazy, optional matplotlib."""

from __future__ import annotations


def _check_matplotlib(caller: str):
    """Import and return ``matplotlib.pyplot``, or say how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, an optional dependency of skbayes. "
            "Install it with `pip install skbayes[plot]` (or `pip install "
            "matplotlib`)."
        ) from exc
    return plt


def _get_ax(ax, caller: str):
    """Return ``(figure, axes)``, making a new figure when ``ax`` is None."""
    plt = _check_matplotlib(caller)
    if ax is None:
        _, ax = plt.subplots()
    return ax.figure, ax
