"""seqlab.reference.load: every kind of model file run in NumPy alone equals the torch model
(float32, 1e-5), also in a process where importing torch fails."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "export"))
import model_files as mf  # noqa: E402

from seqlab import layers as L  # noqa: E402
from seqlab.errors import ModelFileError, SeqlabError  # noqa: E402
from seqlab.reference import load  # noqa: E402

TOL = dict(rtol=1e-5, atol=1e-5)


def test_sequential(tmp_path):
    model = mf.make_sequential(tmp_path / "m.safetensors", [
        L.LSTM(6, input_shape=(None, mf.FEATURES), return_sequences=True, layer_norm=True),
        L.Bidirectional(L.GRU(4, reset="before", return_sequences=True), merge_mode="sum"),
        L.SimpleRNN(5, activation="relu", go_backwards=True, return_sequences=True), L.MinLSTM(5, residual=True, norm=True),
        L.Dropout(0.3), L.Dense(3, activation="softmax")])
    ref = load(tmp_path / "m.safetensors")
    x = np.random.default_rng(0).normal(size=(4, 7, mf.FEATURES)).astype(np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(ref.forward(x), model(torch.from_numpy(x)).numpy(), **TOL)


def forecast_inputs(f, rng, B=3, T=12):
    """Windows (B, T, F) and decoder features (B, out_steps, Cd) (or None) for the networks of ``f``."""
    cfg = f.nets[0].cfg
    dec = getattr(cfg, "dec_size", 0)
    x = rng.normal(size=(B, T, cfg.input_size)).astype(np.float32)
    return x, (rng.normal(size=(B, cfg.out_steps, dec)).astype(np.float32) if dec else None)


def torch_forecast(f, x, dec):
    with torch.no_grad():
        args = () if dec is None else (None, torch.from_numpy(dec))
        return torch.stack([n(torch.from_numpy(x), *args) for n in f.nets]).mean(0).numpy()


def test_forecaster_networks(tmp_path):
    f = mf.make_forecaster(tmp_path / "f.safetensors", "gru", layers=2, strategy="recursive")
    ref = load(tmp_path / "f.safetensors")
    x, dec = forecast_inputs(f, np.random.default_rng(1))
    got, states = ref.forward(x, dec=dec)
    np.testing.assert_allclose(got, torch_forecast(f, x, dec), **TOL)
    first = ref.forward(x[:, :5], dec=dec)[1]  # a window in two chunks, the states carried
    np.testing.assert_allclose(ref.forward(x[:, 5:], first, dec=dec)[0], got, **TOL)


def hybrid_feed(f, rng, T, B, garbage=1e6):
    """Prepared windows of the hybrid networks of ``f`` (uneven lengths, ``garbage`` past them),
    ``dec``, random series indices (-1 among them) and season positions."""
    cfg = f.nets[0].cfg
    lens = np.array([T] + [max(1, T - 1 - 2 * b) for b in range(B - 1)], np.int64)
    x = rng.normal(size=(B, T, cfg.input_size)).astype(np.float32)
    x[np.arange(T)[None, :] >= lens[:, None]] = garbage
    dec = rng.normal(size=(B, cfg.out_steps, cfg.dec_size)).astype(np.float32) if cfg.dec_size else None
    return dict(x=x, dec=dec, lengths=lens, series=rng.integers(-1, cfg.n_series, B),
                phase=rng.integers(0, max(1, cfg.season), B))


def torch_hybrid(f, feed):
    T = lambda a: None if a is None else torch.from_numpy(np.asarray(a))  # noqa: E731
    with torch.no_grad():
        return torch.stack([n(T(feed["x"]), T(feed["lengths"]), T(feed["dec"]), T(feed["series"]), T(feed["phase"]))
                            for n in f.nets]).mean(0).numpy()


@pytest.mark.parametrize("cell,layers,season", [("lstm-peephole", 2, None), ("mingru", 1, 1)])
def test_hybrid_forecaster(tmp_path, cell, layers, season):
    """A hybrid forecaster file (random biases, random per-series smoothing logits and seasonal
    indices): forward on prepared windows with uneven lengths equals the torch HybridNets at
    three lengths and two batch sizes; the smoothing equals HybridNet.smooth; bad inputs are
    one SeqlabError naming the argument."""
    from seqlab.reference._checks import sigmoid
    from seqlab.reference.blocks import exp_smooth

    f = mf.make_hybrid_forecaster(tmp_path / "h.safetensors", cell, layers, season=season)
    ref = load(tmp_path / "h.safetensors")
    assert ref.hybrid and len(ref.members) == 2 and ref.members[0].es.shape == (3, 2 + (season or 12))
    rng = np.random.default_rng(7)
    for T in (1, 4, 9):
        for B in (1, 3):
            feed = hybrid_feed(f, rng, T, B)
            np.testing.assert_allclose(ref.forward(**feed)[0], torch_hybrid(f, feed), **TOL)
    # the smoothing alone, against the torch network's: last level and the seasonal index of every step
    feed = hybrid_feed(f, rng, 9, 3, garbage=0.0)
    net, member = f.nets[0], ref.members[0]
    z, lens = feed["x"][:, :, 0], feed["lengths"]
    with torch.no_grad():
        level, s_in, _ = net.smooth(torch.from_numpy(z), torch.from_numpy(lens), torch.from_numpy(feed["series"]),
                                    torch.from_numpy(feed["phase"]))
    p = member.params(feed["series"])
    m = max(1, member.season)
    seas0 = np.take_along_axis(p[:, 2:], (feed["phase"][:, None] + np.arange(m)) % m, 1) if m > 1 else np.zeros((3, 1))
    got = exp_smooth(z.astype(np.float64), lens, sigmoid(p[:, 0]), sigmoid(p[:, 1]), seas0)
    np.testing.assert_allclose(got[0], level.numpy(), **TOL)
    valid = np.arange(9)[None, :] < lens[:, None]
    np.testing.assert_allclose(got[1][valid], s_in.numpy()[valid], **TOL)
    x = feed["x"]
    with pytest.raises(SeqlabError, match=r"states: the hybrid forecaster reads each window whole"):
        ref.forward(x, [None], series=[0, 1, 2], phase=[0, 0, 0])
    with pytest.raises(SeqlabError, match=r"series, phase: .*\(B,\) = \(3,\) integers each; got series=None"):
        ref.forward(x, phase=[0, 0, 0])
    with pytest.raises(SeqlabError, match=r"series: expected series indices in \[-1, 2\].*got \[0, 3, 0\]"):
        ref.forward(x, series=[0, 3, 0], phase=[0, 0, 0])
    with pytest.raises(SeqlabError, match=r"lengths: expected 3 values in \[1, 9\], got \[9, 0, 2\]"):
        ref.forward(x, lengths=[9, 0, 2], series=[0, 1, 2], phase=[0, 0, 0])
    if m > 1:
        with pytest.raises(SeqlabError, match=r"phase: expected season positions in \[0, 11\], got \[0, 12, 0\]"):
            ref.forward(x, series=[0, 1, 2], phase=[0, 12, 0])


def test_classifier_numeric_and_text(tmp_path):
    for text, cell, bi, pooling in ((False, "lstm-peephole", True, "max"), (True, "mingru", False, "mean")):
        clf = mf.make_classifier(tmp_path / "c.safetensors", cell, bi, pooling, text)
        ref = load(tmp_path / "c.safetensors")
        rng = np.random.default_rng(2)
        if text:
            X = ["good bad fine", "awful", "great poor ok ok good unknownword"]
        else:
            X = [rng.normal(size=(n, mf.FEATURES)).astype(np.float32) for n in (1, 6, 3)]
        np.testing.assert_allclose(ref.predict_proba(X), clf.predict_proba(X), **TOL)
        assert ref.predict(X) == list(clf.predict(X))


@pytest.mark.parametrize("normalize", ["feature", "series"])
def test_default_classifier(tmp_path, normalize):
    """The LSTM-FCN that seqlab classify train trains by default (convolutional branch with batch
    norm and random running statistics, patches, attention pooling, a bidirectional LSTM):
    predict_proba on raw series of uneven lengths equals torch's, alone and in a batch."""
    clf = mf.make_default_classifier(tmp_path / "c.safetensors", normalize=normalize)
    ref = load(tmp_path / "c.safetensors")
    assert ref.patch == 3 and ref.conv is not None and ref.attention is not None and not ref.streams
    rng = np.random.default_rng(2)
    for lengths in ([1], [9], [4, 1, 3], [40, 17, 9]):
        X = [(rng.normal(size=(n, mf.FEATURES)) * 3 + 2).astype(np.float32) for n in lengths]
        np.testing.assert_allclose(ref.predict_proba(X), clf.predict_proba(X), **TOL)
        assert ref.predict(X) == list(clf.predict(X))
        x, lens = ref.encode(X)
        with torch.no_grad():
            want = clf.net(torch.from_numpy(x), torch.from_numpy(lens)).numpy()
        np.testing.assert_allclose(ref.logits(x, lens), want, **TOL)
    with pytest.raises(SeqlabError, match=r"X\[1\]: expected a sequence of shape \(time >= 1, 3\), got \(4, 2\)"):
        ref.predict_proba([np.zeros((3, 3)), np.zeros((4, 2))])
    with pytest.raises(SeqlabError, match=r"expected sequences of 3 feature\(s\).*got shape \(2, 4, 1\)"):
        ref.predict_proba(np.zeros((2, 4)))
    with pytest.raises(SeqlabError, match="got a single string; wrap it in a list"):
        ref.predict_proba("a text")
    with pytest.raises(SeqlabError, match="X: expected at least one sequence, got none"):
        ref.predict_proba([])
    with pytest.raises(SeqlabError, match="this model reads numeric sequences, got texts"):
        ref.predict_proba(["a text"])
    with pytest.raises(SeqlabError, match=r"lengths: expected 2 values in \[1, 5\], got \[5, 0\]"):
        ref.logits(np.zeros((2, 5, 3), np.float32), [5, 0])


@pytest.mark.parametrize("outputs,cell,bidirectional,pooling,options", [
    (1, "minlstm", False, "max", {"normalize": "none"}),
    (2, "lstm-ln", True, "attention", {"fcn": 3, "rnn_steps": 3, "normalize": "series", "layers": 2})])
def test_regressor(tmp_path, outputs, cell, bidirectional, pooling, options):
    """A SequenceRegressor file: predict on raw series at three lengths and two batch sizes
    (uneven lengths) equals the regressor's, (N,) or (N, k) as it was fitted, within 1e-5 of the
    target scale; targets on encoded input equals the torch network's outputs mapped back."""
    from seqlab.classify import SequenceRegressor

    mf.make_regressor(tmp_path / "r.safetensors", outputs, cell, bidirectional, pooling, **options)
    reg = SequenceRegressor.load(tmp_path / "r.safetensors")
    ref = load(tmp_path / "r.safetensors")
    assert ref.kind == "regressor" and ref.n_outputs == outputs and ref.streams == (not bidirectional)
    rng = np.random.default_rng(6)
    for T in (1, 4, 9):
        for B in (1, 3):
            x, lens = mf.uneven_series(rng, T, B)
            got = ref.predict(x, lengths=lens)
            assert got.shape == ((B,) if outputs == 1 else (B, outputs))
            mf.assert_targets_close(got, reg.predict(x, lengths=lens), reg)
    X = [rng.normal(size=(n, mf.FEATURES)).astype(np.float32) for n in (7, 2)]  # a list of series
    mf.assert_targets_close(ref.predict(X), reg.predict(X), reg)
    x, lens = ref.encode(X)
    with torch.no_grad():
        want = reg.net(torch.from_numpy(x), torch.from_numpy(lens)).double().numpy() * reg.y_scale_ + reg.y_mean_
    np.testing.assert_allclose(ref.targets(x, lens), want, rtol=1e-5, atol=1e-5 * reg.y_scale_.max())
    with pytest.raises(SeqlabError, match="this model reads numeric sequences, got texts"):
        ref.predict(["a text"])


def test_a_damaged_regressor_file_is_refused(tmp_path):
    from seqlab.io import save_file
    from seqlab.reference.models import read_model_file

    mf.make_regressor(tmp_path / "r.safetensors", 2)
    kind, config, tensors = read_model_file(tmp_path / "r.safetensors")
    tensors["target.scale"] = tensors["target.scale"][:1]
    save_file(tmp_path / "bad.safetensors", kind, config, {k: torch.from_numpy(v) for k, v in tensors.items()})
    with pytest.raises(ModelFileError, match=r"invalid regressor config or weights: target scaling: expected 2 "
                                             r"means and scales"):
        load(tmp_path / "bad.safetensors")


def test_classifier_blocks_against_torch():
    """The reference conv branch and attention pooling against torch.nn.functional, weights and
    batch-norm statistics random, padding read as zeros."""
    import torch.nn.functional as F

    from seqlab.reference.blocks import AttentionPool, BatchNorm, ConvBranch, Linear, conv1d_same

    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 7, 3))
    lens = np.array([7, 4])
    valid = np.arange(7)[None, :] < lens[:, None]
    ws = [rng.normal(size=(4, 3, 8)), rng.normal(size=(5, 4, 5))]
    stats = [[rng.normal(size=c), rng.normal(size=c), rng.normal(size=c), rng.uniform(0.5, 2, c)] for c in (4, 5)]
    branch = ConvBranch(ws, [BatchNorm(*s) for s in stats])
    T = lambda a: torch.from_numpy(np.asarray(a))  # noqa: E731
    h, m = T(x), T(valid[..., None].astype(np.float64))
    for w, (g, b, mu, var) in zip(ws, stats):
        k = w.shape[2]
        h = F.conv1d(F.pad((h * m).transpose(1, 2), ((k - 1) // 2, k // 2)), T(w)).transpose(1, 2)
        h = torch.relu(F.batch_norm(h.transpose(1, 2), T(mu), T(var), T(g), T(b), eps=1e-5).transpose(1, 2))
    np.testing.assert_allclose(branch(x, valid), ((h * m).sum(1) / m.sum(1)).numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv1d_same(x, ws[0]),
                               F.conv1d(F.pad(T(x).transpose(1, 2), (3, 4)), T(ws[0])).transpose(1, 2).numpy(),
                               rtol=1e-12, atol=1e-12)
    W, b, v = rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=(1, 3))
    pool = AttentionPool(Linear(W, b), Linear(v))
    score = (torch.tanh(T(x) @ T(W).T + T(b)) @ T(v).T)[..., 0].masked_fill(~T(valid), float("-inf"))
    want = (torch.softmax(score, 1)[..., None] * T(x).masked_fill(~T(valid)[..., None], 0.0)).sum(1)
    np.testing.assert_allclose(pool(x, valid), want.numpy(), rtol=1e-12, atol=1e-12)


def test_language_model_state_carried(tmp_path):
    lm = mf.make_lm(tmp_path / "lm.safetensors", "lstm-peephole", 2)
    ref = load(tmp_path / "lm.safetensors")
    ids = np.random.default_rng(3).integers(0, lm.config.vocab_size, (2, 9))
    with torch.no_grad():
        want, (h, c) = lm(torch.from_numpy(ids))
    logits, state = ref.forward(ids[:, :4])
    logits2, (h2, c2) = ref.step(ids[:, 4:], state)
    np.testing.assert_allclose(np.concatenate([logits, logits2], 1), want.numpy(), **TOL)
    np.testing.assert_allclose(h2, h.numpy(), **TOL)
    np.testing.assert_allclose(c2, c.numpy(), **TOL)


def test_seq2seq(tmp_path):
    tr = mf.make_seq2seq(tmp_path / "s.safetensors", "gru-ln", "bahdanau", True, 1)
    ref = load(tmp_path / "s.safetensors")
    src = mf.padded_ids(np.random.default_rng(4), tr.model.cfg.src_vocab_size, [5, 2])
    lens = np.array([5, 2])
    with torch.no_grad():
        mem, state, feed = tr.model.encode(torch.from_numpy(src), torch.from_numpy(lens))
        e = ref.encode(src, lens)
        np.testing.assert_allclose(e["state"][0], state[0].numpy(), **TOL)
        y, st, fd = np.array([1, 1]), e["state"], e["feed"]
        for _ in range(3):
            logits, state, feed, w = tr.model.decoder.step(torch.from_numpy(y), state, feed, mem)
            lg, st, fd, ww = ref.decode_step(y, st, fd, e["memory"], e["keys"], e["mask"])
            np.testing.assert_allclose(lg, logits.numpy(), **TOL)
            np.testing.assert_allclose(ww, w.numpy(), **TOL)
            y = logits.argmax(-1).numpy()


def test_not_a_model_file(tmp_path):
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="not a readable seqlab model"):
        load(bad)
    with pytest.raises(ModelFileError, match="does not exist"):
        load(tmp_path / "missing.safetensors")


_NO_TORCH = r"""
import sys, json
import numpy as np
class _Refuse:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is not installed here")
sys.meta_path.insert(0, _Refuse())
try:
    import torch  # noqa: F401
    sys.exit("torch imported")
except ImportError:
    pass
from seqlab.reference import load
files, inputs = json.loads(sys.argv[1]), np.load(sys.argv[2])
out = {}
out["sequential"] = load(files["sequential"]).forward(inputs["x"])
out["lm"] = load(files["lm"]).forward(inputs["ids"])[0]
clf = load(files["classifier"])
out["classifier"] = clf.logits(inputs["cx"], inputs["clen"])
out["default"] = load(files["default"]).predict_proba(inputs["dx"], lengths=inputs["dlen"])
out["forecaster"] = load(files["forecaster"]).forward(inputs["fx"], dec=inputs["fdec"] if "fdec" in inputs else None)[0]
out["hybrid"] = load(files["hybrid"]).forward(inputs["hx"], dec=inputs["hdec"], lengths=inputs["hlen"],
                                              series=inputs["hseries"], phase=inputs["hphase"])[0]
s2s = load(files["seq2seq"])
out["seq2seq"] = s2s.encode(inputs["src"], inputs["slen"])["memory"]
out["npz"] = load(files["npz"]).forward(inputs["x"])
out["regressor"] = load(files["regressor"]).predict(inputs["rx"], lengths=inputs["rlen"])
out["regressor_npz"] = load(files["regressor_npz"]).predict(list(inputs["rx"][:2]))
assert "torch" not in sys.modules
np.savez(sys.argv[3], **out)
"""


def test_inference_without_torch(tmp_path):
    """A subprocess in which ``import torch`` raises runs every kind of model file (and the .npz
    of ``seqlab export --format numpy``); its outputs equal torch's."""
    from seqlab.cli import main

    rng = np.random.default_rng(5)
    seq = mf.make_sequential(tmp_path / "seq.safetensors", [L.GRU(5, input_shape=(None, 3), return_sequences=True),
                                                            L.Dense(2)])
    lm = mf.make_lm(tmp_path / "lm.safetensors", "mingru", 2)
    clf = mf.make_classifier(tmp_path / "clf.safetensors", "lstm", True, "mean")
    f = mf.make_forecaster(tmp_path / "f.safetensors", "lstm-ln", ensemble=1)
    hy = mf.make_hybrid_forecaster(tmp_path / "h.safetensors", "gru", ensemble=1)
    tr = mf.make_seq2seq(tmp_path / "s.safetensors", "lstm", "luong", False)
    default = mf.make_default_classifier(tmp_path / "d.safetensors", normalize="series")
    reg = mf.make_regressor(tmp_path / "r.safetensors", 2, "lstm", True, "attention", fcn=3, rnn_steps=3)
    assert main(["export", str(tmp_path / "seq.safetensors"), "--format", "numpy", "--out", str(tmp_path / "seq.npz")]) == 0
    assert main(["export", str(tmp_path / "r.safetensors"), "--format", "numpy"]) == 0
    inputs = {"x": rng.normal(size=(2, 6, 3)).astype(np.float32), "ids": rng.integers(0, lm.config.vocab_size, (2, 5)),
              "cx": rng.normal(size=(3, 5, 3)).astype(np.float32), "clen": np.array([5, 2, 4]),
              "src": mf.padded_ids(rng, tr.model.cfg.src_vocab_size, [4, 3]), "slen": np.array([4, 3]),
              "dx": rng.normal(size=(3, 20, 3)).astype(np.float32), "dlen": np.array([20, 7, 1])}
    inputs["rx"], inputs["rlen"] = mf.uneven_series(rng, 9, 3)
    inputs["fx"], fdec = forecast_inputs(f, rng, B=2)
    if fdec is not None:
        inputs["fdec"] = fdec
    hfeed = hybrid_feed(hy, rng, 9, 3)
    inputs.update(hx=hfeed["x"], hdec=hfeed["dec"], hlen=hfeed["lengths"], hseries=hfeed["series"],
                  hphase=hfeed["phase"])
    np.savez(tmp_path / "in.npz", **inputs)
    files = {k: str(tmp_path / n) for k, n in [("sequential", "seq.safetensors"), ("lm", "lm.safetensors"),
                                               ("classifier", "clf.safetensors"), ("forecaster", "f.safetensors"),
                                               ("seq2seq", "s.safetensors"), ("npz", "seq.npz"),
                                               ("default", "d.safetensors"), ("regressor", "r.safetensors"),
                                               ("regressor_npz", "r.npz"), ("hybrid", "h.safetensors")]}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    r = subprocess.run([sys.executable, "-c", _NO_TORCH, json.dumps(files), str(tmp_path / "in.npz"),
                        str(tmp_path / "out.npz")], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    out = np.load(tmp_path / "out.npz")
    T = torch.from_numpy
    with torch.no_grad():
        np.testing.assert_allclose(out["sequential"], seq(T(inputs["x"])).numpy(), **TOL)
        np.testing.assert_allclose(out["npz"], seq(T(inputs["x"])).numpy(), **TOL)
        np.testing.assert_allclose(out["lm"], lm(T(inputs["ids"]))[0].numpy(), **TOL)
        np.testing.assert_allclose(out["classifier"], clf.net(T(inputs["cx"]), T(inputs["clen"])).numpy(), **TOL)
        np.testing.assert_allclose(out["forecaster"], torch_forecast(f, inputs["fx"], fdec), **TOL)
        np.testing.assert_allclose(out["hybrid"], torch_hybrid(hy, hfeed), **TOL)
        np.testing.assert_allclose(out["default"], default.predict_proba(inputs["dx"], lengths=inputs["dlen"]), **TOL)
        mf.assert_targets_close(out["regressor"], reg.predict(inputs["rx"], lengths=inputs["rlen"]), reg)
        mf.assert_targets_close(out["regressor_npz"], reg.predict(list(inputs["rx"][:2])), reg)
        mem = tr.model.encode(T(inputs["src"]), T(inputs["slen"]))[0].memory.numpy()
        np.testing.assert_allclose(out["seq2seq"], mem, **TOL)
