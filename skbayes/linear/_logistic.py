"""Bayesian logistic regression: a Gaussian posterior (variational or
Laplace), predictive class probabilities and an evidence-based prior scale."""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from scipy.special import log_expit, log_softmax
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .._base import PredictiveClassifierMixin
from .._distribution import Normal, central_interval
from .._priors import PRIOR_PARAMETER_CONSTRAINTS, resolve_prior
from .._validation import check_sample_weight
from ._fit_posterior import PosteriorFit, class_weights
from ._logistic_loss import linear_predictor, split_params
from ._map_laplace import _logit_moments, _Problem
from ._moderation import (
    cov_sqrt,
    mc_binary_log_proba,
    mc_softmax_log_proba,
    normal_bank,
    probit_binary_log_proba,
    probit_softmax_log_proba,
    quadrature_binary_log_proba,
)
from ._restore import _restore_on_error
from ._separation import is_separable
from ._standardize import standardize, to_user, transform

__all__ = ["BayesianLogisticRegression"]

# Rows per block at prediction time are chosen so that a block's temporaries
# hold about this many floats.
_PREDICT_BLOCK_ELEMENTS = 2**21
# Points of the deterministic bank for the softmax predictive.
_PREDICT_BANK = 2048


def _cov_to_user(theta, cov, mean, scale, n_rows: int, fit_intercept: bool):
    """:func:`to_user` of a mean and a covariance.

    The map to the user's units is linear, ``θ ↦ A θ``, so a full covariance
    maps as ``A C Aᵀ``: :func:`to_user` applied to the rows of ``C`` and then
    to the rows of the result, two products of size ``P × D × D`` instead of
    one contraction over both sides.
    """
    if cov is None or cov.ndim == 1:
        return to_user(theta, cov, mean, scale, n_rows, fit_intercept)
    args = (mean, scale, n_rows, fit_intercept)
    mapped = to_user(theta, None, *args)[0]
    half = to_user(cov, None, *args)[0]  # C Aᵀ
    full = to_user(np.ascontiguousarray(half.T), None, *args)[0]  # A C Aᵀ
    return mapped, 0.5 * (full + full.T)


def _require_covariance(est, method: str) -> None:
    """Clear error for posterior methods of a MAP-only model."""
    check_is_fitted(est)
    if est.coef_cov_ is None:
        raise AttributeError(
            f"{method} is not available when covariance=None: the model keeps "
            "only the MAP estimate. Fit with covariance='full' or 'diag' to get "
            "a posterior."
        )


class BayesianLogisticRegression(PredictiveClassifierMixin, BaseEstimator):
    """Bayesian logistic (binary) and softmax (multiclass) regression.

    The weights get a Gaussian or Laplace prior (the intercept a flat one).
    ``fit`` finds the posterior mode (MAP, ``coef_``) and a Gaussian
    approximation ``N(m, S)`` of the posterior (``posterior_mean_``,
    ``coef_cov_``). Class probabilities average the likelihood over that
    Gaussian ("moderated" probabilities), so points far from the data get
    less confident predictions than the plug-in MAP model gives them.

    The MAP with ``prior="gaussian", prior_scale=σ`` is the solution of
    ``LogisticRegression(C=σ**2)`` and with ``prior="laplace", prior_scale=b``
    that of ``LogisticRegression(C=b, l1_ratio=1, solver="saga")``.

    Parameters
    ----------
    prior : {"gaussian", "laplace"} or None, default="gaussian"
        Prior on the weights (not on the intercept): N(0, σ²), Laplace(0, b),
        or None for a flat prior (maximum likelihood; there is no finite
        estimate on (quasi-)separated data, which gives a warning).
    prior_scale : float, array-like of shape (n_features,) or "auto", default=1.0
        σ of the Gaussian prior (a standard deviation, not a variance) or b of
        the Laplace prior, in the units of X; one per feature with an array.
        ``"auto"`` sets a single σ by maximising the evidence lower bound of
        the approximation (empirical Bayes; Gaussian prior only), searched in
        [1e-3, 1e3] times the geometric-mean column standard deviation's
        inverse, with a warning when the optimum is at an edge.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    approximation : {"variational", "laplace"}, default="variational"
        The Gaussian posterior. ``"variational"`` maximises the evidence lower
        bound (ELBO) over ``N(m, S)``: its predictive is close to the exact
        Bayesian one also where the posterior is skewed (near-separable data,
        broad priors), at a few times the cost of the Laplace approximation.
        ``"laplace"`` is ``N(ŵ, H⁻¹)`` around the MAP, ``H`` the Hessian of
        the negative log posterior: cheap and accurate when the data
        determine the weights well (many rows per parameter, no separation),
        too wide and symmetric otherwise.
    covariance : {"full", "diag"} or None, default="full"
        ``"full"`` keeps the full ``S`` (one weighted pass ``Xᵀ D X`` per
        step, then ``O((K·D)³)``); ``"diag"`` a diagonal ``S`` (mean-field),
        for large ``n_features · n_classes``; None keeps only the MAP
        estimate (no ``predict_dist``; ``predict_proba`` is then plug-in).
    predictive : {"quadrature", "probit", "map", "mc"}, default="quadrature"
        How :meth:`predict_proba` averages over the posterior:
        ``"quadrature"`` is Gauss–Hermite quadrature of ``E[σ(f)]`` for two
        classes and a fixed deterministic bank of 2048 normal points for
        softmax; ``"probit"`` is MacKay's ``σ(μ / sqrt(1 + π s² / 8))`` and
        the pairwise mean-field approximation of Lu et al. (2020) for
        softmax; ``"map"`` the plug-in at ``posterior_mean_``; ``"mc"``
        Monte Carlo with ``n_predictive_samples`` draws. All are
        deterministic and row-independent (``"mc"`` uses the same standard
        normal draws, fixed at fit from ``random_state``, for every row).
    n_predictive_samples : int, default=1000
        Monte Carlo draws for ``predictive="mc"``.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplying ``sample_weight``, as in
        :class:`~sklearn.linear_model.LogisticRegression`; non-negative.
    max_iter : int, default=1000
        Maximum iterations of the MAP optimiser (L-BFGS, or L-BFGS-B for the
        Laplace prior) and of the variational fixed point.
    tol : float, default=1e-4
        Stopping tolerance of the MAP optimiser on the largest (projected)
        gradient entry divided by the sum of sample weights (as scikit-learn's
        lbfgs). The variational fit and the inner fits of ``"auto"`` use a
        fixed tight tolerance.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws of ``predictive="mc"`` (drawn only then).
    verbose : bool, default=False
        Show a progress bar of the ``prior_scale="auto"`` search: one step per
        prior scale tried, with that scale (in the units of X) and its
        evidence lower bound.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        MAP weights; one row (for ``classes_[1]``) for binary problems.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        MAP intercepts (zeros without intercept). For softmax they are only
        defined up to a common shift and are centred to sum to zero.
    posterior_mean_ : ndarray of shape (P,) or None
        Mean of the Gaussian posterior, in the order of ``coef_cov_``
        (equal to the MAP for ``approximation="laplace"``).
    coef_cov_ : ndarray of shape (P, P) or (P,), or None
        Posterior covariance of the parameters (``covariance="full"``), its
        diagonal (``"diag"``: the marginal variances of a posterior that is
        diagonal in standardised units), or None. Parameters are ordered
        class-major: ``P = n_rows * D`` with ``D = n_features +
        fit_intercept`` and ``n_rows = coef_.shape[0]``, entry ``k * D + j``
        being weight ``j < n_features`` of row ``k`` and its intercept for
        ``j == n_features``. A common shift of the softmax intercepts (which
        the model cannot see) gets zero variance. For the Laplace prior and
        ``approximation="laplace"``, weights at exactly zero keep zero
        variance (the approximation is made on the active set).
    prior_scale_ : float, ndarray of shape (n_features,) or None
        Scale of the prior actually used (after ``"auto"``); None when flat.
    log_marginal_likelihood_ : float or None
        The evidence lower bound of the Gaussian posterior (of the Laplace
        Gaussian for ``approximation="laplace"``): a possible value of
        ``log p(y | X)`` (flat intercept prior with density 1), never above
        it for two classes (Gauss–Hermite quadrature). With more classes the
        expected log-likelihood is a 1,024-point quasi-Monte-Carlo estimate
        on a bank independent of the fit's own 256 points (which flatter the
        posterior fitted to them by up to 2-4 nats); its error is random,
        about 0.01 nats at σ = 0.3 and up to ~0.4 nats at σ = 30 on wine.
        None when ``covariance=None`` and the scale is not ``"auto"``.
    n_iter_ : int
        Optimiser iterations (MAP and variational, summed over the fits of
        the ``"auto"`` search).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.LogisticRegression : The MAP estimate alone.

    Notes
    -----
    The solvers work on centred (dense X with intercept) and scaled columns,
    with the prior scales rescaled to match, and map the results back: an
    exact reparameterisation, so results do not depend on column offsets or
    units. The variational fit maximises the exact ELBO: the expected
    log-likelihood of a row depends only on its logits' mean and covariance
    (Gauss–Hermite quadrature for two classes, a fixed bank of 256 normal
    points for softmax); its optimum satisfies
    ``S⁻¹ = prior precision + Σ s_i E[-∂²ℓ_i] ⊗ x̃_i x̃_iᵀ`` (Opper &
    Archambeau 2009), iterated with Newton steps on the mean, each checked
    against the ELBO. Computations are in float64 whatever the input dtype.
    :meth:`decision_function` returns the log-odds of the predictive
    probabilities, so that it ranks like :meth:`predict_proba`.

    References
    ----------
    M. Opper, C. Archambeau (2009), "The variational Gaussian approximation
    revisited", Neural Computation 21(3).
    H. Nickisch, C. E. Rasmussen (2008), "Approximations for binary Gaussian
    process classification", JMLR 9.
    D. J. C. MacKay (1992), "The evidence framework applied to classification
    networks", Neural Computation 4(5).
    Z. Lu, E. Ie, F. Sha (2020), "Mean-field approximation to Gaussian-softmax
    integral with application to uncertainty estimation", arXiv:2006.07584.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skbayes import BayesianLogisticRegression
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = BayesianLogisticRegression(prior_scale=1.0).fit(X, y)
    >>> clf.predict(X[:3])
    array([0, 0, 0])
    >>> mu, sigma = clf.predict_dist(X[:3])
    >>> bool((sigma > 0).all())
    True
    >>> round(clf.score(X, y), 2)
    0.99
    """

    _parameter_constraints: ClassVar[dict] = {
        **PRIOR_PARAMETER_CONSTRAINTS,
        "fit_intercept": ["boolean"],
        "approximation": [StrOptions({"variational", "laplace"})],
        "covariance": [StrOptions({"full", "diag"}), None],
        "predictive": [StrOptions({"quadrature", "probit", "map", "mc"})],
        "n_predictive_samples": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        prior="gaussian",
        prior_scale=1.0,
        fit_intercept=True,
        approximation="variational",
        covariance="full",
        predictive="quadrature",
        n_predictive_samples=1000,
        class_weight=None,
        max_iter=1000,
        tol=1e-4,
        random_state=None,
        verbose=False,
    ):
        self.prior = prior
        self.prior_scale = prior_scale
        self.fit_intercept = fit_intercept
        self.approximation = approximation
        self.covariance = covariance
        self.predictive = predictive
        self.n_predictive_samples = n_predictive_samples
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the MAP estimate and the Gaussian approximate posterior.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; sparse input is used as CSR.
        y : array-like of shape (n_samples,)
            Class labels (any type scikit-learn accepts, strings too).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; a weight of 2 counts a row twice.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        # A failed fit leaves an already fitted model as it was; warnings from
        # the solvers are re-issued at the caller's line.
        with _restore_on_error(self), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self._fit(X, y, sample_weight)
        for w in caught:
            warnings.warn(w.message, w.category, stacklevel=3)
        return self

    def _fit(self, X, y, sample_weight):
        X, y = validate_data(
            self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32]
        )
        check_classification_targets(y)
        classes, y_enc = np.unique(y, return_inverse=True)
        if classes.shape[0] < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the "
                f"data, but the data contains only one class: {classes[0]!r}."
            )
        sw = check_sample_weight(sample_weight, X, dtype=np.float64).copy()
        sw *= class_weights(
            self.class_weight, classes, y, y_enc, sample_weight, type(self).__name__
        )
        weighted = np.bincount(y_enc, weights=sw, minlength=classes.shape[0]) > 0
        if weighted.sum() < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes with "
                "positive sample_weight (times class_weight), but only one class "
                f"has any: {classes[weighted][0]!r}."
            )
        n_features = X.shape[1]
        binary = classes.shape[0] == 2
        n_rows = 1 if binary else classes.shape[0]
        target = (y_enc == 1).astype(np.float64) if binary else y_enc
        prior, auto = resolve_prior(
            self.prior, self.prior_scale, n_features, allow_auto=True
        )
        # Centre (dense, with intercept) and scale the columns: results are
        # invariant to column offsets and units (the prior scale follows).
        centre = self.fit_intercept and not sp.issparse(X)
        Xs, x_mean, x_scale = standardize(X, sw, centre)
        problem = _Problem(Xs, target, sw, n_rows, self.fit_intercept)
        approximation = self.approximation
        pos = sw > 0
        if prior.is_flat and is_separable(
            Xs[pos], target[pos], n_rows, self.fit_intercept
        ):
            warnings.warn(
                "The training data are (quasi-)completely separated: with "
                "prior=None (maximum likelihood) the weights have no finite "
                "optimum and the posterior is improper; the weights grew until "
                "the optimiser stopped and the probabilities are overconfident. "
                "Use prior='gaussian' or 'laplace'.",
                ConvergenceWarning,
                stacklevel=2,
            )
            approximation = "laplace"
        fitter = PosteriorFit(
            approximation=approximation,
            covariance=self.covariance,
            max_iter=self.max_iter,
            tol=self.tol,
            verbose=self.verbose,
        )
        res = fitter.run(problem, prior, x_scale, auto)
        mean, cov = _cov_to_user(
            res.theta, res.cov, x_mean, x_scale, n_rows, self.fit_intercept
        )
        theta_map, _ = to_user(
            res.map, None, x_mean, x_scale, n_rows, self.fit_intercept
        )
        coef, intercept = split_params(
            theta_map, n_rows, n_features, self.fit_intercept
        )
        if prior.is_flat:
            prior_scale_ = None
        elif auto:
            prior_scale_ = float(res.prior.scale[0])
        elif np.ndim(self.prior_scale) == 0:
            prior_scale_ = float(prior.scale[0])
        else:
            prior_scale_ = prior.scale.copy()

        self._predictive_seed = None
        if self.predictive == "mc":  # the global RNG only when it is used
            rng = check_random_state(self.random_state)
            self._predictive_seed = int(rng.randint(np.iinfo(np.int32).max))
        self._std = (x_mean, x_scale, res.theta, res.cov)
        self.classes_ = classes
        self.coef_ = np.array(coef, dtype=np.float64)
        self.intercept_ = np.array(intercept, dtype=np.float64)
        self.coef_cov_ = cov
        self.posterior_mean_ = None if cov is None else mean
        self.prior_scale_ = prior_scale_
        self.log_marginal_likelihood_ = res.elbo
        self.n_iter_ = int(res.n_iter)
        return self

    # ------------------------------------------------------------- predict
    def _validate_X(self, X):
        check_is_fitted(self)
        X = validate_data(
            self, X, accept_sparse="csr", dtype=[np.float64, np.float32], reset=False
        )
        return X

    def _blocks(self, X, width: int):
        """Dense float64 blocks of rows, in the standardised units of the fit."""
        x_mean, x_scale = self._std[:2]
        n = X.shape[0]
        step = max(1, _PREDICT_BLOCK_ELEMENTS // max(width, 1))
        for start in range(0, n, step):
            Xb = X[start : start + step]
            if sp.issparse(Xb):
                Xb = Xb.toarray()
            yield transform(np.asarray(Xb, dtype=np.float64), x_mean, x_scale)

    def _row_moments(self, Xb: np.ndarray, full_cov: bool):
        """Logit means (nb, K') and covariances (nb, K', K') or variances."""
        theta, cov = self._std[2:]
        K = self.coef_.shape[0]
        coef, intercept = split_params(theta, K, Xb.shape[1], self.fit_intercept)
        if cov is None:
            return linear_predictor(Xb, coef, intercept), None
        return _logit_moments(Xb, coef, intercept, cov, self.fit_intercept, full_cov)

    def _mc_eps(self) -> np.ndarray:
        seed = self._predictive_seed
        if seed is None:  # predictive switched to "mc" after fit
            seed = self.random_state if isinstance(self.random_state, Integral) else 0
        rng = np.random.RandomState(seed)
        return rng.standard_normal((self.n_predictive_samples, self.coef_.shape[0]))

    def _log_proba(self, X) -> np.ndarray:
        X = self._validate_X(X)
        K = self.coef_.shape[0]
        mode = self.predictive if self.coef_cov_ is not None else "map"
        D = X.shape[1] + int(self.fit_intercept)
        n_points = {"mc": self.n_predictive_samples, "quadrature": _PREDICT_BANK}
        width = max(D * K, n_points.get(mode, 1) * K)
        eps = self._mc_eps() if mode == "mc" else None
        if mode == "quadrature" and K > 1:
            eps = normal_bank(K, _PREDICT_BANK)
        out = [np.empty((0, self.classes_.shape[0]))]
        for Xb in self._blocks(X, width):
            mu, S = self._row_moments(Xb, full_cov=K > 1 and mode != "map")
            if mode == "map" and K == 1:
                out.append(np.column_stack([log_expit(-mu[:, 0]), log_expit(mu[:, 0])]))
            elif mode == "map":
                out.append(log_softmax(mu, axis=1))
            elif K == 1:
                m, v = mu[:, 0], S[:, 0]
                if mode == "probit":
                    out.append(probit_binary_log_proba(m, v))
                elif mode == "quadrature":
                    out.append(quadrature_binary_log_proba(m, v))
                else:
                    out.append(mc_binary_log_proba(m, np.sqrt(v), eps[:, 0]))
            elif mode == "probit":
                out.append(probit_softmax_log_proba(mu, S))
            else:
                out.append(mc_softmax_log_proba(mu, S, eps))
        return np.vstack(out)

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return self._log_proba(X)

    def predict_proba(self, X):
        """Predictive class probabilities, averaged over the posterior.

        How they average depends on ``predictive``; with ``covariance=None``
        they are the plug-in MAP probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        return np.exp(self._log_proba(X))

    def decision_function(self, X):
        """Log-odds of the predictive probabilities.

        Binary: ``log p1 - log p0`` (with ``predictive="map"`` exactly the MAP
        logit ``X @ coef_[0] + intercept_[0]``). Multiclass: the log
        predictive probabilities, whose softmax is :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        lp = self._log_proba(X)
        if lp.shape[1] == 2:
            return lp[:, 1] - lp[:, 0]
        return lp

    def _class_scores(self, X):
        # predict's argmax on the log probabilities, as computed
        return self._log_proba(X)

    def predict_dist(self, X):
        """Gaussian over the latent logit(s) under the approximate posterior.

        Marginals only: the mean is the logit at ``posterior_mean_``, the std
        comes from ``coef_cov_`` (intercept uncertainty included).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        dist : skbayes.Normal
            Shape (n_samples,) for binary problems (the logit of
            ``classes_[1]``), (n_samples, n_classes) for softmax.
        """
        _require_covariance(self, "predict_dist")
        X = self._validate_X(X)
        K = self.coef_.shape[0]
        D = X.shape[1] + int(self.fit_intercept)
        mus, variances = [], []
        for Xb in self._blocks(X, D * K):
            mu, var = self._row_moments(Xb, full_cov=False)
            mus.append(mu)
            variances.append(var)
        if mus:
            mu, var = np.vstack(mus), np.vstack(variances)
        else:
            mu, var = np.empty((0, K)), np.empty((0, K))
        if K == 1:
            mu, var = mu[:, 0], var[:, 0]
        std = np.sqrt(np.maximum(var, 0.0))
        return Normal(mu, std, epistemic_std=std)

    def _param_std(self) -> np.ndarray:
        cov = self.coef_cov_
        var = np.diag(cov) if cov.ndim == 2 else cov
        return np.sqrt(np.maximum(var, 0.0)).reshape(self.coef_.shape[0], -1)

    def coef_interval(self, confidence=0.95):
        """Central posterior credible interval of each weight.

        Parameters
        ----------
        confidence : float, default=0.95
            In the open interval (0, 1).

        Returns
        -------
        lower, upper : ndarray of the shape of `coef_`
            Weights at exactly zero (Laplace prior) get ``[0, 0]``.
        """
        _require_covariance(self, "coef_interval")
        d = self.coef_.shape[1]
        std = self._param_std()[:, :d]
        centre = self.posterior_mean_.reshape(self.coef_.shape[0], -1)[:, :d]
        # A zero std is a point mass: the interval is [centre, centre].
        return central_interval(centre, std, confidence)

    def sample_posterior(self, n_samples=1, random_state=None):
        """Draw parameters from the (Gaussian) approximate posterior.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        coef : ndarray of shape (n_samples, n_rows, n_features)
            ``n_rows`` is ``coef_.shape[0]`` (1 for binary, K for multiclass).
        intercept : ndarray of shape (n_samples, n_rows)
            Equal to ``intercept_`` (zeros) without intercept.
        """
        _require_covariance(self, "sample_posterior")
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer; got {n_samples}.")
        rng = check_random_state(random_state)
        x_mean, x_scale, theta, cov = self._std
        z = rng.standard_normal((n_samples, theta.shape[0]))
        if cov.ndim == 1:
            draws = theta + z * np.sqrt(np.maximum(cov, 0.0))
        else:
            # draw on the support only, so fixed parameters stay exactly fixed
            idx = np.flatnonzero(np.diag(cov) > 0)
            draws = np.tile(theta, (n_samples, 1))
            draws[:, idx] += z[:, idx] @ cov_sqrt(cov[np.ix_(idx, idx)]).T
        draws, _ = to_user(
            draws, None, x_mean, x_scale, self.coef_.shape[0], self.fit_intercept
        )
        K, d = self.coef_.shape
        draws = draws.reshape(n_samples, K, d + int(self.fit_intercept))
        coef = draws[:, :, :d].copy()
        if self.fit_intercept:
            intercept = draws[:, :, d].copy()
        else:
            intercept = np.broadcast_to(self.intercept_, (n_samples, K)).copy()
        return coef, intercept
