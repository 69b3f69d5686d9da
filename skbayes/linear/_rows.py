"""Pseudo-rows ``Φ`` of the dual route, dense or as centred sparse rows.

The dual route (more features than samples) needs only a few products with
the n×d matrix ``Φ`` of centred, ``√s``-weighted rows: ``ΦM``, ``ΦᵀN``, the
n×n kernel ``ΦΦᵀ``, ``ZΦᵀ`` for query rows ``Z`` and column scalings ``ΦD``.
:class:`DenseRows` holds ``Φ`` itself; :class:`SparseCentredRows` holds a
sparse ``X`` and represents ``Φ = diag(r)(X - 1 oᵀ)`` (``r = √s``, ``o`` the
centre) without forming it, so centring never densifies a sparse X: the
kernel is ``diag(r)(XXᵀ - u1ᵀ - 1uᵀ + (oᵀo)11ᵀ)diag(r)`` with ``u = Xo``, a
sparse product plus rank-one terms.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


class DenseRows:
    """``Φ`` as a dense (n, d) array."""

    def __init__(self, Phi: np.ndarray):
        self.Phi = Phi

    @property
    def shape(self) -> tuple[int, int]:
        return self.Phi.shape

    def scale(self, D: np.ndarray) -> DenseRows:
        """``Φ diag(D)``."""
        return DenseRows(self.Phi * D)

    def matmat(self, M: np.ndarray) -> np.ndarray:
        """``Φ M``."""
        return self.Phi @ M

    def rmatmat(self, N: np.ndarray) -> np.ndarray:
        """``Φᵀ N``."""
        return self.Phi.T @ N

    def kernel(self) -> np.ndarray:
        """``ΦΦᵀ``, (n, n)."""
        return self.Phi @ self.Phi.T

    def gram(self) -> np.ndarray:
        """``ΦᵀΦ``, (d, d)."""
        return self.Phi.T @ self.Phi

    def cross(self, Z) -> np.ndarray:
        """``Z Φᵀ`` for query rows Z (m, d), dense or sparse."""
        return np.asarray(Z @ self.Phi.T)

    def sumsq(self) -> float:
        return float(np.einsum("ij,ij->", self.Phi, self.Phi))  # no n×d temporary

    def toarray(self) -> np.ndarray:
        return self.Phi


class SparseCentredRows:
    """``Φ = diag(r)(X - 1 oᵀ)`` for a sparse X, never formed."""

    def __init__(self, X: sp.csr_matrix, root: np.ndarray, offset: np.ndarray):
        self.X, self.root, self.offset = X, root, offset

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape

    def scale(self, D: np.ndarray) -> SparseCentredRows:
        return SparseCentredRows(
            (self.X @ sp.diags(D)).tocsr(), self.root, self.offset * D
        )

    def matmat(self, M: np.ndarray) -> np.ndarray:
        out = np.asarray(self.X @ M) - np.tensordot(
            np.ones(self.X.shape[0]), self.offset @ M, axes=0
        )
        return out * (self.root if out.ndim == 1 else self.root[:, None])

    def rmatmat(self, N: np.ndarray) -> np.ndarray:
        rN = N * (self.root if N.ndim == 1 else self.root[:, None])
        return np.asarray(self.X.T @ rN) - np.tensordot(
            self.offset, self.root @ N, axes=0
        )

    def kernel(self) -> np.ndarray:
        X, o, r = self.X, self.offset, self.root
        K = (X @ X.T).toarray()
        u = np.asarray(X @ o).ravel()
        K -= u[:, None]
        K -= u[None, :]
        K += o @ o
        K *= r[:, None]
        K *= r[None, :]
        return K

    def gram(self) -> np.ndarray:
        X, o, r = self.X, self.offset, self.root
        Xr = sp.diags(r) @ X
        xs = np.asarray(Xr.T @ r).ravel()  # Σ s x
        G = (Xr.T @ Xr).toarray()
        G -= np.outer(o, xs) + np.outer(xs, o)
        G += (r @ r) * np.outer(o, o)
        return (G + G.T) / 2

    def cross(self, Z) -> np.ndarray:
        ZX = Z @ self.X.T
        ZX = ZX.toarray() if sp.issparse(ZX) else np.asarray(ZX)
        Zo = np.asarray(Z @ self.offset).ravel()
        return (ZX - Zo[:, None]) * self.root[None, :]

    def sumsq(self) -> float:
        X, o, r = self.X, self.offset, self.root
        sq = np.asarray(X.multiply(X).sum(axis=1)).ravel()
        xo = np.asarray(X @ o).ravel()
        return float(np.sum(r**2 * (sq - 2 * xo + o @ o)))

    def toarray(self) -> np.ndarray:
        return (self.X.toarray() - self.offset) * self.root[:, None]
