"""Weighted sufficient statistics of a linear-Gaussian model, merged stably.

A weighted least-squares problem sees the data only through

* the total weight ``N = Σ s_i``,
* the weighted mean ``z̄`` of ``z_i = [x_i, y_i]``,
* the centred weighted scatter ``M = Σ s_i (z_i - z̄)(z_i - z̄)ᵀ``,

from which ``XᵀWX``, ``XᵀWy`` and ``Σ s y²`` (centred or not) follow. Within a
batch, each cache-sized block of rows is shifted by the mean of the batch's
first block before its scatter is accumulated, so the final centring
correction is small; batches (``partial_fit`` calls) are combined with the
pairwise update of Chan, Golub & LeVeque (1979). The result does not depend on
how the rows were cut into batches (up to rounding), and it does not suffer
the cancellation of ``XᵀWX - N x̄x̄ᵀ`` on data far from 0. Only an unweighted
float64 batch whose every column is within a few standard deviations of 0,
where that cancellation costs at most two digits, skips the shifted copy: its
raw moments are read off X in place, at about the cost of ``X.T @ X``.

:class:`CentredRows` keeps the centred, ``√s``-weighted rows themselves: the
exact same information in O(n·d) memory, which is what a model with more
features than samples wants (the dual route).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import dgemm as _gemm
from scipy.linalg.blas import dsyrk as _syrk

from ._rows import DenseRows, SparseCentredRows

__all__ = ["CentredRows", "CentredSparseRows", "SuffStats"]

# Rows per block when forming statistics from a dense X: the block (a centred
# float64 copy of X's rows plus y) is the only O(n) temporary, so fit's extra
# memory is one block, not one X. Small enough to stay in cache between the
# centring and the rank-k update that reads it (measured: 2 MiB ≈ the floor),
# or, read in place, between the rank-k update and the gemm for Xᵀ[y, 1]
# (measured: flat from 0.25 to 3 MiB).
_BLOCK_BYTES = 2 * 2**20

# Raw (unshifted) moments are kept only for a batch whose every column has
# |mean| <= _MAX_OFFSET * std: centring them (Σzzᵀ - N z̄z̄ᵀ) loses about
# log10(1 + r²) digits, r = |mean| / std. Measured, the scatter's worst entry
# relative to √(M_ii M_jj) is ~1e-14 (1 + r²): <= ~1e-12 at the bound, against
# ~1e-15 shifted, and far below any sampling error. Standardised features and
# ones a few std off 0 pass; years, kelvins or offsets of 1e6 are copied and
# shifted.
_MAX_OFFSET = 10.0
# Rows of the probe that sends data far from 0 straight to the shifted path.
_PROBE_ROWS = 256


@dataclass(frozen=True)
class SuffStats:
    """Sufficient statistics of ``z = [x, y]`` under frequency weights ``s``.

    Parameters
    ----------
    sum_weight : float
        ``N = Σ s_i``.
    mean : ndarray of shape (n_features + 1,)
        Weighted mean of ``[x, y]``.
    scatter : ndarray of shape (n_features + 1, n_features + 1)
        Centred weighted scatter ``Σ s_i (z_i - z̄)(z_i - z̄)ᵀ``.
    n_samples : int
        Rows seen, zero-weight rows included (bookkeeping only).
    """

    sum_weight: float
    mean: np.ndarray
    scatter: np.ndarray
    n_samples: int

    @property
    def n_features(self) -> int:
        return self.mean.shape[0] - 1

    @classmethod
    def empty(cls, n_features: int) -> SuffStats:
        k = n_features + 1
        return cls(0.0, np.zeros(k), np.zeros((k, k)), 0)

    @classmethod
    def from_data(cls, X, y: np.ndarray, sample_weight: np.ndarray) -> SuffStats:
        """Statistics of one batch; X dense (any float dtype) or CSR/CSC."""
        if sp.issparse(X):
            return cls._from_sparse(X, y, sample_weight)
        return cls._from_dense(X, y, sample_weight)

    @classmethod
    def _from_dense(cls, X: np.ndarray, y: np.ndarray, s: np.ndarray) -> SuffStats:
        n, d = X.shape
        unit = bool(np.all(s == 1.0))
        # Weighted rows need a √s-scaled copy, float32 a float64 one and a
        # non-C-ordered X a C-ordered one: the copy is made anyway, so it is
        # shifted. Otherwise X is read in place if its first rows are near-
        # centred (a cheap probe, so data far from 0 skip the raw pass), and
        # the raw moments are kept if the whole batch is, as its cancellation
        # depends on the batch's mean and std (else it jumped off 0: redo).
        if (
            unit
            and X.dtype == np.float64
            and X.flags.c_contiguous
            and _near_centred(_raw_moments(X[:_PROBE_ROWS], y[:_PROBE_ROWS]))
        ):
            raw = _raw_moments(X, y)
            if _near_centred(raw):
                return cls._from_moments(raw, np.zeros(d + 1), float(n), n)
        return cls._from_shifted_blocks(X, y, s, unit)

    @classmethod
    def _from_shifted_blocks(
        cls, X: np.ndarray, y: np.ndarray, s: np.ndarray, unit: bool
    ) -> SuffStats:
        """Statistics from shifted float64 copies of X's blocks; stable anywhere."""
        n, d = X.shape
        block = max(1, _BLOCK_BYTES // (8 * (d + 2)))
        # Shift every block by one reference point, the (weighted) mean of the
        # first block, so the scatter is accumulated on nearly centred data:
        # the final correction N (z̄ - c)(z̄ - c)ᵀ is small unless the batch
        # drifts by many standard deviations (batches merge by Chan's update).
        first = slice(0, min(block, n))
        head = float(s[first].sum())
        shift = np.empty(d + 1)
        if head > 0:
            shift[:d] = (s[first] @ X[first]) / head
            shift[d] = (s[first] @ y[first]) / head
        else:
            shift[:d], shift[d] = X[0], y[0]
        # One reused float64 block [x - c, y - c_y, 1] (times √s): a single
        # symmetric rank-k update (syrk, Z.T @ Z) gives XᵀWX, XᵀWy, yᵀWy and
        # the column sums Σ s (z - c) at once; copy and shift are one pass.
        Z = np.empty((min(block, n), d + 2))
        # BLAS syrk accumulating in place (beta=1): no (d+2)² temporary and no
        # symmetrising copy per block; only the upper triangle is formed.
        acc = np.zeros((d + 2, d + 2), order="F")
        for start in range(0, n, block):
            stop = min(start + block, n)
            Zb = Z[: stop - start]
            np.subtract(X[start:stop], shift[:d], out=Zb[:, :d])
            np.subtract(y[start:stop], shift[d], out=Zb[:, d])
            Zb[:, d + 1] = 1.0
            if not unit:
                Zb *= np.sqrt(s[start:stop])[:, None]
            # Zb.T is a Fortran-ordered (d+2, m) view: acc += Zb.T @ Zb.
            acc = _syrk(1.0, Zb.T, beta=1.0, c=acc, trans=0, overwrite_c=1)
        return cls._from_moments(acc, shift, float(s.sum()), n)

    @classmethod
    def _from_moments(
        cls, acc: np.ndarray, shift: np.ndarray, total: float, n_samples: int
    ) -> SuffStats:
        """From the upper triangle of ``Σ s [z - c, 1][z - c, 1]ᵀ``, ``c = shift``."""
        k = shift.shape[0]
        if total == 0.0:
            return cls(0.0, np.zeros(k), np.zeros((k, k)), n_samples)
        acc = np.triu(acc) + np.triu(acc, 1).T
        offset = acc[:k, k] / total  # z̄ - c
        scatter = acc[:k, :k] - total * np.outer(offset, offset)
        return cls(total, shift + offset, scatter, n_samples)

    @classmethod
    def _from_sparse(cls, X, y: np.ndarray, s: np.ndarray) -> SuffStats:
        # Centring would densify X, so form the raw moments sparsely and centre
        # the small d×d result (as scikit-learn's sparse linear models do).
        n, d = X.shape
        total = float(s.sum())
        X = X.astype(np.float64, copy=False)
        Xs = X if np.all(s == 1.0) else sp.diags(s) @ X
        mean_x = np.asarray(Xs.sum(axis=0)).ravel() / total
        mean_y = float(s @ y) / total
        yc = y - mean_y
        xx = (X.T @ Xs).toarray() - total * np.outer(mean_x, mean_x)
        xy = np.asarray(Xs.T @ yc).ravel()  # Σ s (x - x̄)(y - ȳ) since Σ s (y - ȳ) = 0
        scatter = np.empty((d + 1, d + 1))
        scatter[:d, :d] = (xx + xx.T) / 2
        scatter[:d, d] = scatter[d, :d] = xy
        scatter[d, d] = float(s @ yc**2)
        return cls(total, np.append(mean_x, mean_y), scatter, n)

    def merge(self, other: SuffStats) -> SuffStats:
        """Statistics of the union of both batches (Chan et al.'s update)."""
        total, mean, scatter = _chan_update(
            self.sum_weight, self.mean, self.scatter, other
        )
        return SuffStats(total, mean, scatter, self.n_samples + other.n_samples)

    def to_suffstats(self) -> SuffStats:
        return self

    def normal_equations(
        self, fit_intercept: bool
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """``(XᵀWX, XᵀWy, yᵀWy)``, centred when there is an intercept."""
        d = self.n_features
        M = self.scatter
        if not fit_intercept:
            # Un-centring only adds a positive rank-one term: no cancellation.
            M = M + self.sum_weight * np.outer(self.mean, self.mean)
        return M[:d, :d], M[:d, d], float(M[d, d])


def _chan_update(
    total: float, mean: np.ndarray, scatter: np.ndarray, other: SuffStats
) -> tuple[float, np.ndarray, np.ndarray]:
    """Pairwise update of (N, z̄, M) with another batch (Chan et al., 1979).

    ``M = M_a + M_b + (N_a N_b / N) δδᵀ`` with ``δ = z̄_b - z̄_a``: every term
    is a centred quantity, so nothing cancels however far the data sit from 0.
    """
    if other.sum_weight == 0.0:
        return total, mean, scatter
    if total == 0.0:
        return other.sum_weight, other.mean, other.scatter
    nb = other.sum_weight
    new_total = total + nb
    delta = other.mean - mean
    scatter = (
        scatter + other.scatter + (total * nb / new_total) * np.outer(delta, delta)
    )
    return new_total, mean + delta * (nb / new_total), scatter


def _raw_moments(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Upper triangle of ``Σ [x, y, 1][x, y, 1]ᵀ``, X (float64, C-ordered) not copied.

    A C-ordered block's transpose is a Fortran-ordered view, which BLAS reads in
    place: syrk accumulates its ``XᵀX``, and one thin gemm with ``[y, 1]`` (the
    block still in cache) its ``Xᵀy`` and ``Σx``. Unshifted, so centring them
    cancels: see :func:`_near_centred`.
    """
    n, d = X.shape
    block = max(1, _BLOCK_BYTES // (8 * d))
    xx = np.zeros((d, d), order="F")  # XᵀX, upper triangle
    xw = np.zeros((d, 2), order="F")  # [Xᵀy, Σx]
    ww = np.zeros((2, 2), order="F")  # [[Σy², Σy], [, n]], upper triangle
    W = np.empty((min(block, n), 2), order="F")  # [y, 1] of one block
    W[:, 1] = 1.0
    for start in range(0, n, block):
        stop = min(start + block, n)
        Xt = X[start:stop].T  # (d, m), Fortran-ordered: no copy
        Wb = W[: stop - start]
        Wb[:, 0] = y[start:stop]
        # BLAS accumulating in place (beta=1): no temporaries per block.
        xx = _syrk(1.0, Xt, beta=1.0, c=xx, trans=0, overwrite_c=1)
        xw = _gemm(1.0, Xt, Wb, beta=1.0, c=xw, overwrite_c=1)
        ww = _syrk(1.0, Wb, beta=1.0, c=ww, trans=1, overwrite_c=1)
    moments = np.zeros((d + 2, d + 2))
    moments[:d, :d], moments[:d, d:], moments[d:, d:] = xx, xw, ww
    return moments


def _near_centred(moments: np.ndarray) -> bool:
    """Whether every column z has ``|mean| <= _MAX_OFFSET * std``.

    ``moments`` is the upper triangle of ``Σ [z, 1][z, 1]ᵀ``. Reliable however
    far off 0 the data are (the bound's r² is far below 1 / eps: a cancelled
    variance cannot pass it). False where the moments are not finite: the
    shifted path then forms (and reports) them.
    """
    k = moments.shape[0] - 1
    count = moments[k, k]
    mean = moments[:k, k] / count
    mean_square = np.diagonal(moments)[:k] / count  # mean² + var
    r2 = _MAX_OFFSET**2
    return bool(
        np.all(np.isfinite(mean_square))
        and np.all((1 + r2) * mean**2 <= r2 * mean_square)
    )


@dataclass(frozen=True)
class CentredRows:
    """The centred ``√s``-weighted rows ``R = √s (z - z̄)`` of one batch.

    Same information as :class:`SuffStats` (``scatter = RᵀR``) kept as rows,
    for the dual route when there are more features than samples.
    """

    sum_weight: float
    mean: np.ndarray
    rows: np.ndarray
    n_samples: int

    @property
    def n_features(self) -> int:
        return self.mean.shape[0] - 1

    @classmethod
    def from_data(cls, X: np.ndarray, y: np.ndarray, s: np.ndarray) -> CentredRows:
        n, d = X.shape
        total = float(s.sum())
        Z = np.empty((n, d + 1))
        Z[:, :d] = X
        Z[:, d] = y
        mean = (s @ Z) / total
        Z -= mean
        Z *= np.sqrt(s)[:, None]
        return cls(total, mean, Z, n)

    def to_suffstats(self) -> SuffStats:
        return SuffStats(
            self.sum_weight, self.mean, self.rows.T @ self.rows, self.n_samples
        )

    def design(self, fit_intercept: bool) -> tuple[DenseRows, np.ndarray, float]:
        """Pseudo-rows ``(Φ, t)`` with ``ΦᵀΦ = XᵀWX``, ``Φᵀt = XᵀWy``, and ``yᵀWy``.

        Without an intercept the un-centred moments are the centred ones plus
        the rank-one ``N z̄z̄ᵀ``: one extra pseudo-row ``√N z̄``.
        """
        R = self.rows
        if not fit_intercept:
            R = np.vstack([R, np.sqrt(self.sum_weight) * self.mean])
        t = R[:, -1]
        return DenseRows(R[:, :-1]), t, float(t @ t)


@dataclass(frozen=True)
class CentredSparseRows:
    """A sparse batch kept as its rows, for the dual route (d > n).

    Same information as :class:`SuffStats`; the centred rows are represented,
    never formed (:class:`~._rows.SparseCentredRows`), so X stays sparse.
    """

    sum_weight: float
    mean: np.ndarray
    X: sp.csr_matrix
    y: np.ndarray
    sample_weight: np.ndarray
    n_samples: int

    @property
    def n_features(self) -> int:
        return self.mean.shape[0] - 1

    @classmethod
    def from_data(cls, X, y: np.ndarray, s: np.ndarray) -> CentredSparseRows:
        X = sp.csr_matrix(X, dtype=np.float64)
        total = float(s.sum())
        mean = np.append(np.asarray(X.T @ s).ravel(), s @ y) / total
        return cls(total, mean, X, y, s, X.shape[0])

    def to_suffstats(self) -> SuffStats:
        return SuffStats.from_data(self.X, self.y, self.sample_weight)

    def design(
        self, fit_intercept: bool
    ) -> tuple[SparseCentredRows, np.ndarray, float]:
        """Pseudo-rows ``Φ = √s (X - 1x̄ᵀ)`` (un-centred without intercept) and ``t``."""
        d = self.n_features
        root = np.sqrt(self.sample_weight)
        offset = self.mean[:d] if fit_intercept else np.zeros(d)
        t = root * (self.y - (self.mean[d] if fit_intercept else 0.0))
        return SparseCentredRows(self.X, root, offset), t, float(t @ t)
