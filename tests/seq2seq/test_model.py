"""The network: masks, the parallel path, attention equations, teacher forcing, decoding, files."""

import numpy as np
import pytest
import torch

from seqlab.errors import ModelFileError, SeqlabError
from seqlab.io import save_file
from seqlab.seq2seq import Seq2Seq, Seq2SeqConfig, Translator, beam_search, greedy
from seqlab.seq2seq.model import Attention, pad_batch
from seqlab.seq2seq.search import length_penalty, log_probs
from seqlab.seq2seq.vocab import BOS, EOS, SPECIALS
from seqlab.vocab import Vocabulary

# each cell, each attention, with and without input feeding (the last pair runs the parallel path)
COMBOS = [("gru", "bahdanau", True), ("lstm", "luong", True), ("lstm", "bahdanau", False), ("gru", "luong", False)]


def make_model(cell="gru", attention="bahdanau", input_feeding=True, seed=0, **kw) -> Seq2Seq:
    torch.manual_seed(seed)
    cfg = Seq2SeqConfig(src_vocab_size=11, tgt_vocab_size=9, embed_size=6, hidden_size=7, cell=cell,
                        attention=attention, input_feeding=input_feeding, max_target_len=8, **kw)
    m = Seq2Seq(cfg).double().eval()
    with torch.no_grad():  # larger random weights so that attention is far from uniform
        for p in m.parameters():
            p.mul_(3.0)
    return m


def batch(seed=1, lengths=(5, 2, 7, 3)):
    g = torch.Generator().manual_seed(seed)
    seqs = [torch.randint(3, 11, (n,), generator=g).tolist() for n in lengths]
    src, lens = pad_batch(seqs)
    tgt = torch.randint(3, 9, (len(seqs), 6), generator=g)
    tgt[:, 0] = BOS
    return seqs, src, lens, tgt


@pytest.mark.parametrize("cell,attention,feeding", COMBOS)
def test_padding_gets_exactly_zero_attention_and_changes_nothing(cell, attention, feeding):
    m = make_model(cell, attention, feeding)
    seqs, src, lens, tgt = batch()
    logits, w = m(src, lens, tgt)  # (B, T, V), (B, T, S)
    for b, n in enumerate(lens.tolist()):
        assert torch.all(w[b, :, n:] == 0)  # exactly zero, not small
        assert torch.allclose(w[b].sum(-1), torch.ones(tgt.shape[1], dtype=w.dtype))
        assert torch.all(w[b, :, :n] > 0)
        alone_l, alone_w = m(src[b : b + 1, :n], lens[b : b + 1], tgt[b : b + 1])
        assert torch.allclose(alone_l[0], logits[b], atol=1e-10)
        assert torch.allclose(alone_w[0], w[b, :, :n], atol=1e-10)
    # padding ids are never looked at: filling the padding with other tokens changes nothing
    noisy = src.clone()
    noisy[src == 0] = 5
    l2, w2 = m(noisy, lens, tgt)
    assert torch.allclose(l2, logits, atol=1e-12) and torch.allclose(w2, w, atol=1e-12)
    # greedy decoding of a source alone equals its row in the padded batch
    hyps = greedy(m, src, lens, 8)
    for b, n in enumerate(lens.tolist()):
        (h,) = greedy(m, src[b : b + 1, :n], lens[b : b + 1], 8)
        assert h.tokens == hyps[b].tokens and abs(h.logprob - hyps[b].logprob) < 1e-9
        assert torch.allclose(h.attention, hyps[b].attention, atol=1e-10)


def step_by_step(m, src, lens, tgt):
    mem, state, feed = m.encode(src, lens)
    out, ws = [], []
    for t in range(tgt.shape[1]):
        lg, state, feed, w = m.decoder.step(tgt[:, t], state, feed, mem)
        out.append(lg)
        ws.append(w)
    return torch.stack(out, 1), torch.stack(ws, 1)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_parallel_teacher_forcing_equals_stepping(cell):
    m = make_model(cell, "luong", False)
    assert m.decoder.parallel
    _, src, lens, tgt = batch(2)
    a_l, a_w = m(src, lens, tgt)  # the parallel path (fused recurrent layer + batched attention)
    b_l, b_w = step_by_step(m, src, lens, tgt)
    assert torch.allclose(a_l, b_l, atol=1e-10) and torch.allclose(a_w, b_w, atol=1e-10)


def test_attention_equations_against_numpy():
    torch.manual_seed(3)
    B, S, Q, K = 2, 5, 4, 6
    query, memory = torch.randn(B, Q, dtype=torch.double), torch.randn(B, S, K, dtype=torch.double)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    for kind in ("bahdanau", "luong"):
        att = Attention(kind, Q, K).double()
        ctx, w = att(query, att.keys(memory), memory, mask)
        q, mem, Wk = query.numpy(), memory.numpy(), att.w_k.weight.detach().numpy()
        for b in range(B):
            n = int(mask[b].sum())
            if kind == "bahdanau":
                Wq, bq, v = att.w_q.weight.detach().numpy(), att.w_q.bias.detach().numpy(), att.v.weight.detach().numpy()[0]
                e = np.array([v @ np.tanh(Wq @ q[b] + bq + Wk @ mem[b, j]) for j in range(n)])
            else:
                e = np.array([q[b] @ (Wk @ mem[b, j]) for j in range(n)])
            p = np.exp(e - e.max())
            p /= p.sum()
            np.testing.assert_allclose(w[b, :n].detach().numpy(), p, atol=1e-12)
            np.testing.assert_allclose(ctx[b].detach().numpy(), p @ mem[b, :n], atol=1e-12)


@pytest.mark.parametrize("cell,attention,feeding", [("gru", "bahdanau", True), ("lstm", "luong", False)])
def test_teacher_forcing_ratio(cell, attention, feeding):
    """Ratio 0 feeds the model's own argmax (= greedy decoding); ratio 1 the true tokens."""
    m = make_model(cell, attention, feeding, seed=4)
    _, src, lens, tgt = batch(3)
    logits, _ = m(src, lens, tgt, teacher_forcing=0.0)
    hyps = greedy(m, src, lens, tgt.shape[1])
    for b, h in enumerate(hyps):
        k = len(h.tokens)  # greedy stops at the end token; compare the steps both made
        assert log_probs(logits[b, :k].detach()).argmax(-1).tolist() == h.tokens
    tf1, _ = m(src, lens, tgt, teacher_forcing=1.0)
    ref, _ = step_by_step(m, src, lens, tgt)
    assert torch.allclose(tf1, ref, atol=1e-10)
    torch.manual_seed(0)
    half, _ = m(src, lens, tgt, teacher_forcing=0.5)
    assert torch.allclose(half[:, 0], ref[:, 0])  # the first step always starts from <s>
    assert not torch.allclose(half, ref) and not torch.allclose(half, logits)


def sequence_logprob(m, src, lens, tokens):
    """Independent score of one hypothesis: teacher-forced log-probabilities of its tokens."""
    tgt_in = torch.tensor([[BOS] + tokens[:-1]])
    with torch.no_grad():
        logits, _ = m(src, lens, tgt_in)
    return float(torch.log_softmax(logits[0], -1).gather(1, torch.tensor(tokens)[:, None]).sum())


@pytest.mark.parametrize("cell,attention,feeding", COMBOS[:2] + COMBOS[3:])
def test_beam_one_is_greedy_and_nbest_is_ordered(cell, attention, feeding):
    m = make_model(cell, attention, feeding, seed=5)
    seqs, src, lens, _ = batch(4)
    for b, n in enumerate(lens.tolist()):
        s, l = src[b : b + 1, :n], lens[b : b + 1]
        (g,) = greedy(m, s, l, 8)
        (h,) = beam_search(m, s, l, beam=1, max_len=8)
        assert h.tokens == g.tokens and abs(h.logprob - g.logprob) < 1e-9
        assert torch.allclose(h.attention, g.attention, atol=1e-10)
        for alpha in (0.0, 0.8):
            best = beam_search(m, s, l, beam=4, max_len=8, alpha=alpha, nbest=4)
            assert len(best) == 4 and len({tuple(x.tokens) for x in best}) == 4
            finished = [x.finished for x in best]
            assert finished == sorted(finished, reverse=True)  # ended hypotheses first
            for x, y in zip(best, best[1:]):
                if x.finished == y.finished:
                    assert x.score >= y.score
            for x in best:
                assert not {0, BOS} & set(x.tokens)  # padding and <s> are never outputs
                assert abs(x.logprob - sequence_logprob(m, s, l, x.tokens)) < 1e-6
                assert abs(x.score - x.logprob / ((5 + len(x.tokens)) / 6) ** alpha) < 1e-9
                assert x.attention.shape == (len(x.tokens), n)
                assert torch.allclose(x.attention.sum(-1), torch.ones(len(x.tokens), dtype=x.attention.dtype), atol=1e-6)
    assert length_penalty(7, 0.0) == 1.0 and length_penalty(7, 1.0) == 2.0


def test_beam_on_a_peaked_model_finds_ended_hypotheses():
    """A model that prefers the end token after two steps: beam search returns ended outputs."""
    m = make_model(seed=6)
    with torch.no_grad():
        m.decoder.out.bias[EOS] += 4.0
    _, src, lens, _ = batch(5)
    best = beam_search(m, src[:1, :5], lens[:1], beam=3, max_len=8, nbest=3)
    assert all(h.finished for h in best)
    assert [h.score for h in best] == sorted((h.score for h in best), reverse=True)


def translator(seed=0, **kw) -> Translator:
    src, tgt = Vocabulary(list("abcdef 12"), specials=SPECIALS), Vocabulary(list("xyz-0"), specials=SPECIALS)
    torch.manual_seed(seed)
    tr = Translator.create(src, tgt, embed_size=5, hidden_size=6, max_target_len=6, **kw)
    with torch.no_grad():
        for p in tr.model.parameters():
            p.mul_(3.0)
    return tr


@pytest.mark.parametrize("kw", [dict(cell="gru", attention="bahdanau", input_feeding=True),
                                dict(cell="lstm", attention="luong", input_feeding=False)])
def test_save_load_gives_identical_outputs(tmp_path, kw):
    tr = translator(**kw)
    path = tmp_path / "m.safetensors"
    tr.save(path)
    tr2 = Translator.load(path)
    assert tr2.model.cfg == tr.model.cfg
    assert tr2.src_vocab.itos == tr.src_vocab.itos and tr2.tgt_vocab.itos == tr.tgt_vocab.itos
    texts = ["abc", "fed 12", "a", "bb cc dd"]
    for a, b in zip(tr.translate_batch(texts), tr2.translate_batch(texts)):
        assert a.text == b.text and a.score == b.score and torch.equal(a.attention, b.attention)
    for a, b in zip(tr.nbest("fed 12", beam=3), tr2.nbest("fed 12", beam=3)):
        assert a.text == b.text and a.score == b.score and torch.equal(a.attention, b.attention)


def test_translator_outputs_and_bad_input(tmp_path):
    tr = translator()
    out = tr.translate("abc 12")
    assert out.source_tokens == list("abc 12") and out.attention.shape == (len(out.target_tokens), 6)
    assert out.text == tr.tgt_vocab.decode(tr.tgt_vocab.stoi[t] for t in out.target_tokens)
    assert tr.translate("abc 12", beam=1).text == tr.translate_batch(["abc 12"])[0].text
    with pytest.raises(SeqlabError, match="non-empty"):
        tr.translate("")
    with pytest.raises(SeqlabError, match="non-empty"):
        tr.translate("   ")
    with pytest.raises(SeqlabError, match=r"2 characters not in the model's vocabulary: 'z', 'q'; remove them$"):
        tr.translate("abz q")  # no advice to pass an unknown= policy that translation does not take
    for bad in (0, -1, 1.5):
        with pytest.raises(SeqlabError, match="beam"):
            tr.translate("abc", beam=bad)
    with pytest.raises(SeqlabError, match="max_len"):
        tr.translate("abc", max_len=0)
    for bad in (-0.5, 1e6, float("nan")):  # ((5 + n) / 6) ** 1e6 overflows
        for beam in (1, 3):
            with pytest.raises(SeqlabError, match=r"length_penalty: expected a number in \[0, 10\]"):
                tr.translate("abc", beam=beam, length_penalty=bad)
    with pytest.raises(SeqlabError, match="attention"):
        Seq2SeqConfig(src_vocab_size=5, tgt_vocab_size=5, attention="dot")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 5 + b"not a model at all")
    with pytest.raises(ModelFileError):
        Translator.load(junk)
    other = tmp_path / "other.safetensors"
    save_file(other, "forecast", {"x": 1}, {"w": torch.zeros(2)})
    with pytest.raises(ModelFileError, match="'forecast' model, expected a 'seq2seq'"):
        Translator.load(other)
    with pytest.raises(ModelFileError, match="does not exist"):
        Translator.load(tmp_path / "missing.safetensors")


def test_vocab_round_trip_and_levels():
    v = Vocabulary.build(["the cat", "a dog"], level="word", specials=SPECIALS)
    assert v.itos[:3] == ["<pad>", "<s>", "</s>"] and sorted(v.itos[3:]) == [" cat", " dog", "a", "the"]
    ids = v.encode("the dog")
    assert v.decode([BOS] + ids + [EOS] + ids) == "the dog"  # stops at </s>, leaves out <s>
    c = Vocabulary.build(["Ab"], specials=SPECIALS, lowercase=True)
    assert c.itos[3:] == ["a", "b"] and c.decode(c.encode("BA")) == "ba"
    assert Vocabulary.from_config(c.to_config()).itos == c.itos
    with pytest.raises(SeqlabError, match="level"):
        Vocabulary([], specials=SPECIALS, level="byte")
    with pytest.raises(SeqlabError, match=r"src_vocab: expected a Vocabulary with the specials"):
        Translator.create(Vocabulary(list("ab")), c)


def test_two_layer_encoder_with_dropout_keeps_the_padding_rules():
    m = make_model("lstm", "bahdanau", True, seed=7, num_layers=2, dropout=0.3)  # eval: no dropout
    seqs, src, lens, tgt = batch(6)
    logits, w = m(src, lens, tgt)
    assert len(m.encoder.rnn.cells) == 4 and m.encoder.rnn.dropout == 0.3
    for b, n in enumerate(lens.tolist()):
        assert torch.all(w[b, :, n:] == 0)
        alone, _ = m(src[b : b + 1, :n], lens[b : b + 1], tgt[b : b + 1])
        assert torch.allclose(alone[0], logits[b], atol=1e-10)
