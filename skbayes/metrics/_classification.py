"""Calibration of predicted class probabilities."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils import check_array, check_consistent_length, column_or_1d
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import _check_sample_weight

__all__ = ["expected_calibration_error"]


@validate_params(
    {
        "y_true": ["array-like"],
        "y_prob": ["array-like"],
        "n_bins": [Interval(Integral, 1, None, closed="left")],
        "strategy": [StrOptions({"uniform", "quantile"})],
        "sample_weight": ["array-like", None],
        "pos_label": "no_validation",
        "labels": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def expected_calibration_error(
    y_true,
    y_prob,
    *,
    n_bins=10,
    strategy="uniform",
    sample_weight=None,
    pos_label=None,
    labels=None,
) -> float:
    """Expected calibration error (ECE) of predicted probabilities.

    The predictions are binned by their confidence ``p``; the ECE is the
    weighted mean, over bins, of ``|mean outcome - mean p|``, weighted by the
    share of samples in the bin::

        ECE = sum_b (n_b / n) * |acc_b - conf_b|

    * **Binary**, ``y_prob`` of shape (n_samples,): ``p`` is the predicted
      probability of the positive class and the outcome is ``y_true ==
      pos_label``. The bins are those of
      :func:`sklearn.calibration.calibration_curve`, so the ECE is the
      sample-weighted distance of the reliability diagram
      (:class:`sklearn.calibration.CalibrationDisplay`) from the diagonal.
    * **Multiclass, top-label** (Guo et al., 2017), ``y_prob`` of shape
      (n_samples, n_classes) such as ``predict_proba``'s output: ``p`` is the
      largest probability of each row and the outcome is whether its class is
      the true one. A two-column ``y_prob`` is treated the same way.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_prob : array-like of shape (n_samples,) or (n_samples, n_classes)
        Predicted probabilities, in [0, 1].
    n_bins : int, default=10
        Number of bins.
    strategy : {"uniform", "quantile"}, default="uniform"
        ``"uniform"``: bins of equal width on [0, 1]; ``"quantile"``: bins
        holding about the same number of samples.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the samples in the bin means and bin shares.
    pos_label : int, float, bool or str, default=None
        The positive class of binary ``y_true``, for a 1-D ``y_prob``. None
        means 1, which requires labels in {0, 1} or {-1, 1}.
    labels : array-like of shape (n_classes,), default=None
        The classes in the order of ``y_prob``'s columns, for a 2-D
        ``y_prob`` (``estimator.classes_``). None means the sorted unique
        values of ``y_true``, which must then number ``n_classes``.

    Returns
    -------
    ece : float
        In [0, 1]; 0 is perfectly calibrated on these bins.

    Examples
    --------
    >>> from skbayes.metrics import expected_calibration_error
    >>> y_true = [0, 0, 1, 1]
    >>> round(expected_calibration_error(y_true, [0.1, 0.1, 0.9, 0.9], n_bins=2), 4)
    0.1
    >>> proba = [[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.7, 0.2, 0.1]]
    >>> round(expected_calibration_error([0, 1, 2, 1], proba), 4)
    0.05
    """
    if isinstance(n_bins, (bool, np.bool_)):
        # an Integral to Python, but never meant as a count
        raise InvalidParameterError(
            "The 'n_bins' parameter of expected_calibration_error must be an int "
            f"in the range [1, inf). Got {n_bins!r} instead."
        )
    y_true = column_or_1d(y_true)
    y_prob = check_array(y_prob, ensure_2d=False, input_name="y_prob")
    check_consistent_length(y_true, y_prob)
    if y_prob.ndim == 2 and y_prob.shape[1] == 1:
        y_prob = y_prob[:, 0]
    if y_prob.ndim not in (1, 2):
        raise ValueError(f"y_prob must be 1-D or 2-D; got shape {y_prob.shape}.")
    if y_prob.min() < 0 or y_prob.max() > 1:
        raise ValueError("y_prob has values outside [0, 1].")

    if y_prob.ndim == 1:
        confidence, outcome = y_prob, _binary_outcome(y_true, pos_label)
    else:
        classes = np.unique(y_true) if labels is None else np.asarray(labels)
        if labels is None and classes.size != y_prob.shape[1]:
            raise ValueError(
                f"y_true has {classes.size} classes but y_prob has "
                f"{y_prob.shape[1]} columns; pass labels= (e.g. "
                "estimator.classes_) to say which column is which class."
            )
        if classes.size != y_prob.shape[1]:
            raise ValueError(
                f"labels has {classes.size} entries but y_prob has "
                f"{y_prob.shape[1]} columns."
            )
        if not np.all(np.isin(y_true, classes)):
            raise ValueError("y_true has labels that are not in labels.")
        top = np.argmax(y_prob, axis=1)
        confidence = y_prob[np.arange(y_prob.shape[0]), top]
        outcome = classes[top] == y_true

    sw = _check_sample_weight(
        sample_weight, confidence, dtype=np.float64, ensure_non_negative=True
    )
    total = sw.sum()
    if not total > 0:
        raise ValueError("sample_weight must have at least one positive value.")

    if strategy == "uniform":
        bins = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        bins = np.percentile(confidence, np.linspace(0, 100, n_bins + 1))
    binids = np.searchsorted(bins[1:-1], confidence)
    bin_conf = np.bincount(binids, weights=sw * confidence, minlength=n_bins)
    bin_true = np.bincount(binids, weights=sw * outcome, minlength=n_bins)
    return float(np.sum(np.abs(bin_true - bin_conf)) / total)


def _binary_outcome(y_true: np.ndarray, pos_label) -> np.ndarray:
    classes = np.unique(y_true)
    if classes.size > 2:
        raise ValueError(
            f"A 1-D y_prob needs binary y_true; got the labels {classes.tolist()}. "
            "Pass the 2-D predict_proba output for multiclass (top-label) ECE."
        )
    if pos_label is None:
        if classes.dtype.kind in "OUS" or not (
            set(classes.tolist()) <= {0, 1} or set(classes.tolist()) <= {-1, 1}
        ):
            raise ValueError(
                f"y_true takes values in {classes.tolist()} and pos_label is not "
                "specified: make y_true take values in {0, 1} or {-1, 1}, or pass "
                "pos_label."
            )
        pos_label = 1
    return (y_true == pos_label).astype(np.float64)
