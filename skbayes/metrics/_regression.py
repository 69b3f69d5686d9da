"""Scoring rules and calibration measures for Gaussian predictive distributions.

Every function takes the target first, then the prediction, either as two
arrays ``(y_true, mu, sigma)`` (``sigma`` a standard deviation, never a
variance) or as ``(y_true, dist)`` with the :class:`skbayes.Normal` returned
by ``predict_dist``.

``sigma == 0`` is a point mass at ``mu``, as in :class:`skbayes.Normal`: its
central intervals are ``[mu, mu]`` (width 0; they cover a target only if it
equals ``mu``, at every level, in :func:`interval_coverage` and
:func:`interval_calibration_curve` alike), its PIT is 0 below ``mu``, 1 above
and 1/2 on it, and its CRPS is the absolute error. Only
:func:`gaussian_nll` refuses it: the log density of a point mass is infinite.
NaN, infinite or complex ``sigma`` are refused by every function.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from scipy import special, stats
from sklearn.utils._param_validation import Interval, validate_params

from .._distribution import central_interval, standardize
from ._validation import _check_reg_inputs, _weighted_mean

__all__ = [
    "crps_gaussian",
    "gaussian_nll",
    "interval_calibration_curve",
    "interval_coverage",
    "interval_width",
    "pit",
    "regression_calibration_error",
]

#: Confidence levels used when ``confidence_levels=None``.
DEFAULT_CONFIDENCE_LEVELS = np.linspace(0.05, 0.95, 19)

# The metrics share their signatures and so their checks: the inputs are
# checked by _check_reg_inputs, the keywords here.
_SCORE_PARAMS = {
    "y_true": "no_validation",
    "mu": "no_validation",
    "sigma": "no_validation",
    "sample_weight": ["array-like", None],
}
_INTERVAL_PARAMS = {
    **_SCORE_PARAMS,
    "confidence": [Interval(Real, 0, 1, closed="neither")],
}
_CURVE_PARAMS = {**_SCORE_PARAMS, "confidence_levels": ["array-like", None]}


@validate_params(_SCORE_PARAMS, prefer_skip_nested_validation=True)
def gaussian_nll(y_true, mu, sigma=None, *, sample_weight=None) -> float:
    """Mean negative log predictive density of Gaussian predictions.

    ``-log N(y | mu, sigma**2)`` averaged over samples (and outputs): a strictly
    proper scoring rule, lower is better. It equals ``0.5 * log(2 pi sigma**2)
    + (y - mu)**2 / (2 sigma**2)`` per sample.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Observed targets.
    mu : array-like of the shape of ``y_true``, or skbayes.Normal
        Predictive means, or the whole predictive distribution (then leave
        ``sigma`` out).
    sigma : array-like, default=None
        Predictive standard deviations, broadcastable to ``mu``; strictly
        positive.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the samples in the mean.

    Returns
    -------
    nll : float

    See Also
    --------
    crps_gaussian : A proper score that is robust to sigma near zero.

    Examples
    --------
    >>> from skbayes.metrics import gaussian_nll
    >>> round(gaussian_nll([0.0, 1.0], [0.0, 0.0], [1.0, 1.0]), 4)
    1.1689
    >>> from skbayes import Normal
    >>> round(gaussian_nll([0.0, 1.0], Normal([0.0, 0.0], [1.0, 1.0])), 4)
    1.1689
    """
    y_true, mu, sigma = _check_reg_inputs(y_true, mu, sigma, strictly_positive=True)
    per_sample = -stats.norm.logpdf(y_true, loc=mu, scale=sigma)
    return _weighted_mean(per_sample, sample_weight)


@validate_params(_SCORE_PARAMS, prefer_skip_nested_validation=True)
def crps_gaussian(y_true, mu, sigma=None, *, sample_weight=None) -> float:
    """Mean continuous ranked probability score of Gaussian predictions.

    ``CRPS(F, y) = integral (F(x) - 1{x >= y})**2 dx``, in closed form for a
    Gaussian (Gneiting and Raftery, 2007)::

        sigma * (z * (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi)),  z = (y - mu) / sigma

    It has the units of ``y``, is a strictly proper scoring rule (lower is
    better) and reduces to the absolute error ``|y - mu|`` when ``sigma == 0``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Observed targets.
    mu : array-like of the shape of ``y_true``, or skbayes.Normal
        Predictive means, or the whole predictive distribution (then leave
        ``sigma`` out).
    sigma : array-like, default=None
        Predictive standard deviations, broadcastable to ``mu``; non-negative.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the samples in the mean.

    Returns
    -------
    crps : float

    Examples
    --------
    >>> from skbayes.metrics import crps_gaussian
    >>> round(crps_gaussian([0.0], [0.0], [1.0]), 4)  # (sqrt(2) - 1) / sqrt(pi)
    0.2337
    >>> crps_gaussian([1.0, -1.0], [0.0, 0.0], 0.0)  # absolute error
    1.0
    """
    y_true, mu, sigma = _check_reg_inputs(y_true, mu, sigma)
    abs_err = np.abs(y_true - mu)
    positive = sigma > 0
    safe_sigma = np.where(positive, sigma, 1.0)
    z = (y_true - mu) / safe_sigma
    crps = safe_sigma * (
        z * special.erf(z / np.sqrt(2.0))
        + 2.0 * stats.norm.pdf(z)
        - 1.0 / np.sqrt(np.pi)
    )
    per_sample = np.where(positive, crps, abs_err)
    return _weighted_mean(per_sample, sample_weight)


@validate_params(_INTERVAL_PARAMS, prefer_skip_nested_validation=True)
def interval_coverage(
    y_true, mu, sigma=None, *, confidence=0.9, sample_weight=None
) -> float:
    """Fraction of targets inside the central predictive interval.

    For calibrated predictions it is close to ``confidence``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Observed targets.
    mu : array-like of the shape of ``y_true``, or skbayes.Normal
        Predictive means, or the whole predictive distribution.
    sigma : array-like, default=None
        Predictive standard deviations, broadcastable to ``mu``.
    confidence : float, default=0.9
        Probability mass of the central interval, in (0, 1).
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    coverage : float
        In [0, 1].

    Examples
    --------
    >>> from skbayes.metrics import interval_coverage
    >>> interval_coverage([0.0, 1.0, 3.0], [0.0, 0.0, 0.0], 1.0, confidence=0.9)
    0.6666666666666666
    """
    y_true, mu, sigma = _check_reg_inputs(y_true, mu, sigma)
    inside = _inside(np.abs(y_true - mu), sigma, confidence)
    return _weighted_mean(inside.astype(np.float64), sample_weight)


@validate_params(_INTERVAL_PARAMS, prefer_skip_nested_validation=True)
def interval_width(
    y_true, mu, sigma=None, *, confidence=0.9, sample_weight=None
) -> float:
    """Mean width of the central predictive interval (its sharpness).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or None
        Only checked for a consistent length with ``mu``; pass None to skip.
        It is there so that all metrics share one signature (and
        :func:`make_dist_scorer` works with this one too).
    mu : array-like, or skbayes.Normal
        Predictive means, or the whole predictive distribution.
    sigma : array-like, default=None
        Predictive standard deviations, broadcastable to ``mu``.
    confidence : float, default=0.9
        Probability mass of the central interval, in (0, 1).
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    width : float
        In the units of ``y``: ``2 * norm.ppf((1 + confidence) / 2)`` times the
        mean ``sigma``.

    Examples
    --------
    >>> from skbayes.metrics import interval_width
    >>> round(interval_width(None, [0.0, 5.0], [1.0, 1.0], confidence=0.95), 3)
    3.92
    """
    _, mu, sigma = _check_reg_inputs(y_true, mu, sigma)
    lower, upper = central_interval(mu, sigma, confidence)
    return _weighted_mean(upper - lower, sample_weight)


@validate_params(
    {"y_true": "no_validation", "mu": "no_validation", "sigma": "no_validation"},
    prefer_skip_nested_validation=True,
)
def pit(y_true, mu, sigma=None) -> np.ndarray:
    """Probability integral transform: the predictive CDF at each target.

    For calibrated predictions the PIT values are uniform on [0, 1]; a
    U-shaped histogram means over-confident intervals, a hump under-confident
    ones.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Observed targets.
    mu : array-like of the shape of ``y_true``, or skbayes.Normal
        Predictive means, or the whole predictive distribution.
    sigma : array-like, default=None
        Predictive standard deviations, broadcastable to ``mu``.

    Returns
    -------
    pit : ndarray of the shape of ``y_true``
        ``Phi((y_true - mu) / sigma)``.

    Examples
    --------
    >>> from skbayes.metrics import pit
    >>> pit([0.0, 1.0], [0.0, 0.0], 1.0).round(4)
    array([0.5   , 0.8413])
    """
    y_true, mu, sigma = _check_reg_inputs(y_true, mu, sigma)
    return stats.norm.cdf(standardize(y_true, mu, sigma))


@validate_params(_CURVE_PARAMS, prefer_skip_nested_validation=True)
def interval_calibration_curve(
    y_true, mu, sigma=None, *, confidence_levels=None, sample_weight=None
) -> tuple[np.ndarray, np.ndarray]:
    """Observed coverage of central predictive intervals at several levels.

    The data of a calibration plot for regression
    (:class:`skbayes.plotting.IntervalCalibrationDisplay`), analogous to
    :func:`sklearn.calibration.calibration_curve` for classifiers.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Observed targets.
    mu : array-like of the shape of ``y_true``, or skbayes.Normal
        Predictive means, or the whole predictive distribution.
    sigma : array-like, default=None
        Predictive standard deviations, broadcastable to ``mu``.
    confidence_levels : array-like of float in (0, 1), default=None
        The expected coverages. None means ``np.linspace(0.05, 0.95, 19)``.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    expected : ndarray of shape (n_levels,)
        The confidence levels, sorted.
    observed : ndarray of shape (n_levels,)
        The fraction of targets inside each central interval.

    Examples
    --------
    >>> from skbayes.metrics import interval_calibration_curve
    >>> expected, observed = interval_calibration_curve(
    ...     [0.0, 0.5, 3.0], [0.0, 0.0, 0.0], 1.0, confidence_levels=[0.5, 0.9])
    >>> observed
    array([0.66666667, 0.66666667])
    """
    y_true, mu, sigma = _check_reg_inputs(y_true, mu, sigma)
    expected = _check_levels(confidence_levels)
    # z-score of the target: inside the central c interval iff |z| <= ppf((1+c)/2)
    abs_dev = np.abs(y_true - mu)
    observed = np.empty_like(expected)
    for i, level in enumerate(expected):
        inside = _inside(abs_dev, sigma, level)
        observed[i] = _weighted_mean(inside.astype(np.float64), sample_weight)
    return expected, observed


@validate_params(_CURVE_PARAMS, prefer_skip_nested_validation=True)
def regression_calibration_error(
    y_true, mu, sigma=None, *, confidence_levels=None, sample_weight=None
) -> float:
    """Mean absolute miscalibration of central predictive intervals.

    For each confidence level ``c`` in ``confidence_levels``, the observed
    coverage of the central ``c`` interval is compared with ``c``; the error is
    ``mean_c |observed(c) - c|``, in [0, 1): 0 for perfectly calibrated
    intervals, about 0.5 for intervals that never (or always) cover. It is the
    mean distance of the curve from the diagonal in
    :class:`skbayes.plotting.IntervalCalibrationDisplay`, and a discretised
    form of the mean absolute calibration error on the PIT values.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Observed targets.
    mu : array-like of the shape of ``y_true``, or skbayes.Normal
        Predictive means, or the whole predictive distribution.
    sigma : array-like, default=None
        Predictive standard deviations, broadcastable to ``mu``.
    confidence_levels : array-like of float in (0, 1), default=None
        The grid of levels. None means ``np.linspace(0.05, 0.95, 19)``.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    error : float

    See Also
    --------
    interval_calibration_curve : The observed coverages themselves.

    Examples
    --------
    >>> import numpy as np
    >>> from skbayes.metrics import regression_calibration_error
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=20_000)
    >>> bool(regression_calibration_error(y, np.zeros_like(y), 1.0) < 0.01)
    True
    >>> bool(regression_calibration_error(y, np.zeros_like(y), 0.2) > 0.3)
    True
    """
    expected, observed = interval_calibration_curve(
        y_true,
        mu,
        sigma,
        confidence_levels=confidence_levels,
        sample_weight=sample_weight,
    )
    return _curve_error(expected, observed)


def _curve_error(expected, observed) -> float:
    """Mean distance of a coverage curve from the diagonal, ``mean |o - e|``.

    Also ``IntervalCalibrationDisplay.calibration_error``, so that the plot
    and the metric report the same number.
    """
    return float(np.mean(np.abs(np.asarray(observed) - np.asarray(expected))))


def _inside(abs_dev: np.ndarray, sigma: np.ndarray, level: float) -> np.ndarray:
    """Whether each target lies in the central ``level`` interval (closed).

    One rule for every metric, so that coverage and the calibration curve
    agree to the last bit; a point mass (sigma 0) covers only its mean.
    """
    return abs_dev <= sigma * stats.norm.ppf(0.5 + level / 2.0)


def _check_levels(confidence_levels) -> np.ndarray:
    if confidence_levels is None:
        return DEFAULT_CONFIDENCE_LEVELS.copy()
    levels = np.asarray(confidence_levels)
    if np.iscomplexobj(levels) or levels.dtype.kind not in "iuf":
        raise ValueError(
            f"confidence_levels must be real numbers; got {confidence_levels!r}."
        )
    levels = np.sort(np.atleast_1d(levels.astype(np.float64)))
    if levels.ndim != 1 or levels.size == 0:
        raise ValueError("confidence_levels must be a non-empty 1-D array-like.")
    if not np.all((levels > 0) & (levels < 1)):
        raise ValueError(
            "confidence_levels must lie in the open interval (0, 1); "
            f"got {levels.tolist()}."
        )
    return levels
