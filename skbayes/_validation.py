"""Input checks shared by the estimators, on top of scikit-learn's own."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import _check_sample_weight


def check_sample_weight(sample_weight, X, *, dtype=None) -> np.ndarray:
    """Validate ``sample_weight``: finite, non-negative, not all zero.

    Returns an array of shape (n_samples,) (ones when None). The error
    messages name ``sample_weight`` so users know which argument to fix.
    """
    sw = _check_sample_weight(sample_weight, X, dtype=dtype, ensure_non_negative=True)
    if not np.all(np.isfinite(sw)):
        raise ValueError("sample_weight contains NaN or infinity.")
    if sample_weight is not None and not np.any(sw > 0):
        raise ValueError(
            "sample_weight must have at least one positive value; all are zero."
        )
    return sw
