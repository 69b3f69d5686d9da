"""
Knowing what it does not know: uncertainty away from the data
=============================================================

A network trained on :math:`x \\in [-3, 3]` is asked about :math:`x \\in [-10, 10]`.
A single :class:`skbayes.StochasticMLPRegressor` (``n_estimators=1``) is as sure of
itself far away as inside the data: the spread from its activation noise does not grow
off the data. The default, ``n_estimators=5`` anchored members, trains five networks at
once, each pulled towards its own random draw from the prior (anchored ensembling,
Pearce et al. 2020). Where the data pin the function down the members agree; away from
the data each keeps its own random function, so they disagree and the epistemic part of
the predictive std grows.

ReLU networks extrapolate linearly. The band therefore covers targets that keep their
trend outside the data (a line, :math:`|x|`), but no method of this kind can know that a
sine keeps oscillating: there it only says, correctly, that it is unsure.
"""

import matplotlib.pyplot as plt
import numpy as np

from skbayes import StochasticMLPRegressor

# %%
# Data on a bounded range, questions far outside it
# -------------------------------------------------

rng = np.random.RandomState(0)
X = rng.uniform(-3, 3, size=(500, 1))
noise = 0.2 * rng.randn(500)
targets = {"linear": lambda x: x, "|x|": np.abs, "sin": np.sin}
grid = np.linspace(-10, 10, 400)[:, None]
inside = np.abs(grid[:, 0]) <= 3
far = np.abs(grid[:, 0]) >= 6

# %%
# One network and an anchored ensemble of five, both with the defaults otherwise
# ------------------------------------------------------------------------------

fig, axes = plt.subplots(2, 3, figsize=(14, 7), sharex=True, constrained_layout=True)
for col, (name, f) in enumerate(targets.items()):
    y = f(X[:, 0]) + noise
    for row, n_estimators in enumerate([1, 5]):
        est = StochasticMLPRegressor(n_estimators=n_estimators, random_state=0)
        dist = est.fit(X, y).predict_dist(grid)
        lo, hi = dist.interval(0.95)
        ratio = np.median(dist.epistemic_std[far]) / np.median(
            dist.epistemic_std[inside]
        )
        truth = f(grid[:, 0])
        covered = np.mean((lo[far] <= truth[far]) & (truth[far] <= hi[far]))
        ax = axes[row, col]
        ax.axvspan(-3, 3, color="grey", alpha=0.08, lw=0)
        ax.scatter(X[:, 0], y, s=3, color="grey", alpha=0.4)
        ax.plot(grid[:, 0], truth, "k--", lw=1, label="true function")
        ax.fill_between(grid[:, 0], lo, hi, color="C0", alpha=0.3, label="95% band")
        ax.plot(grid[:, 0], dist.mean, color="C0", label="predictive mean")
        ax.set_title(
            f"{name}, n_estimators={n_estimators}\nepistemic std far/inside "
            f"{ratio:.1f}x, 95% coverage far away {covered:.0%}",
            fontsize=9,
        )
        ax.set_ylim(-12, 12)
        print(
            f"{name:6s} n_estimators={n_estimators}: far/inside epistemic std "
            f"{ratio:4.1f}x, 95% coverage of the truth at |x| >= 6: {covered:.0%}"
        )
axes[0, 0].legend(fontsize=8, loc="upper left")
for ax in axes[1]:
    ax.set_xlabel("x (data in the shaded range)")
plt.show()
