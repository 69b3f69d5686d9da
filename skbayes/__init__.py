"""skbayes: scikit-learn compatible Bayesian estimators that say how sure they are.

The estimators are imported lazily, so ``import skbayes`` stays light and never
imports torch; ``from skbayes import StochasticMLPRegressor`` does.
"""

from __future__ import annotations

import importlib

from ._distribution import Normal

__version__ = "0.1.0.dev0"

# public name -> module that defines it
_LAZY = {
    "GaussianLinearRegression": "skbayes.linear._gaussian",
    "BayesianLogisticRegression": "skbayes.linear._logistic",
    "StochasticMLPRegressor": "skbayes.nn._mlp",
    "StochasticMLPClassifier": "skbayes.nn._classifier",
    "predict_dist": "skbayes._meta",
}

__all__ = ["Normal", "__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'skbayes' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
