"""Priors on the weights, shared by every estimator.

A prior is a hyperparameter pair (``prior``, ``prior_scale``). This module
turns that pair into a :class:`Prior` object that carries everything a solver
needs, so that no estimator ever branches on a prior's name:

* ``penalty(w)`` — the term it adds to the negative log posterior,
  ``-log p(w)`` up to a constant; ``gradient(w)`` and ``curvature(w)`` (the
  diagonal of the penalty's Hessian, w-dependent in general);
* ``log_density(w)`` — the normalised ``log p(w)`` (for evidences);
* ``torch_penalty(w, inv_scale)`` — the same penalty on a torch tensor, and
  ``torch_gradient(w, inv_scale)`` its gradient where a closed form exists
  (None otherwise: the networks then differentiate ``torch_penalty``);
* ``active(w)`` — where a Laplace approximation of the posterior lives;
* capability flags: ``conjugate`` (a Gaussian likelihood gives a Gaussian
  posterior in closed form), ``supports_evidence`` (the scale can be set by
  maximising the marginal likelihood), ``l1`` (the penalty is the weighted
  L1 norm ``Σ |w|/b``, solved by coordinate descent or split variables).

The family:

* :class:`GaussianPrior` N(0, σ²): penalty ``Σ w²/(2σ²)`` (L2), curvature
  ``1/σ²``; conjugate, evidence tuning.
* :class:`LaplacePrior` Laplace(0, b): penalty ``Σ |w|/b`` (L1), curvature 0
  away from 0, posterior approximated on the active set ``w ≠ 0``.
* :class:`FlatPrior` (``prior=None``): no penalty (maximum likelihood).

A new prior is one subclass registered in :data:`PRIORS`; the estimators'
``_parameter_constraints`` and solvers pick it up from here.
"""

from __future__ import annotations

from numbers import Real
from typing import Any, ClassVar

import numpy as np
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
)

__all__ = [
    "PRIORS",
    "PRIOR_PARAMETER_CONSTRAINTS",
    "FlatPrior",
    "GaussianPrior",
    "LaplacePrior",
    "Prior",
    "resolve_prior",
]


class Prior:
    """A resolved, factorised, zero-mean prior on a weight array.

    Parameters
    ----------
    scale : ndarray of shape (n_features,) or None
        The prior's scale per feature (None for the flat prior). Weights of
        shape ``(..., n_features)`` broadcast against it.
    """

    name: ClassVar[str | None] = None
    conjugate: ClassVar[bool] = False
    supports_evidence: ClassVar[bool] = False
    l1: ClassVar[bool] = False
    is_flat: ClassVar[bool] = False

    def __init__(self, scale: np.ndarray | None):
        self.scale = None if scale is None else np.asarray(scale, dtype=np.float64)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scale={self.scale!r})"

    def with_scale(self, scale: np.ndarray) -> Prior:
        """The same family at another scale (used by evidence searches)."""
        return type(self)(scale)

    def _n_rep(self, w: np.ndarray) -> int:
        return int(np.size(w) // self.scale.size)

    # The family's maths: elementwise, broadcast over (..., n_features).
    def penalty(self, w: np.ndarray) -> float:
        """``-log p(w)`` up to a constant (the regulariser)."""
        raise NotImplementedError

    def gradient(self, w: np.ndarray) -> np.ndarray:
        """Gradient of :meth:`penalty` (a subgradient where it has none)."""
        raise NotImplementedError

    def curvature(self, w: np.ndarray) -> np.ndarray:
        """Diagonal of the Hessian of :meth:`penalty` at ``w``, shaped like ``w``."""
        raise NotImplementedError

    def log_density(self, w: np.ndarray) -> float:
        """Normalised ``log p(w)``."""
        raise NotImplementedError

    def torch_penalty(self, w: Any, inv_scale: Any) -> Any:
        """:meth:`penalty` of a torch tensor ``w`` given ``1/scale`` (broadcast).

        Uses tensor methods only, so this module never imports torch.
        """
        raise NotImplementedError

    def torch_gradient(self, w: Any, inv_scale: Any) -> Any:
        """Gradient of :meth:`torch_penalty` in closed form, or None.

        The networks call it at every step; None makes them fall back to
        differentiating :meth:`torch_penalty` (slower, same answer).
        """
        return None

    def active(self, w: np.ndarray) -> np.ndarray:
        """Mask of the weights a Laplace approximation is taken over."""
        return np.ones(np.shape(w), dtype=bool)


class FlatPrior(Prior):
    """The flat (improper) prior: maximum likelihood."""

    conjugate = True
    is_flat = True

    def __init__(self, scale: np.ndarray | None = None):
        super().__init__(None)

    def with_scale(self, scale: np.ndarray) -> Prior:
        return self

    def penalty(self, w: np.ndarray) -> float:
        return 0.0

    def gradient(self, w: np.ndarray) -> np.ndarray:
        return np.zeros_like(w, dtype=np.float64)

    def curvature(self, w: np.ndarray) -> np.ndarray:
        return np.zeros_like(w, dtype=np.float64)

    def log_density(self, w: np.ndarray) -> float:
        return 0.0  # density 1: the evidence of a flat prior is up to a constant

    def torch_penalty(self, w: Any, inv_scale: Any) -> Any:
        return w.new_zeros(())

    def torch_gradient(self, w: Any, inv_scale: Any) -> Any:
        return w.new_zeros(w.shape)


class GaussianPrior(Prior):
    """N(0, σ²) per weight: L2 regularisation, ``C = σ²`` in scikit-learn."""

    name = "gaussian"
    conjugate = True
    supports_evidence = True

    def penalty(self, w: np.ndarray) -> float:
        return 0.5 * float(np.sum((w / self.scale) ** 2))

    def gradient(self, w: np.ndarray) -> np.ndarray:
        return w / self.scale**2

    def curvature(self, w: np.ndarray) -> np.ndarray:
        return np.broadcast_to(1.0 / self.scale**2, np.shape(w)).copy()

    def log_density(self, w: np.ndarray) -> float:
        log_norm = 0.5 * np.sum(np.log(2 * np.pi * self.scale**2))
        return -self.penalty(w) - self._n_rep(w) * float(log_norm)

    def torch_penalty(self, w: Any, inv_scale: Any) -> Any:
        return 0.5 * (w * inv_scale).square().sum()

    def torch_gradient(self, w: Any, inv_scale: Any) -> Any:
        return w * (inv_scale * inv_scale)


class LaplacePrior(Prior):
    """Laplace(0, b) per weight: L1 regularisation, sparse MAP."""

    name = "laplace"
    l1 = True

    def penalty(self, w: np.ndarray) -> float:
        return float(np.sum(np.abs(w) / self.scale))

    def gradient(self, w: np.ndarray) -> np.ndarray:
        return np.sign(w) / self.scale

    def curvature(self, w: np.ndarray) -> np.ndarray:
        # |w| is linear on either side of 0: no curvature where it is smooth.
        return np.zeros_like(w, dtype=np.float64)

    def log_density(self, w: np.ndarray) -> float:
        log_norm = np.sum(np.log(2 * self.scale))
        return -self.penalty(w) - self._n_rep(w) * float(log_norm)

    def torch_penalty(self, w: Any, inv_scale: Any) -> Any:
        return (w * inv_scale).abs().sum()

    def torch_gradient(self, w: Any, inv_scale: Any) -> Any:
        return w.sign() * inv_scale

    def active(self, w: np.ndarray) -> np.ndarray:
        # The MAP's exact zeros sit on the kink: the posterior there is not
        # Gaussian, so the approximation is taken over the non-zeros only.
        return np.asarray(w) != 0


#: The priors users can name in ``prior=``.
PRIORS: dict[str, type[Prior]] = {
    cls.name: cls for cls in (GaussianPrior, LaplacePrior) if cls.name
}

# Spliced into each estimator's ``_parameter_constraints``.
PRIOR_PARAMETER_CONSTRAINTS: dict[str, list] = {
    "prior": [StrOptions(set(PRIORS)), None],
    "prior_scale": [
        Interval(Real, 0, None, closed="neither"),
        StrOptions({"auto"}),
        "array-like",
    ],
}


def _prior_class(prior: str | None) -> type[Prior]:
    if prior is None:
        return FlatPrior
    if prior not in PRIORS:
        names = ", ".join(repr(k) for k in PRIORS)
        raise InvalidParameterError(
            f"prior must be one of {names} or None; got {prior!r}."
        )
    return PRIORS[prior]


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
    prior : str or None
        A key of :data:`PRIORS`, or None for the flat prior.
    prior_scale : float, array-like of shape (n_features,) or "auto"
    n_features : int
    allow_auto : bool, default=False
        Whether the calling model can set the scale by evidence maximisation
        (the prior must support it too).
    auto_init : float, default=1.0
        Starting scale when ``prior_scale == "auto"``.

    Returns
    -------
    prior : Prior
    auto : bool
        True when the scale is to be tuned by the model.

    Raises
    ------
    InvalidParameterError
        With the allowed values, for an unknown prior, a non-positive or
        non-finite scale, a wrong-shape array, or "auto" where unsupported.
    """
    cls = _prior_class(prior)
    if isinstance(prior_scale, str):
        if prior_scale != "auto":
            raise InvalidParameterError(
                "prior_scale must be a positive float, an array of positive floats "
                f"of shape (n_features,) or 'auto'; got {prior_scale!r}."
            )
        if not (allow_auto and (cls.supports_evidence or cls.is_flat)):
            raise InvalidParameterError(
                f"prior_scale='auto' is not supported with prior={prior!r} by this "
                "estimator; pass a positive float or an array of them."
            )
        if cls.is_flat:
            return FlatPrior(), False
        return cls(np.full(n_features, float(auto_init))), True

    try:
        scale = np.asarray(prior_scale, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            "prior_scale must be a positive float, an array of positive floats of "
            f"shape (n_features,) or 'auto'; got {prior_scale!r}."
        ) from None
    if scale.ndim == 0:
        scale = np.full(n_features, float(scale))
    elif scale.shape != (n_features,):
        raise InvalidParameterError(
            "prior_scale given as an array must have shape (n_features,) = "
            f"({n_features},); got shape {scale.shape}."
        )
    if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise InvalidParameterError(
            "prior_scale must be positive and finite (a standard deviation for the "
            f"Gaussian prior, the scale b for the Laplace prior); got {prior_scale!r}."
        )
    if cls.is_flat:
        return FlatPrior(), False
    return cls(scale), False
