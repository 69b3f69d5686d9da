"""(Quasi-)complete separation: when the logistic likelihood has no maximum.

The maximum-likelihood estimate of logistic (softmax) regression is finite
exactly when no direction of the parameters moves every training row's
margin the right way or leaves it unchanged, with at least one strictly
improved (Albert & Anderson 1984). That is a linear programme: maximise the
summed margins ``Σ_i Σ_{k≠y_i} (θ_{y_i} - θ_k)ᵀ x̃_i`` over a box
``|θ| ≤ 1`` subject to every margin ``≥ 0``. The data are (quasi-)completely
separated when its optimum is positive.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog


def is_separable(X, target: np.ndarray, n_rows: int, fit_intercept: bool) -> bool:
    """Whether rows ``X`` with labels ``target`` are (quasi-)completely separated.

    ``target`` holds 0/1 floats for ``n_rows == 1`` (binary), class codes
    otherwise; rows with zero weight should be left out by the caller.
    """
    Xd = X.toarray() if sp.issparse(X) else np.asarray(X)
    n = Xd.shape[0]
    scale = np.max(np.abs(Xd), axis=0)
    Xd = Xd / np.where(scale > 0, scale, 1.0)  # the LP's tolerances are absolute
    if fit_intercept:
        Xd = np.hstack([Xd, np.ones((n, 1))])
    D = Xd.shape[1]
    if n_rows == 1:
        # margin_i = (2 y_i - 1) x̃_iᵀ θ
        M = (2.0 * target - 1.0)[:, None] * Xd
    else:
        y = target.astype(int)
        K = n_rows
        rows = []
        for k in range(K):
            keep = y != k
            block = np.zeros((int(keep.sum()), K, D))
            idx = np.arange(block.shape[0])
            block[idx, y[keep], :] += Xd[keep]
            block[:, k, :] -= Xd[keep]
            rows.append(block.reshape(-1, K * D))
        M = np.vstack(rows)
    if M.shape[0] == 0:
        return False
    res = linprog(
        -M.sum(axis=0),
        A_ub=-M,
        b_ub=np.zeros(M.shape[0]),
        bounds=[(-1.0, 1.0)] * M.shape[1],
        method="highs",
    )
    return bool(res.status == 0 and -res.fun > 1e-7 * M.shape[0])
