"""
Choosing the prior scale: cross-validation versus the evidence
==============================================================

For a grid of ``prior_scale`` values: the log marginal likelihood (evidence) per
sample of the fit on all the data, and the 5-fold cross-validated score (Gaussian
NLL for the regression, log-loss for the classifier). The scale
``prior_scale="auto"`` finds by maximising the evidence is marked.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import cross_val_score
from sklearn.preprocessing import StandardScaler

from skbayes import BayesianLogisticRegression, GaussianLinearRegression
from skbayes.metrics import neg_gaussian_nll_scorer

# %%
# Two problems and their grids of scales
# --------------------------------------

problems = [
    (
        "GaussianLinearRegression, diabetes",
        GaussianLinearRegression,
        load_diabetes(return_X_y=True),
        np.logspace(0, 4, 17),
        neg_gaussian_nll_scorer,
        "CV Gaussian NLL",
    ),
    (
        "BayesianLogisticRegression, breast cancer",
        BayesianLogisticRegression,
        load_breast_cancer(return_X_y=True),
        np.logspace(-2.5, 1.5, 17),
        "neg_log_loss",
        "CV log-loss",
    ),
]

# %%
# Evidence and cross-validation over the grid
# -------------------------------------------
# The solid line marks the scale that ``prior_scale="auto"`` finds, the dotted one the
# best scale on the grid by cross-validation.

fig, axes = plt.subplots(1, 2, figsize=(12, 3.9), constrained_layout=True)
for ax, (title, Est, (X, y), scales, scoring, cv_label) in zip(axes, problems):
    if Est is BayesianLogisticRegression:
        X = StandardScaler().fit_transform(X)
    evidence = [
        Est(prior_scale=s).fit(X, y).log_marginal_likelihood_ / len(y) for s in scales
    ]
    cv_loss = [
        -cross_val_score(Est(prior_scale=s), X, y, cv=5, scoring=scoring).mean()
        for s in scales
    ]
    auto = Est(prior_scale="auto").fit(X, y).prior_scale_

    ax.semilogx(scales, evidence, "o-", color="C0", label="log evidence / n")
    ax.set(xlabel="prior_scale", title=title)
    ax.set_ylabel("log evidence per sample (higher is better)", color="C0")
    ax2 = ax.twinx()
    ax2.semilogx(scales, cv_loss, "s--", color="C1", label=cv_label)
    ax2.set_ylabel(f"{cv_label} (lower is better)", color="C1")
    ax2.axvline(scales[int(np.argmin(cv_loss))], color="C1", ls=":", lw=1.5)
    ax.axvline(auto, color="C0", lw=1.5)
    ax.annotate(
        f'"auto": {auto:.3g}',
        (auto, 0.5),
        xycoords=("data", "axes fraction"),
        xytext=(4, 0),
        textcoords="offset points",
        color="C0",
    )
    lines = ax.get_lines()[:1] + ax2.get_lines()[:1]
    ax.legend(
        lines,
        [line.get_label() for line in lines],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=2,
        fontsize=8,
    )
plt.show()
