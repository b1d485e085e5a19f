"""The compiled one-call generation step (seqlab.text.fastpath) against the model's torch step:
the same logits and states along a sequence of symbols (float64 to 1e-12, float32 to 1e-5), the
same text from the sampler for a seed (temperature, top-k, top-p, greedy), and None for the
models it does not cover."""

import pytest
import torch

pytest.importorskip("numba", reason="the compiled step needs the seqlab[fast] extra")

from seqlab.text import sampling  # noqa: E402
from seqlab.text.fastpath import fast_stepper  # noqa: E402
from seqlab.text.model import LMConfig, RecurrentLM, split_state  # noqa: E402
from seqlab.vocab import Vocabulary  # noqa: E402

V, H = 23, 12
MODELS = [("lstm", {}), ("gru", {}), ("gru", {"reset": "before"})]


def _model(cell, opts, embed=None, layers=2, dtype=torch.float64):
    torch.manual_seed(1)
    model = RecurrentLM(LMConfig(V, cell, H, layers, embed_size=embed, cell_options=opts)).to(dtype).eval()
    with torch.no_grad():  # larger weights: saturated and unsaturated gates both occur
        for p in model.parameters():
            p.mul_(3.0)
    return model


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
@pytest.mark.parametrize("embed", [None, 5, 20])  # smaller than, equal to, larger than the hidden size
@pytest.mark.parametrize("cell,opts", MODELS)
def test_fast_step_equals_model_step(cell, opts, embed, dtype, tol):
    model = _model(cell, opts, embed, layers=3, dtype=dtype)
    fast = fast_stepper(model)
    assert fast is not None
    with torch.no_grad():
        _, state = model(torch.tensor([[1, 2, 3]]))  # a prime through the layer
        states = split_state(state)
        fast.set_state(states)
        for tok in [4, 0, 22, 7, 7, 13]:
            want, states = model.step(torch.tensor([tok]), states)
            got = fast.step(tok)
            torch.testing.assert_close(torch.from_numpy(got.copy()), want[0], rtol=tol, atol=tol)
        for layer, st in enumerate(states):
            torch.testing.assert_close(torch.from_numpy(fast.h[layer].copy()), st[0][0], rtol=tol, atol=tol)


@pytest.mark.parametrize("cell,opts", MODELS)
def test_sampler_gives_the_same_text_on_either_path(monkeypatch, cell, opts):
    text = "the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n"
    vocab = Vocabulary.build(text)
    torch.manual_seed(0)
    model = RecurrentLM(LMConfig(len(vocab), cell, 16, 2, cell_options=opts)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    settings = [dict(temperature=0.8, seed=0), dict(temperature=1.0, top_k=5, seed=1),
                dict(temperature=1.3, top_p=0.9, seed=2), dict(greedy=True, seed=3)]
    texts = {}
    for fast in (True, False):
        monkeypatch.setattr(sampling, "FAST", fast)
        texts[fast] = [sampling.sample(model, vocab, "the ", 400, **kw) for kw in settings]
    assert texts[True] == texts[False]
    assert len(set(texts[True])) == 4


def test_models_the_kernels_do_not_cover_step_in_torch():
    for cell, opts in [("lstm-peephole", {}), ("lstm-ln", {}), ("gru-ln", {}), ("mingru", {}), ("rnn", {})]:
        assert fast_stepper(RecurrentLM(LMConfig(V, cell, H, 2, cell_options=opts))) is None
    assert fast_stepper(RecurrentLM(LMConfig(V, "lstm", H, 1)).to(torch.bfloat16)) is None
