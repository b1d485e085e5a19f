"""``seqlab export`` on a model file of each job: the files it writes run in onnxruntime and equal
seqlab.reference; bad input is one line on stderr and exit code 2."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_files as mf  # noqa: E402

ort = pytest.importorskip("onnxruntime", reason="the export extra (onnxruntime) is part of .[all]")

from seqlab import layers as L  # noqa: E402
from seqlab.cli import main  # noqa: E402
from seqlab.reference import load  # noqa: E402

TOL = dict(rtol=1e-5, atol=1e-5)


def zeros_for(sess, B, skip):
    return {i.name: np.zeros([B if d == "batch" else d for d in i.shape], np.float32)
            for i in sess.get_inputs() if i.name not in skip and i.type == "tensor(float)"}


def test_export_a_model_file_of_each_job(tmp_path, capsys):
    rng = np.random.default_rng(0)
    files = {
        "sequential": mf.make_sequential(tmp_path / "seq.safetensors", [L.LSTM(4, input_shape=(None, 3)), L.Dense(1)]),
        "forecaster": mf.make_forecaster(tmp_path / "forecast.safetensors", ensemble=1),
        "classifier": mf.make_classifier(tmp_path / "classify.safetensors", "gru", True, "mean", text=True),
        "text-lm": mf.make_lm(tmp_path / "generate.safetensors", "gru", 1),
        "seq2seq": mf.make_seq2seq(tmp_path / "translate.safetensors"),
    }
    names = {"sequential": "seq", "forecaster": "forecast", "classifier": "classify", "text-lm": "generate",
             "seq2seq": "translate"}
    for kind, stem in names.items():
        src = tmp_path / f"{stem}.safetensors"
        assert main(["export", str(src), "--format", "onnx", "--out", str(tmp_path / f"{stem}.onnx")]) == 0
        ref = load(src)
        assert ref.kind == kind
        if kind == "seq2seq":
            assert {p.name for p in tmp_path.glob("translate.*.onnx")} == {"translate.encoder.onnx",
                                                                          "translate.decoder.onnx"}
            enc = ort.InferenceSession(str(tmp_path / "translate.encoder.onnx"))
            src_ids = mf.padded_ids(rng, len(files[kind].src_vocab), [5, 3])
            out = enc.run(["memory"], {"src": src_ids, "lengths": np.array([5, 3])})[0]
            np.testing.assert_allclose(out, ref.encode(src_ids, [5, 3])["memory"], **TOL)
            continue
        sess = ort.InferenceSession(str(tmp_path / f"{stem}.onnx"))
        if kind == "sequential":
            x = rng.normal(size=(2, 5, 3)).astype(np.float32)
            got, want = sess.run(["y"], {"x": x, **zeros_for(sess, 2, {"x"})})[0], ref.forward(x)
        elif kind == "forecaster":
            cfg = files[kind].nets[0].cfg
            x = rng.normal(size=(2, 7, cfg.input_size)).astype(np.float32)
            feed = {"x": x, **zeros_for(sess, 2, {"x", "dec"})}
            dec = None
            if getattr(cfg, "dec_size", 0):
                dec = feed["dec"] = rng.normal(size=(2, cfg.out_steps, cfg.dec_size)).astype(np.float32)
            got, want = sess.run(["y"], feed)[0], ref.forward(x, dec=dec)[0]
        elif kind == "classifier":
            ids, lens = mf.padded_ids(rng, len(files[kind].vocab), [4, 2]), np.array([4, 2])
            got, want = sess.run(["logits"], {"ids": ids, "lengths": lens})[0], ref.logits(ids, lens)
        else:
            ids = rng.integers(0, files[kind].config.vocab_size, (2, 6))
            got = sess.run(["logits"], {"ids": ids, **zeros_for(sess, 2, {"ids"})})[0]
            want = ref.forward(ids)[0]
        np.testing.assert_allclose(got, want, **TOL)
    printed = capsys.readouterr().out
    assert "wrote" in printed and "translate.decoder.onnx" in printed


def test_numpy_format_default_name(tmp_path, capsys):
    model = mf.make_sequential(tmp_path / "m.safetensors", [L.GRU(3, input_shape=(None, 2)), L.Dense(2)])
    assert main(["export", str(tmp_path / "m.safetensors"), "--format", "numpy"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'm.npz'}"
    x = np.ones((1, 4, 2), np.float32)
    import torch

    with torch.no_grad():
        np.testing.assert_allclose(load(tmp_path / "m.npz").forward(x), model(torch.from_numpy(x)).numpy(), **TOL)


@pytest.mark.parametrize("args,message", [
    (["missing.safetensors"], "does not exist"),
    (["{bad}"], "not a readable seqlab model"),
    (["{good}", "--out", "{tmp}/x.txt"], "expected a file ending in .onnx"),
    (["{good}", "--format", "numpy", "--out", "{tmp}/nofolder/x.npz"], "does not exist"),
])
def test_errors_are_one_line(tmp_path, capsys, args, message):
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 20)
    mf.make_sequential(tmp_path / "good.safetensors", [L.GRU(3, input_shape=(None, 2))])
    argv = ["export"] + [a.format(bad=tmp_path / "bad.safetensors", good=tmp_path / "good.safetensors", tmp=tmp_path)
                         for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("seqlab export: error:") and message in err


def test_export_the_classifier_that_classify_train_writes(tmp_path, capsys):
    """`seqlab classify train` with its defaults (the LSTM-FCN: patches, attention, convolutional
    branch) and a budget of 2 steps; `seqlab export` writes a graph that takes raw series and
    gives the probabilities of the loaded classifier's predict_proba."""
    from seqlab.classify import SequenceClassifier

    rng = np.random.default_rng(3)
    y = np.arange(30) % 2
    X = (rng.normal(size=(30, 70, 2)) + y[:, None, None]).astype(np.float32)
    np.savez(tmp_path / "d.npz", X=X, y=y, lengths=rng.integers(20, 71, 30))
    model = str(tmp_path / "m.safetensors")
    assert main(["classify", "train", "--data", str(tmp_path / "d.npz"), "--save", model, "--steps", "2",
                 "--quiet", "--threads", "1", "--device", "cpu"]) == 0
    assert main(["export", model]) == 0
    assert capsys.readouterr().out.strip().endswith(f"wrote {tmp_path / 'm.onnx'}")
    clf = SequenceClassifier.load(model)
    assert clf.net.config.fcn > 0 and clf.net.config.patch > 1 and clf.net.config.pooling == "attention"
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"))
    x, lens = (rng.normal(size=(3, 50, 2)) * 2).astype(np.float32), np.array([50, 11, 33])
    got = sess.run(["probabilities"], {"x": x, "lengths": lens})[0]
    np.testing.assert_allclose(got, clf.predict_proba(x, lengths=lens), **TOL)
    np.testing.assert_allclose(load(model).predict_proba(x, lengths=lens), clf.predict_proba(x, lengths=lens), **TOL)


def test_export_a_regressor_file(tmp_path, capsys):
    """A file written by SequenceRegressor.save (k = 2 outputs, the convolutional branch, patches,
    attention, series normalisation): --format onnx gives y in the target's units and --format
    numpy an .npz that seqlab.reference runs, both equal to the regressor's predict (1e-5 of the
    target scale)."""
    from seqlab.classify import SequenceRegressor

    src = tmp_path / "r.safetensors"
    mf.make_regressor(src, 2, "gru", True, "attention", fcn=3, rnn_steps=2, normalize="series")
    reg = SequenceRegressor.load(src)
    assert main(["export", str(src)]) == 0
    assert main(["export", str(src), "--format", "numpy"]) == 0
    assert capsys.readouterr().out.split() == ["wrote", str(tmp_path / "r.onnx"), "wrote", str(tmp_path / "r.npz")]
    x, lens = mf.uneven_series(np.random.default_rng(12), 9, 3)
    want = reg.predict(x, lengths=lens)  # (3, 2)
    got = ort.InferenceSession(str(tmp_path / "r.onnx")).run(["y"], {"x": x, "lengths": lens})[0]
    mf.assert_targets_close(got, want, reg)
    ref = load(tmp_path / "r.npz")
    assert ref.kind == "regressor" and ref.n_outputs == 2
    mf.assert_targets_close(ref.predict(x, lengths=lens), want, reg)


def test_export_a_hybrid_forecaster_file(tmp_path, capsys, monkeypatch):
    """`seqlab forecast --network hybrid --save` (tiny settings, the embedded airline data) writes a
    hybrid forecaster file; --format onnx gives a graph and --format numpy an .npz that, on the
    windows the forecaster prepares for its last forecast (and on random windows of uneven
    lengths, an unseen series), equal its torch networks (1e-5)."""
    import torch

    from seqlab.forecast import Forecaster

    monkeypatch.chdir(tmp_path)
    model = str(tmp_path / "h.safetensors")
    assert main(["forecast", "--network", "hybrid", "--horizon", "4", "--lookback", "12", "--hidden", "4",
                 "--ensemble", "2", "--epochs", "1", "--folds", "0", "--no-stats", "--no-plot", "--quiet",
                 "--threads", "1", "--save", model, "--out", str(tmp_path / "f.csv")]) == 0
    assert main(["export", model]) == 0
    assert main(["export", model, "--format", "numpy"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"wrote {tmp_path / 'h.onnx'}\nwrote {tmp_path / 'h.npz'}")
    f = Forecaster.load(model)
    cfg = f.nets[0].cfg
    assert cfg.kind == "hybrid" and cfg.season == 12 and len(f.nets) == 2
    s = next(iter(f.tails.values()))
    inputs, _, _ = f._window_inputs(s, s.name, 12, np.array([len(s) - f.lag]), cfg.out_steps)
    names = ["x", "lengths", "dec", "series", "phase"]
    rng = np.random.default_rng(4)
    x, lens = rng.normal(size=(3, 12, cfg.input_size)).astype(np.float32), np.array([12, 5, 1])
    feeds = [dict(zip(names, inputs)),
             {"x": x, "lengths": lens, "dec": rng.normal(size=(3, 4, cfg.dec_size)), "series": np.array([0, -1, 0]),
              "phase": np.array([3, 0, 11])}]
    sess = ort.InferenceSession(str(tmp_path / "h.onnx"))
    ref = load(tmp_path / "h.npz")
    for feed in feeds:
        feed = {k: np.asarray(v, np.float32 if k in ("x", "dec") else np.int64) for k, v in feed.items()}
        with torch.no_grad():
            want = torch.stack([n(*(torch.from_numpy(feed[k]) for k in names)) for n in f.nets]).mean(0).numpy()
        np.testing.assert_allclose(sess.run(["y"], feed)[0], want, **TOL)
        np.testing.assert_allclose(ref.forward(feed["x"], dec=feed["dec"], lengths=feed["lengths"],
                                               series=feed["series"], phase=feed["phase"])[0], want, **TOL)
