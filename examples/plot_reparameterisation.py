"""
The reparameterisation trick: gradients through a sample
========================================================

For :math:`a = \\mu + \\sigma \\xi`, :math:`\\xi \\sim N(0, 1)`, backpropagation
through ``a**2`` estimates the gradient of :math:`E[a^2] = \\mu^2 + \\sigma^2`. The
estimates are unbiased, and their spread shrinks with the number of noise draws
:math:`S`.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch

# %%
# Gradient estimates from :math:`S` noise draws
# ---------------------------------------------
# Each of 200 repetitions draws :math:`S` values of :math:`\xi`, forms
# :math:`a = \mu + \sigma \xi` and backpropagates the sample mean of :math:`a^2`.

gen = torch.Generator().manual_seed(0)  # never the global torch seed
mu0, sigma0, n_rep = 0.5, 1.0, 200
sizes = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])
grads = np.empty((len(sizes), n_rep, 2))
for i, s in enumerate(sizes):
    mu = torch.full((n_rep, 1), mu0, requires_grad=True)
    sigma = torch.full((n_rep, 1), sigma0, requires_grad=True)
    xi = torch.randn(n_rep, int(s), generator=gen)
    a = mu + sigma * xi  # reparameterised samples, one row per repetition
    (a**2).mean(dim=1).sum().backward()
    grads[i, :, 0] = mu.grad[:, 0].numpy()
    grads[i, :, 1] = sigma.grad[:, 0].numpy()

# %%
# The estimates are unbiased (their mean sits on the exact gradients :math:`2\mu` and
# :math:`2\sigma`) and their spread shrinks as :math:`1/\sqrt{S}`.

fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), constrained_layout=True)
for k, (ax, name, exact) in enumerate(
    zip(axes, [r"\mu", r"\sigma"], [2 * mu0, 2 * sigma0])
):
    lo, hi = np.percentile(grads[:, :, k], [5, 95], axis=1)
    ax.fill_between(sizes, lo, hi, alpha=0.3, label="central 90% of estimates")
    ax.plot(sizes, grads[:, :, k].mean(axis=1), "o-", label="mean of estimates")
    ax.axhline(exact, color="k", ls="--", label=f"exact: ${exact:g}$")
    ax.set(
        xscale="log",
        xlabel="noise draws S",
        ylabel=rf"$\partial E[a^2] / \partial {name}$",
        title=rf"gradient with respect to ${name}$",
    )
    ax.legend(fontsize=8)
plt.show()
