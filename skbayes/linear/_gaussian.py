"""Bayesian linear regression with an exact (or Laplace) Gaussian posterior."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from scipy import linalg, optimize
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import (
    _assert_all_finite,
    check_is_fitted,
    validate_data,
)

from .._base import PredictiveRegressorMixin, gaussian_interval
from .._distribution import Normal
from .._priors import PRIOR_PARAMETER_CONSTRAINTS, Prior, resolve_prior
from .._validation import check_sample_weight
from ._suffstats import CentredRows, SuffStats

__all__ = ["GaussianLinearRegression"]

_EPS = np.finfo(np.float64).eps


class GaussianLinearRegression(PredictiveRegressorMixin, BaseEstimator):
    r"""Bayesian linear regression with an exact conjugate posterior.

    The model is ``y = X w + b + ε`` with ``ε ~ N(0, σ_n² / s_i)`` for sample
    weight ``s_i``, a prior on ``w`` and a flat prior on the intercept ``b``.
    With the Gaussian prior ``w ~ N(0, σ_w² I)`` the posterior is exact:
    ``N(m, S)`` with ``S = (XcᵀWXc / σ_n² + I / σ_w²)⁻¹`` on the centred data
    ``Xc``, and the predictive distribution of a new target is Gaussian with

    ``var(x) = σ_n² + σ_n² / Σs + (x - x̄)ᵀ S (x - x̄)``,

    the middle term being the uncertainty of the intercept. The posterior mean
    equals ``Ridge(alpha=σ_n² / σ_w²)``.

    Parameters
    ----------
    prior : {"gaussian", "laplace"} or None, default="gaussian"
        Prior on the coefficients. ``"gaussian"``: ``N(0, σ_w²)``, exact
        posterior. ``"laplace"``: ``Laplace(0, b)``, the posterior mode (MAP)
        equals ``Lasso(alpha=σ_n² / (Σs · b))`` and the posterior is
        approximated by a Gaussian on the active set (see Notes). ``None``:
        flat prior, ordinary least squares with its exact flat-prior
        posterior; when ``XᵀWX`` is singular it warns and keeps the
        minimum-norm solution and the posterior of the identifiable part.
    prior_scale : float, array-like of shape (n_features,) or "auto", default=1.0
        Standard deviation ``σ_w`` of the Gaussian prior, or scale ``b`` of
        the Laplace prior, one for all features or one per feature.
        ``"auto"`` (Gaussian prior only) sets one ``σ_w`` by maximising the
        marginal likelihood (empirical Bayes, MacKay's fixed point, as
        scikit-learn's :class:`~sklearn.linear_model.BayesianRidge`). Ignored
        when ``prior=None``.
    noise_scale : float or None, default=None
        Noise standard deviation ``σ_n``. ``None`` estimates it: by maximising
        the marginal likelihood for the Gaussian and flat priors, and jointly
        with the MAP for the Laplace prior (see Notes).
    fit_intercept : bool, default=True
        Whether to fit an intercept (under a flat prior, integrated out).
    max_iter : int, default=300
        Maximum number of iterations of the marginal-likelihood fixed point,
        of the noise update for the Laplace prior, and of coordinate-descent
        sweeps per Laplace MAP.
    tol : float, default=1e-6
        Convergence tolerance on the relative change of ``σ_n`` and ``σ_w``
        between two fixed-point iterations.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Posterior mean (Gaussian and flat priors) or mode (Laplace prior) of
        the coefficients.
    intercept_ : float
        Posterior mean of the intercept (0.0 when ``fit_intercept=False``).
    coef_cov_ : ndarray of shape (n_features, n_features)
        Posterior covariance of the coefficients. Computed on first access
        from a factorisation kept by the model, so models with many features
        only pay for the ``n_features²`` matrix when it is asked for.
    noise_std_ : float
        Noise standard deviation ``σ_n`` used (given or estimated).
    prior_scale_ : float, ndarray of shape (n_features,) or None
        Prior scale used (given or estimated); None for the flat prior.
    log_marginal_likelihood_ : float
        Log evidence ``log p(y | X, σ_n, σ_w)`` at the scales used, with the
        intercept integrated out under the flat prior ``p(b) = 1`` (and
        ``p(w) = 1`` for ``prior=None``). Laplace prior: the Laplace
        approximation on the active set.
    n_iter_ : int
        Iterations of the hyperparameter fixed point (1 when there was
        nothing to tune).
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when X has string column
        names.

    See Also
    --------
    sklearn.linear_model.BayesianRidge : The "auto" model, with a point
        estimate of the intercept.
    sklearn.linear_model.Ridge : The posterior mean for a fixed prior scale.
    sklearn.linear_model.Lasso : The MAP under the Laplace prior.

    Notes
    -----
    **Sufficient statistics.** The data enter only through the weighted sums
    ``Σs``, ``Σsx``, ``Σsy``, the centred ``XᵀWX``, ``XᵀWy`` and ``Σs y²``,
    accumulated over cache-sized blocks shifted to the batch's first-block
    mean, one symmetric rank-k update per block, and merged across batches
    with Chan et al.'s stable update. Hence :meth:`partial_fit` on any
    chunking of the rows gives the same model as :meth:`fit` on all of them
    (exact online Bayesian updating; the hyperparameters may even change
    between calls), memory is O(block + n_features²), and sample weights are
    frequency weights: an integer weight is the same as repeating the row,
    and ``Σs`` is the sample size in the noise estimate. Float32 X is
    accumulated in float64; all fitted attributes and predictions are float64.

    **Evidence maximisation.** After one eigen-decomposition of ``XᵀWX``
    every step of MacKay's fixed point costs O(d). When it crawls (the optimum
    on a boundary, typically ``σ_n → 0`` for an exact fit with d ≥ n) it is
    finished by L-BFGS-B on the closed-form evidence; ``σ_n`` and ``σ_w`` are
    kept within a factor 10⁶ of the data's own scales.

    **More features than samples.** :meth:`fit` on dense X with
    ``n_features > n_samples`` takes the dual route: it keeps the centred
    weighted rows instead of the ``d×d`` statistics and diagonalises the
    ``n×n`` kernel matrix, at a cost of O(n²·d) instead of O(n·d² + d³).
    A later :meth:`partial_fit` converts those rows into ``d×d`` statistics
    (once, O(n·d²)); :meth:`partial_fit` always keeps ``d×d`` statistics.
    Sparse X always takes the primal route, without being densified.

    **Why the intercept is integrated out.** A point estimate of the
    intercept (as in ``BayesianRidge``) ignores its uncertainty: the
    predictive variance misses ``σ_n²/Σs`` and the noise estimate counts one
    degree of freedom too many. Integrating out the flat-prior intercept is
    exact and costs nothing: the evidence is that of the centred data with
    ``Σs - 1`` degrees of freedom. With ``fit_intercept=False`` and
    ``prior_scale="auto"`` the model equals ``BayesianRidge`` (with its Gamma
    hyperpriors set to 0); with an intercept the noise and prior precisions
    differ by that one degree of freedom, a relative O(1/n).

    **Laplace prior.** The MAP is found by scikit-learn's coordinate descent
    (:class:`~sklearn.linear_model.Lasso`) on ``min(n, d)`` pseudo-rows with
    the same normal equations as the data. When ``noise_scale=None`` the noise
    is updated as ``σ_n² = RSS / (Σs - [fit_intercept] - k)`` with ``k`` the
    number of non-zero coefficients, alternating with the MAP until it
    settles: the stationary point of the Laplace-approximate evidence. The
    posterior is approximated by a Gaussian on the active set: the Laplace
    density has no curvature away from 0, so ``coef_cov_`` is
    ``σ_n² (XₐᵀWXₐ)⁻¹`` on the non-zero coefficients and exactly 0 elsewhere
    (their intervals collapse to 0). It ignores the posterior mass at and
    near 0, so read those intervals as conditional on the selected support.

    **Sampling.** :meth:`sample_y` draws one set of coefficients per column,
    so it samples the joint predictive of the rows; :meth:`predict_dist`
    gives the (exact) marginals.

    Examples
    --------
    >>> import numpy as np
    >>> from skbayes import GaussianLinearRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X @ [1.0, -2.0, 0.0] + 0.5 + 0.1 * rng.normal(size=200)
    >>> reg = GaussianLinearRegression(prior_scale="auto").fit(X, y)
    >>> reg.coef_.round(2)
    array([ 0.99, -2.01,  0.01])
    >>> round(reg.noise_std_, 2)
    0.1
    >>> mu, sigma = reg.predict_dist(X[:2])
    >>> bool(np.all(sigma > reg.noise_std_))
    True
    >>> lower, upper = reg.coef_interval(0.95)
    >>> bool(lower[0] < 1.0 < upper[0])
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **PRIOR_PARAMETER_CONSTRAINTS,
        "noise_scale": [Interval(Real, 0, None, closed="neither"), None],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        prior="gaussian",
        prior_scale=1.0,
        noise_scale=None,
        fit_intercept=True,
        max_iter=300,
        tol=1e-6,
    ):
        self.prior = prior
        self.prior_scale = prior_scale
        self.noise_scale = noise_scale
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- fitting -------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the posterior to all rows of ``X``, forgetting earlier data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; CSR/CSC matrices are not densified.
        y : array-like of shape (n_samples,)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative frequency weights (an integer weight is the same as
            repeating the row); None means all ones.

        Returns
        -------
        self : GaussianLinearRegression
            The fitted estimator.
        """
        with _restore_on_error(self):
            X, y = self._validate_Xy(X, y, reset=True)
            sw = check_sample_weight(sample_weight, X, dtype=np.float64)
            prior, auto = self._resolve_prior(X.shape[1])
            if not sp.issparse(X) and X.shape[1] > X.shape[0]:
                stats = self._checked_stats(CentredRows, X, y, sw)
            else:
                stats = self._checked_stats(SuffStats, X, y, sw)
            self._fit_stats(stats, prior, auto)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the posterior with a batch of rows (exact online updating).

        Merging the batch's sufficient statistics into the model's gives the
        same model as :meth:`fit` on all rows seen so far, in any chunking.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A batch of training data.
        y : array-like of shape (n_samples,)
            Targets of the batch.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative frequency weights of the batch; None means all ones.

        Returns
        -------
        self : GaussianLinearRegression
            The updated estimator.
        """
        first = not hasattr(self, "_stats")
        with _restore_on_error(self):
            X, y = self._validate_Xy(X, y, reset=first)
            sw = check_sample_weight(sample_weight, X, dtype=np.float64)
            prior, auto = self._resolve_prior(X.shape[1])
            stats = self._checked_stats(SuffStats, X, y, sw)
            if not first:
                stats = self._stats.to_suffstats().merge(stats)
            self._fit_stats(stats, prior, auto)
        return self

    def _validate_Xy(self, X, y, *, reset: bool):
        # X's NaN/inf check is deferred to _checked_stats: it is a full pass
        # over X (~10% of the X.T @ X floor), and any NaN or inf in X reaches
        # the statistics anyway.
        return validate_data(
            self,
            X,
            y,
            reset=reset,
            accept_sparse=("csr", "csc"),
            dtype=(np.float64, np.float32),
            y_numeric=True,
            ensure_all_finite=False,
        )

    def _checked_stats(self, kind, X, y, sw):
        """``kind.from_data(X, y, sw)``, with scikit-learn's error on NaN/inf in X."""
        if sp.issparse(X):
            _assert_all_finite(
                X.data, input_name="X", estimator_name=type(self).__name__
            )
        stats = kind.from_data(X, y, sw)
        big = stats.scatter if isinstance(stats, SuffStats) else stats.rows
        if not (np.all(np.isfinite(stats.mean)) and np.all(np.isfinite(big))):
            # Same message as validate_data would have given.
            _assert_all_finite(X, input_name="X", estimator_name=type(self).__name__)
            raise ValueError(
                "The sufficient statistics overflowed: X or y has values too "
                "large for float64 products; rescale them."
            )
        return stats

    def _resolve_prior(self, n_features: int) -> tuple[Prior, bool]:
        return resolve_prior(
            self.prior,
            self.prior_scale,
            n_features,
            allow_auto=True,
        )

    def _fit_stats(self, stats: SuffStats | CentredRows, prior: Prior, auto: bool):
        """Compute the posterior from sufficient statistics; set attributes last."""
        n_features = stats.n_features
        total = stats.sum_weight
        dof = total - (1.0 if self.fit_intercept else 0.0)
        if self.noise_scale is None and dof <= 0:
            raise ValueError(
                "Estimating the noise (noise_scale=None) needs a total sample weight "
                f"above {1 if self.fit_intercept else 0}; got {stats.n_samples} "
                f"sample(s) with total weight {total:g}. Pass noise_scale or more "
                "data."
            )
        problem = _Problem.from_stats(stats, self.fit_intercept, dof)
        if prior.conjugate:
            post = _solve_gaussian(problem, prior, auto, self)
        elif prior.l1:
            post = _solve_laplace(problem, prior, self)
        else:
            raise NotImplementedError(
                f"{type(prior).__name__} is neither conjugate nor an L1 prior; "
                "GaussianLinearRegression has no solver for it yet."
            )

        # Only now, with everything computed, touch the estimator's state.
        self._stats = stats
        self._post = post
        self._coef_cov = None
        self.coef_ = post.coef
        if self.fit_intercept:
            mean_x, mean_y = stats.mean[:n_features], stats.mean[n_features]
            self.intercept_ = float(mean_y - mean_x @ post.coef)
        else:
            self.intercept_ = 0.0
        self.noise_std_ = float(1.0 / np.sqrt(post.beta))
        self.prior_scale_ = post.prior_scale
        self.log_marginal_likelihood_ = float(post.log_ml)
        self.n_iter_ = int(post.n_iter)

    # -- posterior ----------------------------------------------------------
    @property
    def coef_cov_(self) -> np.ndarray:
        """Posterior covariance of the coefficients, (n_features, n_features)."""
        check_is_fitted(self)
        if getattr(self, "_coef_cov", None) is None:
            self._coef_cov = self._post.covariance()
        return self._coef_cov

    def coef_interval(self, confidence=0.95):
        """Central posterior credible interval of each coefficient.

        Parameters
        ----------
        confidence : float, default=0.95
            Probability mass inside the interval, in (0, 1).

        Returns
        -------
        lower, upper : ndarray of shape (n_features,)
            Marginal credible bounds. Under the Laplace prior, coefficients
            outside the active set get ``[0, 0]`` (see Notes).
        """
        check_is_fitted(self)
        std = np.sqrt(self._post.coef_var())
        # scipy answers NaN for a zero std (Laplace prior, inactive features)
        point = std == 0
        lower, upper = gaussian_interval(
            self.coef_, np.where(point, 1.0, std), confidence
        )
        return np.where(point, self.coef_, lower), np.where(point, self.coef_, upper)

    def sample_y(self, X, n_samples=1, random_state=None):
        """Draw targets from the joint posterior predictive distribution.

        Each draw takes one set of coefficients and intercept from the
        posterior, so the targets of different rows are correlated as the
        model says (unlike independent draws from :meth:`predict_dist`'s
        marginals), and adds independent noise.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples_X, n_features)
            Query points.
        n_samples : int, default=1
            Number of draws.
        random_state : int, RandomState instance or None, default=None
            Seed or generator for the draws.

        Returns
        -------
        y_samples : ndarray of shape (n_samples_X, n_samples)
            One column per draw, as
            :meth:`sklearn.gaussian_process.GaussianProcessRegressor.sample_y`.
        """
        if int(n_samples) != n_samples or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer; got {n_samples}.")
        X = self._validate_X(X)
        rng = check_random_state(random_state)
        post, n_samples = self._post, int(n_samples)
        # w - m = D (V diag(√inv) ξ + √cvar (I - VVᵀ) ζ): a draw from coef_cov_
        basis = post.basis
        delta = basis.matvec(
            np.sqrt(post.inv)[:, None] * rng.standard_normal((basis.rank, n_samples))
        )
        if post.cvar:
            zeta = rng.standard_normal((len(post.D), n_samples))
            delta += np.sqrt(post.cvar) * (zeta - basis.matvec(basis.rmatvec(zeta)))
        delta *= post.D[:, None]
        # f(x) = mean(x) + (x - x̄)ᵀ(w - m) + (centred intercept's deviation)
        f = (X @ self.coef_ + self.intercept_)[:, None]
        f = f + np.asarray(X @ delta) - post.x_offset @ delta
        f += np.sqrt(post.intercept_var) * rng.standard_normal(n_samples)
        return f + self.noise_std_ * rng.standard_normal(f.shape)

    def _validate_X(self, X):
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            reset=False,
            accept_sparse=("csr", "csc"),
            dtype=(np.float64, np.float32),
        )
        # predictions in float64 whatever X's dtype (batch-independent rounding)
        return X.astype(np.float64, copy=False)

    def predict_dist(self, X):
        """Posterior predictive distribution of the targets of ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Query points.

        Returns
        -------
        dist : skbayes.Normal
            Gaussian marginals of shape (n_samples,), with ``epistemic_std``
            (uncertainty of coefficients and intercept) and ``aleatoric_std``
            (the noise ``noise_std_``); unpacks to ``(mean, std)``.
        """
        X = self._validate_X(X)
        mean = X @ self.coef_ + self.intercept_
        epistemic_var = self._post.quadratic_form(X) + self._post.intercept_var
        noise = np.full(X.shape[0], self.noise_std_)
        epistemic = np.sqrt(np.maximum(epistemic_var, 0.0))
        std = np.sqrt(epistemic**2 + noise**2)
        return Normal(
            np.asarray(mean).ravel(), std, epistemic_std=epistemic, aleatoric_std=noise
        )


# -- the maths, on sufficient statistics ------------------------------------


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
    Phi: np.ndarray | None
    t: np.ndarray | None
    c: float
    dof: float
    total: float
    x_offset: np.ndarray
    fit_intercept: bool

    @classmethod
    def from_stats(cls, stats, fit_intercept: bool, dof: float) -> _Problem:
        d = stats.n_features
        offset = stats.mean[:d] if fit_intercept else np.zeros(d)
        if isinstance(stats, CentredRows):
            Phi, t, c = stats.design(fit_intercept)
            return cls(
                None, None, Phi, t, c, dof, stats.sum_weight, offset, fit_intercept
            )
        A, b, c = stats.normal_equations(fit_intercept)
        return cls(A, b, None, None, c, dof, stats.sum_weight, offset, fit_intercept)

    @property
    def n_features(self) -> int:
        return self.x_offset.shape[0]

    def scales(self) -> tuple[float, float]:
        """Natural scales of y and x, to keep the fixed point in range."""
        d = self.n_features
        y2 = self.c / self.total
        trace = (
            np.trace(self.A)
            if self.A is not None
            else np.einsum("ij,ij->", self.Phi, self.Phi)  # no n×d temporary
        )
        x2 = trace / (self.total * d)
        y2 = y2 if y2 > 0 else 1.0
        x2 = x2 if x2 > 0 else 1.0
        return float(y2), float(x2)

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
        rows = self.Phi if scalar else self.Phi * D
        K = rows @ rows.T
        if scalar:
            K *= D[0] ** 2
        e, U = linalg.eigh(K, driver="evd")
        keep = e > _null_threshold(e, d)
        e, U = e[keep], U[:, keep]
        root = np.sqrt(e)
        W = U * (D[0] / root) if scalar else U / root
        return e, _Basis(None, rows, W), root * (U.T @ self.t)


def _null_threshold(e: np.ndarray, n_features: int) -> float:
    """Eigenvalues of a Gram matrix below this are zero up to rounding."""
    return max(float(e.max(initial=0.0)), 0.0) * max(n_features, len(e)) * _EPS * 100


class _Basis:
    """Orthonormal columns ``V`` (d×r), explicit or as ``rowsᵀ W`` (dual)."""

    def __init__(
        self,
        V: np.ndarray | None,
        rows: np.ndarray | None = None,
        W: np.ndarray | None = None,
    ):
        self._V, self.rows, self.W = V, rows, W

    @property
    def rank(self) -> int:
        return (self._V if self._V is not None else self.W).shape[1]

    @property
    def V(self) -> np.ndarray:
        if self._V is None:  # only for coef_cov_ / coef_interval: O(n·d·r) once
            self._V = self.rows.T @ self.W
        return self._V

    def matvec(self, v: np.ndarray) -> np.ndarray:
        """``V @ v``."""
        if self._V is not None:
            return self._V @ v
        return self.rows.T @ (self.W @ v)

    def rmatvec(self, M: np.ndarray) -> np.ndarray:
        """``Vᵀ @ M``."""
        if self._V is not None:
            return self._V.T @ M
        return self.W.T @ (self.rows @ M)

    def project(self, Z) -> np.ndarray:
        """``Z @ V`` for Z (m×d) dense or sparse."""
        if self._V is not None:
            return np.asarray(Z @ self._V)
        return np.asarray(Z @ self.rows.T) @ self.W

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
        """``(x - x̄)ᵀ S (x - x̄)`` for each row; X dense or sparse, float64."""
        zD = self.x_offset * self.D
        shift = self.basis.project(zD[None, :])[0]
        XD = X @ sp.diags(self.D) if sp.issparse(X) else X * self.D
        T = self.basis.project(XD) - shift
        quad = (T**2) @ self.inv
        if self.cvar:
            if sp.issparse(X):
                sq = np.asarray(XD.multiply(XD).sum(axis=1)).ravel()
                norm2 = sq - 2 * np.asarray(XD @ zD).ravel() + zD @ zD
            else:
                Z = (X - self.x_offset) * self.D
                norm2 = np.einsum("ij,ij->i", Z, Z)
            quad += self.cvar * np.maximum(norm2 - np.sum(T**2, axis=1), 0.0)
        return quad


def _intercept_terms(problem: _Problem, beta: float) -> tuple[float, float]:
    """Variance of the flat-prior intercept and its log-evidence constant."""
    if not problem.fit_intercept:
        return 0.0, 0.0
    # ∫ N(y | Xw + b, σ²/s) db = N(centred y | ...) × √(2πσ²/Σs) / (2πσ²)^(1/2)
    return 1.0 / (beta * problem.total), -0.5 * np.log(problem.total)


def _solve_gaussian(
    problem: _Problem, prior: Prior, auto: bool, est: GaussianLinearRegression
) -> _Posterior:
    """Exact posterior under the Gaussian or flat prior; MacKay's fixed point.

    Work in whitened coordinates ``u = w / σ_w`` (``D = σ_w`` per feature for
    a fixed scale, ``D = 1`` and a tuned precision ``λ`` for "auto"), where the
    prior precision is ``λ I``: one eigen-decomposition then makes every
    fixed-point step O(d).
    """
    d = problem.n_features
    flat = prior.is_flat
    D = np.ones(d) if (flat or auto) else prior.scale
    e, V, p = problem.eigen(D)
    r = len(e)
    if flat:
        lam = 0.0
        rank = int(np.sum(e > 0))
        if rank < d:
            warnings.warn(
                f"XᵀWX is singular (numerical rank {rank} < n_features = {d}): the "
                "flat prior (prior=None) leaves the coefficients undetermined along "
                f"{d - rank} direction(s). Using the minimum-norm solution and the "
                "posterior of the identifiable part only; use prior='gaussian' or "
                "'laplace' for a proper posterior, or remove collinear features.",
                UserWarning,
                stacklevel=4,
            )
            keep = e > 0
            e, V, p = e[keep], V.restrict(keep), p[keep]
            r = rank
    else:
        lam = 1.0
    y2, x2 = problem.scales()
    fixed_noise = est.noise_scale is not None
    beta = 1.0 / est.noise_scale**2 if fixed_noise else 1.0 / y2
    # Bounds that keep the fixed point finite on degenerate data (constant y,
    # an exact fit), relative to the data's own scales.
    beta_lo, beta_hi = 1e-12 / y2, 1e12 / y2
    lam_lo, lam_hi = 1e-12 * x2 / y2, 1e12 * x2 / y2
    dof = problem.dof
    if flat and not fixed_noise and dof - r <= 0:
        raise ValueError(
            "Estimating the noise with prior=None needs a total sample weight above "
            f"rank(X){' + 1' if problem.fit_intercept else ''} = "
            f"{r + problem.fit_intercept}; got {problem.total:g}. Pass noise_scale."
        )

    # Residual sum of squares split as (least-squares residual) + (shrinkage
    # part): c - 2pᵀm + mᵀEm would cancel catastrophically for large β.
    pos = e > 0
    p_pos, e_pos = p[pos], e[pos]
    resid_ls = problem.c - float(np.sum(p_pos**2 / e_pos))
    if resid_ls <= problem.c * max(d, len(e)) * _EPS * 100:
        resid_ls = 0.0  # an exact fit (d ≥ n): make it exactly exact, both routes

    def moments(lam: float, beta: float):
        denom = beta * e + lam
        mk = beta * p / denom
        shrink = lam * p_pos / (e_pos * beta + lam)
        resid = resid_ls + float(np.sum(shrink**2 / e_pos))
        gamma = float(np.sum(beta * e / denom))
        return denom, mk, resid, gamma

    def log_evidence(lam: float, beta: float) -> float:
        denom, mk, resid, _ = moments(lam, beta)
        value = 0.5 * (dof * np.log(beta / (2 * np.pi)) - beta * resid)
        value -= 0.5 * np.sum(np.log(denom))
        if flat:
            return value + 0.5 * r * np.log(2 * np.pi)
        # log det of the prior precision minus the (d - r) null directions of
        # the dual route, whose posterior precision is λ alone.
        # (in u = w / D, whose prior is N(0, I/λ): no Jacobian, as the
        # evidence is a density in y)
        return value + 0.5 * (r * np.log(lam) - lam * (mk @ mk))

    def log_evidence_grad(lam: float, beta: float) -> tuple[float, float]:
        """Gradient of :func:`log_evidence` in log λ and log β."""
        _, mk, resid, gamma = moments(lam, beta)
        return 0.5 * (gamma - lam * (mk @ mk)), 0.5 * (dof - beta * resid - gamma)

    n_iter = 1
    tune_lam, tune_beta = auto and not flat, not fixed_noise
    if tune_lam or tune_beta:
        converged = False
        # MacKay's fixed point (as BayesianRidge): cheap O(r) steps, each
        # setting the evidence's gradient in λ and β to zero given γ.
        for n_iter in range(1, est.max_iter + 1):  # noqa: B007
            _, mk, resid, gamma = moments(lam, beta)
            new_lam, new_beta = lam, beta
            if tune_lam:
                m2 = float(mk @ mk)
                new_lam = gamma / m2 if m2 > 0 else lam_hi
                new_lam = float(np.clip(new_lam, lam_lo, lam_hi))
            if tune_beta:
                new_beta = (dof - gamma) / resid if resid > 0 else beta_hi
                new_beta = float(np.clip(new_beta, beta_lo, beta_hi))
            change = max(
                abs(np.log(new_lam / lam)) if tune_lam else 0.0,
                abs(np.log(new_beta / beta)),
            )
            lam, beta = new_lam, new_beta
            if change < est.tol:
                converged = True
                break
        if not converged:
            # The fixed point crawls when the optimum is on a boundary (an
            # exact fit, no signal): finish with a bounded quasi-Newton search.
            lam, beta, extra, converged = _polish(
                log_evidence,
                log_evidence_grad,
                lam,
                beta,
                (lam_lo, lam_hi) if tune_lam else None,
                (beta_lo, beta_hi) if tune_beta else None,
                est,
            )
            n_iter += extra
            if not converged:
                # L-BFGS-B gives up on a plateau (the evidence flattens like
                # 1/β as σ_n → 0): a stationary point all the same.
                g_lam, g_beta = log_evidence_grad(lam, beta)
                slope = max(
                    abs(g_lam) if tune_lam else 0.0, abs(g_beta) if tune_beta else 0.0
                )
                converged = slope <= 1e-6 * max(dof, 1.0)
        if not converged:
            warnings.warn(
                "The marginal-likelihood maximisation did not converge in max_iter="
                f"{est.max_iter} iterations (tol={est.tol}); increase max_iter.",
                ConvergenceWarning,
                stacklevel=4,
            )

    denom, mk, resid, gamma = moments(lam, beta)
    coef = D * V.matvec(mk)
    intercept_var, intercept_logml = _intercept_terms(problem, beta)
    log_ml = log_evidence(lam, beta) + intercept_logml
    if flat:
        prior_scale = None
    elif auto:
        prior_scale = float(1.0 / np.sqrt(lam))
    elif np.ndim(est.prior_scale) == 0:
        prior_scale = float(est.prior_scale)
    else:
        prior_scale = prior.scale.copy()
    return _Posterior(
        coef=coef,
        D=D,
        basis=V,
        inv=1.0 / denom,
        cvar=1.0 / lam if (r < d and not flat) else 0.0,
        x_offset=problem.x_offset,
        intercept_var=intercept_var,
        beta=beta,
        prior_scale=prior_scale,
        log_ml=float(log_ml),
        n_iter=n_iter,
    )


def _polish(
    log_evidence,
    log_evidence_grad,
    lam: float,
    beta: float,
    lam_bounds: tuple[float, float] | None,
    beta_bounds: tuple[float, float] | None,
    est: GaussianLinearRegression,
) -> tuple[float, float, int, bool]:
    """Maximise the evidence over log λ and/or log β with L-BFGS-B."""
    names = [n for n, b in (("lam", lam_bounds), ("beta", beta_bounds)) if b]
    bounds = [np.log(b) for b in (lam_bounds, beta_bounds) if b]
    start = {"lam": np.log(lam), "beta": np.log(beta)}

    def unpack(theta):
        values = {"lam": lam, "beta": beta}
        values.update({n: float(np.exp(t)) for n, t in zip(names, theta)})
        return values["lam"], values["beta"]

    def objective(theta):
        lam_, beta_ = unpack(theta)
        g_lam, g_beta = log_evidence_grad(lam_, beta_)
        grad = {"lam": g_lam, "beta": g_beta}
        return -log_evidence(lam_, beta_), -np.array([grad[n] for n in names])

    res = optimize.minimize(
        objective,
        np.array([start[n] for n in names]),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        # A tight gtol: on a boundary (σ_n → 0 for an exact fit) the gradient
        # decays like 1/β, and stopping early would leave a start-dependent σ_n.
        options={"maxiter": est.max_iter, "ftol": 0.0, "gtol": 1e-12},
    )
    new_lam, new_beta = unpack(res.x)
    return new_lam, new_beta, int(res.nit), bool(res.success)


def _pseudo_rows(
    problem: _Problem, B: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Rows ``(X̃, ỹ)`` with ``X̃ᵀX̃ = B A B``, ``X̃ᵀỹ = B b`` and the leftover
    ``yᵀWy - ‖ỹ‖²``, so a Lasso on at most d rows solves the MAP."""
    if problem.Phi is not None:
        return problem.Phi * B, problem.t, max(problem.c - problem.t @ problem.t, 0.0)
    e, Q = linalg.eigh(problem.A * np.outer(B, B), driver="evd")
    keep = e > _null_threshold(e, len(e))
    e, Q = e[keep], Q[:, keep]
    root = np.sqrt(e)
    Xt = root[:, None] * Q.T
    yt = (Q.T @ (B * problem.b)) / root
    return np.asfortranarray(Xt), yt, max(problem.c - yt @ yt, 0.0)


def _solve_laplace(
    problem: _Problem, prior: Prior, est: GaussianLinearRegression
) -> _Posterior:
    """MAP by coordinate descent, noise update, Laplace approx on the active set.

    In the coordinates ``v = w / b`` the penalty is ``‖v‖₁``; the negative log
    posterior ``β/2 ‖ỹ - X̃v‖² + ‖v‖₁`` is Lasso's objective times ``qβ`` for
    ``alpha = 1/(qβ)`` on q pseudo-rows.
    """
    B = prior.scale
    Xt, yt, c_res = _pseudo_rows(problem, B)
    q = Xt.shape[0]
    y2, _ = problem.scales()
    fixed_noise = est.noise_scale is not None
    beta = 1.0 / est.noise_scale**2 if fixed_noise else 1.0 / y2
    beta_lo, beta_hi = 1e-12 / y2, 1e12 / y2
    dof = problem.dof
    lasso = Lasso(
        alpha=1.0,
        fit_intercept=False,
        max_iter=est.max_iter * 10,
        tol=1e-10,
        warm_start=True,
    )
    v = np.zeros(problem.n_features)
    resid = c_res + yt @ yt
    n_iter, converged = 0, fixed_noise
    for n_iter in range(1, est.max_iter + 1):  # noqa: B007
        if q > 0:
            lasso.set_params(alpha=1.0 / (q * beta))
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                lasso.fit(Xt, yt)
            if any(issubclass(w.category, ConvergenceWarning) for w in caught):
                warnings.warn(
                    "Coordinate descent for the Laplace-prior MAP did not converge; "
                    "increase max_iter.",
                    ConvergenceWarning,
                    stacklevel=4,
                )
            v = lasso.coef_.copy()
            resid = c_res + float(np.sum((yt - Xt @ v) ** 2))
        if fixed_noise:
            break
        k = int(np.count_nonzero(v))
        new_beta = (dof - k) / resid if (resid > 0 and dof > k) else beta_hi
        new_beta = float(np.clip(new_beta, beta_lo, beta_hi))
        change = abs(np.log(new_beta / beta))
        beta = new_beta
        if change < est.tol:
            converged = True
            break
    if not converged:
        warnings.warn(
            f"The noise update for the Laplace prior did not converge in max_iter="
            f"{est.max_iter} iterations (tol={est.tol}); increase max_iter.",
            ConvergenceWarning,
            stacklevel=4,
        )
    if not fixed_noise:
        # The MAP must belong to the final noise level.
        if q > 0:
            lasso.set_params(alpha=1.0 / (q * beta))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                lasso.fit(Xt, yt)
            v = lasso.coef_.copy()
            resid = c_res + float(np.sum((yt - Xt @ v) ** 2))

    d = problem.n_features
    active = np.flatnonzero(v)
    Xa = Xt[:, active]
    ea, Qa = (
        linalg.eigh(Xa.T @ Xa, driver="evd")
        if len(active)
        else (np.zeros(0), np.zeros((0, 0)))
    )
    ea = np.maximum(
        ea, ea.max(initial=0.0) * len(ea) * _EPS * 10 + np.finfo(float).tiny
    )
    V = np.zeros((d, len(active)))
    V[active] = Qa
    inv = 1.0 / (beta * ea)
    coef = B * v
    intercept_var, intercept_logml = _intercept_terms(problem, beta)
    log_ml = 0.5 * (dof * np.log(beta / (2 * np.pi)) - beta * resid)
    log_ml += prior.log_density(coef) + intercept_logml
    log_ml += 0.5 * len(active) * np.log(2 * np.pi) - 0.5 * np.sum(np.log(beta * ea))
    log_ml += np.sum(np.log(B[active]))  # the active-set Hessian was in v = w/b
    prior_scale = (
        float(est.prior_scale) if np.ndim(est.prior_scale) == 0 else prior.scale.copy()
    )
    return _Posterior(
        coef=coef,
        D=B.copy(),
        basis=_Basis(V),
        inv=inv,
        cvar=0.0,
        x_offset=problem.x_offset,
        intercept_var=intercept_var,
        beta=beta,
        prior_scale=prior_scale,
        log_ml=float(log_ml),
        n_iter=max(n_iter, 1),
    )
