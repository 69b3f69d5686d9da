"""A torch MLP with Gaussian activations and a softmax output."""

from __future__ import annotations

from numbers import Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets

from .._base import PredictiveClassifierMixin
from ._base import BaseStochasticMLP
from ._heads import CategoricalHead
from ._moments import classification_proba

__all__ = ["StochasticMLPClassifier"]


class StochasticMLPClassifier(PredictiveClassifierMixin, BaseStochasticMLP):
    """Neural network classifier with Gaussian activations.

    The classification twin of :class:`StochasticMLPRegressor`: each hidden
    layer samples its pre-activation ``a = μ(h) + σ(h)·ξ`` with
    ``ξ ~ N(0, I)`` (the reparameterisation trick) and applies
    ``activation``; the output layer gives one logit per class. Training
    minimises the Monte-Carlo estimate of ``-E_ξ log softmax(logits)[y]``
    (rows weighted by ``sample_weight`` and ``class_weight``) plus
    ``-log prior(weights) / N`` with Adam, on internally standardised inputs.

    :meth:`predict_proba` is the mean of ``softmax(logits)`` over the
    activation noise. By default (``predict_method="moments"``) the means and
    variances of the units are propagated through the layers (closed forms
    and quadrature) and the expected softmax of the Gaussian logits is taken
    by an unscented transform (two classes: the probit approximation of
    the logit difference); ``predict_method="mc"`` averages over a fixed bank
    of ``n_predict_samples`` noise draws (common random numbers) instead.
    Both compute in float64: deterministic, and a row's answer does not
    depend on the batch it is in. The averaging over the activation noise
    moderates the probabilities, the way a Bayesian predictive averages over
    parameters.

    Read more in the :doc:`User Guide </user_guide/reparameterisation>`. To
    save a fitted model use :mod:`pickle` or :func:`joblib.dump`; :mod:`skops.io` cannot
    rebuild torch objects.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(50,)
        Width of each hidden layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Nonlinearity applied after the noisy pre-activation.
    n_estimators : int, default=5
        Members of the ensemble, trained at once as one batched network
        (batched matrix products, not a Python loop), each with its own
        initial weights, minibatch order and activation noise. Predictions
        are the equal-weight mixture over members and noise; the spread of
        the members' predictions is part of the epistemic uncertainty, and
        it grows away from the training data. 1 gives a single network.
    anchored : bool, default=True
        Anchored ensembling (Pearce et al. 2020): each member's mean-path
        weights start at their own random draw ``θ₀ ~ N(0, 1/fan_in)``
        (biases ``N(0, 1)``) and the prior's penalty pulls them towards that
        draw, ``-log prior(θ - θ₀)``, instead of towards 0. Members then keep
        their own random function where the data say nothing, so the
        epistemic std grows off the data. False: PyTorch's default
        initialisation and a prior centred at 0 (a plain deep ensemble).
    prior : {"gaussian", "laplace"} or None, default="gaussian"
        Prior on the weight matrices (biases have a flat prior). Gaussian gives
        an L2 penalty ``Σ w²/(2σ²)``, Laplace an L1 penalty ``Σ |w|/b``, None
        none (maximum likelihood). Weights act on standardised units.
    prior_scale : float or array-like of shape (n_features,), default=0.7
        σ of the Gaussian prior or b of the Laplace prior, a standard
        deviation-like scale. An array gives one scale per input feature for
        the first layer's weights; the other layers then use its mean.
        ``"auto"`` is not supported by this model. The default is tighter
        than the regressor's 1.0: with the members trained to their anchored
        optimum (no early stopping), 1.0 overfits breast_cancer's 30 features
        and 0.5 underfits wine. It was chosen from 0.5 / 0.7 / 1.0 on these
        test log-losses (10 splits, ``benchmarks/bench_nn.py``'s protocol):
        breast_cancer 0.078 / 0.081 / 0.089, wine 0.074 / 0.064 / 0.056,
        digits 0.074 at 0.7 and 0.068 at 1.0.
    n_train_samples : int, default=1
        Noise draws S per row and minibatch in the training objective.
    n_predict_samples : int, default=100
        Noise draws in the predictive mixture (and the early-stopping score)
        with ``predict_method="mc"``; unused by "moments".
    predict_method : {"moments", "mc"}, default="moments"
        How :meth:`predict_proba` averages over the activation noise.
        "moments" (use it): deterministic moment propagation and a Gaussian
        approximation of the logits; on digits about 5 times faster than "mc"
        with 100 draws and 6 times closer to a 5,000-draw Monte-Carlo average
        (largest probability error 0.005 against 0.027).
        "mc": the definition, the mean softmax over ``n_predict_samples``
        fixed noise draws, for checking "moments" (with many draws) or for
        networks far from those measured.
    batch_size : int or "auto", default="auto"
        Minibatch size; "auto" is ``min(200, n_samples)``.
    learning_rate_init : float, default=5e-3
        Adam's initial step size (half the regressor's: on small data sets the
        log-loss then finds its optimum more reliably).
    max_iter : int, default=1000
        Maximum number of epochs per call to :meth:`fit`.
    tol : float, default=1e-4
        When the monitored loss (the training loss, or with ``early_stopping``
        the validation log-loss) has not improved by ``tol`` for more than
        ``n_iter_no_change`` consecutive epochs, the step size is divided by 5
        (back at the best weights with ``early_stopping``); the third such
        plateau stops training.
    n_iter_no_change : int, default=20
        See ``tol``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training rows (stratified by
        class when possible), monitor their log-loss under :meth:`predict_proba`
        and keep the weights of the best epoch. Ignored by :meth:`partial_fit`.
        Off by default, as in :class:`~sklearn.neural_network.MLPClassifier`:
        an anchored member's optimum is the approximate posterior draw the
        ensemble stands for, and on the small data sets classifiers meet
        first a 10% validation split (13 rows of wine) ranks epochs by noise
        (wine 0.067 → 0.056, digits 0.076 → 0.068 without it, 10 splits).
    validation_fraction : float, default=0.1
        Share of the rows held out when ``early_stopping`` is True.
    random_state : int, RandomState instance or None, default=None
        Seeds a private ``torch.Generator`` for the initial weights, the
        minibatches and the training noise, and the prediction noise bank. The
        global torch random state is neither seeded nor consumed; on the CPU
        the same integer gives bit-identical fits.
    device : {"cpu", "cuda", "auto"}, default="cpu"
        Where to train and predict; "auto" takes a GPU when one is available.
    verbose : bool, default=False
        Show a progress bar with the training loss.
    warm_start : bool, default=False
        Reuse the fitted network (and its standardisation) in :meth:`fit`.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplied into ``sample_weight``; "balanced"
        uses ``n_samples / (n_classes * np.bincount(y))`` (in
        :meth:`partial_fit`, counted on each chunk).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    module_ : torch.nn.Module
        The fitted :class:`~skbayes.nn._modules.StochasticMLP`, on ``device_``.
    device_ : str
        The device used.
    loss_curve_ : list of float
        Training objective per epoch (mean cross-entropy plus the prior term).
    validation_scores_ : list of float or None
        Validation log-loss per epoch (lower is better), when
        ``early_stopping`` is True; else None.
    best_loss_ : float or None
        Smallest training loss; None with ``early_stopping``.
    best_validation_loss_ : float or None
        Smallest validation log-loss with ``early_stopping``; else None.
    n_iter_ : int
        Number of epochs run (accumulates under ``warm_start`` and
        :meth:`partial_fit`).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when X has string column names.

    See Also
    --------
    StochasticMLPRegressor : the same network predicting a mean and a std.
    sklearn.neural_network.MLPClassifier : deterministic MLP classifier.
    BayesianLogisticRegression : the network without hidden layers, with a
        posterior over the weights.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skbayes import StochasticMLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = StochasticMLPClassifier(random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseStochasticMLP._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }
    _target_validation: ClassVar[dict] = {}

    def __init__(
        self,
        *,
        hidden_layer_sizes=(50,),
        activation="relu",
        n_estimators=5,
        anchored=True,
        prior="gaussian",
        prior_scale=0.7,
        n_train_samples=1,
        n_predict_samples=100,
        predict_method="moments",
        batch_size="auto",
        learning_rate_init=5e-3,
        max_iter=1000,
        tol=1e-4,
        n_iter_no_change=20,
        early_stopping=False,
        validation_fraction=0.1,
        random_state=None,
        device="cpu",
        verbose=False,
        warm_start=False,
        class_weight=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.n_estimators = n_estimators
        self.anchored = anchored
        self.prior = prior
        self.prior_scale = prior_scale
        self.n_train_samples = n_train_samples
        self.n_predict_samples = n_predict_samples
        self.predict_method = predict_method
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.warm_start = warm_start
        self.class_weight = class_weight

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to ``(X, y)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (strings, integers, ...).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows' log-likelihood terms; only
            their ratios matter.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Run one epoch over the given rows, keeping the optimiser's state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            Every class of the whole stream; required on the first call,
            optional (and then checked) afterwards.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
            The updated estimator.
        """
        if classes is None and not hasattr(self, "classes_"):
            raise ValueError("classes must be passed on the first call to partial_fit.")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    # ------------------------------------------------------- target hooks
    def _prepare_targets(self, y, sw, *, reuse, classes):
        check_classification_targets(y)
        if reuse:
            known = self.classes_
            if classes is not None and not np.array_equal(np.unique(classes), known):
                raise ValueError(
                    f"classes={np.unique(classes)!r} is not the same as on the first "
                    f"call, {known!r}."
                )
        elif classes is not None:
            known = np.unique(classes)
        else:
            known = np.unique(y)
        unknown = np.setdiff1d(y, known)
        if unknown.size:
            raise ValueError(f"y contains labels not in classes: {unknown!r}.")
        y_enc = np.searchsorted(known, y)
        if self.class_weight is not None:
            sw = sw * _class_weights(self.class_weight, known, y_enc)
        # partial_fit may see one class per chunk; fit needs two with weight.
        seen = known if classes is not None else np.unique(y[sw > 0])
        if len(known) < 2 or len(seen) < 2:
            raise ValueError(
                "This classifier needs samples of at least 2 classes with positive "
                f"weight in the data, but the data contains only one class: "
                f"{seen[0] if len(seen) else known[0]!r}."
            )
        return y_enc.astype(np.int64), sw, {"classes": known}

    def _commit_targets(self, info) -> None:
        self.classes_ = info["classes"]

    def _head_for(self, info) -> CategoricalHead:
        return CategoricalHead(len(info["classes"]))

    def _fitted_head(self) -> CategoricalHead:
        return CategoricalHead(len(self.classes_))

    @staticmethod
    def _stratify(target):
        return target

    def _validation_score(self, proba, target, weight, info) -> float:
        p_true = proba.gather(1, target[:, None])[:, 0]
        nll = -torch.log(p_true.clamp_min(_TINY))
        return float((nll * weight.to(nll.dtype)).mean())

    # ------------------------------------------------- predictive reductions
    @staticmethod
    def _reduce_bank(head: CategoricalHead, out: torch.Tensor) -> torch.Tensor:
        """Mean softmax over members and noise draws, ``(R, K)``."""
        return torch.softmax(out, dim=-1).mean((0, 1))

    @staticmethod
    def _reduce_moments(head, x, layers, head_weights, config) -> torch.Tensor:
        """Expected softmax by propagation, averaged over members."""
        return classification_proba(x, layers, head_weights, **config).mean(0)

    # -------------------------------------------------------------- predict
    def predict_proba(self, X):
        """Class probabilities: the mean of softmax over the activation noise.

        By ``predict_method`` (moment propagation or the fixed noise bank).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        return self._predict_standardised(X)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))


_TINY: Real = float(np.finfo(np.float32).tiny)


def _class_weights(class_weight, classes: np.ndarray, y_enc: np.ndarray) -> np.ndarray:
    """Weight of each row's class; "balanced" from the counts in ``y_enc``.

    Counted on the rows given, so in :meth:`partial_fit` on each chunk (a
    class absent from the chunk needs no weight there).
    """
    if class_weight == "balanced":
        counts = np.bincount(y_enc, minlength=len(classes)).astype(np.float64)
        present = counts > 0
        per_class = np.zeros(len(classes))
        per_class[present] = len(y_enc) / (present.sum() * counts[present])
    else:
        per_class = compute_class_weight(class_weight, classes=classes, y=classes)
    return per_class[y_enc]
