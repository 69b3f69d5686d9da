"""
Online Bayesian updating with ``partial_fit``
=============================================

:class:`skbayes.GaussianLinearRegression` updates its exact posterior chunk by
chunk. After each chunk we draw the predictive mean, the 90% interval for a new
observation (noise included) and the 90% interval of the regression line (the
epistemic part alone).
"""

import matplotlib.pyplot as plt
import numpy as np

from skbayes import GaussianLinearRegression

# %%
# A noisy straight line, 128 points
# ---------------------------------

rng = np.random.default_rng(0)
n_total, noise = 128, 0.5
x = rng.uniform(-3, 3, n_total)
y = 0.8 * x - 0.5 + noise * rng.standard_normal(n_total)
X = x[:, None]
grid = np.linspace(-4, 4, 200)[:, None]

# %%
# Updating chunk by chunk
# -----------------------
# Each ``partial_fit`` call sees only the new rows. The band of the regression line
# (the epistemic part) shrinks as the data come in; the band for a new observation
# keeps the width of the noise.

est = GaussianLinearRegression(prior="gaussian", prior_scale=1.0, noise_scale=noise)
fig, axes = plt.subplots(1, 4, figsize=(13, 3.3), sharey=True, constrained_layout=True)
seen = 0
for ax, n in zip(axes, [2, 8, 32, 128]):
    est.partial_fit(X[seen:n], y[seen:n])  # only the new rows
    seen = n
    dist = est.predict_dist(grid)
    lo, hi = dist.interval(0.9)
    epistemic = np.sqrt(np.maximum(dist.var - est.noise_std_**2, 0.0))
    half = 1.6449 * epistemic
    ax.fill_between(
        grid[:, 0], lo, hi, color="C0", alpha=0.2, label="90% new observation"
    )
    ax.fill_between(
        grid[:, 0],
        dist.mean - half,
        dist.mean + half,
        color="C0",
        alpha=0.5,
        label="90% regression line",
    )
    ax.plot(grid[:, 0], dist.mean, color="C0", label="predictive mean")
    ax.plot(grid[:, 0], 0.8 * grid[:, 0] - 0.5, "k:", lw=1, label="truth")
    ax.scatter(x[:n], y[:n], s=10, color="k", zorder=3)
    ax.set(title=f"after {n} points", xlabel="x", ylim=(-6, 4))
axes[0].set_ylabel("y")
axes[0].legend(loc="lower right", fontsize=7)
plt.show()
