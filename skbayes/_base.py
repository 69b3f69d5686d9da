"""Pieces shared by the estimators' public methods."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin

# Where the API pages are published; the stubs are docs/generated/skbayes.<Name>.rst.
DOC_LINK_TEMPLATE = (
    "https://skbayes.readthedocs.io/en/latest/generated/skbayes.{estimator_name}.html"
)


class DocLinkMixin:
    """The "?" link of the HTML repr points at the estimator's skbayes API page.

    scikit-learn's ``BaseEstimator`` builds the link from ``_doc_link_module``,
    ``_doc_link_template`` and ``_doc_link_url_param_generator``; its default would
    link to scikit-learn's site. The public estimators are documented under the root
    package (``skbayes.<Name>``), whichever private module defines them.
    """

    _doc_link_module = "skbayes"
    _doc_link_template = DOC_LINK_TEMPLATE

    def _doc_link_url_param_generator(self) -> dict[str, str]:
        return {"estimator_name": type(self).__name__}


class PredictiveRegressorMixin(DocLinkMixin, RegressorMixin):
    """``predict`` and ``sample_y`` on top of a ``predict_dist`` method.

    ``predict(X, return_std=True)`` mirrors scikit-learn's
    ``BayesianRidge`` and ``GaussianProcessRegressor``.
    """

    def predict(self, X, return_std=False):
        """Predictive mean, and optionally its standard deviation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_std : bool, default=False
            Also return the predictive standard deviation (noise included).

        Returns
        -------
        y_mean : ndarray of shape (n_samples,)
        y_std : ndarray of shape (n_samples,)
            Only when ``return_std`` is True.
        """
        dist = self.predict_dist(X)
        if return_std:
            return dist.mean, dist.std
        return dist.mean

    def sample_y(self, X, n_samples=1, random_state=None):
        """Draw targets from the predictive distribution.

        Each row is drawn from its own predictive marginal.

        Parameters
        ----------
        X : array-like of shape (n_samples_X, n_features)
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        y_samples : ndarray of shape (n_samples_X, n_samples)
            Same layout as :meth:`sklearn.gaussian_process.
            GaussianProcessRegressor.sample_y`.
        """
        return self.predict_dist(X).sample(n_samples, random_state=random_state).T


class PredictiveClassifierMixin(DocLinkMixin, ClassifierMixin):
    """``predict`` as the most probable class under ``predict_proba``.

    ``predict`` takes the row-wise argmax of ``_class_scores``: the
    probabilities by default; a model that computes log probabilities
    directly returns those, so the argmax skips a round trip through ``exp``
    (which could merge two near-tied classes).
    """

    def _class_scores(self, X):
        """Per-row scores ordered as the class probabilities, ``(n, n_classes)``."""
        return self.predict_proba(X)

    def predict(self, X):
        """Most probable class under :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        scores = self._class_scores(X)
        return self.classes_[np.argmax(scores, axis=1)]
