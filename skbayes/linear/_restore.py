"""Failed fits leave the model as it was."""

from __future__ import annotations

from contextlib import contextmanager

from sklearn.base import BaseEstimator


@contextmanager
def _restore_on_error(estimator: BaseEstimator):
    """Leave ``estimator`` exactly as it was if the block raises."""
    state = estimator.__dict__.copy()  # attributes are replaced, never mutated
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(state)
        raise
