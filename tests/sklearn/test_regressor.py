"""SequenceRegressor: the classifier's network and task with a squared-error head (issue #16)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqlab.classify import ClassifierConfig, ClassifierNet, RegressionTask, SequenceRegressor
from seqlab.classify.regressor import r2_score
from seqlab.errors import SeqlabError

FAST = dict(cell="gru", hidden_size=16, epochs=None, max_steps=300, batch_size=32, lr=0.01, threads=1, verbose=0,
            device="cpu")


def _sums(n, seed):
    """Univariate sequences of 5-12 steps; targets: their sum and their last value."""
    rng = np.random.default_rng(seed)
    X = [rng.normal(size=int(rng.integers(5, 13))).astype(np.float32) for _ in range(n)]
    Y = np.array([[x.sum(), x[-1]] for x in X])
    return X, Y


def test_r2_score_matches_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    assert r2_score(y, p) == pytest.approx(metrics.r2_score(y, p))
    assert r2_score(y[:, 0], p[:, 0]) == pytest.approx(metrics.r2_score(y[:, 0], p[:, 0]))
    const = np.ones(5)
    assert r2_score(const, const) == metrics.r2_score(const, const) == 1.0
    assert r2_score(const, const + 1) == metrics.r2_score(const, const + 1) == 0.0


def test_regression_task_loss_is_torch_mse():
    torch.manual_seed(0)
    net = ClassifierNet(ClassifierConfig(num_classes=2, input_size=1, cell="gru", hidden_size=5))
    x = torch.randn(6, 4, 1)
    lengths = torch.tensor([4, 2, 3, 4, 1, 4])
    y = torch.randn(6, 2)
    task = RegressionTask(net, x, lengths, y, batch_size=6)
    (xb, lb, yb, norm), = list(task.batches(0, torch.Generator().manual_seed(0)))
    loss, weight = task.training_step(net, (xb, lb, yb, norm))
    assert weight == 6
    torch.testing.assert_close(loss, F.mse_loss(net(xb, lb), yb))  # mean over sequences and outputs


def test_learns_the_sum_and_last_value_of_sequences_of_varying_length():
    X, Y = _sums(400, 0)
    Xt, Yt = _sums(100, 1)
    reg = SequenceRegressor(**FAST)
    assert reg.fit(X, Y) is reg
    pred = reg.predict(Xt)
    assert pred.shape == (100, 2) and pred.dtype == np.float64 and reg.n_outputs_ == 2
    mean_r2 = r2_score(Yt, np.broadcast_to(Y.mean(0), Yt.shape))  # the training mean: about 0 or below
    assert mean_r2 < 0.05
    assert reg.score(Xt, Yt) > 0.9  # far above the mean predictor
    assert reg.score(Xt, Yt) == pytest.approx(r2_score(Yt, pred))
    one = SequenceRegressor(**FAST).fit(X, Y[:, 0])  # a 1-D target gives 1-D predictions
    assert one.predict(Xt).shape == (100,)
    assert one.score(Xt, Yt[:, 0]) > 0.9


def test_padded_3d_and_2d_inputs_read_as_the_list_of_sequences():
    X, Y = _sums(40, 2)
    equal = np.stack([x[:5] for x in X])  # (N, 5): univariate sequences of five steps
    y = equal.sum(1)
    settings = {**FAST, "max_steps": 20}
    a = SequenceRegressor(**settings).fit(equal, y).predict(equal)
    b = SequenceRegressor(**settings).fit(equal[:, :, None], y).predict(list(equal))
    np.testing.assert_allclose(a, b, atol=1e-6)
    T = max(len(x) for x in X)
    padded = np.zeros((len(X), T, 1), np.float32)
    for i, x in enumerate(X):
        padded[i, : len(x), 0] = x
    lengths = np.array([len(x) for x in X])
    c = SequenceRegressor(**settings).fit(X, Y)
    np.testing.assert_allclose(c.predict(padded, lengths), c.predict(X), atol=1e-6)


def test_bad_targets_and_inputs_are_refused_with_the_argument_named():
    X, Y = _sums(10, 3)
    with pytest.raises(SeqlabError, match="y: got 9 targets for 10 sequences"):
        SequenceRegressor(**FAST).fit(X, Y[:9])
    with pytest.raises(SeqlabError, match="y: target 2 is NaN"):
        SequenceRegressor(**FAST).fit(X, np.where(np.arange(10) == 2, np.nan, 1.0))
    with pytest.raises(SeqlabError, match="reads numeric sequences, got texts"):
        SequenceRegressor(**FAST).fit(["a b", "c"], [1.0, 2.0])
    reg = SequenceRegressor(**{**FAST, "max_steps": 2}).fit(X, Y)
    with pytest.raises(SeqlabError, match="X: the model expects 1 feature"):
        reg.predict(np.zeros((2, 3, 2)))
    with pytest.raises(SeqlabError, match="Reshape your data"):
        reg.predict(np.zeros(4))


def test_patience_holds_out_a_split_and_keeps_the_best_epoch():
    X, Y = _sums(60, 4)
    reg = SequenceRegressor(**{**FAST, "max_steps": None, "epochs": 6, "patience": 2, "validation_split": 0.2})
    reg.fit(X, Y[:, 0])
    h = reg.history_
    assert len(h.history["val_loss"]) == len(h.epoch)
    assert h.history["val_loss"][h.best_epoch] == min(h.history["val_loss"])


def test_save_load_predicts_the_same(tmp_path):
    from seqlab.classify import SequenceClassifier
    from seqlab.errors import ModelFileError

    X, Y = _sums(30, 5)
    X = [np.stack([x, x ** 2], 1) for x in X]  # two features per step
    for y, normalize in ((Y, "feature"), (Y[:, 0], "series")):
        reg = SequenceRegressor(**{**FAST, "max_steps": 5, "normalize": normalize, "fcn": 2}).fit(X, y)
        reg.save(tmp_path / "r.safetensors")
        back = SequenceRegressor.load(tmp_path / "r.safetensors")
        np.testing.assert_allclose(back.predict(X), reg.predict(X), atol=1e-6)
        runtime = dict(device="auto", verbose=1, threads=0)  # not recorded: the defaults come back
        assert back.predict(X).shape == y.shape and back.get_params() == {**reg.get_params(), **runtime}
    with pytest.raises(ModelFileError, match="holds a 'regressor' model, expected a 'classifier' model"):
        SequenceClassifier.load(tmp_path / "r.safetensors")
