"""A torch MLP with Gaussian activations that predicts a mean and a std."""

from __future__ import annotations

import copy
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm.auto import tqdm

from .._base import PredictiveRegressorMixin
from .._distribution import Normal
from .._priors import PRIOR_PARAMETER_CONSTRAINTS, resolve_prior
from .._validation import check_sample_weight
from ._device import resolve_device, to_cpu
from ._modules import ACTIVATIONS, StochasticMLP, gaussian_nll, prior_penalty

__all__ = ["StochasticMLPRegressor"]

# Initial σ of the hidden pre-activations (standardised units).
_SIGMA_INIT = 0.5
# On a plateau the step size is divided by _LR_DECAY, at most _N_LR_DECAYS
# times, before training stops (sklearn's "adaptive" schedule, for Adam).
_LR_DECAY = 5.0
_N_LR_DECAYS = 2
# Elements of one (S, rows, width) activation tensor at prediction time.
_PREDICT_CHUNK = 2**21


class StochasticMLPRegressor(PredictiveRegressorMixin, BaseEstimator):
    """Neural network with Gaussian activations predicting a mean and a std.

    Each hidden layer computes the mean μ(h) and the standard deviation
    σ(h) = softplus(·) + 1e-3 of its pre-activation, samples
    ``a = μ + σ·ξ`` with ``ξ ~ N(0, I)`` (the reparameterisation trick, so the
    gradients reach both μ and σ) and applies ``activation``. The output layer
    gives the mean and a softplus standard deviation of y, so the noise level
    may change with x (heteroscedastic regression).

    Training minimises, per minibatch, the Monte-Carlo estimate
    ``-(1/S) Σ_s log N(y | mean_s, std_s)`` (S = ``n_train_samples``, rows
    weighted by ``sample_weight``) plus ``-log prior(weights) / N`` with Adam.
    Inputs and target are standardised internally (weighted by
    ``sample_weight``) and predictions are mapped back to the original units.

    :meth:`predict_dist` returns the moments of the predictive mixture over
    ``n_predict_samples`` noise draws: the mean of the means, and the mean of
    the variances (aleatoric part) plus the variance of the means (epistemic
    part, from the activation noise). It uses **common random numbers**: one
    bank of noise of shape ``(n_predict_samples, width)`` per layer, drawn from
    a seed fixed at fit time and shared by every row, and computes in float64.
    A row's prediction is therefore deterministic and does not depend on the
    batch it is in, nor on earlier calls.

    Read more in the lecture "predicting distributions" and in
    ``DESIGN.md`` §2.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(50,)
        Width of each hidden layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Nonlinearity applied after the noisy pre-activation.
    prior : {"gaussian", "laplace"} or None, default="gaussian"
        Prior on the weight matrices (biases have a flat prior). Gaussian gives
        an L2 penalty ``Σ w²/(2σ²)``, Laplace an L1 penalty ``Σ |w|/b``, None
        none (maximum likelihood). Weights act on standardised units.
    prior_scale : float or array-like of shape (n_features,), default=1.0
        σ of the Gaussian prior or b of the Laplace prior, a standard
        deviation-like scale. An array gives one scale per input feature for
        the first layer's weights; the other layers then use its mean.
        ``"auto"`` is not supported by this model.
    n_train_samples : int, default=1
        Noise draws S per row and minibatch in the training objective.
    n_predict_samples : int, default=100
        Noise draws in the predictive mixture.
    batch_size : int or "auto", default="auto"
        Minibatch size; "auto" is ``min(200, n_samples)``.
    learning_rate_init : float, default=1e-2
        Adam's initial step size.
    max_iter : int, default=1000
        Maximum number of epochs per call to :meth:`fit`.
    tol : float, default=1e-4
        When the monitored loss (the training loss, or with ``early_stopping``
        the validation NLL) has not improved by ``tol`` for more than
        ``n_iter_no_change`` consecutive epochs, the step size is divided by 5
        (back at the best weights with ``early_stopping``); the third such
        plateau stops training.
    n_iter_no_change : int, default=20
        See ``tol``.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the training rows, monitor their
        predictive negative log-likelihood and keep the weights of the best
        epoch. A heteroscedastic network overfits its variance without it.
        Ignored by :meth:`partial_fit`.
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

    Attributes
    ----------
    module_ : torch.nn.Module
        The fitted :class:`~skbayes.nn._modules.StochasticMLP`, on ``device_``.
    device_ : str
        The device used.
    loss_curve_ : list of float
        Training objective per epoch (mean NLL in standardised units plus the
        prior term).
    validation_scores_ : list of float or None
        Validation negative log-likelihood per epoch in the original units
        (lower is better), when ``early_stopping`` is True; else None.
    best_loss_ : float or None
        Smallest training loss; None with ``early_stopping``.
    best_validation_loss_ : float or None
        Smallest validation NLL with ``early_stopping``; else None.
    n_iter_ : int
        Number of epochs run (accumulates under ``warm_start`` and
        :meth:`partial_fit`).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when X has string column names.

    See Also
    --------
    sklearn.neural_network.MLPRegressor : deterministic MLP, point predictions.

    Examples
    --------
    >>> import numpy as np
    >>> from skbayes import StochasticMLPRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-3, 3, size=(200, 1))
    >>> y = np.sin(X[:, 0]) + 0.1 * (1 + np.abs(X[:, 0])) * rng.randn(200)
    >>> est = StochasticMLPRegressor(hidden_layer_sizes=(16,), max_iter=50,
    ...                              random_state=0)
    >>> est = est.fit(X, y)
    >>> mu, sigma = est.predict_dist(X[:3])
    >>> mu.shape, bool(np.all(sigma > 0))
    ((3,), True)
    """

    _parameter_constraints: ClassVar[dict] = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        **PRIOR_PARAMETER_CONSTRAINTS,
        "n_train_samples": [Interval(Integral, 1, None, closed="left")],
        "n_predict_samples": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
        "device": [StrOptions({"cpu", "cuda", "auto"})],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        *,
        hidden_layer_sizes=(50,),
        activation="relu",
        prior="gaussian",
        prior_scale=1.0,
        n_train_samples=1,
        n_predict_samples=100,
        batch_size="auto",
        learning_rate_init=1e-2,
        max_iter=1000,
        tol=1e-4,
        n_iter_no_change=20,
        early_stopping=True,
        validation_fraction=0.1,
        random_state=None,
        device="cpu",
        verbose=False,
        warm_start=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.prior = prior
        self.prior_scale = prior_scale
        self.n_train_samples = n_train_samples
        self.n_predict_samples = n_predict_samples
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

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows' log-likelihood terms.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Run one epoch over the given rows, keeping the optimiser's state.

        The first call builds the network and fixes the standardisation from
        its rows. ``early_stopping`` is ignored.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def _fit(self, X, y, sample_weight, *, incremental: bool):
        fitted = hasattr(self, "module_")
        reuse = fitted and (incremental or self.warm_start)
        X, y = validate_data(
            self,
            X,
            y,
            reset=not reuse,
            dtype=[np.float64, np.float32],
            y_numeric=True,
        )
        sw = check_sample_weight(sample_weight, X, dtype=np.float64)
        n_features = X.shape[1]
        prior, _ = resolve_prior(self.prior, self.prior_scale, n_features)
        hidden = _check_hidden_layer_sizes(self.hidden_layer_sizes)
        device = resolve_device(self.device) if not reuse else self.device_

        # Build the new state on the side and commit it at the end, so that a
        # failed fit leaves an already fitted model as it was.
        if reuse:
            stats = self._stats
            seeds = self._seeds
            module = copy.deepcopy(self.module_)
            generator = _copy_generator(self._generator)
            optimizer = self._make_optimizer(module)
            if incremental:
                optimizer.load_state_dict(self._optimizer.state_dict())
            history = {
                "loss_curve": list(self.loss_curve_),
                "validation_scores": None
                if self.validation_scores_ is None
                else list(self.validation_scores_),
                "n_iter": self.n_iter_,
            }
        else:
            rng = check_random_state(self.random_state)
            seeds = tuple(int(s) for s in rng.randint(0, 2**31 - 1, size=3))
            stats = _standardisation(X, y, sw)
            init_gen = torch.Generator().manual_seed(seeds[0])
            module = StochasticMLP(n_features, hidden, self.activation)
            module.reset_parameters(init_gen, _SIGMA_INIT)
            module.to(device)
            generator = torch.Generator(device=device).manual_seed(seeds[0])
            optimizer = self._make_optimizer(module)
            history = {"loss_curve": [], "validation_scores": None, "n_iter": 0}

        Xs = (X - stats["x_mean"]) / stats["x_scale"]
        ys = (y - stats["y_mean"]) / stats["y_scale"]

        val = None
        if self.early_stopping and not incremental:
            train_idx, val_idx = _validation_split(
                len(X), self.validation_fraction, seeds[2]
            )
            val = (
                _tensor(Xs[val_idx], device),
                _tensor(ys[val_idx], device),
                _tensor(sw[val_idx], device),
            )
            Xs, ys, sw = Xs[train_idx], ys[train_idx], sw[train_idx]
            if not np.any(sw > 0):
                raise ValueError(
                    "sample_weight is zero on every training row left after the "
                    "early_stopping split; use early_stopping=False or other weights."
                )
            if history["validation_scores"] is None:
                history["validation_scores"] = []

        n_epochs = 1 if incremental else self.max_iter
        result = self._train(
            module,
            optimizer,
            generator,
            (_tensor(Xs, device), _tensor(ys, device), _tensor(sw, device)),
            val,
            prior,
            seeds,
            stats,
            n_epochs,
            history,
        )

        self._stats = stats
        self._seeds = seeds
        self.module_ = module
        self.device_ = device
        self._optimizer = optimizer
        self._generator = generator
        self.loss_curve_ = history["loss_curve"]
        self.validation_scores_ = history["validation_scores"]
        self.n_iter_ = history["n_iter"]
        if self.validation_scores_ is not None:
            self.best_loss_ = None
            self.best_validation_loss_ = float(np.min(self.validation_scores_))
        else:
            self.best_loss_ = float(np.min(self.loss_curve_))
            self.best_validation_loss_ = None

        if not incremental and not result["converged"]:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                "and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _make_optimizer(self, module: torch.nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(module.parameters(), lr=self.learning_rate_init)

    def _train(
        self,
        module: StochasticMLP,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
        data: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        val: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None,
        prior,
        seeds: tuple[int, int, int],
        stats: dict,
        n_epochs: int,
        history: dict,
    ) -> dict:
        """The training loop; mutates module, optimizer, generator, history."""
        Xt, yt, wt = data
        n = Xt.shape[0]
        device = Xt.device
        batch_size = min(200 if self.batch_size == "auto" else self.batch_size, n)
        n_total = float(wt.sum())  # N of the prior term (weighted row count)
        inv_n = 1.0 / n_total
        uniform = bool((wt == wt[0]).all())
        # Batch masses are row counts when uniform, weight sums otherwise.
        mass_scale = float(wt[0]) if uniform else 1.0
        S = self.n_train_samples
        weights = module.weights()
        first_inv, inv = None, 0.0
        if not prior.is_flat:
            first_inv = torch.as_tensor(1.0 / prior.scale, dtype=Xt.dtype).to(device)
            inv = float(1.0 / np.mean(prior.scale))
        widths = module.widths
        if val is not None:
            val_noise = _noise_bank(seeds[1], self.n_predict_samples, widths, device)
            val_noise = [z.float() for z in val_noise]
            log_y_scale = float(np.log(stats["y_scale"]))

        best_val, best_loss = np.inf, np.inf
        if history["loss_curve"]:
            best_loss = min(history["loss_curve"])
        if history["validation_scores"]:
            best_val = min(history["validation_scores"])
        best_state = None
        no_improvement = 0
        converged = False
        decays_left = _N_LR_DECAYS

        module.train()
        epochs = tqdm(
            range(n_epochs),
            disable=not self.verbose,
            desc=type(self).__name__,
            leave=False,
        )
        for _ in epochs:
            perm = torch.randperm(n, generator=generator, device=device)
            losses, masses = [], []
            for start in range(0, n, batch_size):
                idx = perm[start : start + batch_size]
                noises = [
                    torch.randn(
                        (S, idx.shape[0], w), generator=generator, device=device
                    )
                    for w in widths
                ]
                mean, std = module(Xt[idx], noises)
                nll = gaussian_nll(yt[idx], mean, std)
                if uniform:  # equal weights: the plain mean, no gather
                    loss = nll.mean()
                    masses.append(idx.shape[0])
                else:
                    wb = wt[idx]
                    wsum = wb.sum()
                    loss = (nll.mean(0) * wb).sum() / wsum.clamp_min(1e-12)
                    masses.append(wsum)
                if first_inv is not None:
                    penalty = prior_penalty(weights, prior, first_inv, inv)
                    loss = loss + penalty * inv_n
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(loss.detach())
            # One device sync per epoch, none per batch.
            if uniform:
                masses = torch.tensor(masses, dtype=Xt.dtype, device=device)
            else:
                masses = torch.stack(masses)
            total = torch.dot(torch.stack(losses), masses) * mass_scale
            epoch_loss = float(total) / n_total
            if not np.isfinite(epoch_loss):
                raise ValueError(
                    "Solver produced a non-finite loss; try a smaller "
                    "learning_rate_init or standardising the data."
                )
            history["loss_curve"].append(epoch_loss)
            history["n_iter"] += 1
            if self.verbose:
                epochs.set_postfix(loss=f"{epoch_loss:.4f}")

            if val is not None:
                with torch.no_grad():
                    m, epi, ale = _mixture_moments(module, val[0], val_noise, None)
                    v_nll = gaussian_nll(val[1], m, (epi + ale).sqrt())
                    v_w = val[2]
                    score = float((v_nll * v_w).sum() / v_w.sum().clamp_min(1e-12))
                score += log_y_scale  # to the original units
                history["validation_scores"].append(score)
                current, best = score, best_val
                if score < best_val:
                    best_val = score
                    best_state = copy.deepcopy(module.state_dict())
            else:
                current, best = epoch_loss, best_loss
                best_loss = min(best_loss, epoch_loss)
            no_improvement = no_improvement + 1 if current > best - self.tol else 0
            if no_improvement > self.n_iter_no_change:
                if decays_left == 0:
                    converged = True
                    break
                # Plateau: go back to the best weights and take smaller steps
                # (Adam's noise floor, not the model, limits the fit there).
                decays_left -= 1
                no_improvement = 0
                if best_state is not None:
                    module.load_state_dict(best_state)
                for group in optimizer.param_groups:
                    group["lr"] /= _LR_DECAY
        epochs.close()
        if best_state is not None:
            module.load_state_dict(best_state)
        module.eval()
        return {"converged": converged}

    # -------------------------------------------------------------- predict
    def predict_dist(self, X) -> Normal:
        """Predictive distribution of y at each row of X.

        Moments of the mixture over ``n_predict_samples`` fixed noise draws
        (common random numbers, float64), so the answer for a row does not
        depend on the batch or on earlier calls.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        dist : Normal
            With ``epistemic_std`` (spread of the mean over the activation
            noise) and ``aleatoric_std`` (predicted noise of y), in the units
            of y.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        stats = self._stats
        Xs = (X - stats["x_mean"]) / stats["x_scale"]
        device = self.device_
        noises = _noise_bank(
            self._seeds[1], self.n_predict_samples, self.module_.widths, device
        )
        width = max(self.module_.widths, default=1)
        rows = max(1, _PREDICT_CHUNK // (2 * self.n_predict_samples * width))
        means, epis, ales = [], [], []
        with torch.no_grad():
            for start in range(0, Xs.shape[0], rows):
                xb = torch.as_tensor(
                    Xs[start : start + rows], dtype=torch.float64, device=device
                )
                m, epi, ale = _mixture_moments(self.module_, xb, noises, torch.float64)
                means.append(m.cpu().numpy())
                epis.append(epi.cpu().numpy())
                ales.append(ale.cpu().numpy())
        y_scale = stats["y_scale"]
        mean = np.concatenate(means) * y_scale + stats["y_mean"]
        epi_std = np.sqrt(np.concatenate(epis)) * y_scale
        ale_std = np.sqrt(np.concatenate(ales)) * y_scale
        return Normal(
            mean,
            np.sqrt(epi_std**2 + ale_std**2),
            epistemic_std=epi_std,
            aleatoric_std=ale_std,
        )

    # ------------------------------------------------------------- pickling
    def __getstate__(self):
        state = dict(super().__getstate__())
        # CUDA tensors cannot be unpickled on a CPU-only machine: move every
        # piece of torch state to the CPU (as copies; the live model stays).
        if "module_" in state:
            module = state["module_"]
            cpu_module = StochasticMLP(**module.config)
            cpu_module.load_state_dict(to_cpu(module.state_dict()))
            state["module_"] = cpu_module
        optimizer = state.pop("_optimizer", None)
        if optimizer is not None:
            state["_optimizer_state"] = to_cpu(optimizer.state_dict())
        generator = state.pop("_generator", None)
        if generator is not None:
            state["_generator_state"] = (generator.device.type, generator.get_state())
        return state

    def __setstate__(self, state):
        optimizer_state = state.pop("_optimizer_state", None)
        generator_state = state.pop("_generator_state", None)
        super().__setstate__(state)
        if "module_" not in state:
            return
        if self.device_.startswith("cuda") and not torch.cuda.is_available():
            warnings.warn(
                f"This model was trained on device {self.device_!r}, which is not "
                "available here; it is loaded on the CPU.",
                UserWarning,
                stacklevel=2,
            )
            self.device_ = "cpu"
        self.module_.to(self.device_)
        self.module_.eval()
        generator = torch.Generator(device=self.device_)
        if generator_state is not None and generator_state[0] == generator.device.type:
            generator.set_state(generator_state[1])
        else:
            # A CUDA generator's state does not fit a CPU one: reseed
            # deterministically from the fit's seed and the epoch count.
            generator.manual_seed(self._seeds[0] + self.n_iter_)
        self._generator = generator
        self._optimizer = self._make_optimizer(self.module_)
        if optimizer_state is not None:
            self._optimizer.load_state_dict(optimizer_state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


# ----------------------------------------------------------------- helpers
def _check_hidden_layer_sizes(hidden_layer_sizes) -> tuple[int, ...]:
    if isinstance(hidden_layer_sizes, Integral):
        hidden_layer_sizes = (hidden_layer_sizes,)
    sizes = tuple(hidden_layer_sizes)
    if not all(isinstance(h, Integral) and h > 0 for h in sizes):
        raise ValueError(
            f"hidden_layer_sizes must be positive integers; got {hidden_layer_sizes!r}."
        )
    return tuple(int(h) for h in sizes)


def _weighted_mean_scale(a: np.ndarray, sw: np.ndarray) -> tuple:
    mean = np.average(a, axis=0, weights=sw)
    scale = np.sqrt(np.average((a - mean) ** 2, axis=0, weights=sw))
    # A constant column keeps its values (scale 1), as in StandardScaler.
    tiny = 10 * np.finfo(np.float64).eps * (1 + np.abs(mean))
    scale = np.where(scale < tiny, 1.0, scale)
    return mean, scale


def _standardisation(X: np.ndarray, y: np.ndarray, sw: np.ndarray) -> dict:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x_mean, x_scale = _weighted_mean_scale(X, sw)
    y_mean, y_scale = _weighted_mean_scale(y, sw)
    return {
        "x_mean": x_mean,
        "x_scale": x_scale,
        "y_mean": float(y_mean),
        "y_scale": float(y_scale),
    }


def _tensor(a: np.ndarray, device: str) -> torch.Tensor:
    # A fresh float32 copy: works for read-only inputs and moves data once.
    return torch.tensor(np.asarray(a, dtype=np.float32), device=device)


def _validation_split(
    n: int, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    n_val = int(np.ceil(fraction * n))
    if n_val < 1 or n - n_val < 1:
        raise ValueError(
            f"With n_samples={n} and validation_fraction={fraction}, the training "
            "or validation split of early_stopping is empty; pass more rows or "
            "early_stopping=False."
        )
    perm = np.random.RandomState(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _noise_bank(
    seed: int, n_samples: int, widths: list[int], device: str
) -> list[torch.Tensor]:
    """Common random numbers: ``(n_samples, 1, width)`` per layer, float64.

    Drawn on the CPU from ``seed`` so it is the same on every device.
    """
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randn((n_samples, 1, w), generator=gen, dtype=torch.float64).to(device)
        for w in widths
    ]


def _mixture_moments(
    module: StochasticMLP,
    x: torch.Tensor,
    noises: list[torch.Tensor],
    dtype: torch.dtype | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean, epistemic and aleatoric variance of the mixture over the noises."""
    mean, std = module(x, noises, dtype)
    return mean.mean(0), mean.var(0, correction=0), std.square().mean(0)


def _copy_generator(generator: torch.Generator) -> torch.Generator:
    new = torch.Generator(device=generator.device)
    new.set_state(generator.get_state())
    return new
