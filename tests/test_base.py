"""The shared pieces of the estimators' public methods (skbayes._base)."""

import numpy as np

from skbayes._base import PredictiveClassifierMixin


class _Stub(PredictiveClassifierMixin):
    classes_ = np.array(["a", "b", "c"])

    def predict_proba(self, X):
        return np.asarray(X, dtype=float)


class _LogStub(_Stub):
    def _class_scores(self, X):
        return np.log(self.predict_proba(X))


def test_predict_is_the_most_probable_class():
    proba = np.array([[0.2, 0.5, 0.3], [0.6, 0.2, 0.2], [0.1, 0.1, 0.8]])
    for est in (_Stub(), _LogStub()):
        np.testing.assert_array_equal(est.predict(proba), ["b", "a", "c"])


def test_predict_uses_class_scores():
    class Scores(_Stub):
        def _class_scores(self, X):
            return -np.asarray(X, dtype=float)  # least probable, to tell them apart

    proba = np.array([[0.2, 0.5, 0.3]])
    np.testing.assert_array_equal(Scores().predict(proba), ["a"])
