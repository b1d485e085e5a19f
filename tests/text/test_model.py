"""The language model: TBPTT state carrying, torch.nn as an oracle, weight tying, save/load."""

import math

import pytest
import torch
import torch.nn.functional as F

from seqlab.errors import ModelFileError, SeqlabError
from seqlab.io import save_file
from seqlab.text.data import batchify
from seqlab.text.model import LMConfig, RecurrentLM, load_lm, save_lm
from seqlab.text.sampling import sample
from seqlab.text.train import evaluate
from seqlab.vocab import Vocabulary

CASES = [
    ("lstm", {}), ("lstm", {"peephole": True}), ("gru", {}), ("gru", {"reset": "before"}),
    ("rnn", {}), ("rnn", {"nonlinearity": "relu"}),
]


def _model(cell="lstm", options=None, **kw):
    cfg = LMConfig(vocab_size=11, cell=cell, hidden_size=8, num_layers=2, embed_size=6, cell_options=options or {}, **kw)
    return RecurrentLM(cfg).double().eval()


@pytest.mark.parametrize("cell,options", CASES)
def test_state_carried_across_chunks_equals_whole_sequence(cell, options):
    model = _model(cell, options)
    ids = torch.randint(0, 11, (3, 23))
    whole, whole_state = model(ids)  # (3, 23, V)
    state, parts = None, []
    for x in ids.split(5, dim=1):  # chunks of 5, 5, 5, 5, 3 steps
        out, state = model(x, state)
        parts.append(out)
    torch.testing.assert_close(torch.cat(parts, 1), whole, rtol=1e-10, atol=1e-10)
    for a, b in zip(state if isinstance(state, tuple) else (state,),
                    whole_state if isinstance(whole_state, tuple) else (whole_state,)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_evaluate_with_streams_equals_running_each_stream_whole():
    model = _model("lstm")
    ids = torch.randint(0, 11, (61,))
    B = 3
    streams = batchify(ids, B)  # (3, 20)
    got = evaluate(model, ids, batch_size=B, seq_len=4)
    logits, _ = model(streams[:, :-1])  # each stream run whole: (3, 19, V)
    want = F.cross_entropy(logits.flatten(0, 1), streams[:, 1:].flatten()).item()
    assert got == pytest.approx(want, rel=1e-10)


def test_logits_match_torch_nn():
    torch.manual_seed(1)
    model = _model("lstm")
    ref = model.rnn.to_torch().double()
    ids = torch.randint(0, 11, (2, 9))
    out, _ = ref(model.embedding(ids))
    want = model.decoder(out)
    got, _ = model(ids)
    torch.testing.assert_close(got, want)
    assert model.rnn.resolve_backend() == "fused"


def test_detached_state_stops_gradients_at_chunk_border():
    model = _model("gru").train()
    ids = torch.randint(0, 11, (2, 10))
    emb = model.embedding.weight
    _, state = model(ids[:, :5])
    logits, _ = model(ids[:, 5:], state.detach())
    loss = logits.sum()
    (g_detached,) = torch.autograd.grad(loss, emb)
    # only the second chunk's tokens get embedding gradient through the detached graph
    used = set(ids[:, 5:].flatten().tolist())
    for tok in set(range(11)) - used:
        assert torch.all(g_detached[tok] == 0)


def test_tied_weights():
    cfg = LMConfig(vocab_size=7, hidden_size=5, num_layers=1, tie_weights=True)
    model = RecurrentLM(cfg)
    assert model.decoder.weight is model.embedding.weight
    with pytest.raises(SeqlabError, match="tie_weights: needs embed_size == hidden_size"):
        LMConfig(vocab_size=7, hidden_size=5, embed_size=4, tie_weights=True)


def test_bad_config():
    with pytest.raises(SeqlabError, match="cell: expected one of"):
        LMConfig(vocab_size=5, cell="transformer")
    with pytest.raises(SeqlabError, match="dropout"):
        LMConfig(vocab_size=5, dropout=1.5)


@pytest.mark.parametrize("tie", [False, True])
def test_save_load_gives_identical_samples(tmp_path, tie):
    text = "abracadabra, ça va? 🙂\n" * 3
    vocab = Vocabulary.build(text)
    model = RecurrentLM(LMConfig(len(vocab), "lstm", hidden_size=12, num_layers=2, tie_weights=tie)).eval()
    path = tmp_path / "m.safetensors"
    save_lm(path, model, vocab, extra={"note": "x"})
    loaded, vocab2, extra = load_lm(path)
    assert vocab2.itos == vocab.itos and extra == {"note": "x"}
    assert loaded.decoder.weight is loaded.embedding.weight if tie else True
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    a = sample(model, vocab, "abra", 80, temperature=1.3, seed=5)
    b = sample(loaded, vocab2, "abra", 80, temperature=1.3, seed=5)
    assert a == b and len(a) > 0


def test_load_rejects_foreign_files(tmp_path):
    bad = tmp_path / "notes.safetensors"
    bad.write_text("just some text, not a model")
    with pytest.raises(ModelFileError, match="not a readable seqlab model"):
        load_lm(bad)
    other = tmp_path / "other.safetensors"
    save_file(other, "forecast", {"x": 1}, {"w": torch.zeros(2)})
    with pytest.raises(ModelFileError, match="expected a 'text-lm' model"):
        load_lm(other)
    broken = tmp_path / "broken.safetensors"
    save_file(broken, "text-lm", {"model": {"vocab_size": 3}, "vocab": {"symbols": ["a", "b", "c"]}},
              {"w": torch.zeros(2)})
    with pytest.raises(ModelFileError, match="inconsistent"):
        load_lm(broken)


def test_loss_units():
    from seqlab.text.train import describe_loss

    assert describe_loss(math.log(2) * 1.5, "char").startswith("1.500 bits/char")
    assert describe_loss(math.log(120.0), "word").startswith("perplexity 120.0")


MIN_CASES = [
    ("mingru", {}), ("minlstm", {}), ("mingru", {"norm": False, "residual": False}),
    ("minlstm", {"activation": "identity"}),
]


@pytest.mark.parametrize("cell,options", MIN_CASES)
@pytest.mark.parametrize("embed_size", [6, 8])  # 8 = hidden: the first layer gets a residual too
def test_minrnn_forward_equals_stepping_symbol_by_symbol(cell, options, embed_size):
    from seqlab.text.model import split_state

    torch.manual_seed(3)
    cfg = LMConfig(vocab_size=11, cell=cell, hidden_size=8, num_layers=3, embed_size=embed_size, cell_options=options)
    model = RecurrentLM(cfg).double().eval()
    assert model.rnn.resolve_backend() != "fused"
    ids = torch.randint(0, 11, (3, 17))
    want, want_state = model(ids)  # (3, 17, V), h (3 layers, 3, 8): the parallel scan
    assert want_state.shape == (3, 3, 8)
    first, state = model(ids[:, :1])
    got, states = [first[:, 0]], split_state(state)
    assert len(states) == 3 and all(len(s) == 1 and s[0].shape == (3, 8) for s in states)
    for t in range(1, ids.shape[1]):
        logits, states = model.step(ids[:, t], states)  # (3, V)
        got.append(logits)
    torch.testing.assert_close(torch.stack(got, 1), want, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(torch.stack([s[0] for s in states]), want_state, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("cell,options", MIN_CASES)
def test_minrnn_state_carried_across_two_chunks_equals_one_long_chunk(cell, options):
    torch.manual_seed(4)
    model = _model(cell, options)
    ids = torch.randint(0, 11, (2, 30))
    whole, whole_state = model(ids)
    a, state = model(ids[:, :13])
    b, state = model(ids[:, 13:], state)
    torch.testing.assert_close(torch.cat([a, b], 1), whole, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(state, whole_state, rtol=1e-10, atol=1e-10)


def test_minrnn_lm_defaults_are_norm_and_residual_and_can_be_overridden():
    cfg = LMConfig(vocab_size=5, cell="mingru")
    assert cfg.cell_options == {"norm": True, "residual": True}
    model = RecurrentLM(cfg)
    assert model.rnn.norm and model.rnn.residual
    cfg = LMConfig(vocab_size=5, cell="minlstm", cell_options={"residual": False})
    assert cfg.cell_options == {"norm": True, "residual": False}
    assert LMConfig(vocab_size=5, cell="lstm").cell_options == {}
    with pytest.raises(SeqlabError, match="cell_options: expected a dict"):
        LMConfig(vocab_size=5, cell="mingru", cell_options=[("norm", False)])


@pytest.mark.parametrize("cell,options", [("mingru", {}), ("minlstm", {}), ("mingru", {"residual": False})])
def test_minrnn_save_load_gives_identical_logits_and_samples(tmp_path, cell, options):
    text = "to be or not to be, that is the question\n" * 3
    vocab = Vocabulary.build(text)
    torch.manual_seed(5)
    model = RecurrentLM(LMConfig(len(vocab), cell, hidden_size=12, num_layers=2, cell_options=options)).eval()
    path = tmp_path / "m.safetensors"
    save_lm(path, model, vocab)
    loaded, vocab2, _ = load_lm(path)
    assert loaded.config == model.config and loaded.config.cell_options == model.config.cell_options
    ids = torch.tensor([vocab.encode(text[:40])])
    with torch.no_grad():
        assert torch.equal(loaded(ids)[0], model(ids)[0])
    a = sample(model, vocab, "to be", 60, temperature=1.2, seed=2)
    b = sample(loaded, vocab2, "to be", 60, temperature=1.2, seed=2)
    assert a == b and len(a) > 0
