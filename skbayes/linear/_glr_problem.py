"""The linear-Gaussian problem on sufficient statistics, and its posterior.

:class:`_Problem` holds the normal equations (a Gram matrix, or pseudo-rows for
the dual route), :class:`_Basis` an orthonormal basis in which a posterior
covariance is diagonal, and :class:`_Posterior` the Gaussian posterior
``N(coef, D (V diag(inv) Vᵀ + cvar (I - VVᵀ)) D)`` every solver returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy import linalg

from ._rows import DenseRows, SparseCentredRows
from ._suffstats import CentredRows, CentredSparseRows

_EPS = np.finfo(np.float64).eps
# Query rows per chunk × n_features, for the predictive variance (32 MiB).
_CHUNK_ELEMENTS = 2**22


@dataclass
class _Problem:
    """Normal equations as either a Gram matrix or pseudo-rows.

    ``gram``: ``A = XᵀWX``, ``b = XᵀWy``; ``rows``: ``Φ`` and ``t`` with
    ``ΦᵀΦ = A`` and ``Φᵀt = b``. ``c = yᵀWy``; all centred when there is an
    intercept. ``dof`` counts the data's degrees of freedom (Σs minus the
    intercept's), ``total`` is Σs and ``x_offset`` the centre of x.
    """

    A: np.ndarray | None
    b: np.ndarray | None
    Phi: DenseRows | SparseCentredRows | None
    t: np.ndarray | None
    c: float
    dof: float
    total: float
    x_offset: np.ndarray
    fit_intercept: bool
    # The statistics are of weights s / weight_scale (exact powers of two,
    # :mod:`._scaling`); dof counts the true Σs. The noise precision in these
    # units is β·weight_scale, and the solvers start and bound it so.
    weight_scale: float = 1.0
    # ȳ² (centred problems), the scale of a constant y
    y_mean2: float = 0.0

    @classmethod
    def from_stats(
        cls, stats, fit_intercept: bool, dof: float, weight_scale: float = 1.0
    ) -> _Problem:
        d = stats.n_features
        offset = stats.mean[:d] if fit_intercept else np.zeros(d)
        y_mean2 = float(stats.mean[d] ** 2) if fit_intercept else 0.0
        common = (dof, stats.sum_weight, offset, fit_intercept, weight_scale, y_mean2)
        if isinstance(stats, (CentredRows, CentredSparseRows)):
            Phi, t, c = stats.design(fit_intercept)
            if _constant(c, stats.sum_weight, y_mean2):
                t, c = np.zeros_like(t), 0.0
            return cls(None, None, Phi, t, c, *common)
        A, b, c = stats.normal_equations(fit_intercept)
        if _constant(c, stats.sum_weight, y_mean2):
            b, c = np.zeros_like(b), 0.0
        return cls(A, b, None, None, c, *common)

    @property
    def n_features(self) -> int:
        return self.x_offset.shape[0]

    def scales(self) -> tuple[float, float]:
        """Natural scales of y and x, to keep the fixed point in range."""
        d = self.n_features
        y2 = self.c / self.total
        trace = np.trace(self.A) if self.A is not None else self.Phi.sumsq()
        x2 = trace / (self.total * d)
        # a constant y: its own size (or 1 for y = 0), so that the noise
        # floor scales with y whichever way the rounding of its centring fell
        y2 = y2 if y2 > 0 else (self.y_mean2 if self.y_mean2 > 0 else 1.0)
        x2 = x2 if x2 > 0 else 1.0
        return float(y2), float(x2)

    def beta_bounds(self, y2: float) -> tuple[float, float]:
        """Noise precision within a factor 10¹² of y's scale (σ_n² ~ y2)."""
        return self.weight_scale * 1e-12 / y2, self.weight_scale * 1e12 / y2

    def gram(self) -> tuple[np.ndarray, np.ndarray]:
        """``(A, b)``; formed from the pseudo-rows on the dual route (O(n·d²))."""
        if self.A is not None:
            return self.A, self.b
        return self.Phi.gram(), self.Phi.rmatmat(self.t)

    def eigen(self, D: np.ndarray) -> tuple[np.ndarray, _Basis, np.ndarray]:
        """Eigen-decomposition of ``D A D``: ``(e, V, p = Vᵀ D b)``.

        Primal: ``eigh`` of the d×d matrix, all d pairs. Dual: ``eigh`` of the
        kernel ``Φ D² Φᵀ`` and ``V = D Φᵀ U / √e`` for its non-zero
        eigenvalues (fewer than d pairs; the rest of the spectrum is 0), kept
        as that product: forming the d×r matrix would cost another O(n²·d).
        """
        d = self.n_features
        if self.A is not None:
            # divide and conquer ("evd"): the fastest LAPACK driver for all pairs
            e, V = linalg.eigh(self.A * np.outer(D, D), driver="evd")
            p = V.T @ (D * self.b)
            # Eigenvalues at rounding level are zeros that chunking or sparse
            # centring made ±1e-15: make them exact zeros, as the dual route
            # does, or a large β would amplify them.
            null = e <= _null_threshold(e, d)
            e[null], p[null] = 0.0, 0.0
            return e, _Basis(V), p
        # A scalar D folds into the small factor: no scaled copy of the rows.
        scalar = bool(np.all(D == D[0]))
        rows = self.Phi if scalar else self.Phi.scale(D)
        K = rows.kernel()
        if scalar:
            K *= D[0] ** 2
        e, U = linalg.eigh(K, driver="evd")
        keep = e > _null_threshold(e, d)
        e, U = e[keep], U[:, keep]
        root = np.sqrt(e)
        W = U * (D[0] / root) if scalar else U / root
        return e, _Basis(None, rows, W), root * (U.T @ self.t)


def _constant(c: float, total: float, y_mean2: float) -> bool:
    """Whether the centred ``yᵀWy`` is only the rounding of centring a constant."""
    return c <= total * y_mean2 * (100 * _EPS) ** 2


def _null_threshold(e: np.ndarray, n_features: int) -> float:
    """Eigenvalues of a Gram matrix below this are zero up to rounding."""
    return max(float(e.max(initial=0.0)), 0.0) * max(n_features, len(e)) * _EPS * 100


class _Basis:
    """Orthonormal columns ``V`` (d×r), explicit or as ``rowsᵀ W`` (dual)."""

    def __init__(
        self,
        V: np.ndarray | None,
        rows: DenseRows | SparseCentredRows | None = None,
        W: np.ndarray | None = None,
    ):
        self._V, self.rows, self.W = V, rows, W

    @property
    def rank(self) -> int:
        return (self._V if self._V is not None else self.W).shape[1]

    @property
    def V(self) -> np.ndarray:
        if self._V is None:  # only for coef_cov_ / coef_interval: O(n·d·r) once
            self._V = self.rows.rmatmat(self.W)
        return self._V

    def matvec(self, v: np.ndarray) -> np.ndarray:
        """``V @ v``."""
        if self._V is not None:
            return self._V @ v
        return self.rows.rmatmat(self.W @ v)

    def rmatvec(self, M: np.ndarray) -> np.ndarray:
        """``Vᵀ @ M``."""
        if self._V is not None:
            return self._V.T @ M
        return self.W.T @ self.rows.matmat(M)

    def project(self, Z) -> np.ndarray:
        """``Z @ V`` for Z (m×d) dense or sparse."""
        if self._V is not None:
            return np.asarray(Z @ self._V)
        return self.rows.cross(Z) @ self.W

    def restrict(self, keep: np.ndarray) -> _Basis:
        return _Basis(self.V[:, keep])


@dataclass
class _Posterior:
    """Gaussian posterior ``N(coef, D (V diag(inv) Vᵀ + cvar (I - VVᵀ)) D)``.

    ``cvar`` is the variance on the part of the space ``V`` does not span:
    ``1/λ`` for the Gaussian prior's dual route, 0 otherwise.
    """

    coef: np.ndarray
    D: np.ndarray
    basis: _Basis
    inv: np.ndarray
    cvar: float
    x_offset: np.ndarray
    intercept_var: float
    beta: float
    prior_scale: object
    log_ml: float
    n_iter: int

    def covariance(self) -> np.ndarray:
        V = self.basis.V
        S = (V * self.inv) @ V.T
        if self.cvar:
            S += self.cvar * (np.eye(len(self.D)) - V @ V.T)
        return self.D[:, None] * S * self.D[None, :]

    def coef_var(self) -> np.ndarray:
        V = self.basis.V
        var = (V**2) @ self.inv
        if self.cvar:
            var += self.cvar * np.maximum(1.0 - np.sum(V**2, axis=1), 0.0)
        return self.D**2 * var

    def quadratic_form(self, X) -> np.ndarray:
        """``(x - x̄)ᵀ S (x - x̄)`` for each row; X dense or sparse, float64.

        On the dual route (``cvar > 0``) the part of ``z = D(x - x̄)`` outside
        V's span is formed explicitly, ``z - V Vᵀz``: its norm as the
        difference ``‖z‖² - ‖Vᵀz‖²`` cancels for rows near the span (the
        training rows are in it), and the difference's rounding then depended
        on the batch. Rows are taken in chunks of bounded memory.
        """
        n_rows, d = X.shape
        out = np.empty(n_rows)
        step = max(1, _CHUNK_ELEMENTS // max(d, 1))
        zD = self.x_offset * self.D
        shift = None
        for start in range(0, n_rows, step):
            Xb = X[start : start + step]
            if sp.issparse(Xb) and not self.cvar:
                # sparse products: no dense copy of a sparse query
                if shift is None:
                    shift = self.basis.project(zD[None, :])[0]
                T = self.basis.project(Xb @ sp.diags(self.D)) - shift
            else:
                Z = np.asarray(Xb.toarray() if sp.issparse(Xb) else Xb) - self.x_offset
                Z *= self.D
                T = self.basis.project(Z)
            quad = (T**2) @ self.inv
            if self.cvar:
                perp = Z - self.basis.matvec(T.T).T
                quad += self.cvar * np.einsum("ij,ij->i", perp, perp)
            out[start : start + step] = quad
        return out


def _intercept_terms(problem: _Problem, beta: float) -> tuple[float, float]:
    """Variance of the flat-prior intercept and its log-evidence constant."""
    if not problem.fit_intercept:
        return 0.0, 0.0
    # ∫ N(y | Xw + b, σ²/s) db = N(centred y | ...) × √(2πσ²/Σs) / (2πσ²)^(1/2)
    return 1.0 / (beta * problem.total), -0.5 * np.log(problem.total)
