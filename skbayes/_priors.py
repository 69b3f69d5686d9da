"""Priors on the weights, shared by every estimator.

A prior is a hyperparameter pair (``prior``, ``prior_scale``). This module
turns that pair into a :class:`Prior` with the three quantities every model
needs: the penalty it adds to the negative log posterior, its (sub)gradient
and its normalised log density.

* Gaussian N(0, σ²): penalty ``Σ w²/(2σ²)`` (L2), precision ``1/σ²``.
* Laplace(0, b): penalty ``Σ |w|/b`` (L1).
* ``None``: flat prior, no penalty (maximum likelihood).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

__all__ = ["PRIOR_PARAMETER_CONSTRAINTS", "Prior", "resolve_prior"]

PRIOR_KINDS = ("gaussian", "laplace")

# Spliced into each estimator's ``_parameter_constraints``.
PRIOR_PARAMETER_CONSTRAINTS: dict[str, list] = {
    "prior": [StrOptions(set(PRIOR_KINDS)), None],
    "prior_scale": [
        Interval(Real, 0, None, closed="neither"),
        StrOptions({"auto"}),
        "array-like",
    ],
}


@dataclass(frozen=True)
class Prior:
    """A resolved, factorised, zero-mean prior on a weight vector.

    Parameters
    ----------
    kind : {"gaussian", "laplace"} or None
        None is the flat (improper) prior.
    scale : ndarray of shape (n_features,) or None
        σ of N(0, σ²) or b of Laplace(0, b), one per feature; None when flat.
        Weights of shape (..., n_features) broadcast against it.
    """

    kind: str | None
    scale: np.ndarray | None

    @property
    def is_flat(self) -> bool:
        return self.kind is None

    def penalty(self, w: np.ndarray) -> float:
        """Term added to the negative log posterior (up to a constant)."""
        if self.kind is None:
            return 0.0
        if self.kind == "gaussian":
            return 0.5 * float(np.sum((w / self.scale) ** 2))
        return float(np.sum(np.abs(w) / self.scale))

    def gradient(self, w: np.ndarray) -> np.ndarray:
        """Gradient of :meth:`penalty` (a subgradient, 0 at 0, for Laplace)."""
        if self.kind is None:
            return np.zeros_like(w)
        if self.kind == "gaussian":
            return w / self.scale**2
        return np.sign(w) / self.scale

    def log_density(self, w: np.ndarray) -> float:
        """Normalised log density ``log p(w)``; 0 for the flat prior."""
        if self.kind is None:
            return 0.0
        n_rep = w.size // self.scale.size
        if self.kind == "gaussian":
            log_norm = 0.5 * np.sum(np.log(2 * np.pi * self.scale**2))
        else:
            log_norm = np.sum(np.log(2 * self.scale))
        return -self.penalty(w) - n_rep * float(log_norm)

    def precision(self) -> np.ndarray:
        """Diagonal of the prior precision (Hessian of the penalty).

        Zeros for the flat prior. The Laplace prior has no Hessian away from
        0 (its curvature is 0), which is what a Laplace approximation on the
        active set uses.
        """
        if self.kind == "gaussian":
            return 1.0 / self.scale**2
        n = 0 if self.scale is None else self.scale.size
        return np.zeros(n)


def resolve_prior(
    prior: str | None,
    prior_scale,
    n_features: int,
    *,
    allow_auto: bool = False,
    auto_init: float = 1.0,
) -> tuple[Prior, bool]:
    """Check ``(prior, prior_scale)`` and build the :class:`Prior`.

    Parameters
    ----------
    prior : {"gaussian", "laplace"} or None
    prior_scale : float, array-like of shape (n_features,) or "auto"
    n_features : int
    allow_auto : bool, default=False
        Whether the calling model can set the scale by evidence maximisation.
    auto_init : float, default=1.0
        Starting scale when ``prior_scale == "auto"``.

    Returns
    -------
    prior : Prior
    auto : bool
        True when the scale is to be tuned by the model.

    Raises
    ------
    ValueError
        With the allowed values, for an unknown prior, a non-positive or
        non-finite scale, a wrong-length array, or "auto" where unsupported.
    """
    if prior is not None and prior not in PRIOR_KINDS:
        raise ValueError(
            f"prior must be one of 'gaussian', 'laplace' or None; got {prior!r}."
        )
    if isinstance(prior_scale, str):
        if prior_scale != "auto":
            raise ValueError(
                "prior_scale must be a positive float, an array of positive floats "
                f"of shape (n_features,) or 'auto'; got {prior_scale!r}."
            )
        if not allow_auto:
            raise ValueError(
                f"prior_scale='auto' is not supported with prior={prior!r} by this "
                "estimator; pass a positive float or an array of them."
            )
        if prior is None:
            return Prior(None, None), False
        return Prior(prior, np.full(n_features, float(auto_init))), True

    scale = np.asarray(prior_scale, dtype=np.float64)
    if scale.ndim == 0:
        scale = np.full(n_features, float(scale))
    elif scale.shape != (n_features,):
        raise ValueError(
            "prior_scale given as an array must have shape (n_features,) = "
            f"({n_features},); got shape {scale.shape}."
        )
    if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise ValueError(
            "prior_scale must be positive and finite (a standard deviation for the "
            f"Gaussian prior, the scale b for the Laplace prior); got {prior_scale!r}."
        )
    if prior is None:
        return Prior(None, None), False
    return Prior(prior, scale), False
