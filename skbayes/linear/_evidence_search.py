"""Empirical Bayes for one prior scale: maximise an evidence lower bound.

The evidence lower bound (ELBO) of a Gaussian ``q`` is a possible value of
``log p(y | X)`` (never above it, so never above 0 with a proper model), and
its maximum over ``q`` is the best such bound at each scale. The scale is
searched in ``log σ`` on a bounded interval by Brent's method
(:func:`scipy.optimize.minimize_scalar`); every inner fit is converged to a
fixed tight tolerance and warm-started from the nearest scale already
fitted. An optimum at the edge of the interval gets a warning and the edge.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.exceptions import ConvergenceWarning

# Search interval of σ in standardised units, and the tolerance in log σ:
# the answer is snapped to a lattice of step 0.05 (where the bound is flat
# to about 1e-3 nats), so locating the optimum to 0.02 is enough.
LOG_BOUNDS = (float(np.log(1e-3)), float(np.log(1e3)))
_XATOL = 0.02
# An optimum this close to an edge of the interval is "at the edge".
_EDGE = 0.05


def maximise_evidence(evaluate: Callable[[float], tuple[float, object]]):
    """Maximise ``evaluate(log σ)[0]`` over :data:`LOG_BOUNDS`.

    Returns ``(log σ, payload)`` of the best scale evaluated.
    """
    cache: dict[float, tuple[float, object]] = {}

    def neg(log_sigma: float) -> float:
        log_sigma = float(log_sigma)
        if log_sigma not in cache:
            cache[log_sigma] = evaluate(log_sigma)
        return -cache[log_sigma][0]

    lo, hi = LOG_BOUNDS
    res = minimize_scalar(
        neg, bounds=(lo, hi), method="bounded", options={"xatol": _XATOL}
    )
    best = max(cache, key=lambda k: cache[k][0])
    if min(best - lo, hi - best) < _EDGE:
        why = "separable data?" if hi - best < best - lo else "no signal in the data?"
        warnings.warn(
            "prior_scale='auto': the evidence lower bound keeps growing towards "
            f"the edge of the search range, σ = {np.exp(best):.3g} in standardised "
            f"units ({why}); using it. Pass a fixed prior_scale to choose another.",
            ConvergenceWarning,
            stacklevel=2,
        )
    del res
    return best, cache[best][1]
