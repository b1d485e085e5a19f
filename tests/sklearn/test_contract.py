"""SequenceClassifier and SequenceRegressor under scikit-learn's estimator contract: arguments kept
as given, get_params / set_params / clone, fit returns self, predict_proba, score, Pipeline and
GridSearchCV (issue #16)."""

import numpy as np
import pytest
import torch

pytest.importorskip("sklearn")

from sklearn.base import clone, is_classifier, is_regressor  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402

from seqlab.classify import SequenceClassifier, SequenceRegressor  # noqa: E402
from seqlab.errors import SeqlabError  # noqa: E402

FAST = dict(cell="gru", hidden_size=8, epochs=None, max_steps=40, batch_size=16, lr=0.03, threads=1, verbose=0,
            device="cpu")


def _rising(n=48, seed=0):
    """Sequences of 6-10 steps; class 1 rises, class 0 falls (noisy)."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for i in range(n):
        T = int(rng.integers(6, 11))
        slope = 1.0 if i % 2 else -1.0
        X.append((slope * np.linspace(0, 1, T) + 0.3 * rng.normal(size=T)).astype(np.float32))
        y.append(i % 2)
    return X, np.array(y)


def test_init_keeps_every_argument_as_given_and_checks_nothing():
    weird = object()
    clf = SequenceClassifier(hidden_size="many", class_weight=weird, cell="nope", batch_size=0)
    params = clf.get_params()
    assert params["hidden_size"] == "many" and params["class_weight"] is weird and params["cell"] == "nope"
    assert params["batch_size"] == 0
    assert not [k for k in vars(clf) if k not in params]  # nothing but the arguments is set
    with pytest.raises(SeqlabError, match="class_weight: expected None, 'balanced' or a mapping"):  # fit checks
        clf.fit(*_rising(8))
    with pytest.raises(SeqlabError, match="cell: expected one of"):
        clf.set_params(class_weight=None).fit(*_rising(8))
    with pytest.raises(SeqlabError, match="hidden_size"):
        SequenceClassifier(hidden_size=0, **{k: v for k, v in FAST.items() if k != "hidden_size"}).fit(*_rising(8))


@pytest.mark.parametrize("cls", [SequenceClassifier, SequenceRegressor])
def test_get_params_set_params_and_clone_round_trip(cls):
    est = cls(**FAST)
    assert est.get_params()["hidden_size"] == 8 and est.get_params()["cell"] == "gru"
    assert est.set_params(hidden_size=4, lr=0.1) is est
    assert est.hidden_size == 4 and est.lr == 0.1 and est.train_config.lr == 0.1
    twin = clone(est)
    assert type(twin) is cls and twin is not est and twin.get_params() == est.get_params()
    with pytest.raises(ValueError, match="Invalid parameter 'hidden'"):
        est.set_params(hidden=3)
    assert is_classifier(SequenceClassifier()) and is_regressor(SequenceRegressor())


def test_clone_of_a_fitted_classifier_is_unfitted_with_equal_params():
    X, y = _rising(16)
    clf = SequenceClassifier(**FAST, class_weight={0: 2.0}).fit(X, y)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()
    assert not hasattr(twin, "classes_") and twin.net is None
    with pytest.raises(SeqlabError, match="not trained yet"):
        twin.predict(X)


def test_fit_returns_self_and_sets_underscore_attributes_only():
    X, y = _rising(24)
    clf = SequenceClassifier(**FAST)
    before = set(vars(clf))
    assert clf.fit(X, y) is clf
    added = set(vars(clf)) - before
    assert added and all(k.endswith("_") or k.startswith("_") for k in added), added
    np.testing.assert_array_equal(clf.classes_, [0, 1])
    assert clf.n_features_in_ == 1  # numbers per step
    assert clf.history is clf.history_ and clf.net is clf.net_  # the names before the contract


def test_predict_proba_is_the_softmax_of_the_network_and_score_is_accuracy():
    X, y = _rising(24)
    y = np.where(y == 1, "up", "down")
    clf = SequenceClassifier(**FAST).fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-12)
    # independent: the network on each sequence alone, scaled with the fitted mean and std
    for i in (0, 5):
        x = torch.from_numpy(((X[i][:, None] - clf.mean_) / clf.std_).astype(np.float32))[None]
        with torch.no_grad():
            want = torch.softmax(clf.net_(x, torch.tensor([len(X[i])])).double(), -1)[0].numpy()
        np.testing.assert_allclose(proba[i], want, atol=1e-6)
    pred = clf.predict(X)
    np.testing.assert_array_equal(pred, np.array(["down", "up"])[proba.argmax(1)])
    assert clf.score(X, y) == pytest.approx(np.mean(pred == y))
    assert clf.score(X, y) > 0.8  # the task is easy: the score is not a constant


def test_continuous_labels_and_column_y_are_handled_as_scikit_learn_does():
    X, y = _rising(16)
    with pytest.raises(SeqlabError, match="continuous"):
        SequenceClassifier(**FAST).fit(X, y + 0.25)
    a = SequenceClassifier(**FAST).fit(X, y).predict_proba(X)
    with pytest.warns(UserWarning, match="A column-vector y was passed"):
        b = SequenceClassifier(**FAST).fit(X, y[:, None]).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_pipeline_with_a_transformer_before_the_classifier():
    X, y = _rising(32)
    X = np.stack([x[:6] for x in X])  # (N, 6): six steps each
    to_diffs = FunctionTransformer(lambda a: np.diff(a, axis=1))  # (N, 5) step-to-step changes
    pipe = make_pipeline(to_diffs, SequenceClassifier(**FAST)).fit(X, y)
    direct = SequenceClassifier(**FAST).fit(np.diff(X, axis=1), y)
    np.testing.assert_allclose(pipe.predict_proba(X), direct.predict_proba(np.diff(X, axis=1)), atol=1e-12)
    assert pipe.score(X, y) == pytest.approx(direct.score(np.diff(X, axis=1), y))


def test_grid_search_over_hidden_size_scores_each_candidate_like_a_hand_written_loop():
    X, y = _rising(32)
    cv = StratifiedKFold(n_splits=2)
    search = GridSearchCV(SequenceClassifier(**FAST), {"hidden_size": [4, 8]}, cv=cv).fit(X, y)
    assert search.best_params_["hidden_size"] in (4, 8)
    assert search.best_estimator_.hidden_size == search.best_params_["hidden_size"]
    assert search.best_estimator_.net_.config.hidden_size == search.best_params_["hidden_size"]
    for k, h in enumerate((4, 8)):
        scores = []
        for train, test in cv.split(np.zeros(len(y)), y):
            clf = SequenceClassifier(**{**FAST, "hidden_size": h}).fit([X[i] for i in train], y[train])
            scores.append(clf.score([X[i] for i in test], y[test]))
        assert search.cv_results_["mean_test_score"][k] == pytest.approx(np.mean(scores))


def test_numpy_scalar_parameters_fit_like_python_numbers_and_stay_as_given(tmp_path):
    """A grid from np.arange / np.linspace gives np.int64 and np.float32 values: fit takes them
    as the equal Python numbers (same model, bit for bit), saves them as JSON, and leaves the
    parameters themselves as given."""
    X, y = _rising(32)
    numpy_params = {**FAST, "hidden_size": np.int64(8), "batch_size": np.int64(16), "lr": np.float32(0.03),
                    "max_steps": np.int32(40), "seed": np.int64(0)}
    a = SequenceClassifier(**numpy_params).fit(X, y)
    b = SequenceClassifier(**{**FAST, "hidden_size": 8, "batch_size": 16, "lr": float(np.float32(0.03)),
                              "max_steps": 40, "seed": 0}).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert type(a.hidden_size) is np.int64 and type(a.lr) is np.float32  # unchanged by fit
    a.save(tmp_path / "a.safetensors")
    assert SequenceClassifier.load(tmp_path / "a.safetensors").net_.config.hidden_size == 8
    search = GridSearchCV(SequenceRegressor(**FAST), {"hidden_size": np.array([4, 8])}, cv=2)
    search.fit(X, y.astype(np.float32))
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def _draws():
    import random
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def _reset(k):
    import random
    random.seed(k)
    np.random.seed(k)
    torch.manual_seed(k)


def test_a_seeded_fit_leaves_the_callers_random_generators_where_they_were():
    """A bootstrap loop around fit draws new samples each time: fit(seed) seeds its own run and
    puts Python's, NumPy's and torch's global generators back (scikit-learn's random_state contract)."""
    X, y = _rising(16)
    _reset(7)
    _draws()
    want = _draws()
    _reset(7)
    _draws()
    SequenceClassifier(**{**FAST, "seed": 0, "max_steps": 3}).fit(X, y)
    assert _draws() == want
    from seqlab import Sequential
    from seqlab.layers import GRU, Dense
    m = Sequential([GRU(3, input_shape=(5, 1)), Dense(1)])  # (building draws initial weights)
    m.compile(loss="mse", optimizer="adam")
    _reset(7)
    _draws()
    m.fit(np.zeros((4, 5, 1), np.float32), np.zeros((4, 1), np.float32), epochs=1, verbose=0, seed=3)
    assert _draws() == want
