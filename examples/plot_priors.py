"""
Gaussian and Laplace priors: L2 and L1 regularisation
=====================================================

The penalty each prior adds to the negative log posterior, and the coefficient paths
of :class:`skbayes.BayesianLogisticRegression` on the standardised breast cancer
data as ``prior_scale`` grows: the Gaussian prior shrinks smoothly, the Laplace
prior selects.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from skbayes import BayesianLogisticRegression

# %%
# The standardised breast cancer data
# -----------------------------------

X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)
scales = np.logspace(-2.5, 0.5, 13)

# %%
# Penalties and coefficient paths
# -------------------------------
# Left: the penalty :math:`-\log P(w)` each prior adds. Middle and right: the
# coefficients as ``prior_scale`` grows; the Laplace prior sets most of them exactly to
# zero when its scale is small.

fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), constrained_layout=True)
w = np.linspace(-3, 3, 301)
axes[0].plot(w, w**2 / 2, label=r"Gaussian: $w^2 / (2\sigma^2)$ (L2)")
axes[0].plot(w, np.abs(w), label=r"Laplace: $|w| / b$ (L1)")
axes[0].set(
    xlabel="weight w",
    ylabel=r"penalty $-\log P(w)$ + const",
    title="Priors as penalties (scale 1)",
)
axes[0].legend(fontsize=8)

for ax, prior in zip(axes[1:], ["gaussian", "laplace"]):
    paths = np.array(
        [
            BayesianLogisticRegression(prior=prior, prior_scale=s, covariance=None)
            .fit(X, y)
            .coef_.ravel()
            for s in scales
        ]
    )
    ax.semilogx(scales, paths, lw=1)
    n_zero = (paths == 0).sum(axis=1)
    ax.set(
        xlabel="prior_scale",
        ylabel="coefficient",
        title=f'prior="{prior}"'
        + (
            f" ({n_zero[0]} of {X.shape[1]} zero at the left)"
            if prior == "laplace"
            else ""
        ),
    )
    ax.axhline(0, color="k", lw=0.5)
plt.show()
