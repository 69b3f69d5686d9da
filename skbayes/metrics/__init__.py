"""Scores for predictive distributions, and scorers that use ``predict_dist``.

Regression (Gaussian predictions, given as ``(y_true, mu, sigma)`` or
``(y_true, dist)``):

* :func:`gaussian_nll`, :func:`crps_gaussian`: proper scoring rules, lower is
  better;
* :func:`interval_coverage`, :func:`interval_width`: calibration and sharpness
  of a central interval;
* :func:`pit`, :func:`interval_calibration_curve`,
  :func:`regression_calibration_error`: calibration over all levels.

A zero ``sigma`` is a point mass at ``mu`` in every regression metric (its
interval is ``[mu, mu]``, its PIT 1/2 on ``mu``, its CRPS the absolute error);
only :func:`gaussian_nll` refuses it, as its log density is infinite.

Classification: :func:`expected_calibration_error`.

Scorers for ``GridSearchCV(scoring=...)`` and ``cross_validate``:
:data:`neg_gaussian_nll_scorer`, :data:`neg_crps_scorer`, and
:func:`make_dist_scorer` for your own.
"""

from ._classification import expected_calibration_error
from ._regression import (
    crps_gaussian,
    gaussian_nll,
    interval_calibration_curve,
    interval_coverage,
    interval_width,
    pit,
    regression_calibration_error,
)
from ._scorer import make_dist_scorer, neg_crps_scorer, neg_gaussian_nll_scorer

__all__ = [
    "crps_gaussian",
    "expected_calibration_error",
    "gaussian_nll",
    "interval_calibration_curve",
    "interval_coverage",
    "interval_width",
    "make_dist_scorer",
    "neg_crps_scorer",
    "neg_gaussian_nll_scorer",
    "pit",
    "regression_calibration_error",
]
