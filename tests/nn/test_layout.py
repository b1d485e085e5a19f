"""Unbatched input and batch_first=False give the same numbers as the batched batch-first call."""

import pytest
import torch

import seqlab.nn as snn


def test_unbatched_sequence(nnt, cell_backend):
    (kind, opts), backend = cell_backend
    layer = nnt.make_layer(kind, opts, 3, 4, num_layers=2, bidirectional=True, backend=backend)
    x = torch.randn(6, 3, dtype=torch.float64)  # (T, I)
    state = nnt.random_state(layer, 1, requires_grad=False)  # (L*D, 1, H)
    unb_state = tuple(s[:, 0] for s in nnt.as_tuple(state))  # (L*D, H)
    out, fin = layer(x, unb_state if kind == "lstm" else unb_state[0])
    out_b, fin_b = layer(x[None], state)
    assert out.shape == (6, 8)
    torch.testing.assert_close(out, out_b[0], rtol=0, atol=0)
    for a, b in zip(nnt.as_tuple(fin), nnt.as_tuple(fin_b), strict=True):
        assert a.shape == (4, 4)
        torch.testing.assert_close(a, b[:, 0], rtol=0, atol=0)


def test_batch_first_false(nnt, cell_backend):
    (kind, opts), backend = cell_backend
    a = nnt.make_layer(kind, opts, 3, 4, bidirectional=True, backend=backend)
    b = nnt.make_layer(kind, opts, 3, 4, bidirectional=True, backend=backend, batch_first=False)
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 5, 3, dtype=torch.float64)  # (B, T, I)
    out_a, fin_a = a(x, lengths=[5, 3])
    out_b, fin_b = b(x.transpose(0, 1), lengths=[5, 3])  # (T, B, I)
    assert out_b.shape == (5, 2, 8)
    torch.testing.assert_close(out_b.transpose(0, 1), out_a, rtol=0, atol=0)
    for p, q in zip(nnt.as_tuple(fin_a), nnt.as_tuple(fin_b), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_unbatched_cell_step(nnt, kind):
    cls = {"rnn": snn.RNNCell, "lstm": snn.LSTMCell, "gru": snn.GRUCell}[kind]
    c = cls(3, 4).double()
    x = torch.randn(3, dtype=torch.float64)
    one = c(x)
    batched = c(x[None])
    for a, b in zip(nnt.as_tuple(one), nnt.as_tuple(batched), strict=True):
        assert a.shape == (4,)
        torch.testing.assert_close(a, b[0], rtol=0, atol=0)


def test_zero_state_is_default(nnt, cell):
    kind, opts = cell
    layer = nnt.make_layer(kind, opts, 3, 4, num_layers=2)
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    zeros = tuple(torch.zeros(2, 2, 4, dtype=torch.float64) for _ in range(layer.state_size))
    out0, _ = layer(x)
    out1, _ = layer(x, zeros if kind == "lstm" else zeros[0])
    torch.testing.assert_close(out0, out1, rtol=0, atol=0)
