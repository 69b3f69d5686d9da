"""The predictive distribution returned by every ``predict_dist``."""

from __future__ import annotations

from numbers import Real

import numpy as np
from scipy import stats
from sklearn.utils import check_random_state

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
        the shape of ``mean``. Must be non-negative. ``std == 0`` is a point
        mass at ``mean`` (see Notes).
    epistemic_std : array-like, default=None
        The part of ``std`` due to uncertainty about the model parameters,
        where the model can split it.
    aleatoric_std : array-like, default=None
        The part of ``std`` due to observation noise. When both parts are
        given, ``std**2 == epistemic_std**2 + aleatoric_std**2``.

    Raises
    ------
    ValueError
        If ``mean`` or ``std`` holds NaN, infinity or complex numbers, or
        ``std`` is negative. An infinite mean or std is not a distribution
        that any score can use, so it is refused here, where it is made, as
        the metrics refuse it.

    Attributes
    ----------
    mean : ndarray
    std : ndarray
    var : ndarray
        ``std ** 2``.
    shape : tuple of int

    Notes
    -----
    A zero ``std`` is the point mass at ``mean``, taken as the limit
    ``std -> 0`` of each function: ``interval`` is ``(mean, mean)``, ``ppf``
    is ``mean`` on (0, 1), ``cdf`` is 0 below the mean, 1 above it and 1/2 at
    it (so the PIT of a target on the mean is 1/2), ``pdf`` and ``logpdf``
    are 0 and -inf off the mean and +inf at it, and ``sample`` returns
    ``mean``. :mod:`skbayes.metrics` follows the same convention.

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
        mean = _real_array(mean, "mean")
        std = _real_array(std, "std", dtype=mean.dtype)
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
    # Written on the standardised z rather than with scipy's loc/scale, which
    # gives NaN for scale 0: a zero std is a point mass (see Notes).
    def logpdf(self, y) -> np.ndarray:
        """Log density of ``y`` under each marginal."""
        z = standardize(y, self._mean, self._std)
        point = self._std == 0
        with np.errstate(divide="ignore"):
            log_std = np.log(np.where(point, 1.0, self._std))
        logpdf = stats.norm.logpdf(z) - log_std
        # a point mass: +inf on the mean, -inf off it (NaN stays NaN)
        return np.where(point & (z == 0), np.inf, logpdf)

    def pdf(self, y) -> np.ndarray:
        """Density of ``y`` under each marginal."""
        return np.exp(self.logpdf(y))

    def cdf(self, y) -> np.ndarray:
        """Cumulative distribution function at ``y``."""
        return stats.norm.cdf(standardize(y, self._mean, self._std))

    def ppf(self, q) -> np.ndarray:
        """Quantile function (inverse of :meth:`cdf`) at probability ``q``."""
        zq = stats.norm.ppf(q)
        # 0 * (+-inf) at q in {0, 1} is NaN; the point mass's limit is +-inf
        with np.errstate(invalid="ignore"):
            scaled = zq * self._std
        point_step = np.where(np.isfinite(zq), 0.0, zq)
        step = np.where(self._std == 0, point_step, scaled)
        return self._mean + step

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
        return central_interval(self._mean, self._std, confidence)

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
        # the draws of scipy.stats.norm.rvs, without its refusal of scale 0
        noise = rng.standard_normal(size=(int(n_samples), *self.shape))
        return noise * self._std + self._mean


def _optional_part(part, mean: np.ndarray) -> np.ndarray | None:
    if part is None:
        return None
    part = _real_array(part, "Uncertainty part", dtype=mean.dtype)
    part = np.broadcast_to(part, mean.shape).copy()
    if np.any(part < 0):
        raise ValueError("Uncertainty parts must be non-negative standard deviations.")
    return part


def _real_array(value, name: str, dtype=None) -> np.ndarray:
    """``value`` as a finite real float array, or a ValueError naming it."""
    array = np.asarray(value)
    if np.iscomplexobj(array):
        raise ValueError(
            f"{name} must be real; got complex values (the imaginary part "
            "would be dropped silently)."
        )
    if dtype is None:
        dtype = array.dtype if np.issubdtype(array.dtype, np.floating) else np.float64
    array = array.astype(dtype, copy=False)
    if not np.isfinite(array).all():  # one pass; which kind only on failure
        kind = "NaN" if np.isnan(array).any() else "infinity"
        raise ValueError(f"Input {name} contains {kind}.")
    return array


def standardize(y, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(y - mean) / std``, with the limit std -> 0 where ``std == 0``.

    For a point mass (std 0) that is 0 on the mean and +-inf off it, so
    ``norm.cdf(z)`` is the cdf convention of :class:`Normal`.
    """
    diff = np.asarray(y, dtype=np.result_type(mean, np.float64)) - mean
    point = std == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = diff / np.where(point, 1.0, std)
        z_point = np.where(diff == 0, 0.0, np.sign(diff) * np.inf)
    return np.where(point, z_point, z)


def central_interval(
    mean: np.ndarray, std: np.ndarray, confidence
) -> tuple[np.ndarray, np.ndarray]:
    """Central ``confidence`` interval ``mean -+ z std``; ``(mean, mean)`` for std 0."""
    if (
        not isinstance(confidence, Real)
        or isinstance(confidence, (bool, np.bool_))
        or not 0.0 < confidence < 1.0
    ):
        raise ValueError(
            f"confidence must be in the open interval (0, 1); got {confidence!r}."
        )
    half_width = stats.norm.ppf(0.5 + float(confidence) / 2.0) * std
    return mean - half_width, mean + half_width
