"""Synthetic data with known predictive distributions, for examples and tests."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["heteroscedastic_mean", "make_heteroscedastic"]


def make_heteroscedastic(
    n_samples: int = 1000,
    *,
    x_range: float = 3.0,
    base_noise: float = 0.1,
    noise_slope: float = 0.3,
    random_state=None,
    return_std: bool = False,
):
    """1-D regression whose noise standard deviation grows with ``|x|``.

    ``x ~ Uniform(-x_range, x_range)``, ``y = sin(x) + x / 2 + ε`` with
    ``ε ~ N(0, s(x)²)`` and ``s(x) = base_noise + noise_slope * |x|``: the
    lecture's "predicting distributions" picture, where a good model's
    predicted standard deviation follows ``s(x)``.

    Parameters
    ----------
    n_samples : int, default=1000
    x_range : float, default=3.0
    base_noise : float, default=0.1
        Noise standard deviation at ``x = 0``.
    noise_slope : float, default=0.3
        Growth of the noise standard deviation per unit of ``|x|``.
    random_state : int, RandomState instance or None, default=None
    return_std : bool, default=False
        Also return the true noise standard deviation of each sample.

    Returns
    -------
    X : ndarray of shape (n_samples, 1)
    y : ndarray of shape (n_samples,)
    noise_std : ndarray of shape (n_samples,)
        Only when ``return_std`` is True.

    Examples
    --------
    >>> from skbayes.datasets import make_heteroscedastic
    >>> X, y, s = make_heteroscedastic(5, random_state=0, return_std=True)
    >>> X.shape, y.shape, bool((s >= 0.1).all())
    ((5, 1), (5,), True)
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1; got {n_samples}.")
    if base_noise <= 0 or noise_slope < 0:
        raise ValueError("base_noise must be positive and noise_slope non-negative.")
    rng = check_random_state(random_state)
    x = rng.uniform(-x_range, x_range, size=n_samples)
    noise_std = base_noise + noise_slope * np.abs(x)
    y = heteroscedastic_mean(x) + noise_std * rng.standard_normal(n_samples)
    X = x[:, None]
    return (X, y, noise_std) if return_std else (X, y)


def heteroscedastic_mean(x: np.ndarray) -> np.ndarray:
    """The noiseless function behind :func:`make_heteroscedastic`."""
    return np.sin(x) + 0.5 * x
