"""gradient_flow against closed forms and an explicit unrolled loop."""

import numpy as np
import pytest
import torch
from torch import nn

import seqlab.nn as snn
from seqlab.diagnostics import gradient_flow
from seqlab.diagnostics.memory import MemoryModel
from seqlab.diagnostics.tasks import adding_problem
from seqlab.errors import SeqlabError


def test_linear_regime_relu_rnn_matches_closed_form():
    # relu RNN with positive weights and inputs never clips: h_t = W h_{t-1} + U x_t + b, so for
    # L = sum_b v . h_T we have dL/dh_t = (W^T)^(T-1-t) v and dL/dx_t = U^T (W^T)^(T-1-t) v.
    torch.manual_seed(1)
    B, T, I, H = 3, 9, 2, 4
    m = snn.RNN(I, H, nonlinearity="relu").double()
    cell = m.cells[0]
    with torch.no_grad():
        cell.weight_hh.copy_(torch.rand(H, H, dtype=torch.float64) * 0.2)
        cell.weight_ih.copy_(torch.rand(H, I, dtype=torch.float64))
        cell.bias_ih.copy_(torch.rand(H, dtype=torch.float64))
        cell.bias_hh.copy_(torch.rand(H, dtype=torch.float64))
    x = torch.rand(B, T, I, dtype=torch.float64)
    v = torch.randn(H, dtype=torch.float64)
    flow = gradient_flow(m, x, v, loss_fn=lambda out, y: (out[0][:, -1] @ y).sum())
    W, U = cell.weight_hh.detach().numpy(), cell.weight_ih.detach().numpy()
    vn = v.numpy()
    want_h = [np.sqrt(B) * np.linalg.norm(np.linalg.matrix_power(W.T, T - 1 - t) @ vn) for t in range(T)]
    want_x = [np.sqrt(B) * np.linalg.norm(U.T @ np.linalg.matrix_power(W.T, T - 1 - t) @ vn) for t in range(T)]
    assert list(flow.hidden) == ["l0"]
    np.testing.assert_allclose(flow.hidden["l0"], want_h, rtol=1e-10)
    np.testing.assert_allclose(flow.input, want_x, rtol=1e-10)
    # the geometric decay is visible: the first step gets far less than the last
    assert flow.hidden["l0"][0] < 0.1 * flow.hidden["l0"][-1]


def _unrolled(layer: snn.Recurrent, x: torch.Tensor):
    """Explicit loop over layers, directions and steps with cell.step; returns (output, {label: [h_t]})."""
    D = layer.num_directions
    hs = {}
    inp = x
    for l in range(layer.num_layers):
        outs = []
        for d in range(D):
            cell = layer.cells[l * D + d]
            state = cell.zero_state(x.shape[0], x)
            steps = range(x.shape[1]) if d == 0 else range(x.shape[1] - 1, -1, -1)
            seq = [None] * x.shape[1]
            for t in steps:
                state = cell.step(inp[:, t], state)
                seq[t] = state[0]
            hs[f"rnn.l{l}" + ("_reverse" if d else "")] = seq
            outs.append(torch.stack(seq, 1))
        inp = torch.cat(outs, -1)
    return inp, hs


@pytest.mark.parametrize("cls,kw", [(snn.LSTM, {}), (snn.GRU, {"reset": "before"}), (snn.LSTM, {"peephole": True})])
def test_matches_autograd_on_explicit_unrolled_loop(cls, kw):
    torch.manual_seed(2)
    B, T, I, H = 3, 6, 3, 5

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = cls(I, H, num_layers=2, bidirectional=True, **kw)
            self.head = nn.Linear(2 * H, 1)

        def forward(self, x):
            return self.head(self.rnn(x)[0])

    net = Net().double()
    x = torch.randn(B, T, I, dtype=torch.float64)
    y = torch.randn(B, T, 1, dtype=torch.float64)
    flow = gradient_flow(net, x, y)

    xl = x.clone().requires_grad_(True)
    out, hs = _unrolled(net.rnn, xl)
    loss = ((net.head(out) - y) ** 2).mean()
    assert flow.loss == pytest.approx(float(loss.detach()), rel=1e-12)
    labels = list(hs)
    grads = torch.autograd.grad(loss, [h for lb in labels for h in hs[lb]] + [xl])
    assert sorted(flow.hidden) == sorted(labels)
    for k, lb in enumerate(labels):
        want = torch.stack([g.norm() for g in grads[k * T : (k + 1) * T]]).numpy()
        np.testing.assert_allclose(flow.hidden[lb], want, rtol=1e-9)
    np.testing.assert_allclose(flow.input, grads[-1].norm(dim=(0, 2)).numpy(), rtol=1e-9)


def test_lengths_map_reverse_direction_back_to_time_order():
    # one sequence of length 5 padded to 7 gives the same flow on its 5 steps as the unpadded
    # sequence, and exactly zero on the padding, in both directions
    torch.manual_seed(3)
    m = snn.GRU(2, 4, bidirectional=True).double()
    x = torch.randn(1, 7, 2, dtype=torch.float64)

    def loss_fn(out, y):
        return (out[1] * y).sum()  # the final states: depend on every valid step

    y = torch.randn(2, 1, 4, dtype=torch.float64)
    padded = gradient_flow(m, x, y, loss_fn=loss_fn, lengths=torch.tensor([5]))
    short = gradient_flow(m, x[:, :5], y, loss_fn=loss_fn)
    for lb in ("l0", "l0_reverse"):
        np.testing.assert_allclose(padded.hidden[lb][:5], short.hidden[lb], rtol=1e-10)
        assert np.all(padded.hidden[lb][5:] == 0)
    np.testing.assert_allclose(padded.input[:5], short.input, rtol=1e-10)
    assert np.all(padded.input[5:] == 0)


def test_state_restored_and_integer_input_model():
    # an embedding model: the input gradient is the one reaching the recurrent layer's input
    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(7, 3)
            self.rnn = snn.LSTM(3, 4, dropout=0.0)
            self.out = nn.Linear(4, 7)

        def forward(self, ids):
            return self.out(self.rnn(self.emb(ids))[0])

    lm = LM()
    lm.train()
    ids = torch.randint(0, 7, (2, 5))
    flow = gradient_flow(lm, ids, ids)
    assert flow.input.shape == (5,) and np.all(flow.input > 0)
    assert lm.training and lm.rnn.backend == "auto"
    assert "recurrence" not in lm.rnn.cells[0].__dict__
    assert all(p.grad is None for p in lm.parameters())
    with torch.no_grad():
        direct = nn.functional.cross_entropy(lm(ids).reshape(-1, 7), ids.reshape(-1))
    assert flow.loss == pytest.approx(float(direct), rel=1e-6)


def test_sequential_model():
    from seqlab.layers import LSTM, Dense
    from seqlab.model import Sequential

    model = Sequential([LSTM(6, return_sequences=False), Dense(1)])  # built lazily on first call
    x = torch.randn(4, 8, 2)
    y = torch.randn(4, 1)
    flow = gradient_flow(model, x, y)
    labels = list(flow.hidden)
    assert len(labels) == 1 and labels[0].endswith(".l0")
    h = flow.hidden[labels[0]]
    assert h.shape == (8,) and h[-1] > 0 and np.all(np.isfinite(h))


def test_no_recurrent_layer_is_an_error():
    with pytest.raises(SeqlabError, match="recurrent layers"):
        gradient_flow(nn.Linear(3, 1), torch.randn(2, 3), torch.randn(2, 1))


def test_vanishing_gradient_rnn_vs_lstm_at_init():
    # quality bar: T = 200, fixed seed, float64 (float32 underflows to 0 for the RNN)
    torch.manual_seed(0)
    x, y = adding_problem(32, 200, torch.Generator().manual_seed(0))
    x, y = x.double(), y.double()
    first = {}
    for cell in ("rnn", "lstm", "gru"):
        torch.manual_seed(0)
        model = MemoryModel("adding", cell, hidden_size=64).double()
        flow = gradient_flow(model, x, y)
        first[cell] = flow.hidden["rnn.l0"][0]
        assert flow.hidden["rnn.l0"][-1] > 1e-4  # the last step gets a normal-sized gradient
    assert first["rnn"] > 0
    assert first["rnn"] < 1e-20 * first["lstm"]  # measured: 1.9e-42 vs 7.9e-15 (GRU 3.6e-19)
    assert first["rnn"] < 1e-20 * first["gru"]


def test_time_major_and_unbatched_inputs_agree_with_batch_first():
    torch.manual_seed(10)
    a = snn.GRU(2, 3).double()
    b = snn.GRU(2, 3, batch_first=False).double()
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 6, 2, dtype=torch.float64)
    y = torch.randn(1, 6, 3, dtype=torch.float64)
    fa = gradient_flow(a, x, y)
    fb = gradient_flow(b, x.transpose(0, 1), y.transpose(0, 1))
    fc = gradient_flow(a, x[0], y[0])  # unbatched (T, I)
    for f in (fb, fc):
        np.testing.assert_allclose(f.hidden["l0"], fa.hidden["l0"], rtol=1e-12)
        np.testing.assert_allclose(f.input, fa.input, rtol=1e-12)
