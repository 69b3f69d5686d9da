"""
Predicting distributions: a network whose noise depends on the input
====================================================================

On :func:`skbayes.datasets.make_heteroscedastic` data (noise std ``0.1 + 0.3 |x|``),
a linear model can only say "plus or minus the same amount everywhere". The
:class:`skbayes.StochasticMLPRegressor` predicts a mean *and* a standard deviation
that follows the true noise, split into its aleatoric (noise) and epistemic (model)
parts.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.preprocessing import SplineTransformer

from skbayes import GaussianLinearRegression, StochasticMLPRegressor
from skbayes.datasets import heteroscedastic_mean, make_heteroscedastic

# %%
# Data whose noise grows with :math:`|x|`
# ---------------------------------------

X, y = make_heteroscedastic(1000, random_state=0)
grid = np.linspace(-3, 3, 300)[:, None]
true_mean = heteroscedastic_mean(grid[:, 0])
true_std = 0.1 + 0.3 * np.abs(grid[:, 0])
z90 = 1.645

# %%
# Two models
# ----------
# "Before": a Bayesian linear model on a spline basis, one noise level for all x.
splines = SplineTransformer(n_knots=8).fit(X)
linear = GaussianLinearRegression().fit(splines.transform(X), y)
lin = linear.predict_dist(splines.transform(grid))

# "After": the stochastic MLP predicts a distribution for every x.
mlp = StochasticMLPRegressor(
    hidden_layer_sizes=(32,), learning_rate_init=1e-2, max_iter=300, random_state=0
).fit(X, y)
dist = mlp.predict_dist(grid)

# %%
# Predictive bands and standard deviations
# ----------------------------------------
# The linear model's band has one width everywhere; the network's follows the true
# 90% band (dashed), and its standard deviation splits into an aleatoric and an
# epistemic part.

fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), constrained_layout=True)
for ax, d, title in [
    (axes[0], lin, "GaussianLinearRegression (splines): one sigma"),
    (axes[1], dist, "StochasticMLPRegressor: sigma(x)"),
]:
    lo, hi = d.interval(0.9)
    ax.scatter(X[:, 0], y, s=3, color="grey", alpha=0.4, label="data")
    ax.fill_between(grid[:, 0], lo, hi, color="C0", alpha=0.3, label="90% predictive")
    ax.plot(grid[:, 0], d.mean, color="C0", label="predictive mean")
    ax.plot(grid[:, 0], true_mean - z90 * true_std, "k--", lw=1, label="true 90%")
    ax.plot(grid[:, 0], true_mean + z90 * true_std, "k--", lw=1)
    ax.set(xlabel="x", ylabel="y", title=title)
axes[0].legend(fontsize=8, loc="upper left")

ax = axes[2]
ax.plot(grid[:, 0], true_std, "k--", label="true noise std")
ax.plot(grid[:, 0], dist.std, color="C0", lw=2, label="predicted std (total)")
ax.plot(grid[:, 0], dist.aleatoric_std, color="C1", label="aleatoric part")
ax.plot(grid[:, 0], dist.epistemic_std, color="C2", label="epistemic part")
ax.plot(grid[:, 0], lin.std, color="C3", ls=":", label="linear model's std")
ax.set(xlabel="x", ylabel="standard deviation", title="What the models say about noise")
ax.legend(fontsize=8, loc="upper center")
plt.show()
