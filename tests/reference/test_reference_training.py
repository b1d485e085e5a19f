"""Training in pure NumPy (seqlab.reference.net / optim / trainer) against independent references:
torch.nn.RNN/LSTM/GRU with torch.optim and clip_grad_norm_ on the same float64 weights, finite
differences of the whole network's loss, and learning curves on real text and a sine wave."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqlab.reference import net as ref_net
from seqlab.reference.gradcheck import model_gradient_check
from seqlab.reference.net import NET_CELLS, NetConfig, init_params, loss_and_grads, net_forward
from seqlab.reference.optim import make_optimizer
from seqlab.reference.trainer import TrainConfig, chunks, evaluate, streams, train_lm, train_step

TORCH_LAYER = {"rnn": nn.RNN, "rnn-relu": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class TorchNet(nn.Module):
    """The oracle: one-hot / embedding / real input -> torch.nn recurrent layer -> nn.Linear."""

    def __init__(self, cfg: NetConfig):
        super().__init__()
        self.cfg = cfg
        first = cfg.embed_size if cfg.input == "embedding" else cfg.input_size
        kw = {"nonlinearity": "relu"} if cfg.cell == "rnn-relu" else {}
        self.rnn = TORCH_LAYER[cfg.cell](first, cfg.hidden_size, cfg.num_layers, batch_first=True, **kw)
        self.out = nn.Linear(cfg.hidden_size, cfg.outputs)
        if cfg.input == "embedding":
            self.embedding = nn.Embedding(cfg.input_size, cfg.embed_size)
        self.double()

    def forward(self, inputs, state):
        if self.cfg.input == "onehot":
            x = F.one_hot(inputs, self.cfg.input_size).double()
        elif self.cfg.input == "embedding":
            x = self.embedding(inputs)
        else:
            x = inputs
        h, state = self.rnn(x, state)
        return self.out(h), state

    def load(self, params):
        """Copy the NumPy parameters in; torch's GRU update gate is 1 - z: its z rows are negated."""
        H = self.cfg.hidden_size
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.startswith("rnn."):
                    kind, layer = name[4:].rsplit("_l", 1)
                    value = params[f"cells.{layer}.{kind}"].copy()
                    if self.cfg.family == "gru":
                        value[H : 2 * H] *= -1
                else:
                    value = params[name]
                p.copy_(torch.from_numpy(value))

    def dump(self):
        out = {}
        for name, p in self.named_parameters():
            if name.startswith("rnn."):
                kind, layer = name[4:].rsplit("_l", 1)
                name = f"cells.{layer}.{kind}"
            out[name] = p.detach().numpy().copy()
            if name.startswith("cells.") and self.cfg.family == "gru":
                out[name][self.cfg.hidden_size : 2 * self.cfg.hidden_size] *= -1
        return out


def torch_optimizer(name, params, lr, weight_decay):
    if name in ("sgd", "momentum"):
        return torch.optim.SGD(params, lr=lr, momentum=0.9 if name == "momentum" else 0.0, weight_decay=weight_decay)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def to_torch_state(state):
    if state is None:
        return None
    return tuple(torch.from_numpy(s) for s in state) if isinstance(state, tuple) else torch.from_numpy(state)


def detach(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


CASES = [  # (cell, optimizer, input, output, layers, weight decay)
    ("rnn", "sgd", "onehot", "softmax", 1, 0.0),
    ("rnn", "momentum", "embedding", "softmax", 2, 0.0),
    ("rnn", "adagrad", "onehot", "softmax", 1, 0.01),
    ("rnn", "adam", "real", "linear", 1, 0.0),
    ("rnn-relu", "adam", "onehot", "softmax", 1, 0.0),
    ("lstm", "sgd", "real", "linear", 2, 0.0),
    ("lstm", "momentum", "onehot", "softmax", 1, 0.01),
    ("lstm", "adagrad", "embedding", "softmax", 1, 0.0),
    ("lstm", "adam", "onehot", "softmax", 2, 0.0),
    ("gru", "sgd", "embedding", "softmax", 1, 0.01),
    ("gru", "momentum", "real", "linear", 1, 0.0),
    ("gru", "adagrad", "onehot", "softmax", 2, 0.0),
    ("gru", "adam", "embedding", "softmax", 1, 0.0),
]


@pytest.mark.parametrize("cell, opt, inp, out, layers, wd", CASES, ids=["-".join(map(str, c)) for c in CASES])
def test_training_steps_equal_torch(cell, opt, inp, out, layers, wd):
    """Three truncated-BPTT steps (state carried, clipping, the optimizer's state used) give
    torch's loss, gradient norm, weights and final state to 1e-9 in float64."""
    rng = np.random.default_rng(CASES.index((cell, opt, inp, out, layers, wd)))
    V, H, B, T = 6, 5, 3, 4
    cfg = NetConfig(V if inp != "real" else 3, H, output_size=V if out == "softmax" else 2, cell=cell,
                    num_layers=layers, input=inp, embed_size=4, output=out)
    params = init_params(cfg, seed=1)
    oracle = TorchNet(cfg)
    oracle.load(params)
    np.testing.assert_array_equal(oracle.dump()["out.weight"], params["out.weight"])
    clip = 100.0 if wd else 0.1  # the weight-decay cases never clip: the coefficient min(1, ...) is 1
    lr = {"sgd": 0.5, "momentum": 0.3, "adagrad": 0.1, "adam": 0.02}[opt]
    ours = make_optimizer(opt, lr, momentum=0.9, weight_decay=wd)
    theirs = torch_optimizer(opt, oracle.parameters(), lr, wd)
    state, tstate, clipped = None, None, 0
    for step in range(3):
        if inp == "real":
            x = rng.normal(size=(B, T, cfg.input_size))
        else:
            x = rng.integers(0, V, size=(B, T))
        y = rng.integers(0, V, size=(B, T)) if out == "softmax" else rng.normal(size=(B, T, 2))
        loss, state, norm = train_step(params, cfg, ours, x, y, state, clip)

        theirs.zero_grad()
        logits, tstate = oracle(torch.from_numpy(x), tstate)
        tloss = (F.cross_entropy(logits.reshape(-1, V), torch.from_numpy(y).reshape(-1)) if out == "softmax"
                 else F.mse_loss(logits, torch.from_numpy(y)))
        tloss.backward()
        tnorm = float(torch.nn.utils.clip_grad_norm_(oracle.parameters(), clip))
        theirs.step()
        tstate = detach(tstate)

        assert abs(loss - float(tloss.detach())) < 1e-12
        assert abs(norm - tnorm) < 1e-9 * max(1.0, tnorm)
        clipped += norm > clip
        got = oracle.dump()
        assert set(got) == set(params)
        for name in params:
            np.testing.assert_allclose(params[name], got[name], rtol=0, atol=1e-9, err_msg=f"step {step}: {name}")
        ts = tstate if isinstance(tstate, tuple) else (tstate,)
        ss = state if isinstance(state, tuple) else (state,)
        for a, b in zip(ss, ts):
            np.testing.assert_allclose(a, b.numpy(), rtol=0, atol=1e-12)
    assert clipped == (0 if wd else 3)  # both branches of the clipping were exercised


@pytest.mark.parametrize("cell", NET_CELLS)
def test_whole_model_gradient_check(cell):
    """Embedding, 2 stacked cells, softmax loss, initial state: every gradient vs finite differences."""
    rng = np.random.default_rng(5)
    cfg = NetConfig(5, 3, cell=cell, num_layers=2, input="embedding", embed_size=2)
    params = init_params(cfg, seed=2)
    ids = rng.integers(0, 5, size=(2, 4))  # (B, T), repeated ids: the embedding gradient adds up
    state = rng.normal(size=(2, 2, 3))
    state = (state, rng.normal(size=(2, 2, 3))) if cfg.family == "lstm" else state
    report = model_gradient_check(params, cfg, ids, rng.integers(0, 5, size=(2, 4)), state)
    assert set(report) == {*params, "state[0]", *(["state[1]"] if cfg.family == "lstm" else [])}
    assert max(report.values()) < 1e-6, report


@pytest.mark.parametrize("targets", ["every step", "last step"])
def test_whole_model_gradient_check_regression(targets):
    rng = np.random.default_rng(6)
    cfg = NetConfig(2, 3, output_size=2, cell="lstm-peephole", input="real", output="linear")
    x = rng.normal(size=(3, 4, 2))
    y = rng.normal(size=(3, 4, 2) if targets == "every step" else (3, 2))
    report = model_gradient_check(init_params(cfg, seed=3), cfg, x, y)
    assert max(report.values()) < 1e-6, report


def test_whole_model_gradient_check_catches_a_wrong_backward(monkeypatch):
    """An output layer whose bias gradient is dropped is reported, the rest still agrees."""
    real = ref_net.linear_backward
    monkeypatch.setattr(ref_net, "linear_backward", lambda dy, h, V: (*real(dy, h, V)[:2], np.zeros(V.shape[0])))
    cfg = NetConfig(4, 3, cell="gru")
    rng = np.random.default_rng(0)
    report = model_gradient_check(init_params(cfg), cfg, rng.integers(0, 4, (2, 3)), rng.integers(0, 4, (2, 3)))
    assert report["out.bias"] > 0.5
    assert report["out.weight"] < 1e-6


def test_chunks_with_carried_state_equal_one_long_run():
    """Truncated BPTT's forward: chunks with the state carried give the outputs of one long run."""
    cfg = NetConfig(7, 4, cell="lstm", num_layers=2)
    params = init_params(cfg)
    rows = streams(np.random.default_rng(0).integers(0, 7, 50), 2)  # (2, 25)
    whole, _, _ = net_forward(params, cfg, rows[:, :-1])
    parts, state = [], None
    for x, y in chunks(rows, 7):
        assert x.shape == y.shape and np.array_equal(x[:, 1:], y[:, :-1])
        out, state, _ = net_forward(params, cfg, x, state)
        parts.append(out)
    assert [p.shape[1] for p in parts] == [7, 7, 7, 3]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, rtol=0, atol=1e-13)


def _text():
    from pathlib import Path

    path = Path("/work/shared/data/tinyshakespeare.txt")
    if path.is_file():
        return path.read_text()[:20000]
    rng = np.random.default_rng(0)  # a made-up language: words of a small lexicon, lines, punctuation
    words = ["".join(rng.choice(list("aeioubcdfghlmnprst"), size=rng.integers(2, 7))) for _ in range(60)]
    return "".join(" ".join(rng.choice(words, size=8)) + rng.choice([".\n", ",\n", "!\n"]) for _ in range(400))


def test_char_rnn_lowers_validation_loss():
    """100 Adam steps of a one-hot GRU on 18k characters: validation loss falls from about
    log(V) to below the entropy of the letter frequencies (it learned more than the unigrams)."""
    from seqlab.vocab import Vocabulary

    text = _text()
    vocab = Vocabulary.build(text, level="char")
    ids = np.array(vocab.encode(text))
    train_ids, val_ids = ids[: len(ids) * 9 // 10], ids[len(ids) * 9 // 10 :]
    cfg = NetConfig(len(vocab), 64, cell="gru")
    before = evaluate(init_params(cfg, seed=0), cfg, val_ids)
    freq = np.bincount(train_ids, minlength=len(vocab)) + 1.0
    unigram = float(-np.log(freq / freq.sum())[val_ids].mean())
    params, history = train_lm(train_ids, val_ids, cfg,
                               TrainConfig(optimizer="adam", lr=0.01, batch_size=16, seq_len=25, steps=100), every=50)
    assert [h["step"] for h in history] == [50, 100]
    assert before > np.log(len(vocab)) - 0.2
    assert history[-1]["val_loss"] < unigram - 0.2 < before - 0.5, (before, unigram, history)
    assert history[-1]["val_loss"] == pytest.approx(evaluate(params, cfg, val_ids), abs=1e-12)


def test_sequence_regression_learns_a_sine():
    """Many-to-one regression: the next value of a sine from the last 10, MSE falls 20-fold."""
    rng = np.random.default_rng(0)
    phase = rng.uniform(0, 2 * np.pi, size=(64, 1))
    t = np.arange(11) * 0.3
    wave = np.sin(phase + t)[:, :, None]  # (64, 11, 1)
    x, y = wave[:, :10], wave[:, 10]  # (64, 10, 1), (64, 1)
    cfg = NetConfig(1, 16, output_size=1, cell="lstm", input="real", output="linear")
    params = init_params(cfg, seed=0)
    opt = make_optimizer("adam", 0.02)
    first = loss_and_grads(params, cfg, x, y)[0]
    for _ in range(150):
        loss, _, _ = train_step(params, cfg, opt, x, y, clip=1.0)
    assert loss_and_grads(params, cfg, x, y)[0] < first / 20, (first, loss)


def test_the_regression_example_of_docs_numpy_runs_and_learns():
    """docs/numpy.md's sine example, run as printed: its MSE falls below 1e-3 of the start."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "numpy.md").read_text()
    code = next(c for c in re.findall(r"```python\n(.*?)```", doc, re.S) if "train_step(" in c)
    scope: dict = {}
    exec(compile(code, "docs/numpy.md", "exec"), scope)
    x, y, net, params = scope["x"], scope["y"], scope["net"], scope["params"]
    assert loss_and_grads(params, net, x, y)[0] < 1e-3 * 0.52
