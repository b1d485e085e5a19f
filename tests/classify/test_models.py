"""The stronger classifier options against independent references: the fully convolutional branch
(a NumPy convolution), attention pooling and patches (torch.nn.LSTM on the unpadded sequence),
series z-normalisation (NumPy by hand); padding never changes a result; files and streams."""

import itertools

import numpy as np
import pytest
import torch

from seqlab.classify import ClassifierConfig, ClassifierNet, ClassifierStream, SequenceClassifier
from seqlab.classify.data import znormalize
from seqlab.errors import SeqlabError

LENGTHS = [11, 4, 1, 7]


def _padded(F=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(len(LENGTHS), max(LENGTHS), F, generator=g, dtype=torch.float64)  # (B, T, F)
    for i, n in enumerate(LENGTHS):
        x[i, n:] = 1e3  # garbage in the padding: must never be read
    return x, torch.tensor(LENGTHS)


def _net(**kw):
    torch.manual_seed(0)
    net = ClassifierNet(ClassifierConfig(num_classes=3, input_size=2, hidden_size=4, **kw)).double().eval()
    if net.conv is not None:  # random statistics and affine weights, not the identity of a new layer
        for norm in net.conv.norms:
            C = len(norm.weight)
            norm.running_mean.copy_(torch.randn(C)), norm.running_var.copy_(torch.rand(C) + 0.5)
            with torch.no_grad():
                norm.weight.copy_(torch.randn(C)), norm.bias.copy_(torch.randn(C))
    return net


@pytest.mark.parametrize("fcn, pooling, patch, bidirectional", list(itertools.product(
    [0, 3], ["last", "attention"], [1, 3], [False, True])))
def test_padding_never_changes_the_logits(fcn, pooling, patch, bidirectional):
    net = _net(fcn=fcn, pooling=pooling, patch=patch, bidirectional=bidirectional)
    x, lens = _padded()
    batch = net(x, lens)  # (B, C)
    for i, n in enumerate(LENGTHS):
        torch.testing.assert_close(batch[i], net(x[i : i + 1, :n], lens[i : i + 1])[0], rtol=1e-10, atol=1e-10)


def _conv_reference(x, net):
    """The convolutional branch in NumPy loops: 'same' zero padding ((k-1)//2 before), batch norm
    with the running statistics (evaluation), ReLU; the mean over steps. ``x`` (T, I) unpadded."""
    h = x
    for conv, norm in zip(net.conv.convs, net.conv.norms):
        w = conv.weight.detach().numpy()  # (O, I, k); no bias (the batch norm follows)
        k, T = w.shape[2], len(h)
        y = np.zeros((T, w.shape[0]))  # (T, O)
        for t in range(T):
            for j in range(k):
                s = t + j - (k - 1) // 2
                if 0 <= s < T:
                    y[t] += w[:, :, j] @ h[s]
        mu, var = norm.running_mean.numpy(), norm.running_var.numpy()
        y = (y - mu) / np.sqrt(var + norm.eps) * norm.weight.detach().numpy() + norm.bias.detach().numpy()
        h = np.maximum(y, 0.0)
    return h.mean(0)


def _rnn_reference(net, x, patch):
    """torch.nn.LSTM (the same weights) on the unpadded sequence cut into patches: (T/P, D*H)."""
    T, I = x.shape
    n = -(-T // patch)
    xp = torch.cat([x, torch.zeros(n * patch - T, I, dtype=x.dtype)]).reshape(1, n, patch * I)
    out, (h, _) = net.rnn.to_torch().double()(xp)
    return out[0], h


@pytest.mark.parametrize("patch", [1, 3])
def test_branches_match_independent_references(patch):
    net = _net(fcn=3, pooling="attention", patch=patch, bidirectional=True)
    x, lens = _padded()
    feats = net.features(x, lens)  # (B, D*H + W)
    DH = 8
    v1, v2 = net.attention[0], net.attention[2]
    for i, n in enumerate(LENGTHS):
        out, _ = _rnn_reference(net, x[i, :n], patch)  # (steps, D*H)
        score = torch.tanh(out @ v1.weight.T + v1.bias) @ v2.weight[0]  # (steps,) additive attention
        want = (torch.softmax(score, 0)[:, None] * out).sum(0)
        torch.testing.assert_close(feats[i, :DH], want, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(feats[i, DH:].detach().numpy(), _conv_reference(x[i, :n].numpy(), net),
                                   rtol=1e-9, atol=1e-10)
    # and the patches' last state with pooling 'last'
    net = _net(pooling="last", patch=patch, bidirectional=True)
    feats = net.features(x, lens)
    for i, n in enumerate(LENGTHS):
        _, h = _rnn_reference(net, x[i, :n], patch)
        torch.testing.assert_close(feats[i], h[:, 0].reshape(-1), rtol=1e-10, atol=1e-10)


def test_znormalize_by_hand_and_the_series_model_ignores_scale_and_offset():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 6, 2)) * 5 + 3
    lens = np.array([6, 2, 4])
    x[1, 2:] = 99.0
    z = znormalize(x, lens)
    for i, n in enumerate(lens):
        s = x[i, :n]
        np.testing.assert_allclose(z[i, :n], (s - s.mean(0)) / s.std(0), rtol=1e-5, atol=1e-6)
        assert np.all(z[i, n:] == 0)
    assert np.all(znormalize(np.ones((1, 4, 1)), np.array([4])) == 0)  # a constant series: 0, not NaN
    # normalize='series': a series and an affine copy of it (per channel) get the same prediction
    seqs = [rng.normal(size=(int(n), 2)) for n in rng.integers(5, 12, 20)]
    y = [int(s[:, 0].std() > 1) for s in seqs]
    clf = SequenceClassifier(normalize="series", fcn=3, pooling="attention", hidden_size=4, max_steps=3,
                             epochs=None, verbose=0).fit(seqs, y)
    assert clf.mean_ is None
    moved = [s * np.array([7.0, 0.5]) + np.array([-40.0, 3.0]) for s in seqs]
    np.testing.assert_allclose(clf.predict_proba(moved), clf.predict_proba(seqs), atol=1e-5)


def test_the_budget_is_in_steps_whatever_the_size_of_the_data():
    rng = np.random.default_rng(0)
    for n in (12, 400):
        X = rng.normal(size=(n, 9, 1)).astype(np.float32)
        y = np.arange(n) % 2
        clf = SequenceClassifier(fcn=2, hidden_size=3, epochs=None, max_steps=7, batch_size=4, verbose=0).fit(X, y)
        h = clf.history
        assert h.steps == 7 and h.stopped  # the step limit, less than one epoch for 400 sequences
        assert h.history["lr"][-1] < clf.train_config.lr  # the cosine decay runs over the budget


def test_patience_holds_out_a_validation_split_of_the_training_data_and_keeps_the_best():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 6, 2)).astype(np.float32)
    y = np.arange(40) % 2
    X[y == 1, :, 0] += 1.0
    clf = SequenceClassifier(hidden_size=4, epochs=30, patience=2, validation_split=0.25, lr=0.05, batch_size=8,
                             verbose=0, seed=3).fit(X, y)
    h = clf.history
    assert len(h.history["val_loss"]) == len(h.epoch)  # validated after every epoch
    assert h.best_epoch is not None and h.history["val_loss"][h.best_epoch] == min(h.history["val_loss"])
    # 30 sequences trained (4 steps of 8 per epoch), 10 held out
    assert h.steps == 4 * len(h.epoch)
    with pytest.raises(SeqlabError, match="no validation split"):
        SequenceClassifier(patience=2, verbose=0).fit(X[:2], y[:2])


def test_save_load_and_stream_a_model_with_every_option(tmp_path):
    rng = np.random.default_rng(2)
    seqs = [rng.normal(size=(int(n), 3)) for n in rng.integers(4, 15, 16)]
    y = ["a", "b"] * 8
    clf = SequenceClassifier(fcn=3, pooling="attention", rnn_steps=4, normalize="series", hidden_size=4,
                             bidirectional=False, max_steps=3, epochs=None, verbose=0).fit(seqs, y)
    assert clf.net.config.patch == 4  # ceil(14 / 4)
    path = tmp_path / "m.safetensors"
    clf.save(path)
    back = SequenceClassifier.load(path)
    assert back.net.config == clf.net.config and back.normalize == "series" and back.rnn_steps == 4
    np.testing.assert_allclose(back.predict_proba(seqs), clf.predict_proba(seqs), atol=1e-6)
    stream = ClassifierStream(back)  # the whole prefix is rerun: conv, attention, patches, series
    s = seqs[3]
    for t in (2, 5, len(s)):
        p = stream.update(s[t - 2 if t == 2 else (2 if t == 5 else 5) : t])
        np.testing.assert_allclose(p, back.predict_proba([s[:t]])[0], atol=1e-6)


@pytest.mark.parametrize("kw, match", [
    (dict(fcn=-1), "fcn"), (dict(fcn=1.5), "fcn"), (dict(rnn_steps=0), "rnn_steps"),
    (dict(normalize="minmax"), "normalize"), (dict(max_steps=0), "max_steps"), (dict(patience=0), "patience"),
    (dict(patience=2, validation_split=1.0), "validation_split"),
    (dict(epochs=None, max_steps=None), "set at least one limit"),
])
def test_bad_options_are_errors_at_fit(kw, match):
    X, y = np.zeros((6, 3, 1)), [0, 1] * 3
    with pytest.raises(SeqlabError, match=match):
        SequenceClassifier(verbose=0, **kw).fit(X, y)


def test_numpy_reference_refuses_a_training_checkpoint(tmp_path):
    """seqlab.reference runs every option of the network (the convolutional branch, patches,
    attention and series normalisation it once refused: tests/reference/test_models.py runs them
    against torch) and the regressor's file; what it refuses is a training checkpoint of the same
    run, which is no model file, with one line saying what to pass instead."""
    from seqlab.errors import ModelFileError
    from seqlab.reference.models import load

    X, y = np.random.default_rng(0).normal(size=(8, 5, 1)), [0, 1] * 4
    clf = SequenceClassifier(fcn=2, hidden_size=3, epochs=1, verbose=0)
    clf.fit(X, y, checkpoint=tmp_path / "run.ckpt.safetensors")
    clf.save(tmp_path / "m.safetensors")
    assert load(tmp_path / "m.safetensors").conv is not None
    with pytest.raises(ModelFileError, match=r"run.ckpt.safetensors' is a training checkpoint \(kind 'checkpoint'\) "
                                             r"for resuming a run, not a model; seqlab.reference runs the file that "
                                             r"the model's save writes, of kind sequential, forecaster, classifier, "
                                             r"regressor, text-lm, seq2seq$"):
        load(tmp_path / "run.ckpt.safetensors")


def test_masked_batch_norm_equals_torch_batch_norm_on_the_valid_steps():
    from seqlab.classify.model import MaskedBatchNorm

    x, lens = _padded(F=3)  # (B, T, 3), garbage in the padding
    m = (torch.arange(x.shape[1])[None, :] < lens[:, None])[..., None].double()  # (B, T, 1)
    bn = MaskedBatchNorm(3).double()
    ref = torch.nn.BatchNorm1d(3).double()
    with torch.no_grad():
        for p, q in ((bn.weight, ref.weight), (bn.bias, ref.bias)):
            p.copy_(torch.randn(3)), q.copy_(p)
    valid = x[m[..., 0].bool()]  # (sum of lengths, 3): the real steps only
    for _ in range(2):  # training: batch statistics of the valid steps, running statistics updated alike
        out = bn(x, m)
        torch.testing.assert_close(out[m[..., 0].bool()], ref(valid), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(bn.running_mean, ref.running_mean, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(bn.running_var, ref.running_var, rtol=1e-10, atol=1e-12)
    bn.eval(), ref.eval()
    torch.testing.assert_close(bn(x, m)[m[..., 0].bool()], ref(valid), rtol=1e-10, atol=1e-10)
