"""The predictive distribution returned by every ``predict_dist``."""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.utils import check_random_state

from ._base import gaussian_interval

__all__ = ["Normal"]


class Normal:
    """Element-wise independent Gaussian predictive distribution.

    Every skbayes estimator returns one of these from ``predict_dist``. It is
    a thin, vectorised wrapper around :data:`scipy.stats.norm` that also
    unpacks like a tuple, so ``mu, sigma = est.predict_dist(X)`` works.

    Parameters
    ----------
    mean : array-like
        Mean of each marginal.
    std : array-like
        Standard deviation (not variance) of each marginal, broadcastable to
        the shape of ``mean``. Must be non-negative.
    epistemic_std : array-like, default=None
        The part of ``std`` due to uncertainty about the model parameters,
        where the model can split it.
    aleatoric_std : array-like, default=None
        The part of ``std`` due to observation noise. When both parts are
        given, ``std**2 == epistemic_std**2 + aleatoric_std**2``.

    Attributes
    ----------
    mean : ndarray
    std : ndarray
    var : ndarray
        ``std ** 2``.
    shape : tuple of int

    Examples
    --------
    >>> from skbayes import Normal
    >>> d = Normal([0.0, 1.0], [1.0, 2.0])
    >>> mu, sigma = d
    >>> sigma
    array([1., 2.])
    >>> lo, hi = d.interval(0.95)
    >>> lo.round(3)
    array([-1.96, -2.92])
    """

    __slots__ = ("_aleatoric_std", "_epistemic_std", "_mean", "_std")

    def __init__(self, mean, std, *, epistemic_std=None, aleatoric_std=None):
        mean = np.asarray(mean)
        if not np.issubdtype(mean.dtype, np.floating):
            mean = mean.astype(np.float64)
        std = np.asarray(std, dtype=mean.dtype)
        if np.any(std < 0):
            raise ValueError("std must be non-negative; got a negative value.")
        self._mean = mean
        self._std = np.array(np.broadcast_to(std, mean.shape))
        self._epistemic_std = _optional_part(epistemic_std, mean)
        self._aleatoric_std = _optional_part(aleatoric_std, mean)

    # -- moments -----------------------------------------------------------
    @property
    def mean(self) -> np.ndarray:
        """Mean of each marginal."""
        return self._mean

    @property
    def std(self) -> np.ndarray:
        """Standard deviation of each marginal."""
        return self._std

    @property
    def var(self) -> np.ndarray:
        """Variance of each marginal, ``std ** 2``."""
        return self._std**2

    @property
    def epistemic_std(self) -> np.ndarray | None:
        """Standard deviation due to parameter uncertainty, or None."""
        return self._epistemic_std

    @property
    def aleatoric_std(self) -> np.ndarray | None:
        """Standard deviation due to observation noise, or None."""
        return self._aleatoric_std

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the batch of marginals."""
        return self._mean.shape

    # -- tuple-like behaviour ----------------------------------------------
    def __iter__(self):
        return iter((self._mean, self._std))

    def __len__(self) -> int:
        # A length of 2 is what makes ``mu, sigma = d`` read naturally.
        return 2

    def __getitem__(self, key) -> Normal:
        """Select marginals: ``d[:10]`` or ``d[mask]`` is again a Normal."""
        return Normal(
            self._mean[key],
            self._std[key],
            epistemic_std=None
            if self._epistemic_std is None
            else self._epistemic_std[key],
            aleatoric_std=None
            if self._aleatoric_std is None
            else self._aleatoric_std[key],
        )

    def __repr__(self) -> str:
        return f"Normal(shape={self.shape}, dtype={self._mean.dtype})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, Normal):
            return NotImplemented
        return np.array_equal(self._mean, other._mean) and np.array_equal(
            self._std, other._std
        )

    __hash__ = None  # mutable arrays inside: not hashable

    # -- probability functions ---------------------------------------------
    def logpdf(self, y) -> np.ndarray:
        """Log density of ``y`` under each marginal."""
        return stats.norm.logpdf(y, loc=self._mean, scale=self._std)

    def pdf(self, y) -> np.ndarray:
        """Density of ``y`` under each marginal."""
        return stats.norm.pdf(y, loc=self._mean, scale=self._std)

    def cdf(self, y) -> np.ndarray:
        """Cumulative distribution function at ``y``."""
        return stats.norm.cdf(y, loc=self._mean, scale=self._std)

    def ppf(self, q) -> np.ndarray:
        """Quantile function (inverse of :meth:`cdf`) at probability ``q``."""
        return stats.norm.ppf(q, loc=self._mean, scale=self._std)

    def interval(self, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Central interval holding ``confidence`` of the probability mass.

        Parameters
        ----------
        confidence : float, default=0.95
            In the open interval (0, 1).

        Returns
        -------
        lower, upper : ndarray
        """
        return gaussian_interval(self._mean, self._std, confidence)

    def sample(self, n_samples: int = 1, random_state=None) -> np.ndarray:
        """Draw samples.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        samples : ndarray of shape (n_samples, ...)
            The leading axis indexes the draws; the rest is :attr:`shape`.
        """
        if int(n_samples) != n_samples or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer; got {n_samples}.")
        rng = check_random_state(random_state)
        return stats.norm.rvs(
            loc=self._mean,
            scale=self._std,
            size=(int(n_samples), *self.shape),
            random_state=rng,
        )


def _optional_part(part, mean: np.ndarray) -> np.ndarray | None:
    if part is None:
        return None
    part = np.broadcast_to(np.asarray(part, dtype=mean.dtype), mean.shape).copy()
    if np.any(part < 0):
        raise ValueError("Uncertainty parts must be non-negative standard deviations.")
    return part
