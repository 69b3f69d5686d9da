"""Predictive mean and central intervals, in the Display style of scikit-learn."""

from __future__ import annotations

import numpy as np
from scipy import stats

from .._meta import predict_dist
from ..metrics._validation import _unpack_dist
from ._matplotlib import _get_ax

__all__ = ["PredictiveBandDisplay"]


class PredictiveBandDisplay:
    """Predictive mean and central intervals of a regressor.

    Two kinds of plot:

    * ``kind="band"``, for one input feature: the data points, the predictive
      mean as a line over ``x`` and one shaded band per confidence level;
    * ``kind="ordered"``, for any number of features: the samples sorted by
      predicted mean on the horizontal axis, the mean with error bars for each
      central interval, and the observed targets as points. Targets outside
      the bars are the ones the model did not expect.

    Build it with :meth:`from_estimator` or :meth:`from_predictions`; both
    call :meth:`plot`. The intervals are the central intervals of the
    Gaussian predictive distribution, ``mu +- norm.ppf((1 + c) / 2) * sigma``.

    Parameters
    ----------
    mu : ndarray of shape (n_samples,)
        Predictive means.
    sigma : ndarray of shape (n_samples,)
        Predictive standard deviations.
    y_true : ndarray of shape (n_samples,) or None, default=None
        Observed targets, drawn as points when given.
    x : ndarray of shape (n_samples,) or None, default=None
        The input feature for ``kind="band"``; None draws ``kind="ordered"``.
    confidence_levels : sequence of float, default=(0.5, 0.9)
        Probability masses of the central intervals, in (0, 1).
    estimator_name : str, default=None
        Name used in the legend.

    Attributes
    ----------
    kind : {"band", "ordered"}
        ``"band"`` if ``x`` is given, else ``"ordered"``.
    line_ : matplotlib Line2D
        The predictive mean.
    intervals_ : list of matplotlib artists
        One per entry of ``confidence_levels`` (in that order): a
        ``PolyCollection`` from ``fill_between`` for ``kind="band"``, an
        ``ErrorbarContainer`` for ``kind="ordered"``.
    scatter_ : matplotlib PathCollection or None
        The observed targets, None without ``y_true``.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    See Also
    --------
    IntervalCalibrationDisplay : Whether the intervals cover as often as they
        claim.

    Examples
    --------
    >>> import numpy as np
    >>> from skbayes.plotting import PredictiveBandDisplay
    >>> x = np.linspace(0, 1, 20)
    >>> y = np.sin(6 * x)
    >>> disp = PredictiveBandDisplay.from_predictions(y, y, 0.1 + x / 5, X=x)
    >>> disp.kind
    'band'
    >>> len(disp.intervals_)
    2
    >>> import matplotlib.pyplot as plt
    >>> plt.close(disp.figure_)
    """

    def __init__(
        self,
        *,
        mu,
        sigma,
        y_true=None,
        x=None,
        confidence_levels=(0.5, 0.9),
        estimator_name=None,
    ):
        self.mu = mu
        self.sigma = sigma
        self.y_true = y_true
        self.x = x
        self.confidence_levels = confidence_levels
        self.estimator_name = estimator_name

    @property
    def kind(self) -> str:
        return "ordered" if self.x is None else "band"

    def plot(
        self,
        ax=None,
        *,
        name=None,
        line_kwargs=None,
        interval_kwargs=None,
        scatter_kwargs=None,
    ):
        """Draw the plot.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        name : str, default=None
            Legend label of the mean; None uses ``estimator_name``.
        line_kwargs : dict, default=None
            Passed to ``ax.plot`` for the mean.
        interval_kwargs : dict, default=None
            Passed to ``ax.fill_between`` (``"band"``) or ``ax.errorbar``
            (``"ordered"``) for every interval; ``alpha`` defaults to darker
            for narrower intervals.
        scatter_kwargs : dict, default=None
            Passed to ``ax.scatter`` for the observed targets.

        Returns
        -------
        display : PredictiveBandDisplay
        """
        self.figure_, self.ax_ = _get_ax(ax, "PredictiveBandDisplay.plot")
        ax = self.ax_
        mu = np.asarray(self.mu, dtype=np.float64)
        sigma = np.asarray(self.sigma, dtype=np.float64)
        levels = _check_levels(self.confidence_levels)
        name = self.estimator_name if name is None else name

        if self.kind == "band":
            pos = np.asarray(self.x, dtype=np.float64)
            order = np.argsort(pos, kind="stable")
            xlabel, ylabel = "x", "y"
        else:
            order = np.argsort(mu, kind="stable")
            pos = np.empty(mu.size)
            pos[order] = np.arange(mu.size)
            xlabel = "Samples sorted by predicted mean"
            ylabel = "Target"
        xs, mus, sigmas = pos[order], mu[order], sigma[order]

        line_kwargs = {
            "label": "Predictive mean" if name is None else name,
            "zorder": 3,
            **(line_kwargs or {}),
        }
        if self.kind == "ordered":
            line_kwargs = {
                "marker": "_",
                "markersize": 9,
                "linestyle": "none",
                **line_kwargs,
            }
        (self.line_,) = ax.plot(xs, mus, **line_kwargs)
        color = self.line_.get_color()

        # widest first, so that the narrower (darker) ones are drawn on top
        self.intervals_ = [None] * len(levels)
        for rank, i in enumerate(np.argsort(levels)[::-1]):
            level = levels[i]
            half = stats.norm.ppf(0.5 + level / 2.0) * sigmas
            shade = rank / max(len(levels) - 1, 1)
            kwargs = {"color": color, "label": f"{level:.0%} interval"}
            if self.kind == "band":
                kwargs = {**kwargs, "alpha": 0.15 + 0.25 * shade, "linewidth": 0}
                kwargs.update(interval_kwargs or {})
                artist = ax.fill_between(xs, mus - half, mus + half, **kwargs)
            else:
                kwargs = {
                    **kwargs,
                    "alpha": 0.35 + 0.25 * shade,
                    "fmt": "none",
                    "elinewidth": 1.5 + 2.0 * rank,
                }
                kwargs.update(interval_kwargs or {})
                artist = ax.errorbar(xs, mus, yerr=half, **kwargs)
            self.intervals_[i] = artist

        self.scatter_ = None
        if self.y_true is not None:
            y = np.asarray(self.y_true, dtype=np.float64)
            scatter_kwargs = {
                "color": "k",
                "s": 10,
                "label": "Observed",
                "zorder": 4,
                **(scatter_kwargs or {}),
            }
            self.scatter_ = ax.scatter(pos, y, **scatter_kwargs)

        ax.set(xlabel=xlabel, ylabel=ylabel)
        ax.legend(loc="best")
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y=None,
        *,
        kind="auto",
        confidence_levels=(0.5, 0.9),
        name=None,
        ax=None,
        **kwargs,
    ):
        """Plot the predictive distribution of a fitted estimator.

        Parameters
        ----------
        estimator : object
            A fitted estimator that :func:`skbayes.predict_dist` accepts (a
            skbayes estimator, or a ``Pipeline``, search or
            ``TransformedTargetRegressor`` around one).
        X : array-like of shape (n_samples, n_features)
            Input. For a smooth band over one feature, pass a grid here and
            ``y=None``, then add the data with ``display.ax_.scatter``.
        y : array-like of shape (n_samples,), default=None
            Observed targets, drawn as points when given.
        kind : {"auto", "band", "ordered"}, default="auto"
            ``"auto"`` is ``"band"`` for one feature, else ``"ordered"``.
        confidence_levels : sequence of float, default=(0.5, 0.9)
            Probability masses of the central intervals.
        name : str, default=None
            Legend label; None uses the estimator's class name.
        ax : matplotlib Axes, default=None
        **kwargs
            Passed to :meth:`plot` (``line_kwargs``, ``interval_kwargs``,
            ``scatter_kwargs``).

        Returns
        -------
        display : PredictiveBandDisplay
        """
        dist = predict_dist(estimator, X)
        name = type(estimator).__name__ if name is None else name
        return cls.from_predictions(
            y,
            dist,
            X=X,
            kind=kind,
            confidence_levels=confidence_levels,
            name=name,
            ax=ax,
            **kwargs,
        )

    @classmethod
    def from_predictions(
        cls,
        y_true,
        mu,
        sigma=None,
        *,
        X=None,
        kind="auto",
        confidence_levels=(0.5, 0.9),
        name=None,
        ax=None,
        **kwargs,
    ):
        """Plot given predictive means and standard deviations.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,) or None
            Observed targets, drawn as points; None draws none.
        mu : array-like of shape (n_samples,), or skbayes.Normal
            Predictive means, or the predictive distribution (then leave
            ``sigma`` out).
        sigma : array-like of shape (n_samples,), default=None
            Predictive standard deviations.
        X : array-like of shape (n_samples,) or (n_samples, 1), default=None
            The input feature, needed for ``kind="band"``.
        kind : {"auto", "band", "ordered"}, default="auto"
            ``"auto"`` is ``"band"`` when ``X`` has one feature, else
            ``"ordered"``.
        confidence_levels : sequence of float, default=(0.5, 0.9)
            Probability masses of the central intervals.
        name : str, default=None
            Legend label of the mean.
        ax : matplotlib Axes, default=None
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : PredictiveBandDisplay
        """
        mu, sigma = _unpack_dist(mu, sigma)
        mu = _as_1d(mu, "mu")
        sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), mu.shape)
        if np.any(sigma < 0) or not np.all(np.isfinite(sigma)):
            raise ValueError("sigma must be finite and non-negative.")
        if y_true is not None:
            y_true = _as_1d(y_true, "y_true")
            if y_true.shape != mu.shape:
                raise ValueError(
                    f"y_true has {y_true.size} values but mu has {mu.size}."
                )
        if kind not in ("auto", "band", "ordered"):
            raise ValueError(f"kind must be 'auto', 'band' or 'ordered'; got {kind!r}.")
        x = None
        if X is not None:
            X_arr = np.asarray(X)
            if X_arr.ndim == 1 or (X_arr.ndim == 2 and X_arr.shape[1] == 1):
                x = X_arr.reshape(-1).astype(np.float64)
                if x.shape != mu.shape:
                    raise ValueError(f"X has {x.size} rows but mu has {mu.size}.")
        if kind == "band" and x is None:
            raise ValueError(
                "kind='band' needs X with a single feature; use kind='ordered' "
                "for several features."
            )
        if kind == "ordered":
            x = None
        display = cls(
            mu=mu,
            sigma=np.array(sigma),
            y_true=y_true,
            x=x,
            confidence_levels=tuple(_check_levels(confidence_levels)),
            estimator_name=name,
        )
        return display.plot(ax=ax, **kwargs)


def _as_1d(values, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"{what} must be 1-D (one output); got shape {arr.shape}. Plot one "
            "output at a time."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"Input {what} contains NaN or infinity.")
    return arr


def _check_levels(levels) -> np.ndarray:
    levels = np.atleast_1d(np.asarray(levels, dtype=np.float64))
    if levels.ndim != 1 or levels.size == 0 or not np.all((levels > 0) & (levels < 1)):
        raise ValueError(
            "confidence_levels must be a non-empty sequence of floats in (0, 1); "
            f"got {levels.tolist()}."
        )
    return levels
