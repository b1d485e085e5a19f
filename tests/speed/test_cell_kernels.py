"""The numba path of PeepholeLSTMFunction (seqlab.nn._cell_kernels) against its torch path and the
NumPy reference: outputs, final states and every gradient, standard and peephole, with and without
``lengths`` masks, from non-zero initial states."""

import numpy as np
import pytest
import torch

pytest.importorskip("numba", reason="the compiled kernels need the seqlab[fast] extra")

from seqlab import reference as ref  # noqa: E402
from seqlab.nn import LSTMCell, custom  # noqa: E402
from seqlab.nn.custom import PeepholeLSTMFunction  # noqa: E402

B, T, I = 4, 7, 3
LENGTHS = [7, 3, 1, 5]


@pytest.fixture
def kernel_calls(monkeypatch):
    """Names of the kernels the compiled path prepares (so a test knows which path ran)."""
    calls = []
    real = custom._ck.compiled

    def spy(kernel, *args):
        calls.append(kernel.__name__)
        return real(kernel, *args)

    monkeypatch.setattr(custom._ck, "compiled", spy)
    return calls


def _inputs(dtype, H, peep, masked, seed=0, time_major_gi=False):
    g = torch.Generator().manual_seed(seed)
    rnd = lambda *s, scale=1.0: (torch.randn(*s, generator=g, dtype=torch.float64) * scale).to(dtype)  # noqa: E731
    if time_major_gi:  # gi as a (B, T, 4H) view of a time-major buffer: other strides for the addmm
        gi = rnd(T, B, 4 * H, scale=1.5).transpose(0, 1)
    else:
        gi = rnd(B, T, 4 * H, scale=1.5)
    leaves = [gi, rnd(B, H), rnd(B, H, scale=2.0), rnd(4 * H, H, scale=0.6)]
    if peep:
        leaves.append(rnd(3, H, scale=0.8))
    for t in leaves:
        t.requires_grad_(True)
    m = custom.step_masks(torch.tensor(LENGTHS), T, gi) if masked else None
    upstream = [rnd(B, T, H), rnd(B, H), rnd(B, H)]  # dL/dout, dL/dh_T, dL/dc_T
    return leaves, m, upstream


def _run(compiled, monkeypatch, leaves, m, upstream):
    monkeypatch.setattr(custom, "COMPILED", compiled)
    gi, h0, c0, w_hh, *rest = leaves
    outs = PeepholeLSTMFunction.apply(gi, h0, c0, w_hh, rest[0] if rest else None, m)
    loss = sum((o * u).sum() for o, u in zip(outs, upstream))
    return [o.detach() for o in outs], torch.autograd.grad(loss, leaves)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 2e-5)])
@pytest.mark.parametrize("peep", [True, False])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("H", [5, 19])  # 19: a vector loop plus a remainder
def test_compiled_path_equals_torch_path(monkeypatch, kernel_calls, dtype, tol, peep, masked, H):
    leaves, m, upstream = _inputs(dtype, H, peep, masked, seed=H, time_major_gi=(H == 19))
    fast_out, fast_grads = _run(True, monkeypatch, leaves, m, upstream)
    assert kernel_calls == ["lstm_forward_step", "lstm_backward_step"]
    slow_out, slow_grads = _run(False, monkeypatch, leaves, m, upstream)
    assert kernel_calls == ["lstm_forward_step", "lstm_backward_step"]  # the torch path: no kernels
    names = ["out", "h_T", "c_T", "d gi", "d h0", "d c0", "d w_hh", "d w_ch"]
    for name, a, b in zip(names, [*fast_out, *fast_grads], [*slow_out, *slow_grads]):
        assert a.dtype == dtype and a.shape == b.shape, name
        torch.testing.assert_close(a, b, rtol=tol, atol=tol, msg=name)
    if masked:  # padded steps output zeros and carry the state: the masks did something
        assert (fast_out[0][2, 1:] == 0).all() and not (fast_out[0][0] == 0).any()


def test_compiled_path_runs_only_where_it_can(monkeypatch):
    x = torch.zeros(2, 3)
    assert custom.use_compiled(x) and custom.use_compiled(x.double())
    assert not custom.use_compiled(x.half()) and not custom.use_compiled(x.bfloat16())
    monkeypatch.setattr(custom, "COMPILED", False)
    assert not custom.use_compiled(x)
    monkeypatch.setattr(custom, "COMPILED", True)
    monkeypatch.setattr(custom._ck, "AVAILABLE", False)  # as without numba installed
    assert not custom.use_compiled(x)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("peep", [True, False])
@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_sequence_equals_numpy_reference(monkeypatch, kernel_calls, compiled, peep, lengths):
    monkeypatch.setattr(custom, "COMPILED", compiled)
    H = 6
    cell = LSTMCell(I, H, peephole=peep).double()
    with torch.no_grad():  # non-trivial peephole weights (they start at zero)
        for p in cell.parameters():
            p.copy_(torch.randn_like(p) * 0.7)
    x = torch.randn(B, T, I, dtype=torch.float64, requires_grad=True)
    state = tuple(torch.randn(B, H, dtype=torch.float64, requires_grad=True) for _ in range(2))
    dout = torch.randn(B, T, H, dtype=torch.float64)
    dstate = [torch.randn(B, H, dtype=torch.float64) for _ in state]
    lt = None if lengths is None else torch.tensor(lengths)
    out, st = cell.forward_sequence(x, state, lt)
    loss = (out * dout).sum() + sum((s * d).sum() for s, d in zip(st, dstate))
    grads = torch.autograd.grad(loss, [x, *state, *cell.parameters()])
    assert bool(kernel_calls) == compiled

    params = {n: p.detach().numpy() for n, p in cell.named_parameters()}
    r_out, r_finals, cache = ref.lstm_forward(x.detach().numpy(), params,
                                              tuple(s.detach().numpy() for s in state), lengths)
    r_grads, r_dx, r_dst = ref.lstm_backward(dout.numpy(), tuple(d.numpy() for d in dstate), cache)
    np.testing.assert_allclose(out.detach().numpy(), r_out, rtol=0, atol=1e-9)
    for a, b in zip(st, r_finals):
        np.testing.assert_allclose(a.detach().numpy(), b, rtol=0, atol=1e-9)
    got = dict(zip(["x", "h0", "c0", *params], grads))
    np.testing.assert_allclose(got["x"].numpy(), r_dx, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got["h0"].numpy(), r_dst[0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(got["c0"].numpy(), r_dst[1], rtol=0, atol=1e-9)
    for name in params:
        np.testing.assert_allclose(got[name].numpy(), r_grads[name], rtol=0, atol=1e-9, err_msg=name)
