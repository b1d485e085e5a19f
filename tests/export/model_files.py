"""Small model files of every kind, with random (or one-epoch) weights, for the export, reference
and streaming tests. Each ``make_*`` writes ``path`` and returns the torch-side object in eval mode."""

from __future__ import annotations

import numpy as np
import torch

FEATURES = 3


def recurrent_layer(cell, units, **kw):
    """The seqlab.layers layer computing registry cell ``cell``."""
    from seqlab import layers as L

    table = {"rnn": (L.SimpleRNN, {}), "rnn-relu": (L.SimpleRNN, {"activation": "relu"}), "lstm": (L.LSTM, {}),
             "lstm-peephole": (L.LSTM, {"peephole": True}), "lstm-ln": (L.LSTM, {"layer_norm": True}),
             "gru": (L.GRU, {}), "gru-reset-before": (L.GRU, {"reset": "before"}),
             "gru-ln": (L.GRU, {"layer_norm": True}), "mingru": (L.MinGRU, {}), "minlstm": (L.MinLSTM, {})}
    cls, extra = table[cell]
    return cls(units, **extra, **kw)


def make_sequential(path, layers):
    from seqlab import Sequential

    model = Sequential(layers)
    model.eval()
    model.save(path)
    return model


def make_forecaster(path, cell="lstm", layers=1, strategy="direct", ensemble=2, covariate=False):
    """A forecaster of the recurrent networks (model 'rnn', pinned: 'auto' may choose the hybrid
    on seasonal data, which :func:`make_hybrid_forecaster` makes), trained one epoch on airline."""
    from seqlab.data import load_airline
    from seqlab.forecast import Forecaster

    data = load_airline()
    if covariate:
        import pandas as pd

        data = pd.DataFrame({"y": data.values, "month": data.index.month.astype(float)}, index=data.index)
        f = Forecaster(horizon=6, cell=cell, hidden=5, layers=layers, strategy=strategy, ensemble=ensemble,
                       model="rnn", epochs=1, seed=0, threads=None, verbose=0)
        f.fit(data, target="y", covariates=["month"])
    else:
        f = Forecaster(horizon=6, cell=cell, hidden=5, layers=layers, strategy=strategy, ensemble=ensemble,
                       model="rnn", epochs=1, seed=0, threads=None, verbose=0).fit(data)
    f.save(str(path))
    return f


def make_hybrid_forecaster(path, cell="lstm", layers=1, ensemble=2, covariate=False, season=None):
    """A hybrid (ES-RNN style) forecaster of a panel of three monthly series (airline, and two
    others of other levels and seasonal shapes), trained one epoch, lookback 12; then random
    biases (:func:`randomize`) and random per-series smoothing logits and initial seasonal indices
    (``es``), so that no two series or seasons compute alike. ``season`` 1 is the non-seasonal
    hybrid. Saved at ``path``."""
    import pandas as pd

    from seqlab.data import load_airline
    from seqlab.forecast import Forecaster

    air = load_airline()
    rng = np.random.default_rng(4)
    n = len(air)
    month = np.arange(n) % 12
    frames = []
    for j, (scale, shape) in enumerate([(1.0, 0.0), (0.3, 1.0), (2.5, -0.5)]):
        y = air.values * scale * (1 + 0.2 * shape * np.sin(2 * np.pi * month / 12)) + rng.normal(0, 5, n) + 50
        frame = pd.DataFrame({"id": f"s{j}", "time": air.index, "y": y})
        if covariate:
            frame["promo"] = rng.normal(size=n)
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    f = Forecaster(horizon=6, cell=cell, hidden=5, layers=layers, ensemble=ensemble, model="hybrid", lookback=12,
                   season=season, epochs=1, seed=0, threads=None, verbose=0, windows_per_epoch=64)
    f.fit(data, target="y", time="time", series_id="id", covariates=["promo"] if covariate else None)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for k, net in enumerate(f.nets):
            randomize(net, k)
            net.es.copy_(torch.randn(net.es.shape, generator=g) * torch.tensor([1.0, 1.0] + [0.2] * (net.es.shape[1] - 2)))
    f.save(str(path))
    return f


def randomize(net, seed=0):
    """Random biases, batch-norm scales and shifts, and batch-norm running statistics (the weights
    keep their random initialisation), so no two units or channels compute alike."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("bias") or ".norms." in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3 + (1.0 if ".norms." in name and name.endswith("weight") else 0.0))
        for name, b in net.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.3)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) * 1.5 + 0.5)
    return net


def make_classifier(path, cell="gru", bidirectional=False, pooling="last", text=False, layers=1, **options):
    """A classifier trained one epoch on 16 random sequences (3 to 8 steps), then random biases
    (:func:`randomize`); ``options`` go to SequenceClassifier (fcn, rnn_steps, normalize...)."""
    from seqlab.classify import SequenceClassifier

    rng = np.random.default_rng(0)
    clf = SequenceClassifier(cell=cell, hidden_size=6, num_layers=layers, bidirectional=bidirectional,
                             pooling=pooling, embedding_dim=4, epochs=1, batch_size=8, threads=None, verbose=0,
                             **options)
    if text:
        words = ["good", "bad", "fine", "awful", "great", "poor", "ok"]
        X = [" ".join(rng.choice(words, rng.integers(2, 7))) for _ in range(16)]
    else:
        X = [rng.normal(size=(int(rng.integers(3, 9)), FEATURES)).astype(np.float32) for _ in range(16)]
    y = ["a" if i % 2 else "b" for i in range(16)]
    clf.fit(X, y)
    randomize(clf.net)
    clf.save(path)
    clf.net.eval()
    return clf


def make_regressor(path, outputs=1, cell="gru", bidirectional=False, pooling="last", layers=1, **options):
    """A SequenceRegressor trained one epoch on 16 random sequences (3 to 8 steps) with targets
    far from 0 and 1 (mean about 50, scale about 20, per output), then random biases
    (:func:`randomize`), saved by ``SequenceRegressor.save``; ``outputs`` = 1 fits y (N,), more
    fits y (N, k). ``options`` go to SequenceRegressor (fcn, rnn_steps, normalize...)."""
    from seqlab.classify import SequenceRegressor

    rng = np.random.default_rng(10)
    reg = SequenceRegressor(cell=cell, hidden_size=6, num_layers=layers, bidirectional=bidirectional,
                            pooling=pooling, epochs=1, batch_size=8, threads=None, verbose=0, **options)
    X = [rng.normal(size=(int(rng.integers(3, 9)), FEATURES)).astype(np.float32) for _ in range(16)]
    y = 50 + 20 * rng.normal(size=(16, outputs)) * np.arange(1, outputs + 1)
    reg.fit(X, y[:, 0] if outputs == 1 else y)
    randomize(reg.net)
    reg.save(path)
    reg.net.eval()
    return reg


def uneven_series(rng, T, B, garbage=1e6):
    """Raw series (B, T, F) and lengths (B,): the first T steps long, the others shorter (when
    T > 1), ``garbage`` past each length (it must never be read)."""
    lens = np.array([T] + [max(1, T - 1 - 2 * b) for b in range(B - 1)], np.int64)
    x = (rng.normal(size=(B, T, FEATURES)) * 3 + 2).astype(np.float32)
    x[np.arange(T)[None, :] >= lens[:, None]] = garbage
    return x, lens


def assert_targets_close(got, want, reg, tol=1e-5):
    """Predicted targets equal within ``tol`` (relative and absolute) in units of each output's
    target scale (``reg.y_scale_``): float32's precision on the standardised outputs."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    scale = reg.y_scale_ if want.ndim == 2 else reg.y_scale_[0]
    np.testing.assert_allclose(got / scale, want / scale, rtol=tol, atol=tol)


def make_default_classifier(path, **overrides):
    """The network ``seqlab classify train`` trains by default (a bidirectional 8-unit LSTM with
    attention pooling over patches, beside a 64-channel convolutional branch; dropout 0.8), one
    optimizer step on 16 random series of 20 to 70 steps (patches of ceil(70/32) = 3 steps), then
    random biases and batch-norm statistics."""
    from seqlab.classify import SequenceClassifier
    from seqlab.classify.defaults import estimator_options

    rng = np.random.default_rng(1)
    opts = estimator_options(max_steps=1, **overrides)
    clf = SequenceClassifier(**opts, threads=None, verbose=0)
    X = [rng.normal(size=(n, FEATURES)).astype(np.float32) * 2 + 1 for n in [70] + list(rng.integers(20, 71, 15))]
    y = ["a" if i % 3 else "b" if i % 2 else "c" for i in range(16)]
    clf.fit(X, y)
    randomize(clf.net, 1)
    clf.save(path)
    clf.net.eval()
    return clf


def encoded(path, x, lengths):
    """Raw series (B, T, F) as the classifier saved at ``path`` feeds its network: z-normalised
    per series (normalize 'series'), then the stored feature scaling; zero past each length."""
    import json

    from safetensors.numpy import load_file

    from seqlab.classify.data import znormalize

    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        config = json.loads(json.loads(f.read(n))["__metadata__"]["seqlab"])["config"]
    tensors = load_file(str(path))
    valid = (np.arange(x.shape[1])[None, :] < lengths[:, None])[..., None]
    x = np.where(valid, x, 0.0).astype(np.float32)
    if config["normalize"] == "series":
        x = znormalize(x, lengths)
    if "scale.mean" in tensors:
        x = (x - tensors["scale.mean"]) / tensors["scale.std"]
    return np.where(valid, x, 0.0).astype(np.float32)


def make_lm(path, cell="lstm", layers=2):
    from seqlab.text.model import LMConfig, RecurrentLM, save_lm
    from seqlab.vocab import Vocabulary

    vocab = Vocabulary.build("the quick brown fox jumps over the lazy dog")
    model = RecurrentLM(LMConfig(vocab_size=len(vocab), cell=cell, hidden_size=8, num_layers=layers)).eval()
    save_lm(path, model, vocab)
    return model


def make_seq2seq(path, cell="gru", attention="bahdanau", input_feeding=True, layers=1):
    from seqlab.seq2seq.train import date_vocabs
    from seqlab.seq2seq.translator import Translator

    src, tgt = date_vocabs()
    tr = Translator.create(src, tgt, embed_size=6, hidden_size=7, num_layers=layers, cell=cell, attention=attention,
                           input_feeding=input_feeding)
    tr.model.eval()
    tr.save(path)
    return tr


def padded_ids(rng, vocab_size, lengths):
    """Token ids (B, T) in [2, vocab) with zeros past each length."""
    T = max(lengths)
    ids = rng.integers(2, vocab_size, (len(lengths), T))
    for b, n in enumerate(lengths):
        ids[b, n:] = 0
    return ids.astype(np.int64)


def t(a):
    return torch.as_tensor(a)
