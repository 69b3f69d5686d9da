"""Bayesian logistic regression: MAP, Laplace-approximate posterior, moderated
class probabilities and evidence-based prior scale."""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from scipy.linalg import LinAlgError, cho_factor, cho_solve, eigh
from scipy.optimize import brentq, minimize
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .._base import gaussian_interval
from .._distribution import Normal
from .._priors import PRIOR_PARAMETER_CONSTRAINTS, Prior, resolve_prior
from .._validation import check_sample_weight
from ._logistic_loss import (
    data_loss,
    data_loss_grad,
    hessian,
    hessian_diag,
    join_params,
    linear_predictor,
    split_params,
)
from ._moderation import (
    cov_sqrt,
    mc_binary_log_proba,
    mc_softmax_log_proba,
    probit_binary_log_proba,
    probit_softmax_log_proba,
)

__all__ = ["BayesianLogisticRegression"]

# prior_scale="auto": tolerance of the root in log σ and the range of σ.
_AUTO_XTOL = 1e-10
_AUTO_LOG_BOUNDS = (float(np.log(1e-6)), float(np.log(1e6)))
# Rows per block at prediction time are chosen so that a block's temporaries
# hold about this many floats.
_PREDICT_BLOCK_ELEMENTS = 2**21


def _require_covariance(est, method: str) -> None:
    """Clear error for posterior methods of a MAP-only model."""
    check_is_fitted(est)
    if est.coef_cov_ is None:
        raise AttributeError(
            f"{method} is not available when covariance=None: the model keeps "
            "only the MAP estimate. Fit with covariance='full' or 'diag' to get "
            "a posterior."
        )


class BayesianLogisticRegression(ClassifierMixin, BaseEstimator):
    """Bayesian logistic (binary) and softmax (multiclass) regression.

    The weights get a Gaussian or Laplace prior (the intercept a flat one).
    ``fit`` finds the posterior mode (MAP) and, around it, the Laplace
    approximation ``N(ŵ, H⁻¹)`` of the posterior, ``H`` the Hessian of the
    negative log posterior at ``ŵ``. Class probabilities average the
    likelihood over that posterior ("moderated" probabilities), so points far
    from the data get less confident predictions than the plug-in MAP model
    gives them.

    The MAP with ``prior="gaussian", prior_scale=σ`` is the solution of
    ``LogisticRegression(C=σ**2)`` and with ``prior="laplace", prior_scale=b``
    that of ``LogisticRegression(C=b, l1_ratio=1, solver="saga")``.

    Parameters
    ----------
    prior : {"gaussian", "laplace"} or None, default="gaussian"
        Prior on the weights (not on the intercept): N(0, σ²), Laplace(0, b),
        or None for a flat prior (maximum likelihood; there is no finite
        estimate on linearly separable data, which gives a warning).
    prior_scale : float, array-like of shape (n_features,) or "auto", default=1.0
        σ of the Gaussian prior (a standard deviation, not a variance) or b of
        the Laplace prior; one per feature with an array. ``"auto"`` sets a
        single σ by maximising the Laplace-approximate marginal likelihood
        (empirical Bayes): the stationarity condition of MacKay's fixed point
        ``σ² = Σw² / γ``, ``γ = Σ(1 - Σ_jj/σ²)``, corrected for the drift of
        the data Hessian with the MAP and solved by bracketing and Brent's
        method; Gaussian prior only. Searched within [1e-6, 1e6], with a
        warning when the evidence keeps growing towards either end.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    covariance : {"full", "diag"} or None, default="full"
        Laplace approximation of the posterior covariance: ``"full"`` inverts
        the Hessian (one weighted pass ``Xᵀ D X`` over the data, then
        ``O((K·D)³)``); ``"diag"`` keeps only the inverse of its diagonal,
        for large ``n_features · n_classes``; None keeps only the MAP
        estimate (no ``predict_dist``; ``predict_proba`` is then plug-in).
    predictive : {"probit", "map", "mc"}, default="probit"
        How :meth:`predict_proba` averages over the posterior: ``"probit"``
        is MacKay's ``σ(μ / sqrt(1 + π s² / 8))`` for two classes and the
        pairwise mean-field approximation of Lu et al. (2020) for softmax;
        ``"map"`` is the plug-in MAP model; ``"mc"`` is Monte Carlo with
        ``n_predictive_samples`` draws of the logits. All three are
        deterministic and row-independent (``"mc"`` uses the same standard
        normal draws, fixed at fit from ``random_state``, for every row).
    n_predictive_samples : int, default=1000
        Monte Carlo draws for ``predictive="mc"``.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplying ``sample_weight``, as in
        :class:`~sklearn.linear_model.LogisticRegression`.
    max_iter : int, default=1000
        Maximum iterations of the MAP optimiser (L-BFGS, or L-BFGS-B for the
        Laplace prior).
    tol : float, default=1e-4
        Stopping tolerance on the largest (projected) gradient entry of the
        negative log posterior divided by the sum of sample weights (the
        same scaling as scikit-learn's lbfgs solver).
    random_state : int, RandomState instance or None, default=None
        Seeds the common random numbers of ``predictive="mc"``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        MAP weights; one row (for ``classes_[1]``) for binary problems.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        MAP intercepts (zeros without intercept). For softmax they are only
        defined up to a common shift and are centred to sum to zero.
    coef_cov_ : ndarray of shape (P, P) or (P,), or None
        Posterior covariance of the parameters (``covariance="full"``), its
        diagonal (``"diag"``), or None. Parameters are ordered class-major:
        ``P = n_rows * D`` with ``D = n_features + fit_intercept`` and
        ``n_rows = coef_.shape[0]``, entry ``k * D + j`` being
        ``coef_[k, j]`` for ``j < n_features`` and ``intercept_[k]`` for
        ``j == n_features``; i.e. ``coef_cov_.reshape(n_rows, D, n_rows, D)``.
        For softmax, directions the likelihood cannot see and the prior does
        not fix (a common shift of the intercepts, or of a feature's weights
        under a flat prior) get zero variance: ``coef_cov_`` is then the
        pseudo-inverse of ``H``. For the Laplace prior, weights at exactly
        zero keep zero variance and the approximation is made on the active
        set (the non-zero weights and the intercepts), where the prior has no
        curvature.
    prior_scale_ : float, ndarray of shape (n_features,) or None
        Scale of the prior actually used (after ``"auto"``); None when flat.
    log_marginal_likelihood_ : float or None
        Laplace estimate of the log evidence ``log p(y | X)`` (flat intercept
        prior taken with density 1); None when ``covariance=None`` and the
        scale is not ``"auto"``.
    n_iter_ : int
        Optimiser iterations (summed over the fits of the ``"auto"`` search).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.LogisticRegression : The MAP estimate alone.

    Notes
    -----
    The negative log posterior minimised is
    ``Σ s_i ℓ(y_i, f_i) + penalty(w)`` (``ℓ`` the log loss, ``s_i`` sample
    weights times class weights; penalty ``Σ w²/(2σ²)`` or ``Σ |w|/b``).
    Computations are in float64 whatever the input dtype.
    :meth:`decision_function` returns the log-odds of the predictive
    probabilities, so that it ranks like :meth:`predict_proba`; the raw MAP
    logits ``X @ coef_.T + intercept_`` are ``predict_dist(X).mean``.

    References
    ----------
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
        "covariance": [StrOptions({"full", "diag"}), None],
        "predictive": [StrOptions({"probit", "map", "mc"})],
        "n_predictive_samples": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        prior="gaussian",
        prior_scale=1.0,
        fit_intercept=True,
        covariance="full",
        predictive="probit",
        n_predictive_samples=1000,
        class_weight=None,
        max_iter=1000,
        tol=1e-4,
        random_state=None,
    ):
        self.prior = prior
        self.prior_scale = prior_scale
        self.fit_intercept = fit_intercept
        self.covariance = covariance
        self.predictive = predictive
        self.n_predictive_samples = n_predictive_samples
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the MAP estimate and the Laplace-approximate posterior.

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
        # A failed fit must leave an already fitted model as it was.
        saved = dict(self.__dict__)
        try:
            return self._fit(X, y, sample_weight)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

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
        weighted = np.bincount(y_enc, weights=sw, minlength=classes.shape[0]) > 0
        if weighted.sum() < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes with "
                "positive sample_weight, but only one class has any: "
                f"{classes[weighted][0]!r}."
            )
        if self.class_weight is not None:
            try:  # as LogisticRegression: "balanced" counts weighted samples
                cw = compute_class_weight(
                    self.class_weight, classes=classes, y=y, sample_weight=sample_weight
                )
            except TypeError:  # scikit-learn < 1.6 has no sample_weight here
                cw = compute_class_weight(self.class_weight, classes=classes, y=y)
            sw *= cw[y_enc]
        if sp.issparse(X):
            X = sp.csr_matrix(X, dtype=np.float64)
        else:
            X = np.asarray(X, dtype=np.float64)
        n_features = X.shape[1]
        binary = classes.shape[0] == 2
        n_rows = 1 if binary else classes.shape[0]
        target = (y_enc == 1).astype(np.float64) if binary else y_enc

        prior, auto = resolve_prior(
            self.prior,
            self.prior_scale,
            n_features,
            allow_auto=True,
            auto_init=1.0,
        )
        problem = _Problem(X, target, sw, n_rows, self.fit_intercept)
        theta = problem.initial_theta()

        if auto:
            theta, n_iter, post, prior = self._fit_auto(problem, theta, prior)
        else:
            theta, n_iter = problem.solve_map(theta, prior, self.max_iter, self.tol)
            post = None
            if self.covariance is not None:
                post = problem.posterior(theta, prior, self.covariance)

        coef, intercept = problem.split(theta)
        if prior.is_flat:
            _warn_if_separable(problem, coef, intercept)

        cov, log_ml = None, None
        if post is not None:
            cov_full = post[0]
            log_ml = problem.log_evidence(theta, prior, post)
            if self.covariance is not None:
                cov = cov_full
                if self.covariance == "diag" and cov.ndim == 2:
                    cov = np.diag(cov).copy()

        if prior.is_flat:
            prior_scale_ = None
        elif auto or np.ndim(self.prior_scale) == 0:
            prior_scale_ = float(prior.scale[0])
        else:
            prior_scale_ = prior.scale.copy()

        rng = check_random_state(self.random_state)
        self._predictive_seed = int(rng.randint(np.iinfo(np.int32).max))
        self.classes_ = classes
        self.coef_ = np.array(coef, dtype=np.float64)
        self.intercept_ = np.array(intercept, dtype=np.float64)
        self.coef_cov_ = cov
        self.prior_scale_ = prior_scale_
        self.log_marginal_likelihood_ = None if log_ml is None else float(log_ml)
        self.n_iter_ = int(n_iter)
        return self

    def _fit_auto(self, problem: _Problem, theta: np.ndarray, prior: Prior):
        """Empirical Bayes for one Gaussian prior scale σ (precision α = 1/σ²).

        MacKay's fixed point ``α = γ / Σw²``, ``γ = Σ(1 - α Σ_jj)``, sets the
        derivative of the Laplace evidence to zero when the data Hessian is
        held fixed. Here the Hessian's drift with the MAP is kept,
        ``γ = n_w - α (tr Σ_ww + tr(Σ dH/dα))`` with ``dŵ/dα = -Σ [w; 0]``,
        which makes ``α Σw² - γ`` the exact derivative of
        ``log_marginal_likelihood_`` in ``log σ`` (for ``"full"``). Its root
        is bracketed (steps doubling in ``log σ``) and found by Brent's
        method; every MAP on the way is cold-started, so the result is a
        function of the data alone (reproducible, and equal for repeated
        rows and integer sample weights).
        """
        kind = "diag" if self.covariance == "diag" else "full"
        base_prior = prior
        n_features = problem.n_features
        n_weights = problem.n_rows * n_features
        tol = self.tol
        state = {"n_iter": 0}
        theta0 = theta

        def fit_at(log_sigma: float):
            prior = base_prior.with_scale(np.full(n_features, np.exp(log_sigma)))
            # Cold start: the MAP at σ is then a function of σ alone, not of
            # the path of the search (which keeps the search reproducible).
            theta, it = problem.solve_map(theta0, prior, self.max_iter, tol)
            state["n_iter"] += it
            return theta, problem.posterior(theta, prior, kind), prior

        cache: dict[float, float] = {}

        def slope(log_sigma: float) -> float:
            """d log evidence / d log σ (cached: Brent re-reads the bracket)."""
            log_sigma = float(log_sigma)
            if log_sigma in cache:
                return cache[log_sigma]
            theta, post, _ = fit_at(log_sigma)
            coef, _ = problem.split(theta)
            trace_w, drift = problem.evidence_terms(theta, post[0])
            alpha = np.exp(-2 * log_sigma)
            gamma = n_weights - alpha * (trace_w + drift)
            cache[log_sigma] = float(alpha * np.sum(coef**2) - gamma)
            return cache[log_sigma]

        lo_bound, hi_bound = _AUTO_LOG_BOUNDS
        a = np.log(float(prior.scale[0]))
        ga = slope(a)
        direction = 1.0 if ga > 0 else -1.0  # uphill in log σ
        step, root = 1.0, None
        while root is None:
            b = float(np.clip(a + direction * step, lo_bound, hi_bound))
            gb = slope(b)
            if gb == 0.0:
                root = b
            elif (gb > 0) != (ga > 0):
                lo, hi = (a, b) if a < b else (b, a)
                root = brentq(slope, lo, hi, xtol=_AUTO_XTOL, rtol=_AUTO_XTOL)
            elif b in (lo_bound, hi_bound):
                why = "separable data?" if b == hi_bound else "no signal in the data?"
                warnings.warn(
                    "prior_scale='auto': the Laplace evidence keeps growing towards "
                    f"prior_scale={np.exp(b):.3g} ({why}); using it.",
                    ConvergenceWarning,
                    stacklevel=3,
                )
                root = b
            else:
                a, ga, step = b, gb, 2 * step
        theta, post, prior = fit_at(float(root))
        return theta, state["n_iter"], post, prior

    # ------------------------------------------------------------- predict
    def _validate_X(self, X):
        check_is_fitted(self)
        X = validate_data(
            self, X, accept_sparse="csr", dtype=[np.float64, np.float32], reset=False
        )
        return X

    def _blocks(self, X, width: int):
        n = X.shape[0]
        step = max(1, _PREDICT_BLOCK_ELEMENTS // max(width, 1))
        for start in range(0, n, step):
            Xb = X[start : start + step]
            if sp.issparse(Xb):
                Xb = Xb.toarray()
            yield np.asarray(Xb, dtype=np.float64)

    def _row_moments(self, Xb: np.ndarray, full_cov: bool):
        """MAP logits (nb, K') and their covariance (nb, K', K') or var (nb, K')."""
        return _logit_moments(
            Xb,
            self.coef_,
            self.intercept_,
            self.coef_cov_,
            self.fit_intercept,
            full_cov,
        )

    def _mc_eps(self) -> np.ndarray:
        rng = np.random.RandomState(self._predictive_seed)
        return rng.standard_normal((self.n_predictive_samples, self.coef_.shape[0]))

    def _log_proba(self, X) -> np.ndarray:
        X = self._validate_X(X)
        K = self.coef_.shape[0]
        mode = self.predictive
        if self.coef_cov_ is None:
            mode = "map"
        D = X.shape[1] + int(self.fit_intercept)
        width = D * K if mode != "mc" else max(D * K, self.n_predictive_samples * K)
        eps = self._mc_eps() if mode == "mc" else None
        out = []
        for Xb in self._blocks(X, width):
            if mode == "map":
                Z = linear_predictor(Xb, self.coef_, self.intercept_)
                if K == 1:
                    out.append(
                        np.column_stack([log_expit(-Z[:, 0]), log_expit(Z[:, 0])])
                    )
                else:
                    out.append(log_softmax(Z, axis=1))
                continue
            if K == 1:
                mu, var = self._row_moments(Xb, full_cov=False)
                if mode == "probit":
                    out.append(probit_binary_log_proba(mu[:, 0], var[:, 0]))
                else:
                    out.append(
                        mc_binary_log_proba(mu[:, 0], np.sqrt(var[:, 0]), eps[:, 0])
                    )
            else:
                mu, cov = self._row_moments(Xb, full_cov=True)
                if mode == "probit":
                    out.append(probit_softmax_log_proba(mu, cov))
                else:
                    out.append(mc_softmax_log_proba(mu, cov, eps))
        if not out:
            return np.empty((0, self.classes_.shape[0]))
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

    def predict(self, X):
        """Most probable class under :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        log_proba = self._log_proba(X)
        return self.classes_[np.argmax(log_proba, axis=1)]

    def predict_dist(self, X):
        """Gaussian over the latent logit(s) under the Laplace posterior.

        Marginals only: the mean is the MAP logit, the std comes from
        ``coef_cov_`` (intercept uncertainty included).

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
        std = self._param_std()[:, : self.coef_.shape[1]]
        safe = np.where(std > 0, std, 1.0)
        lo, hi = gaussian_interval(self.coef_, safe, confidence)
        lo = np.where(std > 0, lo, self.coef_)
        hi = np.where(std > 0, hi, self.coef_)
        return lo, hi

    def sample_posterior(self, n_samples=1, random_state=None):
        """Draw parameters from the Laplace-approximate posterior.

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
        theta = join_params(self.coef_, self.intercept_, self.fit_intercept)
        z = rng.standard_normal((n_samples, theta.shape[0]))
        cov = self.coef_cov_
        if cov.ndim == 1:
            draws = theta + z * np.sqrt(np.maximum(cov, 0.0))
        else:
            # draw on the support only, so fixed parameters stay exactly fixed
            idx = np.flatnonzero(np.diag(cov) > 0)
            draws = np.tile(theta, (n_samples, 1))
            draws[:, idx] += z[:, idx] @ cov_sqrt(cov[np.ix_(idx, idx)]).T
        K, d = self.coef_.shape
        draws = draws.reshape(n_samples, K, d + int(self.fit_intercept))
        coef = draws[:, :, :d].copy()
        if self.fit_intercept:
            intercept = draws[:, :, d].copy()
        else:
            intercept = np.broadcast_to(self.intercept_, (n_samples, K)).copy()
        return coef, intercept


class _Problem:
    """The data of one fit and the MAP / Laplace computations on it."""

    def __init__(self, X, target, sample_weight, n_rows: int, fit_intercept: bool):
        self.X = X
        self.target = target
        self.sw = sample_weight
        self.sw_sum = float(sample_weight.sum())
        self.n_rows = n_rows
        self.fit_intercept = fit_intercept
        self.n_features = X.shape[1]
        self.D = self.n_features + int(fit_intercept)

    def split(self, theta: np.ndarray):
        return split_params(theta, self.n_rows, self.n_features, self.fit_intercept)

    def initial_theta(self) -> np.ndarray:
        """Zero weights; intercepts at the (weighted) log class frequencies."""
        theta = np.zeros(self.n_rows * self.D)
        if self.fit_intercept:
            T = theta.reshape(self.n_rows, self.D)
            if self.n_rows == 1:
                p = float(self.sw @ self.target) / self.sw_sum
                p = min(max(p, 1e-6), 1 - 1e-6)
                T[0, -1] = np.log(p / (1 - p))
            else:
                freq = np.bincount(self.target, weights=self.sw, minlength=self.n_rows)
                logf = np.log(np.maximum(freq / self.sw_sum, 1e-6))
                T[:, -1] = logf - logf.mean()
        return theta

    # -------------------------------------------------------------- MAP
    def solve_map(self, theta0, prior: Prior, max_iter: int, tol: float):
        """MAP by L-BFGS (Gaussian / flat) or L-BFGS-B on ``w = u - v`` (L1)."""
        if prior.l1:
            theta, n_iter = self._solve_l1(theta0, prior, max_iter, tol)
        else:
            theta, n_iter = self._solve_smooth(theta0, prior, max_iter, tol)
        if self.n_rows > 1:
            # Softmax is invariant to a common shift of the classes: centre what
            # the prior does not pin down (the intercepts; all weights if flat).
            T = theta.reshape(self.n_rows, self.D)
            if self.fit_intercept:
                T[:, -1] -= T[:, -1].mean()
            if prior.is_flat:
                T[:, : self.n_features] -= T[:, : self.n_features].mean(axis=0)
        return theta, n_iter

    def _check_result(self, res, max_iter: int) -> int:
        n_iter = int(res.nit)
        if n_iter >= max_iter:
            warnings.warn(
                f"The MAP optimiser did not converge in max_iter={max_iter} "
                "iterations; increase max_iter or scale the data.",
                ConvergenceWarning,
                stacklevel=5,
            )
        return max(n_iter, 1)

    def _solve_smooth(self, theta0, prior: Prior, max_iter: int, tol: float):
        X, y, sw, scale = self.X, self.target, self.sw, 1.0 / self.sw_sum

        def fun(theta):
            coef, intercept = self.split(theta)
            loss, g_coef, g_int = data_loss_grad(X, y, sw, coef, intercept)
            if not prior.is_flat:
                loss += prior.penalty(coef)
                g_coef = g_coef + prior.gradient(coef)
            grad = join_params(g_coef, g_int, self.fit_intercept)
            return loss * scale, grad * scale

        res = minimize(
            fun,
            theta0,
            method="L-BFGS-B",
            jac=True,
            options={
                "maxiter": max_iter,
                "maxls": 50,
                "gtol": tol,
                "ftol": 64 * np.finfo(float).eps,
            },
        )
        return res.x, self._check_result(res, max_iter)

    def _solve_l1(self, theta0, prior: Prior, max_iter: int, tol: float):
        X, y, sw, scale = self.X, self.target, self.sw, 1.0 / self.sw_sum
        K, d, fi = self.n_rows, self.n_features, self.fit_intercept
        inv_b = np.broadcast_to(1.0 / prior.scale, (K, d))
        m = K * d
        coef0, intercept0 = self.split(theta0)
        x0 = np.concatenate(
            [np.maximum(coef0, 0).ravel(), np.maximum(-coef0, 0).ravel()]
            + ([intercept0] if fi else [])
        )

        def unpack(x):
            u = x[:m].reshape(K, d)
            v = x[m : 2 * m].reshape(K, d)
            b = x[2 * m :] if fi else np.zeros(K)
            return u, v, b

        def fun(x):
            u, v, b = unpack(x)
            loss, g_coef, g_int = data_loss_grad(X, y, sw, u - v, b)
            loss += float(np.sum(inv_b * (u + v)))
            parts = [(g_coef + inv_b).ravel(), (inv_b - g_coef).ravel()]
            if fi:
                parts.append(g_int)
            return loss * scale, np.concatenate(parts) * scale

        bounds = [(0.0, None)] * (2 * m) + [(None, None)] * (K if fi else 0)
        res = minimize(
            fun,
            x0,
            method="L-BFGS-B",
            jac=True,
            bounds=bounds,
            options={
                "maxiter": max_iter,
                "maxls": 50,
                "gtol": tol,
                "ftol": 64 * np.finfo(float).eps,
            },
        )
        u, v, b = unpack(res.x)
        coef = u - v  # exact zeros where both parts sit on their bound
        return join_params(coef, b, fi), self._check_result(res, max_iter)

    # -------------------------------------------------------- posterior
    def evidence_terms(self, theta, cov: np.ndarray) -> tuple[float, float]:
        """``tr Σ_ww`` and ``tr(Σ dH/dα)`` for the evidence fixed point.

        ``dH/dα`` is the drift of the data Hessian as the MAP moves by
        ``u = dŵ/dα = -Σ [w; 0]``: per row, the third derivative of the
        log loss along the logit change ``δf = x̃ᵀu`` contracted with the
        row's logit covariance (binary: ``s p(1-p)(1-2p) δf v``; softmax:
        ``s (Σ_k S_kk δp_k - 2 pᵀ S δp)`` with ``δp = p ⊙ (δf - pᵀδf)``).
        """
        K, d, D = self.n_rows, self.n_features, self.D
        coef, intercept = self.split(theta)
        var = np.diag(cov) if cov.ndim == 2 else cov
        trace_w = float(var.reshape(K, D)[:, :d].sum())
        g = np.zeros((K, D))
        g[:, :d] = coef
        g = g.ravel()
        u = -(cov @ g if cov.ndim == 2 else cov * g)
        U = u.reshape(K, D)
        u_coef, u_int = U[:, :d], (U[:, d] if self.fit_intercept else np.zeros(K))
        drift = 0.0
        step = max(1, 2**20 // max(K * K * D, 1))
        for start in range(0, self.X.shape[0], step):
            sl = slice(start, start + step)
            Xb = self.X[sl]
            Xb = Xb.toarray() if sp.issparse(Xb) else Xb
            mu, S = _logit_moments(
                Xb, coef, intercept, cov, self.fit_intercept, full_cov=K > 1
            )
            df = linear_predictor(Xb, u_coef, u_int)
            sw = self.sw[sl]
            if K == 1:
                p = expit(mu[:, 0])
                drift += float(
                    np.sum(sw * p * (1 - p) * (1 - 2 * p) * df[:, 0] * S[:, 0])
                )
            else:
                P = softmax(mu, axis=1)
                dp = P * (df - np.sum(P * df, axis=1, keepdims=True))
                diag_s = np.diagonal(S, axis1=1, axis2=2)
                t = np.sum(diag_s * dp, axis=1) - 2 * np.einsum(
                    "nk,nkl,nl->n", P, S, dp
                )
                drift += float(sw @ t)
        return trace_w, drift

    def log_evidence(self, theta, prior: Prior, post) -> float:
        """Laplace estimate of ``log p(y | X)`` (flat intercept: density 1)."""
        coef, intercept = self.split(theta)
        _, logdet, n_eff = post
        return float(
            -data_loss(self.X, self.target, self.sw, coef, intercept)
            + prior.log_density(coef)
            + 0.5 * n_eff * np.log(2 * np.pi)
            - 0.5 * logdet
        )

    def _null_basis(self, active: np.ndarray, prec: np.ndarray) -> np.ndarray:
        """Orthonormal exact null directions (P, m) of the softmax Hessian.

        A common shift over classes of one column (intercept, or a feature
        without prior curvature) whose K entries are all active leaves the
        likelihood unchanged; the prior does not fix it either.
        """
        K, D = self.n_rows, self.D
        null = []
        if K > 1:
            act2, prec2 = active.reshape(K, D), prec.reshape(K, D)
            for j in range(D):
                if act2[:, j].all() and not prec2[:, j].any():
                    v = np.zeros(K * D)
                    v[j::D] = 1.0 / np.sqrt(K)
                    null.append(v)
        return np.array(null).T if null else np.zeros((K * D, 0))

    def posterior(self, theta, prior: Prior, kind: str):
        """Laplace approximation at ``theta``.

        Returns ``(cov, logdet, n_eff)``: the covariance (P, P) (``"full"``)
        or its diagonal (P,) (``"diag"``), the log (pseudo-)determinant of
        the Hessian on the active set, and the dimension it is taken over.
        """
        K, d, D = self.n_rows, self.n_features, self.D
        coef, intercept = self.split(theta)
        P = K * D
        prec = np.zeros((K, D))
        prec[:, :d] = prior.curvature(coef)
        active = np.ones((K, D), dtype=bool)
        active[:, :d] = prior.active(coef)
        prec, active = prec.ravel(), active.ravel()

        if kind == "diag":
            h = hessian_diag(self.X, self.sw, coef, intercept, self.fit_intercept)
            h = h + prec
            var = np.zeros(P)
            h_act = np.maximum(h[active], np.finfo(float).tiny)
            var[active] = 1.0 / h_act
            return var, float(np.sum(np.log(h_act))), int(active.sum())

        H = hessian(self.X, self.sw, coef, intercept, self.fit_intercept)
        H[np.diag_indices(P)] += prec
        idx = np.flatnonzero(active)
        Ha = H[np.ix_(idx, idx)]
        V = self._null_basis(active, prec)[idx]
        A = Ha + V @ V.T
        try:
            c, low = cho_factor(A, lower=True, check_finite=False)
            if not np.all(np.isfinite(c)):
                raise LinAlgError("non-finite Cholesky factor")
            cov_a = cho_solve((c, low), np.eye(idx.size), check_finite=False)
            cov_a -= V @ V.T
            logdet = 2.0 * float(np.sum(np.log(np.diag(c))))
            n_eff = idx.size - V.shape[1]
        except (LinAlgError, ValueError):
            w, Q = eigh(Ha)
            keep = w > w.max() * 1e-10 if w.size and w.max() > 0 else w > 0
            warnings.warn(
                "The Hessian of the negative log posterior is singular: some "
                "directions of the weights are not determined (collinear "
                "features without a Gaussian prior on them, or separable data "
                "with a flat prior). coef_cov_ is its pseudo-inverse, with zero "
                "variance along those directions.",
                UserWarning,
                stacklevel=4,
            )
            cov_a = (Q[:, keep] / w[keep]) @ Q[:, keep].T
            logdet = float(np.sum(np.log(w[keep])))
            n_eff = int(keep.sum())
        cov = np.zeros((P, P))
        cov[np.ix_(idx, idx)] = 0.5 * (cov_a + cov_a.T)
        return cov, logdet, n_eff


def _logit_moments(
    Xb: np.ndarray,
    coef: np.ndarray,
    intercept: np.ndarray,
    cov: np.ndarray,
    fit_intercept: bool,
    full_cov: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Logit means (nb, K) and covariances (nb, K, K), or variances (nb, K).

    ``cov`` is the parameter covariance (P, P) or its diagonal (P,), in the
    class-major order of ``coef_cov_``; ``Xb`` a dense block of rows.
    """
    mu = linear_predictor(Xb, coef, intercept)
    K = coef.shape[0]
    Xa = np.hstack([Xb, np.ones((Xb.shape[0], 1))]) if fit_intercept else Xb
    D = Xa.shape[1]
    if cov.ndim == 1:
        var = (Xa**2) @ cov.reshape(K, D).T
        if not full_cov:
            return mu, var
        out = np.zeros((Xb.shape[0], K, K))
        idx = np.arange(K)
        out[:, idx, idx] = var
        return mu, out
    cov4 = cov.reshape(K, D, K, D)
    if not full_cov:
        var = np.empty((Xb.shape[0], K))
        for k in range(K):
            var[:, k] = np.einsum("nd,nd->n", Xa @ cov4[k, :, k, :], Xa)
        return mu, np.maximum(var, 0.0)
    out = np.empty((Xb.shape[0], K, K))
    for k in range(K):
        A = (Xa @ cov4[k].reshape(D, K * D)).reshape(-1, K, D)
        out[:, k, :] = np.einsum("nld,nd->nl", A, Xa)
    return mu, 0.5 * (out + out.transpose(0, 2, 1))


def _warn_if_separable(problem: _Problem, coef, intercept) -> None:
    """Warn when a flat prior meets linearly separable data (no finite MLE)."""
    Z = linear_predictor(problem.X, coef, intercept)
    pos = problem.sw > 0
    if problem.n_rows == 1:
        margin = (2 * problem.target - 1) * Z[:, 0]
    else:
        rows = np.arange(Z.shape[0])
        true = Z[rows, problem.target]
        Z = Z.copy()
        Z[rows, problem.target] = -np.inf
        margin = true - Z.max(axis=1)
    if np.all(margin[pos] > 0):
        warnings.warn(
            "The training data are linearly separable: with prior=None (maximum "
            "likelihood) the weights have no finite optimum and grew until the "
            f"optimiser stopped (|w| = {np.linalg.norm(coef):.3g}). Probabilities "
            "are overconfident; use prior='gaussian' or 'laplace'.",
            ConvergenceWarning,
            stacklevel=4,
        )
