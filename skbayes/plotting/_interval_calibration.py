"""Calibration plot of regression intervals."""

from __future__ import annotations

from .._meta import predict_dist
from ..metrics._regression import _curve_error, interval_calibration_curve
from ._matplotlib import _get_ax

__all__ = ["IntervalCalibrationDisplay"]


class IntervalCalibrationDisplay:
    """Expected against observed coverage of central predictive intervals.

    For each confidence level ``c``, the fraction of targets inside the
    central ``c`` interval of the predictive distribution (see
    :func:`skbayes.metrics.interval_calibration_curve`). Calibrated
    predictions lie on the diagonal; a curve below it means over-confident
    (too narrow) intervals, above it under-confident (too wide) ones. The
    regression counterpart of :class:`sklearn.calibration.CalibrationDisplay`.

    Build it with :meth:`from_estimator` or :meth:`from_predictions`.

    Parameters
    ----------
    expected : ndarray of shape (n_levels,)
        The confidence levels.
    observed : ndarray of shape (n_levels,)
        The observed coverage at each level.
    estimator_name : str, default=None
        Name used in the legend.

    Attributes
    ----------
    calibration_error : float
        ``mean |observed - expected|``, as
        :func:`skbayes.metrics.regression_calibration_error`.
    line_ : matplotlib Line2D
        The calibration curve.
    ref_line_ : matplotlib Line2D or None
        The diagonal, None with ``ref_line=False``.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    See Also
    --------
    sklearn.calibration.CalibrationDisplay : The reliability diagram of a
        classifier; it works as is with
        :class:`skbayes.BayesianLogisticRegression`, which has
        ``predict_proba``.

    Examples
    --------
    >>> import numpy as np
    >>> from skbayes.plotting import IntervalCalibrationDisplay
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=1000)
    >>> disp = IntervalCalibrationDisplay.from_predictions(y, np.zeros(1000), 0.5)
    >>> bool(disp.observed[-1] < disp.expected[-1])  # over-confident
    True
    >>> import matplotlib.pyplot as plt
    >>> plt.close(disp.figure_)
    """

    def __init__(self, expected, observed, *, estimator_name=None):
        self.expected = expected
        self.observed = observed
        self.estimator_name = estimator_name

    @property
    def calibration_error(self) -> float:
        return _curve_error(self.expected, self.observed)

    def plot(self, ax=None, *, name=None, ref_line=True, **kwargs):
        """Draw the plot.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        name : str, default=None
            Legend label; None uses ``estimator_name``. The calibration error
            is added to it.
        ref_line : bool, default=True
            Draw the diagonal of perfect calibration.
        **kwargs
            Passed to ``ax.plot`` for the curve.

        Returns
        -------
        display : IntervalCalibrationDisplay
        """
        self.figure_, self.ax_ = _get_ax(ax, "IntervalCalibrationDisplay.plot")
        ax = self.ax_
        name = self.estimator_name if name is None else name
        label = f"error {self.calibration_error:.3f}"
        label = label if name is None else f"{name} ({label})"
        self.ref_line_ = None
        if ref_line:
            (self.ref_line_,) = ax.plot(
                [0, 1], [0, 1], "k:", label="Perfectly calibrated"
            )
        kwargs = {"marker": "s", "label": label, **kwargs}
        (self.line_,) = ax.plot(self.expected, self.observed, **kwargs)
        ax.set(
            xlabel="Expected coverage (confidence level)",
            ylabel="Observed coverage",
            xlim=(-0.02, 1.02),
            ylim=(-0.02, 1.02),
        )
        ax.set_aspect("equal")
        ax.legend(loc="upper left")
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        confidence_levels=None,
        sample_weight=None,
        name=None,
        ref_line=True,
        ax=None,
        **kwargs,
    ):
        """Plot the interval calibration of a fitted estimator.

        Parameters
        ----------
        estimator : object
            A fitted estimator that :func:`skbayes.predict_dist` accepts.
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        confidence_levels : array-like of float in (0, 1), default=None
            None means ``np.linspace(0.05, 0.95, 19)``.
        sample_weight : array-like of shape (n_samples,), default=None
        name : str, default=None
            Legend label; None uses the estimator's class name.
        ref_line : bool, default=True
        ax : matplotlib Axes, default=None
        **kwargs
            Passed to ``ax.plot`` for the curve.

        Returns
        -------
        display : IntervalCalibrationDisplay
        """
        dist = predict_dist(estimator, X)
        name = type(estimator).__name__ if name is None else name
        return cls.from_predictions(
            y,
            dist,
            confidence_levels=confidence_levels,
            sample_weight=sample_weight,
            name=name,
            ref_line=ref_line,
            ax=ax,
            **kwargs,
        )

    @classmethod
    def from_predictions(
        cls,
        y_true,
        mu,
        sigma=None,
        *,
        confidence_levels=None,
        sample_weight=None,
        name=None,
        ref_line=True,
        ax=None,
        **kwargs,
    ):
        """Plot the interval calibration of given predictions.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        mu : array-like, or skbayes.Normal
            Predictive means, or the predictive distribution (then leave
            ``sigma`` out).
        sigma : array-like, default=None
            Predictive standard deviations.
        confidence_levels : array-like of float in (0, 1), default=None
            None means ``np.linspace(0.05, 0.95, 19)``.
        sample_weight : array-like of shape (n_samples,), default=None
        name : str, default=None
        ref_line : bool, default=True
        ax : matplotlib Axes, default=None
        **kwargs
            Passed to ``ax.plot`` for the curve.

        Returns
        -------
        display : IntervalCalibrationDisplay
        """
        expected, observed = interval_calibration_curve(
            y_true,
            mu,
            sigma,
            confidence_levels=confidence_levels,
            sample_weight=sample_weight,
        )
        display = cls(expected, observed, estimator_name=name)
        return display.plot(ax=ax, ref_line=ref_line, **kwargs)
