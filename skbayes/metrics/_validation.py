"""Argument handling shared by the scoring functions."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_array, check_consistent_length
from sklearn.utils.validation import _check_sample_weight

from .._distribution import Normal


def _unpack_dist(mu, sigma) -> tuple[object, object]:
    """Return ``(mu, sigma)`` from either two arrays or one distribution."""
    if isinstance(mu, Normal):
        if sigma is not None:
            raise TypeError(
                "Pass either (mu, sigma) or a skbayes.Normal as the second "
                "argument, not both: sigma must be None when mu is a Normal."
            )
        return mu.mean, mu.std
    if sigma is None:
        raise TypeError(
            "sigma is required unless the second argument is a skbayes.Normal "
            "(as returned by predict_dist); got sigma=None and a second argument "
            f"of type {type(mu).__name__}."
        )
    return mu, sigma


def _check_reg_inputs(
    y_true, mu, sigma, *, strictly_positive: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a regression target and a Gaussian prediction.

    Returns float arrays ``y_true``, ``mu`` and ``sigma`` of one common shape,
    ``(n_samples,)`` or ``(n_samples, n_outputs)``; ``sigma`` may be given as
    anything that broadcasts to the shape of ``mu``.
    """
    mu, sigma = _unpack_dist(mu, sigma)
    mu = check_array(mu, ensure_2d=False, dtype="numeric", input_name="mu")
    sigma = np.asarray(sigma)
    if np.iscomplexobj(sigma):
        raise ValueError(
            "sigma must be real (a standard deviation); got complex values, whose "
            "imaginary part would be dropped silently."
        )
    sigma = sigma.astype(np.float64)
    if not np.all(np.isfinite(sigma)):
        raise ValueError("Input sigma contains NaN or infinity.")
    if mu.ndim not in (1, 2):
        raise ValueError(f"mu must be 1-D or 2-D; got an array of shape {mu.shape}.")
    try:
        sigma = np.broadcast_to(sigma, mu.shape)
    except ValueError:
        raise ValueError(
            f"sigma of shape {sigma.shape} does not match mu of shape {mu.shape}."
        ) from None
    if np.any(sigma < 0):
        raise ValueError("sigma must be non-negative (a standard deviation).")
    if strictly_positive and np.any(sigma == 0):
        raise ValueError(
            "sigma must be strictly positive for this score: sigma == 0 is a point "
            "mass, whose density is infinite on its mean and zero off it. "
            "crps_gaussian scores it (as the absolute error)."
        )
    if y_true is not None:
        y_true = check_array(
            y_true, ensure_2d=False, dtype="numeric", input_name="y_true"
        )
        check_consistent_length(y_true, mu)
        if y_true.ndim == 2 and y_true.shape[1] == 1 and mu.ndim == 1:
            y_true = y_true[:, 0]
        if y_true.shape != mu.shape:
            raise ValueError(
                f"y_true of shape {y_true.shape} does not match mu of shape {mu.shape}."
            )
    return y_true, mu.astype(np.float64, copy=False), sigma.astype(np.float64)


def _weighted_mean(per_sample: np.ndarray, sample_weight) -> float:
    """Weighted mean over the first axis; other axes are averaged uniformly."""
    n = per_sample.shape[0]
    values = per_sample.reshape(n, -1).mean(axis=1)
    sw = _check_sample_weight(
        sample_weight, values, dtype=np.float64, ensure_non_negative=True
    )
    total = sw.sum()
    if not total > 0:
        raise ValueError("sample_weight must have at least one positive value.")
    return float(np.dot(sw, values) / total)
