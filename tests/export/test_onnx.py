"""ONNX export parity: every kind of model file and every registry cell, run by onnxruntime, equals
the torch model at three sequence lengths and two batch sizes (float32, 1e-5), and a sequence run
in two chunks with the state passed between them equals the whole sequence in one run."""

import os
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_files as mf  # noqa: E402

ort = pytest.importorskip("onnxruntime", reason="the export extra (onnxruntime) is part of .[all]")

from seqlab import layers as L  # noqa: E402
from seqlab.export.onnx import export_onnx  # noqa: E402
from seqlab.nn.registry import cell_names  # noqa: E402

TOL = dict(rtol=1e-5, atol=1e-5)
LENGTHS = (1, 4, 9)
BATCHES = (1, 3)


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def run(sess, feed, names=None):
    outs = sess.run(names, feed)
    return dict(zip(names or [o.name for o in sess.get_outputs()], outs))


def input_names(sess):
    """Every input of the graph, the states included (all required: ``get_inputs`` lists them)."""
    return [i.name for i in sess.get_inputs()]


def zero_states(sess, B, skip=()):
    """Zeros for every state input (float inputs other than ``skip``): (L*D, B, H) or (B, H)."""
    feed = {}
    for i in sess.get_inputs():
        if i.name in skip or i.type != "tensor(float)":
            continue
        shape = [B if d == "batch" else d for d in i.shape]
        feed[i.name] = np.zeros(shape, np.float32)
    return feed


def carried(outs, sess_inputs):
    """The ``*_out`` outputs as the next call's state inputs."""
    return {n: outs[n + "_out"] for n in sess_inputs if n + "_out" in outs}


def test_every_registry_cell_is_covered():
    assert set(cell_names()) == {"rnn", "rnn-relu", "lstm", "lstm-peephole", "lstm-ln", "gru", "gru-reset-before",
                                 "gru-ln", "mingru", "minlstm"}


@pytest.mark.parametrize("cell", cell_names())
def test_sequential_every_cell(tmp_path, cell):
    model = mf.make_sequential(tmp_path / "m.safetensors", [
        mf.recurrent_layer(cell, 6, input_shape=(None, mf.FEATURES), return_sequences=True),
        mf.recurrent_layer(cell, 5), L.Dense(2, activation="tanh")])
    export_onnx(tmp_path / "m.safetensors", tmp_path / "m.onnx")
    sess = session(tmp_path / "m.onnx")
    names = set(input_names(sess))
    assert {"x", "layer0.h", "layer1.h"} <= names and (("layer0.c" in names) == cell.startswith("lstm"))
    rng = np.random.default_rng(1)
    for T in LENGTHS:
        for B in BATCHES:
            x = rng.normal(size=(B, T, mf.FEATURES)).astype(np.float32)
            with torch.no_grad():
                want = model(torch.from_numpy(x)).numpy()
            got = run(sess, {"x": x, **zero_states(sess, B, skip={"x"})})
            np.testing.assert_allclose(got["y"], want, **TOL)
    # two chunks, the state passed between them: the same output and final state as one run
    x = rng.normal(size=(3, 9, mf.FEATURES)).astype(np.float32)
    whole = run(sess, {"x": x, **zero_states(sess, 3, skip={"x"})})
    first = run(sess, {"x": x[:, :4], **zero_states(sess, 3, skip={"x"})})
    second = run(sess, {"x": x[:, 4:], **carried(first, names)})
    for name in whole:
        np.testing.assert_allclose(second[name], whole[name], **TOL)
    # and the state really is used: starting the second chunk from zeros differs
    fresh = run(sess, {"x": x[:, 4:], **zero_states(sess, 3, skip={"x"})})
    assert np.abs(fresh["y"] - whole["y"]).max() > 1e-4


def test_sequential_masking_bidirectional_and_backwards(tmp_path):
    """Embedding(mask_zero) lengths, Bidirectional and go_backwards (no state inputs: they read
    each sequence from its end), every Dense activation on the way."""
    model = mf.make_sequential(tmp_path / "m.safetensors", [
        L.Embedding(12, 4, mask_zero=True, input_shape=(None,)),
        L.Bidirectional(L.LSTM(5, peephole=True, return_sequences=True), merge_mode="concat"),
        L.GRU(4, return_sequences=True, go_backwards=True, reset="before"),
        L.Bidirectional(L.MinGRU(3, return_sequences=True), merge_mode="ave"),
        L.Dense(6, activation="gelu"), L.Dense(6, activation="selu"), L.Dense(6, activation="elu"),
        L.Dense(6, activation="swish"), L.Dense(6, activation="softplus"), L.Dense(3, activation="log_softmax")])
    export_onnx(tmp_path / "m.safetensors", tmp_path / "m.onnx")
    sess = session(tmp_path / "m.onnx")
    assert input_names(sess) == ["ids"]
    rng = np.random.default_rng(2)
    for lengths in ([1], [4, 2, 3], [9, 9, 5]):
        ids = mf.padded_ids(rng, 12, lengths)
        with torch.no_grad():
            want = model(torch.from_numpy(ids)).numpy()
        got = run(sess, {"ids": ids})["y"]
        valid = ids != 0  # padded steps of a masked sequence output are not defined alike
        np.testing.assert_allclose(got[valid], want[valid], **TOL)


@pytest.mark.parametrize("mask_value", [0.0, -1.0])
def test_sequential_masking_layer(tmp_path, mask_value):
    """Masking on post-padded float input: the padded steps (every feature mask_value) end each
    sequence for the recurrent layers and are zeroed, as in torch's predict and seqlab.reference;
    the final states are those at each sequence's last real step."""
    from seqlab.reference import load

    model = mf.make_sequential(tmp_path / "m.safetensors", [
        L.Masking(mask_value=mask_value, input_shape=(None, mf.FEATURES)), L.LSTM(5, return_sequences=True),
        L.GRU(4), L.Dense(2)])
    export_onnx(tmp_path / "m.safetensors", tmp_path / "m.onnx")
    sess = session(tmp_path / "m.onnx")
    assert input_names(sess) == ["x", "layer1.h", "layer1.c", "layer2.h"]
    ref = load(tmp_path / "m.safetensors")
    rng = np.random.default_rng(21)
    for lengths in ([1], [9], [4, 1, 3], [9, 6, 2]):
        x = rng.normal(size=(len(lengths), max(lengths), mf.FEATURES)).astype(np.float32)
        x[0, :, 0] = mask_value  # one feature at mask_value is not padding
        for b, n in enumerate(lengths):
            x[b, n:] = mask_value
        got = run(sess, {"x": x, **zero_states(sess, len(lengths), skip={"x"})})
        np.testing.assert_allclose(got["y"], model.predict(x), **TOL)
        np.testing.assert_allclose(got["y"], ref.forward(x), **TOL)
        for b, n in enumerate(lengths):  # the state stops at the last real step
            with torch.no_grad():
                np.testing.assert_allclose(got["y"][b], model(torch.from_numpy(x[b : b + 1, :n]))[0].numpy(), **TOL)
        if max(lengths) > min(lengths):  # the padding changes the result when it is read
            unmasked = ref.forward(np.where(x == mask_value, mask_value + 0.5, x))
            assert np.abs(unmasked - got["y"]).max() > 1e-3


def test_sequential_layer_without_export_is_refused(tmp_path):
    from seqlab.errors import SeqlabError
    from seqlab.reference import load
    from seqlab.reference.models import SeqLayer

    mf.make_sequential(tmp_path / "m.safetensors", [L.LSTM(4, input_shape=(None, mf.FEATURES)), L.Dense(2)])
    ref = load(tmp_path / "m.safetensors")
    ref.layers.insert(1, SeqLayer("conv1d", {"name": "conv"}))
    with pytest.raises(SeqlabError, match=r"model: layer 1 \(conv\) is a 'conv1d' layer, which has no ONNX export; "
                                          r"export it with --format numpy"):
        export_onnx(ref, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("reset", ["after", "before"])
def test_lstm_and_gru_with_relu(tmp_path, reset):
    """activation='relu' (LSTM: g = relu(.), h = o relu(c); GRU: n = relu(.)): onnxruntime equals
    torch's predict and seqlab.reference, from the .safetensors file and its NumPy export; two
    chunks equal one pass."""
    from seqlab.export.numpy import export_numpy
    from seqlab.reference import load

    model = mf.make_sequential(tmp_path / "m.safetensors", [
        L.LSTM(6, activation="relu", return_sequences=True, input_shape=(None, mf.FEATURES)),
        L.GRU(4, activation="relu", reset=reset), L.Dense(1)])
    export_onnx(tmp_path / "m.safetensors", tmp_path / "m.onnx")
    export_numpy(tmp_path / "m.safetensors", tmp_path / "m.npz")
    sess = session(tmp_path / "m.onnx")
    refs = [load(tmp_path / "m.safetensors"), load(tmp_path / "m.npz")]
    assert [l.stack.options["activation"] for l in refs[1].layers[:2]] == ["relu", "relu"]
    rng = np.random.default_rng(22)
    for T in LENGTHS:
        for B in BATCHES:
            x = (rng.normal(size=(B, T, mf.FEATURES)) * 2).astype(np.float32)
            got = run(sess, {"x": x, **zero_states(sess, B, skip={"x"})})
            np.testing.assert_allclose(got["y"], model.predict(x), **TOL)
            for ref in refs:
                np.testing.assert_allclose(got["y"], ref.forward(x), **TOL)
    x = (rng.normal(size=(3, 9, mf.FEATURES)) * 2).astype(np.float32)
    tanh = mf.make_sequential(tmp_path / "t.safetensors", [
        L.LSTM(6, return_sequences=True, input_shape=(None, mf.FEATURES)), L.GRU(4, reset=reset), L.Dense(1)])
    tanh.load_state_dict(model.state_dict())  # the same weights: relu and tanh differ
    assert np.abs(tanh.predict(x) - model.predict(x)).max() > 1e-3
    names = input_names(sess)
    whole = run(sess, {"x": x, **zero_states(sess, 3, skip={"x"})})
    first = run(sess, {"x": x[:, :4], **zero_states(sess, 3, skip={"x"})})
    second = run(sess, {"x": x[:, 4:], **carried(first, names)})
    for name in whole:
        np.testing.assert_allclose(second[name], whole[name], **TOL)


def test_unknown_recurrent_activation_is_refused(tmp_path):
    from seqlab.errors import SeqlabError
    from seqlab.reference import load

    mf.make_sequential(tmp_path / "m.safetensors", [L.GRU(4, input_shape=(None, mf.FEATURES)), L.Dense(1)])
    ref = load(tmp_path / "m.safetensors")
    ref.layers[0].stack.options["activation"] = "sigmoid"
    with pytest.raises(SeqlabError, match=r"activation 'sigmoid', which has no ONNX export; expected 'tanh' or 'relu'"):
        export_onnx(ref, tmp_path / "m.onnx")


@pytest.mark.parametrize("cell,layers,strategy,covariate", [("lstm", 2, "direct", True), ("gru-ln", 1, "recursive", False),
                                                            ("minlstm", 1, "direct", False)])
def test_forecaster(tmp_path, cell, layers, strategy, covariate):
    f = mf.make_forecaster(tmp_path / "f.safetensors", cell, layers, strategy, covariate=covariate)
    export_onnx(tmp_path / "f.safetensors", tmp_path / "f.onnx")
    sess = session(tmp_path / "f.onnx")
    cfg = f.nets[0].cfg
    F, Cd = cfg.input_size, getattr(cfg, "dec_size", 0)
    rng = np.random.default_rng(3)
    for T in LENGTHS:
        for B in BATCHES:
            x = rng.normal(size=(B, T, F)).astype(np.float32)
            d = {"dec": rng.normal(size=(B, cfg.out_steps, Cd)).astype(np.float32)} if Cd else {}
            with torch.no_grad():
                args = (None, torch.from_numpy(d["dec"])) if Cd else ()
                want = torch.stack([n(torch.from_numpy(x), *args) for n in f.nets]).mean(0).numpy()
            got = run(sess, {"x": x, **d, **zero_states(sess, B, skip={"x", "dec"})})
            np.testing.assert_allclose(got["y"], want, **TOL)
    x = rng.normal(size=(2, 9, F)).astype(np.float32)
    d = {"dec": rng.normal(size=(2, cfg.out_steps, Cd)).astype(np.float32)} if Cd else {}
    names = set(input_names(sess))
    whole = run(sess, {"x": x, **d, **zero_states(sess, 2, skip={"x", "dec"})})
    first = run(sess, {"x": x[:, :5], **d, **zero_states(sess, 2, skip={"x", "dec"})})
    second = run(sess, {"x": x[:, 5:], **d, **carried(first, names)})
    for name in whole:
        np.testing.assert_allclose(second[name], whole[name], **TOL)


def hybrid_windows(f, rng, T, B, garbage=1e6):
    """Random prepared windows for the hybrid networks of ``f``: ``x`` (B, T, F) right-padded with
    ``garbage`` past uneven ``lengths``, ``dec``, ``series`` (every index and -1, unseen) and ``phase``."""
    cfg = f.nets[0].cfg
    lens = np.array([T] + [max(1, T - 1 - 2 * b) for b in range(B - 1)], np.int64)
    x = rng.normal(size=(B, T, cfg.input_size)).astype(np.float32)
    x[np.arange(T)[None, :] >= lens[:, None]] = garbage
    feed = {"x": x, "lengths": lens, "series": rng.integers(-1, cfg.n_series, B).astype(np.int64),
            "phase": rng.integers(0, max(1, cfg.season), B).astype(np.int64)}
    if cfg.dec_size:
        feed["dec"] = rng.normal(size=(B, cfg.out_steps, cfg.dec_size)).astype(np.float32)
    return feed


def torch_hybrid(f, feed):
    """The members' mean output of the torch HybridNets on ``feed``."""
    T = {k: torch.from_numpy(v) for k, v in feed.items()}
    with torch.no_grad():
        return torch.stack([n(T["x"], T["lengths"], T.get("dec"), T["series"], T["phase"])
                            for n in f.nets]).mean(0).numpy()


@pytest.mark.parametrize("cell,layers,covariate,season", [("lstm", 2, True, None), ("gru-ln", 1, False, 1),
                                                          ("minlstm", 1, False, None)])
def test_hybrid_forecaster(tmp_path, cell, layers, covariate, season):
    """The ES-RNN hybrid (random biases, random per-series smoothing logits and seasonal indices,
    three series): on prepared windows with uneven lengths and garbage past them, every series
    index and -1, any season position, equal to the torch networks at three window lengths and
    two batch sizes; the series index and the phase change the forecast."""
    f = mf.make_hybrid_forecaster(tmp_path / "h.safetensors", cell, layers, covariate=covariate, season=season)
    cfg = f.nets[0].cfg
    assert cfg.kind == "hybrid" and cfg.n_series == 3 and cfg.season == (season or 12)
    export_onnx(tmp_path / "h.safetensors", tmp_path / "h.onnx")
    sess = session(tmp_path / "h.onnx")
    assert input_names(sess) == ["x", "lengths"] + (["dec"] if cfg.dec_size else []) + \
        ["series", "phase"]
    assert [o.name for o in sess.get_outputs()] == ["y"]
    rng = np.random.default_rng(13)
    for T in LENGTHS:
        for B in BATCHES:
            feed = hybrid_windows(f, rng, T, B)
            np.testing.assert_allclose(run(sess, feed)["y"], torch_hybrid(f, feed), **TOL)
    feed = hybrid_windows(f, rng, 9, 4)
    feed["series"] = np.array([0, 1, 2, -1])
    base = run(sess, feed)["y"]
    for name, other in [("series", np.array([1, 2, -1, 0])), ("phase", (feed["phase"] + 5) % 12)]:
        if name == "phase" and cfg.season == 1:
            continue
        changed = run(sess, {**feed, name: other})["y"]
        np.testing.assert_allclose(changed, torch_hybrid(f, {**feed, name: other}), **TOL)
        assert np.abs(changed - base).max(axis=(1, 2)).min() > 1e-4, name  # every window moved


def torch_logits(clf, path, x, lens):
    """The torch network's logits on raw input: ids as they are, series scaled as the model file says."""
    if x.dtype.kind == "f":
        x = mf.encoded(path, x, lens)
    with torch.no_grad():
        return clf.net(torch.from_numpy(x), torch.from_numpy(lens)).numpy()


@pytest.mark.parametrize("cell,bidirectional,pooling,text", [
    ("gru", False, "last", False), ("lstm-peephole", True, "mean", False), ("minlstm", False, "max", True),
    ("gru-reset-before", True, "last", True)])
def test_classifier(tmp_path, cell, bidirectional, pooling, text):
    path = tmp_path / "c.safetensors"
    clf = mf.make_classifier(path, cell, bidirectional, pooling, text)
    export_onnx(path, tmp_path / "c.onnx")
    sess = session(tmp_path / "c.onnx")
    names = set(input_names(sess))
    assert ("h" in names) == (not bidirectional)
    assert ("pool_count" in names) == (not bidirectional and pooling != "last")
    key = "ids" if text else "x"
    rng = np.random.default_rng(4)
    for lengths in ([1], [4, 1, 3], [9, 9, 6]):
        if text:
            x = mf.padded_ids(rng, len(clf.vocab), lengths)
        else:
            x = rng.normal(size=(len(lengths), max(lengths), mf.FEATURES)).astype(np.float32)
        lens = np.array(lengths, np.int64)
        want = torch_logits(clf, path, x, lens)
        got = run(sess, {key: x, "lengths": lens, **zero_states(sess, len(lengths), skip={key})})
        np.testing.assert_allclose(got["logits"], want, **TOL)
        np.testing.assert_allclose(got["probabilities"], torch.softmax(torch.from_numpy(want), -1).numpy(), **TOL)
    if not bidirectional and pooling == "last":  # a stream labelled as it grows: two chunks
        x = rng.normal(size=(2, 9, mf.FEATURES)).astype(np.float32)
        whole = run(sess, {key: x, "lengths": np.array([9, 9]), **zero_states(sess, 2, skip={key})})
        first = run(sess, {key: x[:, :3], "lengths": np.array([3, 3]), **zero_states(sess, 2, skip={key})})
        second = run(sess, {key: x[:, 3:], "lengths": np.array([6, 6]), **carried(first, names)})
        np.testing.assert_allclose(second["logits"], whole["logits"], **TOL)


@pytest.mark.parametrize("normalize", ["feature", "series"])
def test_default_classifier(tmp_path, normalize):
    """The LSTM-FCN that seqlab classify train trains by default (convolutional branch with batch
    norm, patches of 3 steps, attention pooling, a bidirectional LSTM, dropout) on raw series:
    the graph scales them as predict_proba does; uneven lengths in one batch."""
    path = tmp_path / "c.safetensors"
    clf = mf.make_default_classifier(path, normalize=normalize)
    assert clf.net.config.patch == 3 and clf.net.config.fcn == 64 and clf.net.config.pooling == "attention"
    export_onnx(path, tmp_path / "c.onnx")
    sess = session(tmp_path / "c.onnx")
    assert input_names(sess) == ["x", "lengths"]  # reads whole series: no state
    rng = np.random.default_rng(7)
    for lengths in ([1], [9], [4, 1, 3], [40, 17, 9]):
        lens = np.array(lengths, np.int64)
        x = (rng.normal(size=(len(lengths), max(lengths), mf.FEATURES)) * 3 + 2).astype(np.float32)
        x[np.arange(x.shape[1])[None, :] >= lens[:, None]] = 1e6  # padding is never read
        got = run(sess, {"x": x, "lengths": lens})
        np.testing.assert_allclose(got["logits"], torch_logits(clf, path, x, lens), **TOL)
        np.testing.assert_allclose(got["probabilities"], clf.predict_proba(x, lengths=lens), **TOL)


def test_text_classifier_with_conv_branch_and_attention(tmp_path):
    path = tmp_path / "c.safetensors"
    clf = mf.make_classifier(path, "gru", False, "attention", text=True, fcn=5)
    export_onnx(path, tmp_path / "c.onnx")
    sess = session(tmp_path / "c.onnx")
    assert input_names(sess) == ["ids", "lengths"]
    rng = np.random.default_rng(8)
    for lengths in ([1], [4, 1, 3], [9, 9, 6]):
        ids, lens = mf.padded_ids(rng, len(clf.vocab), lengths), np.array(lengths, np.int64)
        np.testing.assert_allclose(run(sess, {"ids": ids, "lengths": lens})["logits"],
                                   torch_logits(clf, path, ids, lens), **TOL)


@pytest.mark.parametrize("outputs,cell,bidirectional,pooling,options", [
    (1, "gru", False, "last", {}),
    (1, "lstm", False, "mean", {"normalize": "none", "layers": 2}),
    (3, "lstm-peephole", True, "attention", {"fcn": 3, "rnn_steps": 3, "normalize": "series"})])
def test_regressor(tmp_path, outputs, cell, bidirectional, pooling, options):
    """The regressor's graph is the classifier's with ``y`` (B, k) in the target's units: on raw
    series at three lengths and two batch sizes (uneven lengths, garbage in the padding) it equals
    SequenceRegressor.predict within 1e-5 of the target scale; one-directional ones stream."""
    path = tmp_path / "r.safetensors"
    reg = mf.make_regressor(path, outputs, cell, bidirectional, pooling, **options)
    export_onnx(path, tmp_path / "r.onnx")
    sess = session(tmp_path / "r.onnx")
    names = set(input_names(sess))
    streams = not bidirectional
    assert [o.name for o in sess.get_outputs() if not o.name.endswith("_out")] == ["y"]
    assert ("h" in names) == streams and ("pool_count" in names) == (pooling == "mean")
    rng = np.random.default_rng(11)
    for T in LENGTHS:
        for B in BATCHES:
            x, lens = mf.uneven_series(rng, T, B)
            got = run(sess, {"x": x, "lengths": lens, **zero_states(sess, B, skip={"x"})})["y"]  # (B, k)
            want = reg.predict(x, lengths=lens)  # (B,) or (B, k)
            mf.assert_targets_close(got[:, 0] if outputs == 1 else got, want, reg)
    if streams:  # two chunks, the state (and the pooling's running values) carried: one pass
        x, lens = mf.uneven_series(rng, 9, 2, garbage=0.0)
        whole = run(sess, {"x": x, "lengths": lens, **zero_states(sess, 2, skip={"x"})})
        first = run(sess, {"x": x[:, :4], "lengths": np.minimum(lens, 4), **zero_states(sess, 2, skip={"x"})})
        second = run(sess, {"x": x[:, 4:], "lengths": lens - 4, **carried(first, names)})
        np.testing.assert_allclose(second["y"], whole["y"], **TOL)


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_classifier_chunks_carry_the_pooling(tmp_path, pooling):
    """Mean and max pooling carry their running values (pool_count with pool_sum / pool_max) as
    state, so a batch in two chunks (sequences ending in either) equals the whole in one pass."""
    path = tmp_path / "c.safetensors"
    clf = mf.make_classifier(path, "lstm", False, pooling, layers=2)
    export_onnx(path, tmp_path / "c.onnx")
    sess = session(tmp_path / "c.onnx")
    names = set(input_names(sess))
    assert names == {"x", "lengths", "h", "c", "pool_count", "pool_sum" if pooling == "mean" else "pool_max"}
    rng = np.random.default_rng(9)
    x = rng.normal(size=(3, 9, mf.FEATURES)).astype(np.float32)
    lens = np.array([9, 7, 2])
    whole = run(sess, {"x": x, "lengths": lens, **zero_states(sess, 3, skip={"x"})})
    np.testing.assert_allclose(whole["logits"], torch_logits(clf, path, x, lens), **TOL)
    first = run(sess, {"x": x[:, :4], "lengths": np.minimum(lens, 4), **zero_states(sess, 3, skip={"x"})})
    # the third sequence ended in the first chunk: its second chunk is one step that the caller
    # would not feed; its values must be the first chunk's (compared below), the others continue
    second = run(sess, {"x": x[:, 4:], "lengths": np.maximum(lens - 4, 1), **carried(first, names)})
    np.testing.assert_allclose(second["logits"][:2], whole["logits"][:2], **TOL)
    np.testing.assert_allclose(first["logits"][2], whole["logits"][2], **TOL)
    np.testing.assert_allclose(first["pool_count_out"], [4, 4, 2])
    np.testing.assert_allclose(second["pool_count_out"][:2], [9, 7])
    # and the pooling state is used: the second chunk from zero pooling state differs
    restart = {**carried(first, names), **{n: np.zeros_like(v) for n, v in carried(first, names).items()
                                          if n.startswith("pool")}}
    fresh = run(sess, {"x": x[:, 4:], "lengths": np.maximum(lens - 4, 1), **restart})
    assert np.abs(fresh["logits"][:2] - whole["logits"][:2]).max() > 1e-4


@pytest.mark.parametrize("cell,layers", [("lstm", 2), ("gru-ln", 1), ("mingru", 2)])
def test_language_model(tmp_path, cell, layers):
    lm = mf.make_lm(tmp_path / "lm.safetensors", cell, layers)
    export_onnx(tmp_path / "lm.safetensors", tmp_path / "lm.onnx")
    sess = session(tmp_path / "lm.onnx")
    V = lm.config.vocab_size
    rng = np.random.default_rng(5)
    for T in LENGTHS:
        for B in BATCHES:
            ids = rng.integers(0, V, (B, T)).astype(np.int64)
            with torch.no_grad():
                want, state = lm(torch.from_numpy(ids))
            got = run(sess, {"ids": ids, **zero_states(sess, B)})
            np.testing.assert_allclose(got["logits"], want.numpy(), **TOL)
            h = state[0] if isinstance(state, tuple) else state
            np.testing.assert_allclose(got["h_out"], h.numpy(), **TOL)
    ids = rng.integers(0, V, (3, 9)).astype(np.int64)
    names = set(input_names(sess))
    whole = run(sess, {"ids": ids, **zero_states(sess, 3)})
    first = run(sess, {"ids": ids[:, :4], **zero_states(sess, 3)})
    second = run(sess, {"ids": ids[:, 4:], **carried(first, names)})
    np.testing.assert_allclose(np.concatenate([first["logits"], second["logits"]], 1), whole["logits"], **TOL)
    np.testing.assert_allclose(second["h_out"], whole["h_out"], **TOL)


@pytest.mark.parametrize("cell,attention,feeding,layers", [("gru", "bahdanau", True, 2), ("lstm", "luong", False, 1),
                                                           ("lstm-peephole", "luong", True, 1)])
def test_seq2seq_encoder_and_decoder_step(tmp_path, cell, attention, feeding, layers):
    tr = mf.make_seq2seq(tmp_path / "s.safetensors", cell, attention, feeding, layers)
    enc_path, dec_path = export_onnx(tmp_path / "s.safetensors", tmp_path / "s.onnx")
    assert enc_path.name == "s.encoder.onnx" and dec_path.name == "s.decoder.onnx"
    enc, dec = session(enc_path), session(dec_path)
    model = tr.model
    rng = np.random.default_rng(6)
    for lengths in ([1], [4, 2, 3], [9, 9, 5]):
        src = mf.padded_ids(rng, model.cfg.src_vocab_size, lengths)
        lens = np.array(lengths, np.int64)
        with torch.no_grad():
            mem, state, feed = model.encode(torch.from_numpy(src), torch.from_numpy(lens))
        e = run(enc, {"src": src, "lengths": lens})
        valid = lens[:, None] > np.arange(src.shape[1])[None, :]
        np.testing.assert_allclose(e["memory"][valid], mem.memory.numpy()[valid], **TOL)
        np.testing.assert_allclose(e["keys"][valid], mem.keys.numpy()[valid], **TOL)
        assert (e["mask"] == mem.mask.numpy()).all()
        names = ["h", "c"][: len(state)]
        for n, s in zip(names, state):
            np.testing.assert_allclose(e[n], s.numpy(), **TOL)
        # three greedy decoder steps, the state and feed carried by the caller
        y = np.full(len(lengths), 1, np.int64)  # <bos>
        st = {n: e[n] for n in names}
        fd = e["feed"]
        for _ in range(3):
            with torch.no_grad():
                logits, state, feed, w = model.decoder.step(torch.from_numpy(y), state, feed, mem)
            d = run(dec, {"y_prev": y, **st, "feed": fd, "memory": e["memory"], "keys": e["keys"], "mask": e["mask"]})
            np.testing.assert_allclose(d["logits"], logits.numpy(), **TOL)
            np.testing.assert_allclose(d["weights"], w.numpy(), **TOL)
            st, fd = {n: d[n + "_out"] for n in names}, d["feed_out"]
            y = logits.argmax(-1).numpy()
