"""What an ONNX consumer needs without seqlab: the ``seqlab.*`` metadata_props of every exported
file (config, class labels, vocabularies, forecaster settings), a tokeniser built from them alone
(the snippet in docs/ecosystem.md, run as written) giving seqlab's ids, and the documented
``with_zero_states`` helper and calls, run as written, feeding the state inputs (required
inputs, listed by ``get_inputs()``) of every kind: equal to the torch model and seqlab.reference,
a first chunk from zeros and a second with the ``*_out`` values fed equal to one pass, and no
warning on stderr when a file is opened."""

import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_files as mf  # noqa: E402

ort = pytest.importorskip("onnxruntime", reason="the export extra (onnxruntime) is part of .[all]")
onnx = pytest.importorskip("onnx")

from seqlab import layers as L  # noqa: E402
from seqlab.errors import SeqlabError  # noqa: E402
from seqlab.export.onnx import METADATA_VERSION, export_onnx, vocab_metadata  # noqa: E402
from seqlab.reference import load  # noqa: E402
from seqlab.reference.models import read_model_file  # noqa: E402
from seqlab.vocab import UNK, Vocabulary  # noqa: E402

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ecosystem.md"
TOL = dict(rtol=1e-5, atol=1e-5)


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def meta_of(path):
    return {p.key: json.loads(p.value) for p in onnx.load(str(path)).metadata_props}


def docs_snippet(marker):
    """The ```python block of docs/ecosystem.md that contains ``marker``."""
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    found = [b for b in blocks if marker in b]
    assert len(found) == 1, f"{marker!r} in {len(found)} python blocks of {DOCS}"
    return found[0]


def docs_with_zero_states():
    """The docs' ``with_zero_states`` helper, its block run as written."""
    ns = {}
    exec(docs_snippet("def with_zero_states(sess, feed)"), ns)  # noqa: S102
    return ns["with_zero_states"]


def docs_encoder(tmp_path, monkeypatch, model):
    """The docs' metadata snippet run as written on ``model`` exported as model.onnx (a seq2seq
    model: its encoder file): its namespace (``meta``, ``encode``)."""
    import shutil

    shutil.copyfile(export_onnx(model, tmp_path / "exported.onnx")[0], tmp_path / "model.onnx")
    monkeypatch.chdir(tmp_path)
    ns = {}
    exec(docs_snippet("def encode(text, v)"), ns)  # noqa: S102
    return ns


def pad(seqs, pad_id):
    lens = np.array([len(q) for q in seqs], np.int64)
    ids = np.full((len(seqs), int(lens.max())), pad_id, np.int64)
    for i, q in enumerate(seqs):
        ids[i, : len(q)] = q
    return ids, lens


# -- the metadata of every kind --------------------------------------------------------------------
def test_every_kind_has_the_common_keys(tmp_path):
    files = {
        "sequential": lambda p: mf.make_sequential(p, [L.LSTM(4, input_shape=(None, 3)), L.Dense(2)]),
        "classifier": lambda p: mf.make_classifier(p, "gru", True, "attention"),
        "regressor": lambda p: mf.make_regressor(p, 2, "lstm", False, "mean"),
        "text-lm": lambda p: mf.make_lm(p, "gru", 1),
        "seq2seq": lambda p: mf.make_seq2seq(p),
    }
    for kind, make in files.items():
        path = tmp_path / f"{kind}.safetensors"
        make(path)
        _, config, _ = read_model_file(path)
        for out in export_onnx(path, tmp_path / f"{kind}.onnx"):
            raw = onnx.load(str(out)).metadata_props
            assert all(isinstance(p.value, str) for p in raw)
            meta = meta_of(out)
            assert meta["seqlab.kind"] == kind and meta["seqlab.format_version"] == METADATA_VERSION
            assert meta["seqlab.graph"] == ("model" if kind != "seq2seq" else out.name.split(".")[1])
            assert meta["seqlab.config"] == {k: v for k, v in config.items()
                                             if k not in ("vocab", "src_vocab", "tgt_vocab")}
            assert ("seqlab.classes" in meta) == (kind == "classifier")
            assert ("seqlab.vocab" in meta) == (kind == "text-lm")
            assert ("seqlab.src_vocab" in meta) == ("seqlab.tgt_vocab" in meta) == (kind == "seq2seq")
        if kind == "regressor":
            assert meta["seqlab.targets"] == {"n_outputs": 2, "y_ndim": 2}


def test_classifier_labels_name_the_probability_columns(tmp_path):
    """Classes other than the sorted strings of the fixtures: the labels are the columns' order."""
    from seqlab.classify import SequenceClassifier

    rng = np.random.default_rng(3)
    X = [rng.normal(size=(int(rng.integers(3, 8)), mf.FEATURES)).astype(np.float32) for _ in range(24)]
    y = [[7, 2, 11][i % 3] for i in range(24)]
    clf = SequenceClassifier(cell="gru", hidden_size=5, pooling="last", epochs=1, batch_size=8, threads=None,
                             verbose=0).fit(X, y)
    mf.randomize(clf.net)
    clf.save(tmp_path / "c.safetensors")
    export_onnx(tmp_path / "c.safetensors", tmp_path / "c.onnx")
    labels = meta_of(tmp_path / "c.onnx")["seqlab.classes"]
    assert labels == clf.classes_.tolist() and sorted(labels) == [2, 7, 11]
    series, lengths = mf.uneven_series(rng, 8, 5, garbage=0.0)
    sess = session(tmp_path / "c.onnx")
    proba = sess.run(["probabilities"], docs_with_zero_states()(sess, {"x": series, "lengths": lengths}))[0]
    np.testing.assert_allclose(proba, clf.predict_proba(series, lengths=lengths), **TOL)
    assert [labels[i] for i in proba.argmax(1)] == np.asarray(clf.predict(series, lengths=lengths)).tolist()


# -- a tokeniser from the metadata alone --------------------------------------------------------------
def test_text_classifier_tokenised_from_the_metadata(tmp_path, monkeypatch):
    """A streaming text classifier (max pooling): the docs' encode gives the classifier's ids
    (lowercased words, spaces dropped, an unknown word as <unk>), and onnxruntime on them (the
    state zeros from the docs' with_zero_states) gives predict_proba, the labels from the metadata
    its predictions."""
    path = tmp_path / "c.safetensors"
    clf = mf.make_classifier(path, "lstm", False, "max", text=True)
    ns = docs_encoder(tmp_path, monkeypatch, path)
    meta, encode = ns["meta"], ns["encode"]
    v = meta["seqlab.vocab"]
    assert v["tokens"] == clf.vocab.itos and v["specials"] == {"<pad>": 0, "<unk>": 1} and v["unknown"] == "replace"
    assert meta["seqlab.classes"] == clf.classes_.tolist()
    texts = ["Good, GREAT fine!", "awful  zebra ok", "bad", "poor poor\tpoor... OK"]
    got = [encode(t, v) for t in texts]
    assert got == [clf.vocab.to_ids(clf.vocab.tokenize(t), unknown="replace") for t in texts]
    assert v["unk_id"] in got[1]  # "zebra" is not in the vocabulary
    ids, lengths = pad(got, v["pad_id"])
    sess = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
    proba = sess.run(["probabilities"], docs_with_zero_states()(sess, {"ids": ids, "lengths": lengths}))[0]
    np.testing.assert_allclose(proba, clf.predict_proba(texts), **TOL)
    assert [meta["seqlab.classes"][i] for i in proba.argmax(1)] == np.asarray(clf.predict(texts)).tolist()


def test_language_model_tokenised_from_the_metadata(tmp_path, monkeypatch):
    """Word level with spaces kept, lowercased, rare words read as <unk>; and the char level of
    the fixture (no <unk>: seqlab refuses an unknown character, the metadata says 'error')."""
    from seqlab.text.model import LMConfig, RecurrentLM, save_lm

    corpus = "The cat sat on the mat.\nThe dog sat, the cat ran!  A cat; a dog."
    vocab = Vocabulary.build(corpus, level="word", lowercase=True, min_freq=2)
    assert vocab.unk_id is not None
    lm = RecurrentLM(LMConfig(vocab_size=len(vocab), cell="gru", hidden_size=6, num_layers=1)).eval()
    save_lm(tmp_path / "w.safetensors", lm, vocab)
    ns = docs_encoder(tmp_path, monkeypatch, tmp_path / "w.safetensors")
    v, encode = ns["meta"]["seqlab.vocab"], ns["encode"]
    assert (v["level"], v["lowercase"], v["drop_spaces"], v["unknown"]) == ("word", True, False, "replace")
    for text in ["THE cat  sat on a zebra.", "the\tdog ran;\n", "  a cat, the MAT!"]:
        assert encode(text, v) == vocab.encode(text)
    ids = np.array([encode("the cat sat on the mat. a dog", v)], np.int64)
    sess = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
    logits = sess.run(["logits"], docs_with_zero_states()(sess, {"ids": ids}))[0]
    with torch.no_grad():
        np.testing.assert_allclose(logits, lm(torch.from_numpy(ids))[0].numpy(), **TOL)

    mf.make_lm(tmp_path / "c.safetensors", "lstm", 1)  # char level, no <unk>
    char = Vocabulary.from_config(read_model_file(tmp_path / "c.safetensors")[1]["vocab"])
    export_onnx(tmp_path / "c.safetensors", tmp_path / "c.onnx")
    v = meta_of(tmp_path / "c.onnx")["seqlab.vocab"]
    assert (v["level"], v["pattern"], v["unk_id"], v["unknown"]) == ("char", None, None, "error")
    assert encode("the lazy dog", v) == char.encode("the lazy dog")
    assert encode("the LAZY dog", v)[4] is None
    with pytest.raises(SeqlabError, match="not in the model's vocabulary"):
        char.encode("the LAZY dog")


def test_seq2seq_vocabularies_in_both_files(tmp_path, monkeypatch):
    tr = mf.make_seq2seq(tmp_path / "s.safetensors")
    enc, dec = export_onnx(tmp_path / "s.safetensors", tmp_path / "s.onnx")
    for f in (enc, dec):
        meta = meta_of(f)
        assert meta["seqlab.src_vocab"]["tokens"] == tr.src_vocab.itos
        assert meta["seqlab.tgt_vocab"]["tokens"] == tr.tgt_vocab.itos
    ns = docs_encoder(tmp_path, monkeypatch, tmp_path / "s.safetensors")
    encode, meta = ns["encode"], ns["meta"]
    src, tgt = meta["seqlab.src_vocab"], meta["seqlab.tgt_vocab"]
    assert (src["unknown"], tgt["bos_id"], tgt["eos_id"]) == ("error", tr.tgt_vocab.bos_id, tr.tgt_vocab.eos_id)
    for text in ["March 3, 2021", "3/14/1999", "tuesday, 01.02.03"]:
        assert encode(text, src) == tr.src_vocab.encode(text)
    assert encode("2021-03-03", tgt) == tr.tgt_vocab.encode("2021-03-03")


def test_word_level_seq2seq_source_reads_unseen_words_as_unk(tmp_path, monkeypatch):
    """A word-level source has <unk> (seqlab translates an unseen word as it): the metadata says
    'replace', and the docs' encoder gives seqlab's ids for a text with such a word."""
    from seqlab.seq2seq.translator import Translator
    from seqlab.seq2seq.vocab import SPECIALS, source_specials

    src = Vocabulary.build(["three one", "one two"], level="word", specials=source_specials("word"))
    tgt = Vocabulary.build(["trois un", "un deux"], level="word", specials=SPECIALS)
    Translator.create(src, tgt, embed_size=4, hidden_size=5).save(tmp_path / "w.safetensors")
    ns = docs_encoder(tmp_path, monkeypatch, tmp_path / "w.safetensors")
    meta = ns["meta"]["seqlab.src_vocab"]
    assert (meta["unknown"], meta["unk_id"]) == ("replace", 3)
    assert ns["encode"]("five one", meta) == src.encode("five one") == [3, src.stoi[" one"]]
    assert ns["meta"]["seqlab.tgt_vocab"]["unknown"] == "error"


def test_legacy_vocabulary_levels(tmp_path, monkeypatch):
    """Old model files' word splits (classify's words and single marks, seq2seq's whitespace) and
    the old text layout: the metadata's pattern reproduces them."""
    mf.make_lm(tmp_path / "lm.safetensors", "gru", 1)
    ns = docs_encoder(tmp_path, monkeypatch, tmp_path / "lm.safetensors")
    encode = ns["encode"]
    text = "Hello, world!  It's fine...\tOK ok"
    layouts = [
        {"text": {"tokenizer": "word", "lowercase": True, "min_freq": 1, "max_size": None},
         "tokens": ["hello", ",", "world", "it", "'", "s", "ok", "."]},
        {"itos": ["<pad>", "<s>", "</s>", "OK", "Hello,", "It's", "fine...", "ok", "world!"], "level": "word",
         "lowercase": False},
        {"symbols": list("Helo, wrd!It'sfin.\tOK") + [UNK], "level": "char", "unk": UNK},
    ]
    for cfg in layouts:
        vocab = Vocabulary.from_config(cfg)
        v = json.loads(json.dumps(vocab_metadata(vocab, "replace")))
        assert encode(text, v) == vocab.encode(text, unknown="replace" if vocab.unk_id is not None else "error")


def test_a_vocabulary_that_cannot_be_read_names_it(tmp_path):
    mf.make_lm(tmp_path / "lm.safetensors", "gru", 1)
    ref = load(tmp_path / "lm.safetensors")
    ref.config = {**ref.config, "vocab": {"bogus": 1}}
    with pytest.raises(SeqlabError, match=r"model: its config's 'vocab' is not a readable vocabulary .*re-save"):
        export_onnx(ref, tmp_path / "lm.onnx")
    assert not (tmp_path / "lm.onnx").exists()


# -- the state inputs: required inputs, fed by the documented helper ---------------------------------
def chunks_equal_one_pass(sess, with_zero_states, feed_whole, feed_first, feed_second, keep=slice(None)):
    """One pass over ``feed_whole`` and a first chunk ``feed_first``, each from zeros
    (``with_zero_states``), then ``feed_second`` with the first's ``*_out`` fed as the inputs of
    the same names: its outputs (``keep`` rows) equal the one pass's. Without the states the call
    is refused (they are required), and zeros in their place give other outputs."""
    names = [o.name for o in sess.get_outputs()]
    whole = dict(zip(names, sess.run(None, with_zero_states(sess, feed_whole))))
    first = dict(zip(names, sess.run(None, with_zero_states(sess, feed_first))))
    states = {n[: -len("_out")]: v for n, v in first.items() if n.endswith("_out")}
    assert states and set(states) <= {i.name for i in sess.get_inputs()}
    with pytest.raises(Exception, match="[Mm]issing|[Rr]equired"):
        sess.run(None, feed_second)
    second = dict(zip(names, sess.run(None, {**feed_second, **states})))
    main = [n for n in names if not n.endswith("_out")]
    for n in main:
        np.testing.assert_allclose(second[n][keep], whole[n][keep], **TOL)
    fresh = dict(zip(names, sess.run(None, with_zero_states(sess, feed_second))))  # the fed state is used
    assert np.abs(fresh[main[0]][keep] - whole[main[0]][keep]).max() > 1e-4
    return whole, first, second


def test_docs_helper_fills_only_what_is_left_out():
    with_zero_states = docs_with_zero_states()

    class In:
        def __init__(self, name, type, shape):
            self.name, self.type, self.shape = name, type, shape

    class Sess:
        def get_inputs(self):
            return [In("x", "tensor(float)", ["batch", "time", 3]), In("lengths", "tensor(int64)", ["batch"]),
                    In("h", "tensor(float)", [2, "batch", 5]), In("pool_count", "tensor(float)", ["batch"])]

    x, lengths = np.ones((4, 7, 3), np.float32), np.full(4, 7, np.int64)
    feed = with_zero_states(Sess(), {"x": x, "lengths": lengths})
    assert feed["x"] is x and feed["lengths"] is lengths and set(feed) == {"x", "lengths", "h", "pool_count"}
    assert (feed["h"].shape, feed["h"].dtype, feed["pool_count"].shape) == ((2, 4, 5), np.float32, (4,))
    assert not feed["h"].any() and not feed["pool_count"].any()


@pytest.mark.parametrize("cell,pooling", [("gru", "last"), ("lstm", "mean"), ("lstm", "max")])
def test_streaming_classifier_documented_call(tmp_path, monkeypatch, cell, pooling):
    """The docs' classifier block, exactly as written, on a streaming classifier of each pooling:
    predict_proba of torch and of seqlab.reference; two chunks equal one pass."""
    path = tmp_path / "c.safetensors"
    clf = mf.make_classifier(path, cell, False, pooling, layers=2)
    export_onnx(path, tmp_path / "model.onnx")
    monkeypatch.chdir(tmp_path)
    with_zero_states = docs_with_zero_states()
    block = docs_snippet('proba = sess.run(["probabilities"], feed)[0]')
    ref = load(path)
    rng = np.random.default_rng(12)
    for T, B in ((1, 1), (9, 3)):
        series, lengths = mf.uneven_series(rng, T, B, garbage=0.0)
        ns = {"with_zero_states": with_zero_states, "series": series, "lengths": lengths}
        exec(block, ns)  # noqa: S102
        states = {"h", "c"}.intersection(ns["feed"]) | {k for k in ns["feed"] if k.startswith("pool_")}
        assert states == ({"h"} if cell == "gru" else {"h", "c"}) | (
            set() if pooling == "last" else {"pool_count", "pool_sum" if pooling == "mean" else "pool_max"})
        np.testing.assert_allclose(ns["proba"], clf.predict_proba(series, lengths=lengths), **TOL)
        np.testing.assert_allclose(ns["proba"], ref.predict_proba(series, lengths=lengths), **TOL)
    sess = ns["sess"]
    assert [i.name for i in sess.get_inputs()][:2] == ["x", "lengths"] and "h" in ns["feed"]
    x = rng.normal(size=(3, 9, mf.FEATURES)).astype(np.float32)
    lens = np.array([9, 9, 9])
    chunks_equal_one_pass(sess, with_zero_states, {"x": x, "lengths": lens}, {"x": x[:, :4], "lengths": lens - 5},
                          {"x": x[:, 4:], "lengths": lens - 4})


def test_language_model_documented_calls(tmp_path, monkeypatch):
    """The docs' language-model block as written (its 2-layer LSTM of 128 units): from zeros by
    the helper, then chunk by chunk with h and c carried, equal to torch and seqlab.reference."""
    from seqlab.text.model import LMConfig, RecurrentLM, save_lm
    from seqlab.vocab import Vocabulary

    vocab = Vocabulary.build("the quick brown fox jumps over the lazy dog")
    lm = RecurrentLM(LMConfig(vocab_size=len(vocab), cell="lstm", hidden_size=128, num_layers=2)).eval()
    save_lm(tmp_path / "lm.safetensors", lm, vocab)
    export_onnx(tmp_path / "lm.safetensors", tmp_path / "lm.onnx")
    monkeypatch.chdir(tmp_path)
    with_zero_states = docs_with_zero_states()
    block = docs_snippet('sess = ort.InferenceSession("lm.onnx")')
    ids = np.random.default_rng(5).integers(0, len(vocab), (3, 9)).astype(np.int64)
    ns = {"with_zero_states": with_zero_states, "ids": ids, "chunks": []}
    exec(block, ns)  # noqa: S102
    assert [i.name for i in ns["sess"].get_inputs()] == ["ids", "h", "c"]
    with torch.no_grad():
        want, (h, c) = lm(torch.from_numpy(ids))
    np.testing.assert_allclose(ns["logits"], want.numpy(), **TOL)
    np.testing.assert_allclose(ns["logits"], load(tmp_path / "lm.safetensors").forward(ids)[0], **TOL)
    ns = {"with_zero_states": with_zero_states, "ids": ids, "chunks": [ids[:1, :4], ids[:1, 4:]]}
    exec(block, ns)  # noqa: S102
    np.testing.assert_allclose(ns["logits"], want.numpy()[:1, 4:], **TOL)
    np.testing.assert_allclose(ns["h"], h.numpy()[:, :1], **TOL)
    np.testing.assert_allclose(ns["c"], c.numpy()[:, :1], **TOL)


def test_sequential_and_forecaster_with_the_helper(tmp_path):
    with_zero_states = docs_with_zero_states()
    model = mf.make_sequential(tmp_path / "m.safetensors", [
        L.LSTM(5, input_shape=(None, mf.FEATURES), return_sequences=True), L.GRU(4), L.Dense(2)])
    export_onnx(tmp_path / "m.safetensors", tmp_path / "m.onnx")
    sess = session(tmp_path / "m.onnx")
    assert [i.name for i in sess.get_inputs()] == ["x", "layer0.h", "layer0.c", "layer1.h"]
    rng = np.random.default_rng(8)
    x = rng.normal(size=(3, 9, mf.FEATURES)).astype(np.float32)
    y = sess.run(["y"], with_zero_states(sess, {"x": x}))[0]
    with torch.no_grad():
        np.testing.assert_allclose(y, model(torch.from_numpy(x)).numpy(), **TOL)
    np.testing.assert_allclose(y, load(tmp_path / "m.safetensors").forward(x), **TOL)
    chunks_equal_one_pass(sess, with_zero_states, {"x": x}, {"x": x[:, :4]}, {"x": x[:, 4:]})

    f = mf.make_forecaster(tmp_path / "f.safetensors", "gru", 2)
    export_onnx(tmp_path / "f.safetensors", tmp_path / "f.onnx")
    sess = session(tmp_path / "f.onnx")
    assert [i.name for i in sess.get_inputs()] == ["x", "dec", "member0.h", "member1.h"]
    meta = meta_of(tmp_path / "f.onnx")
    fm = meta["seqlab.forecast"]
    assert (fm["horizon"], fm["quantiles"], fm["freq"], fm["net"]) == (6, list(f.config.quantiles), "MS", "rnn")
    cfg = f.nets[0].cfg
    assert (fm["features"], fm["dec_features"]) == (cfg.input_size, cfg.dec_size)
    x = rng.normal(size=(2, 9, cfg.input_size)).astype(np.float32)
    dec = rng.normal(size=(2, cfg.out_steps, cfg.dec_size)).astype(np.float32)
    with torch.no_grad():
        want = torch.stack([n(torch.from_numpy(x), None, torch.from_numpy(dec)) for n in f.nets]).mean(0).numpy()
    y = sess.run(["y"], with_zero_states(sess, {"x": x, "dec": dec}))[0]
    np.testing.assert_allclose(y, want, **TOL)
    np.testing.assert_allclose(y, load(tmp_path / "f.safetensors").forward(x, dec=dec)[0], **TOL)
    chunks_equal_one_pass(sess, with_zero_states, {"x": x, "dec": dec}, {"x": x[:, :5], "dec": dec},
                          {"x": x[:, 5:], "dec": dec})


def test_seq2seq_with_the_helper(tmp_path):
    """The helper adds nothing to the seq2seq files' feeds (the decoder's state comes from the
    encoder), and a step through them equals seqlab.reference."""
    with_zero_states = docs_with_zero_states()
    tr = mf.make_seq2seq(tmp_path / "s.safetensors", "lstm", "bahdanau", True)
    enc, dec = (session(p) for p in export_onnx(tmp_path / "s.safetensors", tmp_path / "s.onnx"))
    ref = load(tmp_path / "s.safetensors")
    src = mf.padded_ids(np.random.default_rng(6), tr.model.cfg.src_vocab_size, [4, 2, 3])
    lengths = np.array([4, 2, 3], np.int64)
    feed = with_zero_states(enc, {"src": src, "lengths": lengths})
    assert set(feed) == {"src", "lengths"}
    e = dict(zip([o.name for o in enc.get_outputs()], enc.run(None, feed)))
    r = ref.encode(src, lengths)
    np.testing.assert_allclose(e["h"], r["state"][0], **TOL)
    y = np.full(3, tr.tgt_vocab.bos_id, np.int64)
    step = {"y_prev": y, **{n: e[n] for n in ("h", "c", "feed", "memory", "keys", "mask")}}
    assert with_zero_states(dec, step) == step
    d = dict(zip([o.name for o in dec.get_outputs()], dec.run(None, step)))
    logits, state, _, _ = ref.decode_step(y, r["state"], r["feed"], r["memory"], r["keys"], r["mask"])
    np.testing.assert_allclose(d["logits"], logits, **TOL)
    np.testing.assert_allclose(d["c_out"], state[1], **TOL)


def test_every_state_is_a_plain_input_and_files_open_silently(tmp_path, capfd):
    """No initializer doubles as an input (onnxruntime warned about each at every session
    creation and hid it from get_inputs()): the states are in get_inputs(), and opening any
    kind's file as the docs do writes nothing to stderr."""
    files = {
        "sequential": (lambda p: mf.make_sequential(p, [L.LSTM(4, input_shape=(None, 3), return_sequences=True),
                                                          L.GRU(3), L.Dense(2)]),
                       [["x", "layer0.h", "layer0.c", "layer1.h"]]),
        "classifier-last": (lambda p: mf.make_classifier(p, "gru", False, "last"), [["x", "lengths", "h"]]),
        "classifier-mean": (lambda p: mf.make_classifier(p, "lstm", False, "mean"),
                            [["x", "lengths", "h", "c", "pool_count", "pool_sum"]]),
        "classifier-max": (lambda p: mf.make_classifier(p, "gru", False, "max", text=True),
                           [["ids", "lengths", "h", "pool_count", "pool_max"]]),
        "text-lm": (lambda p: mf.make_lm(p, "lstm", 2), [["ids", "h", "c"]]),
        "forecaster": (lambda p: mf.make_forecaster(p, "lstm", 1, ensemble=1),
                       [["x", "dec", "member0.h", "member0.c"]]),
        "seq2seq": (lambda p: mf.make_seq2seq(p, "gru"),
                    [["src", "lengths"], ["y_prev", "h", "feed", "memory", "keys", "mask"]]),
    }
    for kind, (make, inputs) in files.items():
        make(tmp_path / f"{kind}.safetensors")
        outs = export_onnx(tmp_path / f"{kind}.safetensors", tmp_path / f"{kind}.onnx")
        for out, want in zip(outs, inputs):
            graph = onnx.load(str(out)).graph
            assert [i.name for i in graph.input] == want
            assert not {t.name for t in graph.initializer} & set(want), kind
            capfd.readouterr()
            sess = ort.InferenceSession(str(out))
            err = capfd.readouterr().err
            assert err == "", f"{kind}: {err}"
            assert [i.name for i in sess.get_inputs()] == want and sess.get_overridable_initializers() == []
