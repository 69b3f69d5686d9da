"""Small pieces of the training loop: scaling, seeds, Adam, plateau schedule.

Kept apart from the estimators so that each piece does one job and can be
tested on its own.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import sklearn
import torch
from sklearn.preprocessing import StandardScaler
from torch.optim.adam import adam as _functional_adam

__all__ = [
    "Plateau",
    "Scaling",
    "Seeds",
    "adam_step",
    "external_stacklevel",
    "fit_scaling",
    "make_adam",
]

_INTERNAL_DIRS = (
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),  # skbayes
    os.path.dirname(os.path.abspath(sklearn.__file__)),
)


def external_stacklevel() -> int:
    """``stacklevel`` for ``warnings.warn`` that points at the user's line.

    Counts the frames of skbayes and scikit-learn (``fit`` wrappers,
    ``Pipeline``) above the caller of this function.
    """
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_INTERNAL_DIRS):
        frame = frame.f_back
        level += 1
    return level


@dataclass(frozen=True)
class Seeds:
    """One seed per purpose, drawn from ``random_state`` at the first fit."""

    init: int  # initial weights, minibatch order and training noise
    predict: int  # the bank of common random numbers for predictions
    split: int  # the early-stopping validation split

    @classmethod
    def draw(cls, rng: np.random.RandomState) -> Seeds:
        return cls(*(int(s) for s in rng.randint(0, 2**31 - 1, size=3)))


@dataclass(frozen=True)
class Scaling:
    """Column-wise ``(a - mean) / scale``, fitted with sample weights."""

    mean: np.ndarray
    scale: np.ndarray

    def transform(self, a, dtype=np.float64):
        """Scaled copy of ``a`` (dense or sparse; sparse is never centred)."""
        if sp.issparse(a):
            return sp.csr_matrix(a.multiply(1.0 / self.scale), dtype=dtype)
        return ((np.asarray(a, dtype=np.float64) - self.mean) / self.scale).astype(
            dtype, copy=False
        )


def fit_scaling(a, sample_weight: np.ndarray, *, with_mean: bool = True) -> Scaling:
    """Weighted mean and std per column, with scale-relative floors.

    Each column is first divided by its largest absolute value, so that
    neither tiny (1e-300) nor huge (1e300) values under- or overflow, then
    scikit-learn's :class:`~sklearn.preprocessing.StandardScaler` finds the
    weighted moments and flags columns indistinguishable from a constant
    (relative to their mean's size). A constant column is scaled by its own
    magnitude (by 1 when it is all zeros), so its values stay O(1).
    """
    if sp.issparse(a):
        amax = np.asarray(abs(a).max(axis=0).todense()).ravel().astype(np.float64)
    else:
        amax = np.max(np.abs(a), axis=0).astype(np.float64)
    amax = np.where(amax > 0, amax, 1.0)
    scaled = a.multiply(1.0 / amax).tocsr() if sp.issparse(a) else a / amax
    scaler = StandardScaler(with_mean=with_mean).fit(
        scaled, sample_weight=sample_weight
    )
    mean = scaler.mean_ * amax if with_mean else np.zeros_like(amax)
    scale = scaler.scale_ * amax
    return Scaling(mean, scale)


def make_adam(params, lr: float) -> torch.optim.Adam:
    """Adam whose state is created now, so :func:`adam_step` can skip ``step``.

    The optimizer object holds the state (``state_dict``, learning rate) in
    torch's own format; :func:`adam_step` runs torch's fused kernel on it
    without the per-call bookkeeping of ``Optimizer.step``. Every parameter
    is always updated together, so they share one step counter.
    """
    params = list(params)
    fused = all(p.device.type in ("cpu", "cuda") for p in params)
    optimizer = torch.optim.Adam(params, lr=lr, fused=fused, foreach=None)
    count = torch.zeros((), dtype=torch.float32, device=params[0].device)
    for p in params:
        optimizer.state[p] = {
            "step": count,
            "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
            "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
        }
    return optimizer


def adam_step(optimizer: torch.optim.Adam):
    """A function ``step(grads)``: one Adam update of the optimizer's parameters.

    The lists of state tensors are gathered once here, not at every step; the
    learning rate is read at each step (the plateau schedule changes it).
    With the fused kernel, one shared step counter is advanced once per step
    and the kernel is called directly: ``Optimizer.step``'s grouping by
    device and its per-parameter counter increments cost more than the
    update of a small network.
    """
    group = optimizer.param_groups[0]
    params = list(group["params"])
    states = [optimizer.state[p] for p in params]
    exp_avgs = [s["exp_avg"] for s in states]
    exp_avg_sqs = [s["exp_avg_sq"] for s in states]
    beta1, beta2 = group["betas"]
    eps = group["eps"]
    fused = bool(group["fused"]) and hasattr(torch, "_fused_adam_")
    if fused:
        # One counter for all (a loaded state_dict holds equal copies).
        count = states[0]["step"]
        for s in states:
            s["step"] = count
        counts = [count] * len(params)

        def step(grads) -> None:
            with torch.no_grad():
                count.add_(1)
                torch._fused_adam_(
                    params, grads, exp_avgs, exp_avg_sqs, [], counts,
                    amsgrad=False, lr=group["lr"], beta1=beta1, beta2=beta2,
                    weight_decay=0.0, eps=eps, maximize=False,
                )  # fmt: skip

        return step

    steps = [s["step"] for s in states]

    def step(grads) -> None:
        with torch.no_grad():
            _functional_adam(
                params,
                grads,
                exp_avgs,
                exp_avg_sqs,
                [],
                steps,
                foreach=group["foreach"],
                fused=False,
                amsgrad=False,
                beta1=beta1,
                beta2=beta2,
                lr=group["lr"],
                weight_decay=0.0,
                eps=eps,
                maximize=False,
            )

    return step


class Plateau:
    """scikit-learn's "adaptive" schedule, for Adam, with a stop.

    An epoch counts as bad when the monitored loss is not below the best so
    far minus ``tol``; more than ``patience`` bad epochs in a row make a
    plateau. A plateau divides the learning rate by ``factor`` (at most
    ``n_decays`` times); the next plateau stops training.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
    patience : int or inf
    tol : float
    best : float, default=inf
        Best loss so far (warm starts continue from it).
    n_decays : int, default=2
    factor : float, default=5.0
    """

    def __init__(self, optimizer, patience, tol, best=np.inf, n_decays=2, factor=5.0):
        self.optimizer = optimizer
        self.patience = patience
        self.tol = tol
        self.best = best
        self.decays_left = n_decays
        self.factor = factor
        self.n_bad = 0

    def step(self, loss: float) -> tuple[bool, str]:
        """Record one epoch: (is it the best so far, ``""``/``"decay"``/``"stop"``)."""
        self.n_bad = self.n_bad + 1 if loss > self.best - self.tol else 0
        is_best = loss < self.best
        self.best = min(self.best, loss)
        if self.n_bad <= self.patience:
            return is_best, ""
        if self.decays_left == 0:
            return is_best, "stop"
        self.decays_left -= 1
        self.n_bad = 0
        for group in self.optimizer.param_groups:
            group["lr"] /= self.factor
        return is_best, "decay"
