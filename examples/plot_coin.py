"""
A coin flipped twice: maximum likelihood versus a Beta prior
============================================================

Two flips, two heads: the maximum likelihood estimate says P(heads) = 1. A Beta(2,
2) prior turns the two flips into a posterior Beta(4, 2), whose mode (MAP) is 3/4
and whose mean, the probability that the next flip lands heads, is 2/3. On the
right, the posterior of a coin with P(heads) = 0.7 narrows as the flips accumulate.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

# %%
# Prior, likelihood and posterior
# -------------------------------
# The Beta prior is conjugate to the coin's Bernoulli likelihood: the posterior adds
# the heads and tails to the prior's two parameters.

p = np.linspace(0, 1, 501)
prior_a, prior_b, heads, tails = 2, 2, 2, 0
prior = stats.beta(prior_a, prior_b)
posterior = stats.beta(prior_a + heads, prior_b + tails)
likelihood = p**heads * (1 - p) ** tails
likelihood = likelihood / np.trapezoid(likelihood, p)  # rescaled to unit area

# %%
# More flips
# ----------
# The posterior of a coin with P(heads) = 0.7 after 2, 10, 50 and 200 flips, drawn on
# the right beside the two-flip picture on the left.

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
ax0.plot(p, prior.pdf(p), "--", color="grey", label="prior Beta(2, 2)")
ax0.plot(p, likelihood, ":", color="C1", lw=2, label="likelihood $p^2$ (rescaled)")
ax0.plot(p, posterior.pdf(p), color="C0", lw=2, label="posterior Beta(4, 2)")
ax0.axvline(1.0, color="C1", lw=1)
ax0.axvline(0.75, color="C0", lw=1)
ax0.axvline(posterior.mean(), color="C0", lw=1, ls="--")
ymax = ax0.get_ylim()[1]
ax0.text(0.97, 0.97 * ymax, "MLE = 1", ha="right", va="top", color="C1")
ax0.text(0.74, 0.80 * ymax, "MAP = 3/4", ha="right", color="C0")
ax0.text(0.65, 0.65 * ymax, "mean = 2/3", ha="right", color="C0")
ax0.set(xlabel="P(heads) = p", ylabel="density", title="Two flips, two heads")
ax0.legend(loc="upper left", fontsize=8)

rng = np.random.default_rng(3)
flips = rng.random(200) < 0.7
for i, n in enumerate([2, 10, 50, 200]):
    h = int(flips[:n].sum())
    post = stats.beta(prior_a + h, prior_b + n - h)
    ax1.plot(
        p,
        post.pdf(p),
        color=plt.cm.viridis(0.85 * i / 3),
        label=f"{n} flips, {h} heads",
    )
ax1.axvline(0.7, color="k", ls=":", lw=1, label="true p = 0.7")
ax1.set(xlabel="P(heads) = p", ylabel="posterior density", title="More flips")
ax1.legend(fontsize=8)
plt.show()
