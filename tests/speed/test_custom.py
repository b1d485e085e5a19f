"""Sequence-level autograd functions (peephole LSTM, reset-before GRU) against the loop backend
(torch autograd through every step) and against the hand-derived NumPy reference, in float64."""

import numpy as np
import pytest
import torch

from seqlab import reference as ref
from seqlab.nn import GRU, LSTM, GRUCell, LSTMCell, run_loop
from seqlab.nn.custom import PeepholeLSTMFunction, ResetBeforeGRUFunction

B, T, I, H = 3, 6, 4, 5


def _cell(kind: str, bias: bool):
    if kind == "peephole":
        return LSTMCell(I, H, bias=bias, peephole=True).double()
    if kind == "lstm":
        return LSTMCell(I, H, bias=bias).double()
    return GRUCell(I, H, bias=bias, reset="before").double()


def _run(fn, cell, x, state, lengths, dout, dstate):
    out, st = fn(cell, x, state, lengths)
    loss = (out * dout).sum() + sum((s * d).sum() for s, d in zip(st, dstate))
    leaves = [x, *state, *cell.parameters()]
    return out, st, torch.autograd.grad(loss, leaves)


@pytest.mark.parametrize("kind", ["peephole", "lstm", "gru_before"])
@pytest.mark.parametrize("lengths,bias", [(None, True), ([6, 2, 1], False)])
def test_sequence_function_equals_loop_and_reference(kind, lengths, bias):
    cell = _cell(kind, bias)
    x = torch.randn(B, T, I, dtype=torch.float64, requires_grad=True)
    state = tuple(torch.randn(B, H, dtype=torch.float64, requires_grad=True) for _ in range(cell.state_size))
    dout = torch.randn(B, T, H, dtype=torch.float64)
    dstate = [torch.randn(B, H, dtype=torch.float64) for _ in state]
    lt = None if lengths is None else torch.tensor(lengths)
    fast = _run(lambda c, *a: c.forward_sequence(*a), cell, x, state, lt, dout, dstate)
    slow = _run(run_loop, cell, x, state, lt, dout, dstate)
    torch.testing.assert_close(fast[0], slow[0], rtol=0, atol=1e-12)
    for a, b in zip(fast[1], slow[1]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    for a, b in zip(fast[2], slow[2]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-9)

    # the NumPy reference: forward and hand-derived backward
    params = {n: p.detach().numpy() for n, p in cell.named_parameters()}
    xs = x.detach().numpy()
    st = [s.detach().numpy() for s in state]
    if kind == "gru_before":
        out, hT, cache = ref.gru_forward(xs, params, st[0], lengths, reset="before")
        grads, dx, dh0 = ref.gru_backward(dout.numpy(), dstate[0].numpy(), cache)
        dst = [dh0]
        finals = [hT]
    else:
        out, finals, cache = ref.lstm_forward(xs, params, tuple(st), lengths)
        grads, dx, dst = ref.lstm_backward(dout.numpy(), tuple(d.numpy() for d in dstate), cache)
    np.testing.assert_allclose(fast[0].detach().numpy(), out, rtol=0, atol=1e-12)
    for a, b in zip(fast[1], finals):
        np.testing.assert_allclose(a.detach().numpy(), b, rtol=0, atol=1e-12)
    got = dict(zip(["x", *[f"s{k}" for k in range(len(state))], *params], fast[2]))
    np.testing.assert_allclose(got["x"].numpy(), dx, rtol=0, atol=1e-9)
    for k, d in enumerate(dst):
        np.testing.assert_allclose(got[f"s{k}"].numpy(), d, rtol=0, atol=1e-9)
    for name in params:
        np.testing.assert_allclose(got[name].numpy(), grads[name], rtol=0, atol=1e-9, err_msg=name)


def test_functions_pass_torch_gradcheck():
    gi = torch.randn(2, 4, 4 * 3, dtype=torch.float64, requires_grad=True)
    h0, c0 = (torch.randn(2, 3, dtype=torch.float64, requires_grad=True) for _ in range(2))
    w_hh = torch.randn(4 * 3, 3, dtype=torch.float64, requires_grad=True)
    w_ch = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    m = torch.tensor([[1.0, 1.0]] * 2 + [[1.0, 0.0]] * 2, dtype=torch.float64).unsqueeze(-1)  # (T, B, 1)
    assert torch.autograd.gradcheck(lambda *a: PeepholeLSTMFunction.apply(*a, m), (gi, h0, c0, w_hh, w_ch), fast_mode=True)
    gi3 = torch.randn(2, 4, 3 * 3, dtype=torch.float64, requires_grad=True)
    w3 = torch.randn(3 * 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *a: ResetBeforeGRUFunction.apply(*a, m), (gi3, h0, w3), fast_mode=True)


@pytest.mark.parametrize("make", [
    lambda: LSTM(I, H, num_layers=2, bidirectional=True, peephole=True),
    lambda: GRU(I, H, num_layers=2, bidirectional=True, reset="before"),
])
def test_layers_auto_backend_uses_sequence_path_and_equals_loop(make):
    torch.manual_seed(1)
    auto = make().double()
    loop = make().double()
    loop.load_state_dict(auto.state_dict())
    loop.backend = "loop"
    assert auto.resolve_backend() == "sequence"
    x = torch.randn(B, T, I, dtype=torch.float64)
    lengths = torch.tensor([6, 3, 1])
    (oa, sa), (ol, sl) = auto(x, lengths=lengths), loop(x, lengths=lengths)
    torch.testing.assert_close(oa, ol, rtol=0, atol=1e-12)
    sa, sl = (sa,) if torch.is_tensor(sa) else sa, (sl,) if torch.is_tensor(sl) else sl
    for a, b in zip(sa, sl, strict=True):  # final states at each sequence's last valid step
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    (oa.square().sum() + sum(a.sum() for a in sa)).backward()
    (ol.square().sum() + sum(b.sum() for b in sl)).backward()
    for pa, pl in zip(auto.parameters(), loop.parameters()):
        torch.testing.assert_close(pa.grad, pl.grad, rtol=0, atol=1e-9)
