"""
Moderated probabilities of Bayesian logistic regression
=======================================================

With one feature and 20 points, the posterior of the logit widens away from the
data. The plug-in probability of the MAP estimate becomes certain there; the probit-
moderated probability of :class:`skbayes.BayesianLogisticRegression` does not.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import expit

from skbayes import BayesianLogisticRegression

# %%
# Twenty points, one feature
# --------------------------

rng = np.random.default_rng(1)
x = rng.normal(0.0, 1.0, 20)
y = (rng.random(20) < expit(1.5 * x)).astype(int)
grid = np.linspace(-8, 8, 400)[:, None]

# %%
# The posterior of the logit and two probabilities
# ------------------------------------------------
# ``predict_dist`` gives the Gaussian (variational) posterior of the logit, mean
# :math:`\mu` and standard deviation :math:`s`; ``predict_proba`` averages the
# probability over it, :math:`E[\sigma(f)]` by quadrature, while the plug-in
# probability of the MAP ignores the spread.

clf = BayesianLogisticRegression(prior="gaussian", prior_scale=5.0).fit(x[:, None], y)
mu, s = clf.predict_dist(grid)
moderated = clf.predict_proba(grid)[:, 1]
plug_in = expit(grid @ clf.coef_.T + clf.intercept_)[:, 0]

# %%
# Away from the data the plug-in probability races to 0 and 1; the moderated one
# hedges.

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
ax0.fill_between(
    grid[:, 0], mu - 1.645 * s, mu + 1.645 * s, alpha=0.3, label="90% posterior band"
)
ax0.plot(grid[:, 0], mu, label=r"posterior mean $\mu$ of the logit")
ax0.plot(x, np.zeros_like(x), "|", color="k", ms=12, label="training inputs")
ax0.set(xlabel="x", ylabel="logit f(x)", title="Variational posterior of the logit")
ax0.legend(fontsize=8, loc="upper left")

ax1.plot(grid[:, 0], plug_in, "--", color="C3", label=r"plug-in $\sigma(f_{MAP})$")
ax1.plot(
    grid[:, 0],
    moderated,
    color="C0",
    lw=2,
    label=r"moderated $E[\sigma(f)]$ (quadrature)",
)
ax1.plot(grid[:, 0], expit(1.5 * grid[:, 0]), ":", color="grey", label="truth")
ax1.plot(x[y == 1], np.ones((y == 1).sum()), "|", color="k", ms=12)
ax1.plot(x[y == 0], np.zeros((y == 0).sum()), "|", color="k", ms=12)
ax1.set(xlabel="x", ylabel="P(y = 1 | x)", title="Predictive probability")
ax1.legend(fontsize=8, loc="center right")
plt.show()
