"""Sampling: filters against hand-computed distributions, streaming against a naive re-run of the prefix."""

import numpy as np
import pytest
import torch

from seqlab.errors import SeqlabError
from seqlab.text.model import LMConfig, RecurrentLM, split_state
from seqlab.text.sampling import draw, filter_probs, sample, stream
from seqlab.vocab import Vocabulary

LOGITS = [2.0, 1.0, 0.0, -1.0, 0.5]


def _softmax(z):
    e = np.exp(np.asarray(z, dtype=np.float64) - np.max(z))
    return e / e.sum()


def _probs(**kw):
    return filter_probs(torch.tensor([LOGITS]), **kw)[0].double().numpy()


def test_filter_plain_and_temperature():
    np.testing.assert_allclose(_probs(), _softmax(LOGITS), rtol=1e-6)
    np.testing.assert_allclose(_probs(temperature=0.5), _softmax(np.array(LOGITS) * 2), rtol=1e-6)
    np.testing.assert_allclose(_probs(temperature=3.0), _softmax(np.array(LOGITS) / 3), rtol=1e-6)


def test_filter_top_k_hand_computed():
    # top-2 keeps logits 2 and 1: probabilities e^2 / (e^2 + e), e / (e^2 + e)
    e = np.e
    want = np.array([e**2, e, 0, 0, 0]) / (e**2 + e)
    np.testing.assert_allclose(_probs(top_k=2), want, rtol=1e-6)
    np.testing.assert_allclose(_probs(top_k=1), [1, 0, 0, 0, 0])
    np.testing.assert_allclose(_probs(top_k=99), _softmax(LOGITS), rtol=1e-6)


def test_filter_top_p_hand_computed():
    p = _softmax(LOGITS)  # sorted order: index 0 (.539), 1 (.198), 4 (.120), 2 (.073), 3 (.027)
    order = [0, 1, 4, 2, 3]
    assert np.all(np.diff(p[order]) < 0)
    # top_p=0.5: the most likely alone already exceeds it
    np.testing.assert_allclose(_probs(top_p=0.5), [1, 0, 0, 0, 0], atol=1e-7)
    # top_p=0.7: .539 < .7, .539 + .198 = .737 >= .7 -> keep indices 0 and 1
    want = np.zeros(5)
    want[[0, 1]] = p[[0, 1]] / p[[0, 1]].sum()
    np.testing.assert_allclose(_probs(top_p=0.7), want, rtol=1e-6, atol=1e-7)
    # top_p=0.85: .737 < .85, + .120 = .857 >= .85 -> keep 0, 1, 4
    want = np.zeros(5)
    want[[0, 1, 4]] = p[[0, 1, 4]] / p[[0, 1, 4]].sum()
    np.testing.assert_allclose(_probs(top_p=0.85), want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(_probs(top_p=1.0), p, rtol=1e-6)


def test_filter_temperature_then_top_k_then_top_p():
    z = np.array(LOGITS) / 0.5
    keep = [0, 1, 4]  # top-3 after temperature
    q = np.exp(z[keep] - z[keep].max())
    q /= q.sum()  # renormalised top-3: [.831, .112, .041] roughly -> top_p .9 keeps the first two
    assert q[0] < 0.9 <= q[0] + q[1]
    want = np.zeros(5)
    want[[0, 1]] = q[:2] / q[:2].sum()
    np.testing.assert_allclose(_probs(temperature=0.5, top_k=3, top_p=0.9), want, rtol=1e-6, atol=1e-7)


def test_draw_is_inverse_cdf_of_a_seeded_uniform():
    probs = torch.tensor([[0.2, 0.5, 0.3]] * 4000)
    g = torch.Generator().manual_seed(3)
    got = draw(probs, g).numpy()
    u = torch.rand(4000, 1, generator=torch.Generator().manual_seed(3)).numpy()[:, 0]
    want = np.searchsorted(np.cumsum([0.2, 0.5, 0.3]), u, side="right")
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(np.bincount(got, minlength=3) / 4000, [0.2, 0.5, 0.3], atol=0.03)
    zero = torch.tensor([[0.0, 1.0, 0.0]] * 50)  # filtered-out symbols are never drawn
    assert set(draw(zero, g).tolist()) == {1}


def _model(cell="lstm", text="the quick brown fox jumps over the lazy dog\n"):
    torch.manual_seed(7)
    vocab = Vocabulary.build(text)
    model = RecurrentLM(LMConfig(len(vocab), cell, hidden_size=16, num_layers=2)).eval()
    with torch.no_grad():
        model.decoder.weight.mul_(8)  # sharper distributions, so that the filters matter
    return model, vocab


def _naive(model, vocab, prime, length, temperature=1.0, top_k=None, top_p=None, greedy=False, seed=0):
    """Re-run the whole prefix at every step (the slow, obvious way) with the same draws."""
    g = torch.Generator().manual_seed(seed)
    ids = vocab.encode(prime)
    out = []
    with torch.no_grad():
        for _ in range(length):
            logits, _ = model(torch.tensor([ids]))  # (1, T, V)
            last = logits[:, -1]
            nxt = last.argmax(-1) if greedy else draw(filter_probs(last, temperature, top_k, top_p), g)
            ids.append(int(nxt))
            out.append(vocab.itos[int(nxt)])
    return "".join(out)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("kw", [{}, {"temperature": 0.7, "top_k": 5}, {"top_p": 0.8, "temperature": 1.5},
                                {"greedy": True}])
def test_streaming_equals_rerunning_the_prefix(cell, kw):
    model, vocab = _model(cell)
    pieces = list(stream(model, vocab, "the ", 40, seed=11, **kw))
    assert len(pieces) == 40 and all(p in vocab for p in pieces)  # one symbol per item, as produced
    assert "".join(pieces) == _naive(model, vocab, "the ", 40, seed=11, **kw)
    assert sample(model, vocab, "the ", 40, seed=11, **kw) == "".join(pieces)


@pytest.mark.parametrize("cell,options", [("lstm", {}), ("lstm", {"peephole": True}), ("gru", {}),
                                          ("rnn", {}), ("rnn", {"nonlinearity": "relu"})])
def test_step_equals_forward_on_one_step_chunks(cell, options):
    torch.manual_seed(2)
    vocab = Vocabulary.build("the quick brown fox")
    model = RecurrentLM(LMConfig(len(vocab), cell, hidden_size=16, num_layers=2, cell_options=options)).eval()
    ids = torch.tensor([vocab.encode("the quick")])  # (1, 9)
    logits, state = model(ids[:, :4])
    states = split_state(state)
    for t in range(4, 9):
        want, state = model(ids[:, t : t + 1], state)
        got, states = model.step(ids[:, t], states)
        torch.testing.assert_close(got, want[:, 0])


def test_seed_reproducible_and_state_restored():
    model, vocab = _model()
    model.train()
    threads = torch.get_num_threads()
    gen = stream(model, vocab, "fox", 30, temperature=2.0, seed=1)
    first = next(gen)
    assert torch.is_grad_enabled() and torch.get_num_threads() == threads  # nothing leaks between yields
    rest = "".join(gen)
    assert model.training
    assert first + rest == sample(model, vocab, "fox", 30, temperature=2.0, seed=1)
    assert sample(model, vocab, "fox", 30, temperature=2.0, seed=2) != first + rest


def test_sampling_errors():
    model, vocab = _model()
    with pytest.raises(SeqlabError, match=r"temperature: expected a number in \[1e-06, 1e\+06\]"):
        sample(model, vocab, "the", 5, temperature=0)
    with pytest.raises(SeqlabError, match="temperature"):
        sample(model, vocab, "the", 5, temperature=1e-300)  # would overflow the scaled logits
    with pytest.raises(SeqlabError, match="temperature"):
        stream(model, vocab, "the", 5, temperature=-1.0)  # raised before iterating
    with pytest.raises(SeqlabError, match=r"top_p: expected a number in \(0, 1\]"):
        sample(model, vocab, "the", 5, top_p=0.0)
    with pytest.raises(SeqlabError, match="top_p"):
        sample(model, vocab, "the", 5, top_p=1.01)
    with pytest.raises(SeqlabError, match="top_k: expected a positive integer"):
        sample(model, vocab, "the", 5, top_k=0)
    with pytest.raises(SeqlabError, match=r"1 character not in the model's vocabulary: 'Z'"):
        stream(model, vocab, "Zthe", 5)
    assert len(sample(model, vocab, "Zthe", 5, unknown="skip", seed=0)) == 5
    # a top-k beyond the vocabulary is no limit, on the compiled path as in torch
    assert sample(model, vocab, "the", 20, top_k=10**20, seed=3) == sample(model, vocab, "the", 20, seed=3)


def test_word_level_sampling():
    text = "the cat sat on the mat. the dog sat on the log.\n" * 2
    vocab = Vocabulary.build(text, level="word")
    model = RecurrentLM(LMConfig(len(vocab), "gru", hidden_size=8, num_layers=1)).eval()
    pieces = list(stream(model, vocab, "the cat", 10, seed=0))
    assert len(pieces) == 10 and all(p in vocab.itos for p in pieces)


@pytest.mark.parametrize("fast", [True, False], ids=["compiled-step", "torch-step"])
def test_stream_yields_as_produced_and_runs_the_prefix_once(monkeypatch, fast):
    from seqlab.text import fastpath, sampling

    monkeypatch.setattr(sampling, "FAST", fast)
    model, vocab = _model()
    calls = {"forward": [], "step": 0}
    forward, step = model.forward, model.step

    def spy_forward(ids, state=None):
        calls["forward"].append(tuple(ids.shape))
        return forward(ids, state)

    def spy_step(ids, states):
        calls["step"] += 1
        return step(ids, states)

    model.forward, model.step = spy_forward, spy_step
    if fast and fastpath.AVAILABLE:  # the compiled path steps its own copy of the weights
        fast_step = fastpath.FastStepper.step

        def spy_fast(self, token):
            calls["step"] += 1
            return fast_step(self, token)

        monkeypatch.setattr(fastpath.FastStepper, "step", spy_fast)
    gen = stream(model, vocab, "the quick", 4, seed=0)
    assert calls == {"forward": [], "step": 0}  # nothing runs before the first item is asked for
    next(gen)
    assert calls == {"forward": [(1, 9)], "step": 0}  # the prime once, then the first symbol at once
    next(gen)
    assert calls["step"] == 1
    list(gen)
    assert calls == {"forward": [(1, 9)], "step": 3}  # one step per later symbol, never the prefix again


def test_package_exports_are_the_functions_not_same_named_modules():
    """`from seqlab.text import sample` is the sampling function even after its module loaded."""
    import seqlab.text as text
    import seqlab.text.sampling  # noqa: F401

    for name in text.__all__:
        assert not isinstance(getattr(text, name), type(text)), name
    assert callable(text.sample) and text.sample is seqlab.text.sampling.sample


@pytest.mark.parametrize("fast", [True, False])
def test_specials_such_as_unk_are_never_drawn(fast, monkeypatch):
    """A word model's <unk> (or <pad>) is not text: sampling never draws it, even when the model
    puts almost all its mass there; without specials the draws are unchanged."""
    from seqlab.text import sampling
    from seqlab.vocab import PAD, UNK

    monkeypatch.setattr(sampling, "FAST", fast)
    vocab = Vocabulary(["the", " cat", " sat", "."], specials=(PAD, UNK), level="word")
    torch.manual_seed(0)
    model = RecurrentLM(LMConfig(len(vocab), "lstm", 8, 1)).eval()
    with torch.no_grad():
        model.decoder.bias[vocab.stoi[UNK]] = 8.0  # <unk> would be drawn ~99% of the time
        model.decoder.bias[vocab.stoi[PAD]] = 8.0
    words = list(stream(model, vocab, "the", 300, seed=1))
    assert UNK not in words and PAD not in words and len(words) == 300
    assert list(stream(model, vocab, "the", 20, greedy=True)).count(UNK) == 0
    plain = Vocabulary.build("abcabcab", level="char")  # no specials: the same draws as before the ban
    lm = RecurrentLM(LMConfig(len(plain), "lstm", 8, 1)).eval()
    x = "".join(stream(lm, plain, "a", 50, seed=3))
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        logits, state = lm(torch.tensor([[plain.stoi["a"]]]))
        states, last, want = split_state(state), logits[:, -1], []
        for _ in range(50):
            nxt = draw(filter_probs(last), gen)
            want.append(plain.itos[int(nxt)])
            last, states = lm.step(nxt, states)
    assert x == "".join(want)
