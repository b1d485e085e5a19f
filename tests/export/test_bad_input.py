"""``seqlab export``: every broken model file of the shared table (tests/cli_helpers.py) and bad
options, for both formats: exit code 2, one line on stderr, no traceback, and an earlier export
at the output path left as it was."""

import pytest

from tests.cli_helpers import BROKEN_MODELS, assert_refused, broken_inputs, parametrize, prepare_case

EARLIER = {"out.onnx": b"an earlier graph", "out.npz": b"an earlier archive"}


@pytest.fixture(scope="module")
def world(tmp_path_factory, common_bad):
    import torch

    from seqlab.text import LMConfig, RecurrentLM, Vocabulary, save_lm

    d = tmp_path_factory.mktemp("export_bad")
    vocab = Vocabulary.build("hello world, the cat sat on the mat.")
    torch.manual_seed(3)
    model = d / "lm.safetensors"  # a config with hidden_size, which the shared table's edits change
    save_lm(model, RecurrentLM(LMConfig(vocab_size=len(vocab), cell="lstm", hidden_size=8, num_layers=2)), vocab)
    named = {"as_onnx": d / "lm.onnx", "as_npz": d / "lm.npz"}  # the model under its export's name
    for path in named.values():
        path.write_bytes(model.read_bytes())
    from seqlab.seq2seq.train import date_vocabs
    from seqlab.seq2seq.translator import Translator

    src, tgt = date_vocabs()
    named["s2s"] = d / "t.encoder.onnx"  # a seq2seq model where its encoder graph would go
    Translator.create(src, tgt, embed_size=4, hidden_size=5).save(named["s2s"])
    named["s2s_out"] = d / "t.onnx"
    from seqlab import io

    def edited(name: str, source, edit) -> None:  # a copy of ``source`` with its config changed by ``edit``
        kind = io.peek_kind(source)
        config, tensors = io.load_file(source)
        edit(config["model"] if "model" in config else config)
        named[name] = d / f"{name}.safetensors"
        named[name].write_bytes(io.model_bytes(kind, config, tensors))

    edited("layers_0", model, lambda c: c.update(num_layers=0))
    edited("layers_huge", model, lambda c: c.update(num_layers=10**20))
    edited("layers_fewer", model, lambda c: c.update(num_layers=1))  # the file holds two
    edited("attention_dot", named["s2s"], lambda c: c.update(attention="dot"))
    edited("target_len_huge", named["s2s"], lambda c: c.update(max_target_len=10**20))
    return dict(broken_inputs(d, model, common_bad), model=model, **named)


# Any job's model exports, so another job's file is no error here; and both formats build from
# the weights' own shapes (seqlab.reference), so a config whose sizes disagree with them does not
# allocate anything and is not refused: the graph and the arrays are those of the weights.
_SKIP = _NUMPY_SKIP = {"other-job", "config-huge", "shape-mismatch"}
_WORDS = {"checkpoint": "training checkpoint", "shape-mismatch": "seqlab model"}
CASES = [(f"{fmt}-{name}", ["export", path, "--format", fmt, "--out", f"{{out}}/out.{ext}"], _WORDS.get(name, msg))
         for fmt, ext, skip in (("onnx", "onnx", _SKIP), ("numpy", "npz", _NUMPY_SKIP))
         for name, path, msg in BROKEN_MODELS if name not in skip]
CASES += [
    ("out-a-folder", ["export", "{model}", "--out", "{out}"], "is a folder"),
    ("out-wrong-extension", ["export", "{model}", "--format", "numpy", "--out", "{out}/x.onnx"], "ending in .npz"),
    ("out-in-a-missing-folder", ["export", "{model}", "--out", "{out}/no/x.onnx"], "does not exist"),
    ("format-unknown", ["export", "{model}", "--format", "torchscript"], "--format"),
    ("out-is-the-model-onnx", ["export", "{as_onnx}"], "is also the file of MODEL"),
    ("out-is-the-model-onnx-explicit", ["export", "{as_onnx}", "--out", "{as_onnx}"], "is also the file of MODEL"),
    ("out-is-the-model-numpy", ["export", "{as_npz}", "--format", "numpy"], "is also the file of MODEL"),
    ("seq2seq-encoder-file-is-the-model", ["export", "{s2s}", "--out", "{s2s_out}"], "encoder file"),
]
# configs edited to disagree with the weights: refused by both formats (the NumPy one checks that
# seqlab.reference can run what it writes)
CASES += [(f"{fmt}-config-{name.replace('_', '-')}", ["export", f"{{{name}}}", "--format", fmt, "--out", f"{{out}}/x.{ext}"],
           message)
          for fmt, ext in (("onnx", "onnx"), ("numpy", "npz"))
          for name, message in (("layers_0", "num_layers is 0"), ("layers_huge", "num_layers"),
                                ("layers_fewer", "the file holds more layers"),
                                ("attention_dot", "attention is 'dot'"))]


@parametrize(CASES)
def test_bad_input_is_one_line_and_keeps_earlier_exports(args, expected, world, cli, tmp_path, monkeypatch):
    out, argv = prepare_case(tmp_path, monkeypatch, EARLIER, args, world)
    assert_refused(cli, out, argv, expected)


def test_a_refused_export_leaves_the_model_file_as_it_was(world, cli):
    before = {k: world[k].read_bytes() for k in ("as_onnx", "as_npz", "s2s")}
    for args in (["export", world["as_onnx"]], ["export", world["as_npz"], "--format", "numpy"],
                 ["export", world["s2s"], "--out", world["s2s_out"]]):
        assert cli(*args)[0] == 2
    assert {k: world[k].read_bytes() for k in before} == before and not world["s2s_out"].exists()


def test_every_shared_broken_model_is_covered():
    names = {c[0] for c in CASES}
    assert {f"onnx-{n}" for n, _, _ in BROKEN_MODELS if n not in _SKIP} <= names
    assert len(CASES) >= 40


@pytest.mark.parametrize("args,message", [
    (["generate", "sample", "--model", "{layers_huge}", "--sample-length", "5"], "num_layers: expected an integer in [1, 1000]"),
    (["generate", "sample", "--model", "{layers_0}", "--sample-length", "5"], "num_layers"),
    (["translate", "predict", "--model", "{target_len_huge}", "3/3/15"], "max_target_len: expected an integer in [1, 100000]"),
    (["translate", "predict", "--model", "{attention_dot}", "3/3/15"], "attention: expected one of ('bahdanau', 'luong'), got 'dot'"),
])
def test_the_torch_loaders_refuse_the_same_edited_configs_at_once(args, message, world, cli):
    # a config of 10**20 layers or output tokens once built modules (or decoded) for minutes
    import time

    t0 = time.monotonic()
    code, _, err = cli(*[a.format(**world) for a in args])
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert time.monotonic() - t0 < 10
