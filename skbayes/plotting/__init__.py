"""Plots of predictive uncertainty, in the Display style of scikit-learn.

matplotlib is an optional dependency (``pip install skbayes[plot]``); it is
imported only when a plot is drawn.

* :class:`PredictiveBandDisplay`: predictive mean and central intervals, as
  bands over one input feature or as error bars over samples sorted by
  prediction.
* :class:`IntervalCalibrationDisplay`: expected against observed coverage of
  the central intervals.

For the reliability diagram of :class:`skbayes.BayesianLogisticRegression`,
use scikit-learn's :class:`sklearn.calibration.CalibrationDisplay` as is (it
needs only ``predict_proba``)::

    from sklearn.calibration import CalibrationDisplay
    CalibrationDisplay.from_estimator(clf, X_test, y_test, n_bins=10)

:func:`skbayes.metrics.expected_calibration_error` with the same ``n_bins``
and ``strategy`` is the sample-weighted distance of that diagram from the
diagonal.
"""

from ._interval_calibration import IntervalCalibrationDisplay
from ._predictive_band import PredictiveBandDisplay

__all__ = ["IntervalCalibrationDisplay", "PredictiveBandDisplay"]
