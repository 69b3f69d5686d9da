"""StochasticMLPClassifier: probabilities, labels, weights, partial_fit."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

torch = pytest.importorskip("torch")

from skbayes import StochasticMLPClassifier  # noqa: E402
from skbayes.nn._base import _noise_bank  # noqa: E402


def _small(**kw):
    params = dict(
        hidden_layer_sizes=(16,),
        max_iter=20,
        n_predict_samples=16,
        early_stopping=False,
        random_state=0,
    )
    params.update(kw)
    return StochasticMLPClassifier(**params)


def _fit(est, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kw)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    return X, names


def test_predict_proba_is_mean_softmax_over_the_bank(iris):
    X, y = iris
    est = _fit(_small(predict_method="mc"), X, y)
    proba = est.predict_proba(X)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)
    # Direct computation: scale X, run every draw of the bank, average softmax.
    Xs = torch.tensor((X - est._x_scaling.mean) / est._x_scaling.scale)
    bank = _noise_bank(est._seeds.predict, 16, est.module_, torch.float64)
    with torch.no_grad():
        out = est.module_(Xs, bank, torch.float64)
    ref = torch.softmax(out, -1).mean((0, 1)).numpy()
    np.testing.assert_allclose(proba, ref, rtol=1e-12)
    # The averaging moderates: less confident than the mean draw's logits.
    with torch.no_grad():
        plug = torch.softmax(out.mean((0, 1)), -1).numpy()
    assert proba.max(1).mean() < plug.max(1).mean()
    np.testing.assert_array_equal(est.predict(X), est.classes_[proba.argmax(1)])
    np.testing.assert_allclose(est.predict_log_proba(X), np.log(proba))


@pytest.mark.parametrize("method", ["moments", "mc"])
def test_string_labels_and_rows_independent_of_batch(iris, method):
    X, y = iris
    # mc: many draws split the rows into several prediction chunks.
    est = _fit(
        _small(n_predict_samples=3000, max_iter=100, predict_method=method), X, y
    )
    np.testing.assert_array_equal(est.classes_, ["setosa", "versicolor", "virginica"])
    assert est.score(X, y) > 0.9
    full = est.predict_proba(X)  # several prediction chunks
    perm = np.random.RandomState(0).permutation(150)
    np.testing.assert_allclose(est.predict_proba(X[perm]), full[perm], rtol=1e-12)
    np.testing.assert_allclose(est.predict_proba(X[7:8]), full[7:8], rtol=1e-12)
    np.testing.assert_array_equal(est.predict_proba(X), full)


@pytest.mark.parametrize("hidden", [(16,), (16, 16)])
def test_moments_match_many_draw_monte_carlo(iris, hidden):
    # Reference: the mean softmax over S = 20,000 draws, standard error at
    # most 0.5/sqrt(S) = 0.0035; the propagation was measured within 2e-3
    # of it on iris (three classes, sigma points).
    X, y = iris
    est = _fit(_small(hidden_layer_sizes=hidden), X, y)
    proba = est.predict_proba(X[::5])
    ref = est.set_params(predict_method="mc", n_predict_samples=20_000)
    np.testing.assert_allclose(proba, ref.predict_proba(X[::5]), atol=0.012)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)


def test_moments_match_monte_carlo_binary():
    # Two classes take the probit approximation of the logit difference;
    # measured within 5e-3 of 20,000 draws on breast_cancer.
    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[::4], y[::4]
    est = _fit(_small(), X, y)
    proba = est.predict_proba(X[:40])
    ref = est.set_params(predict_method="mc", n_predict_samples=20_000)
    np.testing.assert_allclose(proba, ref.predict_proba(X[:40]), atol=0.015)


def test_predict_method_is_validated(iris):
    X, y = iris
    with pytest.raises(InvalidParameterError, match="predict_method"):
        _small(predict_method="sigma").fit(X, y)


def test_binary_and_integer_labels():
    X, y = load_wine(return_X_y=True)
    keep = y < 2
    est = _fit(_small(), X[keep], y[keep] + 10)
    np.testing.assert_array_equal(est.classes_, [10, 11])
    assert est.predict_proba(X[keep]).shape == (keep.sum(), 2)
    assert est.score(X[keep], y[keep] + 10) > 0.9


def test_class_weight_is_sample_weight(iris):
    X, y = iris
    cw = {"setosa": 3.0, "versicolor": 0.5, "virginica": 1.0}
    a = _fit(_small(class_weight=cw), X, y)
    b = _fit(_small(), X, y, sample_weight=np.vectorize(cw.get)(y))
    # Equal up to the rounding of the weights' product (order of operations).
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-9)
    # "balanced" weights n / (K · count): on unbalanced rows, the same.
    rows = np.r_[0:50, 50:70, 100:150]
    counts = {"setosa": 50, "versicolor": 20, "virginica": 50}
    sw = np.array([len(rows) / (3 * counts[c]) for c in y[rows]])
    a = _fit(_small(class_weight="balanced"), X[rows], y[rows])
    b = _fit(_small(), X[rows], y[rows], sample_weight=sw)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-9)


def test_partial_fit_with_classes(iris):
    X, y = iris
    est = _small(n_iter_no_change=1000)
    with pytest.raises(ValueError, match="classes must be passed"):
        est.partial_fit(X, y)
    assert not hasattr(est, "classes_")
    classes = ["virginica", "setosa", "versicolor"]
    # A first chunk with a single class is fine when the classes are given.
    est.partial_fit(X[:50], y[:50], classes=classes)
    np.testing.assert_array_equal(est.classes_, sorted(classes))
    est.partial_fit(X, y)
    with pytest.raises(ValueError, match="not in classes"):
        est.partial_fit(X[:5], np.array(["other"] * 5))
    with pytest.raises(ValueError, match="not the same"):
        est.partial_fit(X, y, classes=["setosa", "virginica"])
    # Two partial_fit epochs on all rows are two fit epochs.
    a = _small(n_iter_no_change=1000)
    a.partial_fit(X, y, classes=classes)
    a.partial_fit(X, y)
    b = _fit(_small(max_iter=2, n_iter_no_change=1000), X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_early_stopping_on_validation_log_loss(iris):
    X, y = iris
    est = _small(early_stopping=True, max_iter=300, n_iter_no_change=5,
                 n_estimators=1, anchored=False)  # fmt: skip
    est = _fit(est, X, y)
    assert len(est.validation_scores_) == est.n_iter_ < 300
    assert est.best_validation_loss_ == min(est.validation_scores_)
    # The score is the log-loss of predict_proba on the held-out rows, with
    # the weights of the best epoch kept.
    _, val = est._split_indices(y)
    got = log_loss(y[val], est.predict_proba(X[val]), labels=est.classes_)
    np.testing.assert_allclose(got, est.best_validation_loss_, rtol=1e-4)


def test_bad_targets(iris):
    X, y = iris
    with pytest.raises(ValueError, match="Unknown label type"):
        _small().fit(X, np.linspace(0, 1, 150))
    with pytest.raises(ValueError, match="class"):
        _small().fit(X, np.zeros(150))
    sw = (y == "setosa").astype(float)
    with pytest.raises(ValueError, match="class"):
        _small().fit(X, y, sample_weight=sw)


def test_as_good_as_mlpclassifier_on_wine():
    # The benchmark's goal on one of its data sets (benchmarks/bench_nn.py runs
    # digits, wine and breast_cancer): defaults on both sides, in a Pipeline,
    # mean test log-loss over its three stratified splits.
    X, y = load_wine(return_X_y=True)
    scores = {"ours": [], "ref": []}
    for seed in range(3):
        Xtr, Xte, ytr, yte = train_test_split(
            X, y, test_size=0.3, stratify=y, random_state=seed
        )
        ours = make_pipeline(
            StandardScaler(), StochasticMLPClassifier(random_state=seed)
        )
        ref = make_pipeline(StandardScaler(), MLPClassifier(random_state=seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ours.fit(Xtr, ytr)
            ref.fit(Xtr, ytr)
        for key, model in (("ours", ours), ("ref", ref)):
            scores[key].append(
                (
                    log_loss(yte, model.predict_proba(Xte)),
                    accuracy_score(yte, model.predict(Xte)),
                )
            )
    ours, ref = np.mean(scores["ours"], axis=0), np.mean(scores["ref"], axis=0)
    assert ours[0] <= ref[0]
    assert ours[1] >= ref[1] - 0.01


def test_pickle_round_trip(iris):
    import pickle

    X, y = iris
    est = _fit(_small(), X, y)
    est2 = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(est2.predict_proba(X), est.predict_proba(X))
    for e in (est, est2):
        e.set_params(predict_method="mc")
    np.testing.assert_array_equal(est2.predict_proba(X), est.predict_proba(X))
    est.partial_fit(X, y)
    est2.partial_fit(X, y)
    np.testing.assert_array_equal(est2.predict_proba(X), est.predict_proba(X))
