"""Base class of the stochastic networks: the training loop and persistence.

Like scikit-learn's ``BaseMultilayerPerceptron`` under ``MLPRegressor`` and
``MLPClassifier``, one base holds what the estimators share; a subclass adds a
likelihood head (:mod:`._heads`) and the target handling. The loop follows
skorch's split: :meth:`~BaseStochasticMLP._fit_loop` (epochs, validation,
plateau schedule) → :meth:`~BaseStochasticMLP._run_epoch` (one pass, noise
for the whole pass drawn at once) → :meth:`~BaseStochasticMLP._train_step`
(one minibatch) → :meth:`~BaseStochasticMLP._get_loss`.

"Nothing lost": ``fit`` and ``partial_fit`` build the new state on the side
(a deep copy of the network, an optimizer with deep-copied moments, a copy of
the generator) and commit it only at the end; any exception, KeyboardInterrupt
included, leaves a fitted model as it was, ``n_features_in_`` and
``feature_names_in_`` included.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from functools import partial
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm.auto import tqdm

from .._priors import PRIOR_PARAMETER_CONSTRAINTS, resolve_prior
from .._validation import check_sample_weight
from ._device import resolve_device, to_cpu
from ._fused import PriorTerm, loss_and_grads
from ._modules import ACTIVATIONS, StochasticMLP
from ._training import (
    Plateau,
    Seeds,
    adam_step,
    external_stacklevel,
    fit_scaling,
    make_adam,
)

__all__ = ["BaseStochasticMLP"]

# Initial σ of the hidden pre-activations (standardised units).
_SIGMA_INIT = 0.5
# Elements of the noise drawn at once in an epoch, and of one activation
# tensor at prediction time.
_NOISE_BLOCK = 2**22
_PREDICT_CHUNK = 2**21
_FIT_ATTRS = ("n_features_in_", "feature_names_in_")


@dataclass
class _State:
    """Everything a fit mutates, built on the side and committed at the end."""

    module: StochasticMLP
    optimizer: torch.optim.Adam
    generators: list[torch.Generator]  # one per member
    loss_curve: list
    validation_scores: list | None
    n_iter: int


class BaseStochasticMLP(BaseEstimator):
    """Shared loop of the stochastic networks; not for direct use.

    Subclasses set ``_head_for(target_info)``, ``_fitted_head()``,
    ``_prepare_targets``, ``_commit_targets``, ``_stratify``,
    ``_validation_score`` and the two
    reductions of the predictive, ``_reduce_bank`` (outputs over the noise
    bank) and ``_reduce_moments`` (moment propagation).
    """

    _parameter_constraints: ClassVar[dict] = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "anchored": ["boolean"],
        **PRIOR_PARAMETER_CONSTRAINTS,
        "n_train_samples": [Interval(Integral, 1, None, closed="left")],
        "n_predict_samples": [Interval(Integral, 1, None, closed="left")],
        "predict_method": [StrOptions({"moments", "mc"})],
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

    @property
    def _n_members(self) -> int:
        return self.n_estimators

    # ------------------------------------------------------------- fitting
    def _fit(self, X, y, sample_weight, *, incremental: bool, classes=None):
        kept = {k: self.__dict__[k] for k in _FIT_ATTRS if k in self.__dict__}
        try:
            self._fit_checked(X, y, sample_weight, incremental, classes)
        except BaseException:
            # validate_data(reset=True) has already overwritten these.
            for k in _FIT_ATTRS:
                self.__dict__.pop(k, None)
            self.__dict__.update(kept)
            raise
        return self

    def _fit_checked(self, X, y, sample_weight, incremental, classes) -> None:
        hidden = _check_hidden_layer_sizes(self.hidden_layer_sizes)
        reuse = hasattr(self, "module_") and (incremental or self.warm_start)
        X, y = validate_data(
            self,
            X,
            y,
            reset=not reuse,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            **self._target_validation,
        )
        sw = check_sample_weight(sample_weight, X, dtype=np.float64)
        sw = sw / sw.max()  # only ratios matter: 1e-50 and 1e300 act as 1
        target, sw, info = self._prepare_targets(y, sw, reuse=reuse, classes=classes)
        prior, _ = resolve_prior(self.prior, self.prior_scale, X.shape[1])
        if reuse:
            self._check_same_architecture(X.shape[1], hidden)
            seeds, x_scaling, device = self._seeds, self._x_scaling, self.device_
            state = self._copied_state(keep_optimizer=incremental)
        else:
            seeds = Seeds.draw(check_random_state(self.random_state))
            x_scaling = fit_scaling(X, sw, with_mean=not sp.issparse(X))
            device = resolve_device(self.device)
            state = self._new_state(X.shape[1], hidden, info, seeds, device)
        with np.errstate(over="ignore"):
            Xs = x_scaling.transform(X, np.float32)
        if not np.all(np.isfinite(Xs.data if sp.issparse(Xs) else Xs)):
            raise ValueError(
                "X is not finite in float32 once standardised with the scaling of "
                "the first fit (values far outside the range seen then); nothing "
                "was changed."
            )
        val = None
        if self.early_stopping and not incremental:
            (Xs, target, sw), val = self._split(Xs, target, sw, seeds.split, device)
            if state.validation_scores is None:
                state.validation_scores = []
        train = (_to_device(Xs, device), _as_tensor(target, device), sw)
        n_epochs = 1 if incremental else self.max_iter
        converged = self._fit_loop(state, train, val, prior, seeds, info, n_epochs)

        self._commit_targets(info)
        self._seeds, self._x_scaling, self.device_ = seeds, x_scaling, device
        self.module_, self._optimizer = state.module, state.optimizer
        self._generators = state.generators
        self.loss_curve_ = state.loss_curve
        self.validation_scores_ = state.validation_scores
        self.n_iter_ = state.n_iter
        has_val = self.validation_scores_ is not None
        self.best_loss_ = None if has_val else float(np.min(self.loss_curve_))
        self.best_validation_loss_ = (
            float(np.min(self.validation_scores_)) if has_val else None
        )
        if not incremental and not converged:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                "and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=external_stacklevel(),
            )

    def _check_same_architecture(self, n_features: int, hidden) -> None:
        """Continuing a fit needs the network it started with."""
        config = self.module_.config
        fitted = (config["hidden_layer_sizes"], config["n_members"],
                  config.get("anchored", False))  # fmt: skip
        asked = (hidden, self._n_members, bool(self.anchored))
        if fitted != asked:
            raise ValueError(
                "hidden_layer_sizes, n_estimators and anchored must stay as in the "
                f"first fit to continue it (fitted {fitted}, now {asked}); use "
                "warm_start=False (fit) or a new estimator."
            )

    def _new_state(self, n_features, hidden, info, seeds, device) -> _State:
        head = self._head_for(info)
        module = StochasticMLP(
            n_features,
            hidden,
            head.n_outputs,
            self.activation,
            n_members=self._n_members,
            anchored=self.anchored,
        )
        # Member m draws everything from seed init + m: it is the network a
        # single-member fit would train from that seed.
        member_seeds = [seeds.init + m for m in range(self._n_members)]
        module.reset_parameters(
            [torch.Generator().manual_seed(s) for s in member_seeds],
            _SIGMA_INIT,
            head.init_bias(),
        )
        module.to(device)
        return _State(
            module=module,
            optimizer=make_adam(module.ordered_parameters(), self.learning_rate_init),
            generators=[
                torch.Generator(device=device).manual_seed(s) for s in member_seeds
            ],
            loss_curve=[],
            validation_scores=None,
            n_iter=0,
        )

    def _copied_state(self, *, keep_optimizer: bool) -> _State:
        """Independent copies of the fitted state (tensors deep-copied)."""
        module = copy.deepcopy(self.module_)
        optimizer = make_adam(module.ordered_parameters(), self.learning_rate_init)
        if keep_optimizer:
            # load_state_dict keeps tensors of matching dtype/device by
            # reference: copy them so the kept model's moments stay its own.
            optimizer.load_state_dict(copy.deepcopy(self._optimizer.state_dict()))
        generators = []
        for kept in self._generators:
            generators.append(torch.Generator(device=kept.device))
            generators[-1].set_state(kept.get_state())
        scores = self.validation_scores_
        return _State(
            module=module,
            optimizer=optimizer,
            generators=generators,
            loss_curve=list(self.loss_curve_),
            validation_scores=None if scores is None else list(scores),
            n_iter=self.n_iter_,
        )

    def _split_indices(self, target, seed: int | None = None):
        """Sorted training and validation rows of the early-stopping split.

        Stratified by class for a classifier when every class has enough
        rows; ``seed`` defaults to the fitted model's split seed.
        """
        n = len(target)
        split = partial(
            train_test_split,
            np.arange(n),
            test_size=self.validation_fraction,
            random_state=self._seeds.split if seed is None else seed,
        )
        try:
            try:
                train_idx, val_idx = split(stratify=self._stratify(target))
            except ValueError:  # too few rows of a class to stratify
                train_idx, val_idx = split()
        except ValueError as exc:
            raise ValueError(
                f"early_stopping could not split n_samples={n} rows with "
                f"validation_fraction={self.validation_fraction}: {exc} Pass more "
                "rows or use early_stopping=False."
            ) from exc
        return np.sort(train_idx), np.sort(val_idx)

    def _split(self, Xs, target, sw, seed, device):
        """Training and early-stopping validation rows, as tensors for the latter."""
        train_idx, val_idx = self._split_indices(target, seed)
        for idx, name in ((train_idx, "training"), (val_idx, "validation")):
            if not np.any(sw[idx] > 0):
                raise ValueError(
                    f"sample_weight is zero on every {name} row of the "
                    "early_stopping split; use early_stopping=False or other weights."
                )
        Xv = Xs[val_idx]
        Xv = Xv.toarray() if sp.issparse(Xv) else Xv
        val = (
            _as_tensor(Xv, device),
            _as_tensor(target[val_idx], device),
            _as_tensor(sw[val_idx] / sw[val_idx].mean(), device),
        )
        return (Xs[train_idx], target[train_idx], sw[train_idx]), val

    def _fit_loop(self, state, train, val, prior, seeds, info, n_epochs) -> bool:
        """Epochs, validation and the plateau schedule; True when it stopped."""
        head = self._head_for(info)
        X, target, sw = train
        # Weights relative to their mean: 1e-50 and 1e300 train as 1 does.
        w = None if np.all(sw == sw[0]) else _as_tensor(sw / sw.mean(), target.device)
        penalty = None if prior.is_flat else PriorTerm(prior, int(np.count_nonzero(sw)))
        monitor = state.validation_scores if val is not None else state.loss_curve
        schedule = Plateau(
            state.optimizer,
            self.n_iter_no_change,
            self.tol,
            best=min(monitor, default=np.inf),
        )
        step = adam_step(state.optimizer)
        best_state, stopped = None, False
        state.module.train()
        bar = tqdm(range(n_epochs), disable=not self.verbose, leave=False,
                   desc=type(self).__name__)  # fmt: skip
        for _ in bar:
            # Inference mode, not just no_grad: the step differentiates by
            # hand, and skipping autograd's bookkeeping (version counters,
            # view tracking) makes a small network's step about 15% faster.
            with torch.inference_mode():
                loss = self._run_epoch(state, step, head, X, target, w, penalty)
            state.loss_curve.append(loss)
            state.n_iter += 1
            if self.verbose:
                bar.set_postfix(loss=f"{loss:.4f}")
            if val is not None:
                # The predictor users get, in float32: the score only ranks
                # epochs (float64 costs twice as much).
                with torch.inference_mode():
                    pred = self._predictive(
                        state.module, val[0], head, seeds.predict, torch.float32
                    )
                    loss = self._validation_score(pred, val[1], val[2], info)
                state.validation_scores.append(loss)
            is_best, action = schedule.step(loss)
            if is_best and val is not None:
                best_state = _clone_state(state.module)
            if action == "stop":
                stopped = True
                break
            if action == "decay" and best_state is not None:
                # Back to the best weights, with smaller steps (Adam's noise
                # floor, not the model, limits the fit on a plateau).
                state.module.load_state_dict(best_state)
        bar.close()
        if best_state is not None:
            state.module.load_state_dict(best_state)
        state.module.eval()
        return stopped

    def _run_epoch(self, state, step, head, X, target, w, penalty) -> float:
        """One pass over the rows in random minibatches; the epoch's mean loss.

        Each member sees the rows in its own order: ``(M, R, ...)`` batches.
        """
        n = target.shape[0]
        device = target.device
        gens = state.generators
        module = state.module
        batch = min(200 if self.batch_size == "auto" else self.batch_size, n)
        S = self.n_train_samples
        per_row = module.n_members * S * sum(module.widths)
        block = max(batch, _NOISE_BLOCK // per_row // batch * batch)
        perm = torch.stack(
            [torch.randperm(n, generator=g, device=device) for g in gens]
        )
        if sp.issparse(X):
            perm_np = perm.cpu().numpy()
        tp = _take_rows(target, perm)
        wp = None if w is None else _take_rows(w, perm)
        total = torch.zeros((), dtype=torch.float64, device=device)
        for b0 in range(0, n, block):
            b1 = min(n, b0 + block)
            # The block's noise at once, and every minibatch as views of it.
            noises = module.sample_noise(S, b1 - b0, gens, antithetic=True)
            noise_batches = zip(*(z.split(batch, dim=2) for z in noises))
            rows = range(b0, b1, batch)
            if sp.issparse(X):
                x_batches = (_sparse_batch(X, perm_np[:, i : i + batch], device)
                             for i in rows)  # fmt: skip
            else:
                # One gather per block (bounded memory: the block is sized by
                # the noise), contiguous minibatches after.
                x_batches = _take_rows(X, perm[:, b0:b1]).split(batch, dim=1)
            t_batches = tp[:, b0:b1].split(batch, dim=1)
            w_batches = (
                [None] * len(rows) if wp is None else wp[:, b0:b1].split(batch, dim=1)
            )
            for xb, tb, wb, nb in zip(x_batches, t_batches, w_batches, noise_batches):
                loss = self._train_step(module, step, head, xb, tb, wb, nb, penalty)
                total.add_(loss.detach(), alpha=tb.shape[1])
        epoch_loss = float(total) / (n * module.n_members)  # one host sync
        if not np.isfinite(epoch_loss):
            raise ValueError(
                "The training loss is not finite (the network diverged); nothing "
                "was changed. Try a smaller learning_rate_init."
            )
        return epoch_loss

    def _train_step(
        self, module, step, head, xb, tb, wb, noises, penalty
    ) -> torch.Tensor:
        """Forward, gradients and one Adam update; returns the minibatch loss."""
        loss, grads = loss_and_grads(module, head, xb, noises, tb, wb, penalty)
        step(grads)
        return loss

    @staticmethod
    def _get_loss(head, out, target, weight) -> torch.Tensor:
        """Monte-Carlo negative log-likelihood, summed over members.

        The objective in autograd form: training differentiates it by hand
        (:func:`~skbayes.nn._fused.loss_and_grads`, tested against this).

        With weights (mean 1 over the training rows), ``Σ_i w_i nll_i / R``
        is an unbiased minibatch estimate of the weighted mean.
        """
        nll = head.nll(out, target)  # (M, S, R)
        if weight is not None:
            nll = nll * weight
        return nll.sum() / (nll.shape[1] * nll.shape[2])

    # ----------------------------------------------------------- predicting
    def _predictive(self, module, x, head, seed: int, dtype=torch.float64):
        """The predictive of rows ``x`` in standardised units (one chunk).

        ``predict_method="moments"`` propagates means and variances
        (:mod:`._moments`); ``"mc"`` averages over the fixed noise bank drawn
        from ``seed``; both in ``dtype`` (float64 for what users get: a row's
        answer then does not depend on its chunk). Subclasses reduce the
        result with ``_reduce_bank`` / ``_reduce_moments``.
        """
        if self.predict_method == "mc":
            bank = _noise_bank(seed, self.n_predict_samples, module, dtype)
            return self._reduce_bank(head, module(x, bank, dtype))
        dt = dtype
        weights = module.layer_weights()
        layers = [tuple(t.to(dt) for t in lw[:4]) for lw in weights]
        W, b = module.head_weights()
        config = {"activation": weights[0].activation, "floor": weights[0].floor}
        return self._reduce_moments(
            head, x.to(dt), layers, (W.to(dt), b.to(dt)), config
        )

    def _predict_standardised(self, X):
        """:meth:`_predictive` over the rows of X, by row chunks (float64).

        Each row's answer depends on that row only (float64 everywhere), so
        the chunking changes no result.
        """
        check_is_fitted(self)
        X = validate_data(
            self, X, reset=False, accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
        )  # fmt: skip
        Xs = self._x_scaling.transform(X, np.float64)
        module, head = self.module_, self._fitted_head()
        if self.predict_method == "mc":
            width = max([*module.widths, module.out_weight.shape[-1]])
            per_row = module.n_members * self.n_predict_samples * 2 * width
        else:  # _moments chunks its own work; bound only the dense copy
            per_row = max(1, Xs.shape[1])
        rows = max(1, _PREDICT_CHUNK // per_row)
        parts = []
        with torch.inference_mode():
            for start in range(0, Xs.shape[0], rows):
                xb = Xs[start : start + rows]
                xb = xb.toarray() if sp.issparse(xb) else xb
                xb = torch.as_tensor(xb, dtype=torch.float64, device=self.device_)
                parts.append(self._predictive(module, xb, head, self._seeds.predict))
        if isinstance(parts[0], tuple):
            return tuple(torch.cat(p).cpu().numpy() for p in zip(*parts, strict=True))
        return torch.cat(parts).cpu().numpy()

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
        generators = state.pop("_generators", None)
        if generators is not None:
            state["_generator_states"] = [
                (g.device.type, g.get_state()) for g in generators
            ]
        return state

    def __setstate__(self, state):
        optimizer_state = state.pop("_optimizer_state", None)
        generator_states = state.pop("_generator_states", None)
        super().__setstate__(state)
        if "module_" not in state:
            return
        if self.device_.startswith("cuda") and not torch.cuda.is_available():
            warnings.warn(
                f"This model was trained on device {self.device_!r}, which is not "
                "available here; it is loaded on the CPU.",
                UserWarning,
                stacklevel=external_stacklevel(),
            )
            self.device_ = "cpu"
        self.module_.to(self.device_)
        self.module_.eval()
        generators = []
        for m, (kind, gen_state) in enumerate(generator_states or []):
            generator = torch.Generator(device=self.device_)
            if kind == generator.device.type:
                generator.set_state(gen_state)
            else:
                # A CUDA generator's state does not fit a CPU one: reseed
                # deterministically from the member's seed and the epoch count.
                generator.manual_seed(self._seeds.init + m + self.n_iter_)
            generators.append(generator)
        self._generators = generators
        self._optimizer = make_adam(
            self.module_.ordered_parameters(), self.learning_rate_init
        )
        if optimizer_state is not None:
            self._optimizer.load_state_dict(optimizer_state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        return tags


# ----------------------------------------------------------------- helpers
def _check_hidden_layer_sizes(hidden_layer_sizes) -> tuple[int, ...]:
    if isinstance(hidden_layer_sizes, Integral):
        hidden_layer_sizes = (hidden_layer_sizes,)
    sizes = tuple(np.ravel(hidden_layer_sizes).tolist())
    if not sizes or not all(isinstance(h, Integral) and h > 0 for h in sizes):
        raise InvalidParameterError(
            "The 'hidden_layer_sizes' parameter must be a positive integer or a "
            "non-empty sequence of positive integers (at least one hidden layer); "
            f"got {hidden_layer_sizes!r}."
        )
    return tuple(int(h) for h in sizes)


def _as_tensor(a: np.ndarray, device: str) -> torch.Tensor:
    # A fresh copy: works for read-only inputs and moves data once. Integer
    # targets (class indices) stay int64; everything else trains in float32.
    a = np.asarray(a)
    dtype = torch.int64 if a.dtype.kind in "iu" else torch.float32
    return torch.tensor(a, dtype=dtype, device=device)


def _sparse_batch(X, idx: np.ndarray, device: str) -> torch.Tensor:
    """Rows ``idx`` (M, R) of a CSR matrix as a dense ``(M, R, d)`` tensor."""
    dense = X[idx.ravel()].toarray()
    return _as_tensor(dense.reshape(*idx.shape, X.shape[1]), device)


def _to_device(X, device: str):
    """Dense X as a float32 tensor; sparse X stays a scipy CSR matrix."""
    return X.tocsr() if sp.issparse(X) else _as_tensor(X, device)


def _take_rows(a: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``a[idx]`` for a 2-D ``idx`` (members × rows), as ``(M, B, ...)``.

    ``index_select`` on the flattened index: several times faster on the CPU
    than advanced indexing with a 2-D index.
    """
    return a.index_select(0, idx.reshape(-1)).view(*idx.shape, *a.shape[1:])


def _noise_bank(seed: int, n_samples: int, module: StochasticMLP, dtype):
    """Common random numbers: ``(M, n_samples, 1, width)`` per layer.

    Drawn on the CPU in float64 from ``seed``, so it is the same on every
    device and in every dtype.
    """
    gen = torch.Generator().manual_seed(seed)
    device = module.out_weight.device
    return [
        torch.randn((module.n_members, n_samples, 1, w), generator=gen,
                    dtype=torch.float64).to(device=device, dtype=dtype)
        for w in module.widths
    ]  # fmt: skip


def _clone_state(module: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}
