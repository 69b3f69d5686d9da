"""Shared data and constructors for the stochastic-network tests.

A plain module, not a test file (imported as ``from _nets import ...``, like
``_doubles``).
"""

from __future__ import annotations

import numpy as np

from skbayes import StochasticMLPClassifier, StochasticMLPRegressor


def toy_data(n: int = 120, d: int = 3, seed: int = 0):
    """``X``, a real target and string labels from one linear signal."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    f = X @ rng.randn(d)
    return X, f + 0.3 * rng.randn(n), np.where(f > 0, "yes", "no")


def make_net(kind: str, base: dict, **kw):
    """The regressor (``kind="reg"``) or the classifier with ``base`` and ``kw``."""
    cls = StochasticMLPRegressor if kind == "reg" else StochasticMLPClassifier
    return cls(**{**base, **kw})
