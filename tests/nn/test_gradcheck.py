"""torch.autograd.gradcheck (finite differences against autograd, float64) on every cell option,
with respect to the input, the state and every parameter, and on a whole layer with lengths."""

import torch
from torch.autograd import gradcheck
from torch.func import functional_call

import seqlab.nn as snn

CELLS = {"rnn": snn.RNNCell, "lstm": snn.LSTMCell, "gru": snn.GRUCell}


def test_gradcheck_cell(cell):
    kind, opts = cell
    c = CELLS[kind](3, 2, **opts).double()
    names = [n for n, _ in c.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for p in c.parameters()]
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    state = [torch.randn(2, 2, dtype=torch.float64, requires_grad=True) for _ in range(c.state_size)]

    def f(x, *rest):
        st, ps = rest[: c.state_size], rest[c.state_size :]
        st = st[0] if c.state_size == 1 else tuple(st)
        return functional_call(c, dict(zip(names, ps)), (x, st))

    assert gradcheck(f, (x, *state, *params), eps=1e-6, atol=1e-7)


def test_gradcheck_layer_with_lengths(cell_backend):
    (kind, opts), backend = cell_backend
    layer = {"rnn": snn.RNN, "lstm": snn.LSTM, "gru": snn.GRU}[kind](2, 2, bidirectional=True, backend=backend, **opts)
    layer = layer.double()
    x = torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True)
    names = [n for n, _ in layer.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for p in layer.parameters()]

    def f(x, *ps):
        out, _ = functional_call(layer, dict(zip(names, ps)), (x,), {"lengths": [3, 2]})
        return out

    # fast mode: checks random projections of the Jacobian, enough for a whole layer
    assert gradcheck(f, (x, *params), eps=1e-6, atol=1e-7, fast_mode=True)
