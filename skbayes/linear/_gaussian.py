"""Bayesian linear regression with an exact (or Laplace) Gaussian posterior."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
)
from sklearn.utils.validation import (
    _assert_all_finite,
    check_is_fitted,
    validate_data,
)

from .._base import PredictiveRegressorMixin
from .._distribution import Normal, central_interval
from .._priors import PRIOR_PARAMETER_CONSTRAINTS, PRIORS, Prior, resolve_prior
from .._validation import check_sample_weight
from ._ard import _solve_ard
from ._glr_evidence import _solve_gaussian
from ._glr_laplace import _solve_laplace
from ._glr_problem import _Problem
from ._glr_smooth import _solve_smooth
from ._restore import _restore_on_error
from ._scaling import (
    data_exponent,
    exponent,
    scale,
    scaled_settings,
    weight_exponent,
)
from ._suffstats import CentredRows, CentredSparseRows, SuffStats

__all__ = ["GaussianLinearRegression"]

# Above this total weight (a sample size) squares of the posterior precision
# overflow float64; weights are scaled exactly below it (._scaling).
_MAX_TOTAL_WEIGHT = 1e150

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
    prior_scale : float, array-like, "auto" or "ard", default="auto"
        Standard deviation ``σ_w`` of the Gaussian prior, or scale ``b`` of
        the Laplace prior, one for all features or one per feature. A fixed
        scale is in the units of y per unit of the features (standardise
        them, e.g. in a Pipeline, for one scale to suit all).
        ``"auto"`` (the default; Gaussian prior only) sets one ``σ_w`` by
        maximising the marginal likelihood (empirical Bayes, MacKay's fixed
        point, as scikit-learn's :class:`~sklearn.linear_model.BayesianRidge`);
        with ``prior="laplace"`` a scale must be given.
        ``"ard"`` (Gaussian prior only) sets one ``σ_w`` per feature by
        maximising the exact marginal likelihood (automatic relevance
        determination, as :class:`~sklearn.linear_model.ARDRegression`):
        features whose scale collapses to 0 leave the model exactly (see
        Notes). Ignored when ``prior=None``.
    ard_threshold : "auto" or float, default="auto"
        With ``prior_scale="ard"``, how much a feature must raise the log
        evidence (in nats) to be kept; ignored otherwise. ``"auto"``: the
        multiplicity correction of a prior under which each feature is
        relevant with an unknown probability, uniform on [0, 1]: with ``k``
        features kept out of ``d``, one more must add ``log((d-k)/(k+1))``,
        strict when few features are relevant and lenient when many are
        (see Notes). A number: that many nats per kept feature (``0``: the
        exact evidence maximum, as :class:`~sklearn.linear_model.ARDRegression`
        without its pruning threshold; ``log(n_samples) / 2``: BIC's charge).
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
        Prior scale used (given or estimated); None for the flat prior. With
        ``prior_scale="ard"`` an array, 0.0 for the pruned features.
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
    Sparse X takes the same route, without being densified: the centred
    rows are represented by the sparse X and its mean, and the kernel is a
    sparse product plus rank-one corrections.

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

    **Extreme scales.** X, y and sample weights whose magnitudes leave
    ``[2^-64, 2^64]`` are multiplied by exact powers of two before the
    statistics are formed and the results scaled back, so such data give the
    scaled model; noise bounds and floors are relative to y's own scale.
    Coefficients beyond float64's range, or a total weight above 1e150, are
    errors.

    **Automatic relevance determination.** ``prior_scale="ard"`` gives
    feature i the prior ``N(0, σ_i²)`` and maximises the exact evidence over
    all ``σ_i`` (and ``σ_n`` when ``noise_scale=None``) on the sufficient
    statistics, with Tipping & Faul's coordinate-wise maximisers: a feature
    whose maximiser is ``σ_i = 0`` is pruned exactly, so its coefficient is
    exactly 0 and its posterior variance exactly 0 (no huge or NaN
    variances), and the posterior of the others is the Gaussian-prior one at
    their scales. The data are read once; each iteration costs O(k²·d + k³)
    for k kept features. Keeping a feature at its best scale raises the
    evidence by ``½ (t - 1 - log t)``, ``t = q²/s`` the squared z-score of
    its correlation with the residual, and a pure-noise feature has
    ``t ~ χ²₁``: the exact optimum (``ard_threshold=0``) keeps about a third
    of the irrelevant features, with small coefficients. The default
    ``ard_threshold="auto"`` maximises instead the evidence times Scott &
    Berger's (2010) prior on which features are kept, ``1 / ((d+1) C(d, k))``
    for a set of k of d features (flat beyond ``k = d/2``, so that no feature
    is kept for the prior's sake): the posterior mode of the kept set and
    scales. It prunes the noise features on sparse problems and keeps the
    weak ones on dense problems. ``log_marginal_likelihood_`` is the exact
    evidence of the model kept (without the prior on the set).

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
        # "ard" is specific to this model: one evidence-tuned scale per feature.
        "prior_scale": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"auto", "ard"}),
            "array-like",
        ],
        "ard_threshold": [
            StrOptions({"auto"}),
            Interval(Real, 0, None, closed="left"),
        ],
        "noise_scale": [Interval(Real, 0, None, closed="neither"), None],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        prior="gaussian",
        prior_scale="auto",
        ard_threshold="auto",
        noise_scale=None,
        fit_intercept=True,
        max_iter=300,
        tol=1e-6,
    ):
        self.prior = prior
        self.prior_scale = prior_scale
        self.ard_threshold = ard_threshold
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
            prior, tuning = self._resolve_prior(X.shape[1])
            exps = (data_exponent(X), exponent(y), weight_exponent(sw))
            X, y, sw = scale(X, exps[0]), scale(y, exps[1]), scale(sw, exps[2])
            if X.shape[1] > X.shape[0]:  # the dual route: rows, not d×d
                kind = CentredSparseRows if sp.issparse(X) else CentredRows
                stats = self._checked_stats(kind, X, y, sw)
            else:
                stats = self._checked_stats(SuffStats, X, y, sw)
            self._fit_stats(stats, prior, tuning, exps)
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
            prior, tuning = self._resolve_prior(X.shape[1])
            # later batches are scaled as the first was, so statistics merge
            if first:
                exps = (data_exponent(X), exponent(y), weight_exponent(sw))
            else:
                exps = (*self._exps, self._weight_exp)
            X, y, sw = scale(X, exps[0]), scale(y, exps[1]), scale(sw, exps[2])
            stats = self._checked_stats(SuffStats, X, y, sw)
            if not first:
                stats = self._stats.to_suffstats().merge(stats)
            self._fit_stats(stats, prior, tuning, exps)
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
        # inf - inf in the centring is NaN: no numpy warning before the error
        with np.errstate(invalid="ignore", over="ignore"):
            stats = kind.from_data(X, y, sw)
        big = {SuffStats: "scatter", CentredRows: "rows"}.get(type(stats), "mean")
        big = getattr(stats, big)  # sparse rows: X's values were checked above
        if not (np.all(np.isfinite(stats.mean)) and np.all(np.isfinite(big))):
            # Same message as validate_data would have given.
            _assert_all_finite(X, input_name="X", estimator_name=type(self).__name__)
            raise ValueError(
                "The sufficient statistics overflowed: X or y has values too "
                "large for float64 products; rescale them."
            )
        return stats

    def _resolve_prior(self, n_features: int) -> tuple[Prior, str | None]:
        """The prior and how its scale is tuned: None, "auto" or "ard"."""
        ard = isinstance(self.prior_scale, str) and self.prior_scale == "ard"
        if ard and (self.prior is None or not PRIORS[self.prior].supports_evidence):
            raise InvalidParameterError(
                "prior_scale='ard' (one evidence-tuned scale per feature) needs "
                f"prior='gaussian'; got prior={self.prior!r}."
            )
        prior, auto = resolve_prior(
            self.prior,
            "auto" if ard else self.prior_scale,
            n_features,
            allow_auto=True,
        )
        return prior, ("ard" if ard else "auto" if auto else None)

    def _fit_stats(
        self,
        stats: SuffStats | CentredRows | CentredSparseRows,
        prior: Prior,
        tuning: str | None,
        exps: tuple[int, int, int] = (0, 0, 0),
    ):
        """Compute the posterior from sufficient statistics; set attributes last.

        ``exps = (kx, ky, ks)``: the statistics are of ``X / 2^kx``,
        ``y / 2^ky`` and weights ``s / 2^ks`` (:mod:`._scaling`); the
        hyperparameters are taken to those units and the attributes back.
        """
        kx, ky, ks = exps
        settings = scaled_settings(self, kx, ky, ks)
        if not prior.is_flat and (kx or ky):
            prior = prior.with_scale(np.ldexp(prior.scale, kx - ky))
        n_features = stats.n_features
        total = float(np.ldexp(stats.sum_weight, ks))
        if total > _MAX_TOTAL_WEIGHT:
            raise ValueError(
                f"sample_weight sums to {total:.3g}: frequency weights are a sample "
                "size, and one this large makes the posterior precision overflow "
                "float64. Divide the weights by a constant (relative weights) or "
                "pass fewer repeats."
            )
        dof = total - (1.0 if self.fit_intercept else 0.0)
        if self.noise_scale is None and dof <= 0:
            raise ValueError(
                "Estimating the noise (noise_scale=None) needs a total sample weight "
                f"above {1 if self.fit_intercept else 0}; got {stats.n_samples} "
                f"sample(s) with total weight {total:g}. Pass noise_scale or more "
                "data."
            )
        problem = _Problem.from_stats(
            stats, self.fit_intercept, dof, float(np.ldexp(1.0, ks))
        )
        if tuning == "ard":
            post = _solve_ard(problem, settings, self.ard_threshold)
        elif prior.conjugate:
            post = _solve_gaussian(problem, prior, tuning == "auto", settings)
        elif prior.l1:
            post = _solve_laplace(problem, prior, settings)
        else:  # any smooth prior: Newton MAP and a Laplace approximation
            post = _solve_smooth(problem, prior, settings)
        intercept = 0.0
        if self.fit_intercept:
            mean_x, mean_y = stats.mean[:n_features], stats.mean[n_features]
            intercept = float(np.ldexp(mean_y - mean_x @ post.coef, ky))
        with np.errstate(over="ignore"):
            coef = np.ldexp(post.coef, ky - kx)
        if not np.all(np.isfinite(coef)):
            raise ValueError(
                "The coefficients are beyond float64's range (y's scale divided "
                "by X's overflows); rescale X or y."
            )
        # a density in y: the Jacobian of y = 2^ky y' over dof dimensions;
        # and the solver's ½ dof log β' and -½ log Σs' in the weights' units
        log_ml = post.log_ml - dof * (ky + ks / 2) * np.log(2.0)
        log_ml -= 0.5 * ks * np.log(2.0) * self.fit_intercept
        if prior.is_flat:  # p(w) = 1 in the original units: w = w' 2^(ky - kx)
            log_ml += post.basis.rank * (ky - kx) * np.log(2.0)
        prior_scale = post.prior_scale
        if prior_scale is not None:
            prior_scale = np.ldexp(prior_scale, ky - kx)
            prior_scale = (
                float(prior_scale) if np.ndim(prior_scale) == 0 else prior_scale
            )

        # Only now, with everything computed, touch the estimator's state.
        # The posterior stays in the scaled units; the attributes are not.
        self._stats = stats
        self._exps, self._weight_exp = (kx, ky), ks
        self._post = post
        self._coef_cov = None
        self.coef_ = coef
        self.intercept_ = intercept
        self.noise_std_ = float(np.ldexp(1.0 / np.sqrt(post.beta), ky + ks // 2))
        self.prior_scale_ = prior_scale
        self.log_marginal_likelihood_ = float(log_ml)
        self.n_iter_ = int(post.n_iter)

    # -- posterior ----------------------------------------------------------
    @property
    def coef_cov_(self) -> np.ndarray:
        """Posterior covariance of the coefficients, (n_features, n_features)."""
        check_is_fitted(self)
        if getattr(self, "_coef_cov", None) is None:
            kx, ky = self._exps
            self._coef_cov = np.ldexp(self._post.covariance(), 2 * (ky - kx))
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
        kx, ky = self._exps
        std = np.ldexp(np.sqrt(self._post.coef_var()), ky - kx)
        # A zero std (Laplace prior, inactive features) gives [coef, coef].
        return central_interval(self.coef_, std, confidence)

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
        kx, ky = self._exps
        Xs = scale(X, kx)  # the posterior's units
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
        dev = np.asarray(Xs @ delta) - post.x_offset @ delta
        dev += np.sqrt(post.intercept_var) * rng.standard_normal(n_samples)
        f = (X @ self.coef_ + self.intercept_)[:, None] + np.ldexp(dev, ky)
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
        kx, ky = self._exps
        post = self._post
        # in the posterior's units, then scaled: no under/overflow of variances
        epistemic_var = post.quadratic_form(scale(X, kx)) + post.intercept_var
        epistemic = np.ldexp(np.sqrt(np.maximum(epistemic_var, 0.0)), ky)
        noise = np.full(X.shape[0], self.noise_std_)
        std = np.hypot(epistemic, noise)
        return Normal(
            np.asarray(mean).ravel(), std, epistemic_std=epistemic, aleatoric_std=noise
        )
