"""
Evaluating predictive uncertainty: bands, interval calibration and PIT
======================================================================

:class:`skbayes.GaussianLinearRegression` on the diabetes data, evaluated on a held-
out quarter with the Displays of :mod:`skbayes.plotting` and the metrics of
:mod:`skbayes.metrics`, beside the same predictions made over-confident on purpose.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

from skbayes import GaussianLinearRegression, Normal
from skbayes.metrics import gaussian_nll, pit, regression_calibration_error
from skbayes.plotting import IntervalCalibrationDisplay, PredictiveBandDisplay

# %%
# A model and an over-confident twin
# ----------------------------------
# The same predictive means, once with the model's standard deviation and once with
# half of it.

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
est = GaussianLinearRegression(prior_scale="auto").fit(X_train, y_train)
dist = est.predict_dist(X_test)
overconfident = Normal(dist.mean, dist.std / 2)

# %%
# Bands, calibration curves and PIT histograms
# --------------------------------------------
# A calibrated model's intervals cover what they claim (its calibration curve follows
# the diagonal) and its PIT values are uniform; the over-confident twin's curve falls
# below the diagonal and its PIT histogram piles up at 0 and 1.

fig, axes = plt.subplots(1, 3, figsize=(15, 4.3), constrained_layout=True)
PredictiveBandDisplay.from_estimator(est, X_test, y_test, ax=axes[0])
axes[0].set_title("Predictive intervals, test set (sorted)")

pits, names = [], []
for i, (d, name) in enumerate(
    [(dist, "GaussianLinearRegression"), (overconfident, "std halved")]
):
    nll = gaussian_nll(y_test, d)
    IntervalCalibrationDisplay.from_predictions(
        y_test, d, name=f"{name}, NLL {nll:.2f}", ref_line=i == 0, ax=axes[1]
    )
    pits.append(pit(y_test, d))
    names.append(f"{name}: error {regression_calibration_error(y_test, d):.3f}")
axes[0].legend(loc="upper left", fontsize=8)
axes[1].legend(loc="upper left", fontsize=8)
axes[2].hist(pits, bins=10, range=(0, 1), label=names)
axes[1].set_title("Interval calibration")
axes[2].axhline(
    len(y_test) / 10, color="k", ls="--", lw=1, label="uniform (calibrated)"
)
axes[2].set(xlabel="PIT value F(y)", ylabel="count", title="PIT histogram")
axes[2].legend(fontsize=8)
plt.show()
