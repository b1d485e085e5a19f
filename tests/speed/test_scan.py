"""The linear scan h_t = a_t h_{t-1} + b_t: numba and torch implementations against a float64
sequential loop, including gates at and near 0 and 1, and their backward against autograd."""

import pytest
import torch

from seqlab.errors import SeqlabError
from seqlab.nn.scan import linear_scan, minrnn_scan, scan_sequential, scan_torch

IMPLS = ["numba", "torch"]


def _extreme_gates(B: int, T: int, H: int) -> torch.Tensor:
    """Gates drawn from {0, 1e-30, 1e-8, 0.5, 1 - 1e-8, 1 - 1e-15, 1} and uniform ones."""
    vals = torch.tensor([0.0, 1e-30, 1e-8, 0.5, 1 - 1e-8, 1 - 1e-15, 1.0], dtype=torch.float64)
    pick = vals[torch.randint(0, len(vals), (B, T, H))]
    uniform = torch.rand(B, T, H, dtype=torch.float64)
    return torch.where(torch.rand(B, T, H) < 0.7, pick, uniform)


@pytest.mark.parametrize("impl", IMPLS)
def test_scan_equals_sequential_loop_with_extreme_gates_float64(impl):
    B, T, H = 3, 300, 4
    a = _extreme_gates(B, T, H).requires_grad_()
    b = torch.randn(B, T, H, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(B, H, dtype=torch.float64, requires_grad=True)
    w = torch.randn(B, T, H, dtype=torch.float64)
    want = scan_sequential(a, b, h0)
    got = linear_scan(a, b, h0, impl=impl)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    g_want = torch.autograd.grad((want * w).sum(), (a, b, h0))
    g_got = torch.autograd.grad((got * w).sum(), (a, b, h0))
    for x, y in zip(g_got, g_want):
        torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("impl", IMPLS)
def test_scan_float32_long_memory_stays_accurate(impl):
    # gates just below 1 over 2000 steps: h accumulates; error stays at float32 rounding level
    B, T, H = 2, 2000, 8
    a64 = 1 - 10 ** (-torch.empty(B, T, H, dtype=torch.float64).uniform_(2, 7))
    b64 = torch.randn(B, T, H, dtype=torch.float64) * 1e-2
    want = scan_sequential(a64, b64)
    got = linear_scan(a64.float(), b64.float(), impl=impl).double()
    scale = want.abs().max()
    assert float((got - want).abs().max() / scale) < 1e-4


@pytest.mark.parametrize("impl", IMPLS)
def test_scan_passes_gradcheck(impl):
    a = torch.rand(2, 5, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, h0: linear_scan(a, b, h0, impl=impl), (a, b, h0), fast_mode=True)


def test_reverse_scan_is_the_flipped_forward_scan():
    a, b = torch.rand(2, 9, 3, dtype=torch.float64), torch.randn(2, 9, 3, dtype=torch.float64)
    want = scan_sequential(a.flip(1), b.flip(1)).flip(1)
    torch.testing.assert_close(scan_torch(a, b, reverse=True), want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("activation", ["g", "identity"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fused_minrnn_kernel_equals_torch_math(activation, dtype):
    # the kernels' bias is tested through the fused minGRU layer below
    B, T, H = 3, 50, 6
    p = (torch.randn(B, T, 2 * H, dtype=torch.float64) * 3)
    p[0, :10, :H] = 40.0  # z ~ 1: the state is replaced
    p[1, :10, :H] = -40.0  # z ~ 0: the state is kept
    p = p.to(dtype).requires_grad_()
    h0 = torch.rand(B, H, dtype=dtype, requires_grad=True)
    w = torch.randn(B, T, H, dtype=dtype)
    fast = minrnn_scan(p, h0, activation, impl="numba")
    slow = minrnn_scan(p, h0, activation, impl="torch")
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fast, slow, **tol)
    for x, y in zip(torch.autograd.grad((fast * w).sum(), (p, h0)), torch.autograd.grad((slow * w).sum(), (p, h0))):
        torch.testing.assert_close(x, y, **tol)


def test_fused_minrnn_kernel_float32_keeps_gates_near_0_and_1_accurate():
    # float32 kernel against the float64 recurrence over 1000 steps with gate logits up to +-30:
    # (1 - z) is computed as σ(-k), not 1 - σ(k), so a gate at 1 - 1e-10 still carries its state
    B, T, H = 2, 1000, 16
    p64 = torch.cat([torch.empty(B, T, H, dtype=torch.float64).uniform_(-30, 30),
                     torch.randn(B, T, H, dtype=torch.float64)], -1)
    h0 = torch.rand(B, H, dtype=torch.float64)
    z = torch.sigmoid(p64[..., :H])
    want = scan_sequential(torch.sigmoid(-p64[..., :H]), z * p64[..., H:], h0)
    got = minrnn_scan(p64.float(), h0.float(), "identity", impl="numba").double()
    assert float((got - want).abs().max()) < 1e-5


def test_fused_minrnn_kernel_passes_gradcheck():
    p = torch.randn(2, 6, 8, dtype=torch.float64, requires_grad=True)
    p.data[0, :, 4:] = p.data[0, :, 4:].abs() + 0.1  # keep away from g's kink at 0
    p.data[1, :, 4:] = -p.data[1, :, 4:].abs() - 0.1
    h0 = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p, h0: minrnn_scan(p, h0, "g", impl="numba"), (p, h0), fast_mode=True)


def test_scan_rejects_bad_arguments():
    a = torch.rand(2, 3, 4)
    with pytest.raises(SeqlabError, match="impl: expected one of"):
        linear_scan(a, a, impl="cuda")
    with pytest.raises(SeqlabError, match="a, b: expected two"):
        linear_scan(a, a[:, :2])
    with pytest.raises(SeqlabError, match="impl='numba': needs numba"):
        linear_scan(a.to(torch.bfloat16), a.to(torch.bfloat16), impl="numba")
    with pytest.raises(SeqlabError, match="activation: expected one of"):
        minrnn_scan(torch.rand(2, 3, 8), torch.zeros(2, 4), activation="relu")


def _minlstm_torch(x, w, b, h0, activation):
    """minLSTM the obvious way: its gates in torch (z = σ(softplus(-a_f) - softplus(-a_i))), then
    the torch scan."""
    H = w.shape[0] // 3
    a = torch.nn.functional.linear(x, w, b)
    k = torch.nn.functional.softplus(-a[..., :H]) - torch.nn.functional.softplus(-a[..., H : 2 * H])
    return minrnn_scan(torch.cat([k, a[..., 2 * H :]], -1), h0, activation, impl="torch")


@pytest.mark.parametrize("shares", [1, 2])
# one block per sequence; blocks of 5 (minGRU) and 3 (minLSTM) steps and dL/dW in one product;
# the same blocks with a dL/dW product per 10 / 12 steps (the last one short: 40 steps)
@pytest.mark.parametrize("block,dw_rows", [(1 << 18, 1 << 10), (60, 1 << 10), (60, 12)])
@pytest.mark.parametrize("kind", [0, 1], ids=["mingru", "minlstm"])
@pytest.mark.parametrize("activation", ["g", "identity"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fused_min_layer_equals_projection_then_torch_scan(monkeypatch, activation, dtype, kind, block, dw_rows,
                                                           shares):
    """The one-node minGRU / minLSTM layer (blocks of steps scanned while cached, projection
    recomputed in the backward, dL/dW over groups of blocks, sequences shared out over worker
    threads) against the projection and the torch scan, outputs and every gradient."""
    from seqlab.nn import _workers, scan
    from seqlab.nn.scan import mingru_layer

    monkeypatch.setattr(scan, "BLOCK_FLOATS", block)
    monkeypatch.setattr(scan, "DW_ROWS", dw_rows)
    monkeypatch.setattr(_workers, "shares", lambda n, *a, **k: min(shares, n))
    B, T, I, H = 3, 40, 5, 6
    G = (2 + kind) * H
    g_ = torch.Generator().manual_seed(kind)
    x = torch.randn(B, T, I, dtype=dtype, generator=g_, requires_grad=True)
    w = (torch.randn(G, I, dtype=dtype, generator=g_) * 0.7).requires_grad_()
    b = torch.randn(G, dtype=dtype, generator=g_, requires_grad=True)
    h0 = torch.rand(B, H, dtype=dtype, generator=g_, requires_grad=True)
    g = torch.randn(B, T, H, dtype=dtype, generator=g_)
    fast = mingru_layer(x, w, b, h0, activation, impl="numba", kind=kind)
    if kind == 0:
        slow = minrnn_scan(torch.nn.functional.linear(x, w, b), h0, activation, impl="torch")
    else:
        slow = _minlstm_torch(x, w, b, h0, activation)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=2e-5, atol=2e-5)
    torch.testing.assert_close(fast, slow, **tol)
    inputs = (x, w, b, h0)
    for got, want in zip(torch.autograd.grad((fast * g).sum(), inputs), torch.autograd.grad((slow * g).sum(), inputs)):
        torch.testing.assert_close(got, want, **tol)


def test_fused_mingru_layer_reuses_workspace_safely():
    # two graphs alive at once, then backward through each twice (retain_graph): pooled buffers
    # must not be shared between live tensors or lost after the first backward
    from seqlab.nn.scan import WORKSPACE, mingru_layer

    B, T, I, H = 2, 30, 4, 3
    w = torch.randn(2 * H, I, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2 * H, dtype=torch.float64, requires_grad=True)
    h0 = torch.zeros(B, H, dtype=torch.float64)
    xs = [torch.randn(B, T, I, dtype=torch.float64) for _ in range(3)]
    ref = [minrnn_scan(torch.nn.functional.linear(x, w, b), h0, "g", impl="torch") for x in xs]
    want = [torch.autograd.grad(r.sum(), (w, b)) for r in ref]
    WORKSPACE.clear()
    outs = [mingru_layer(x, w, b, h0, impl="numba") for x in xs[:2]]
    kept = outs[0].detach().clone()
    for _ in range(2):
        for out, exp in zip(outs, want):
            for got, e in zip(torch.autograd.grad(out.sum(), (w, b), retain_graph=True), exp):
                torch.testing.assert_close(got, e, rtol=1e-12, atol=1e-12)
    third = mingru_layer(xs[2], w, b, h0, impl="numba")  # while outs live, it must not reuse theirs
    torch.testing.assert_close(outs[0], kept, rtol=0, atol=0)
    torch.testing.assert_close(third, ref[2].detach(), rtol=1e-12, atol=1e-12)
    in_use = WORKSPACE.in_use()
    del outs, third
    assert WORKSPACE.in_use() < in_use  # dropping the outputs frees their buffers


def test_workspace_recycles_only_unreferenced_buffers_within_max_bytes():
    from seqlab.nn.scan import Workspace

    f32 = torch.float32
    ws = Workspace(max_bytes=3000)
    a = ws.empty((5, 50), f32)  # 1000 bytes
    ptr = a.data_ptr()
    b = ws.empty((250,), f32)
    assert b.data_ptr() != ptr  # a is alive: a new buffer
    view = a[1:]  # a view keeps the buffer in use
    del a
    assert ws.empty((250,), f32).data_ptr() != ptr
    del view
    c = ws.empty((10, 25), f32)  # now free: same memory, new shape
    assert c.data_ptr() == ptr and c.shape == (10, 25)
    assert ws.held_bytes() <= 3000
    big = ws.empty((1000,), f32)  # 4000 bytes: more than the pool may hold, a plain tensor
    assert big.shape == (1000,) and ws.held_bytes() <= 3000
    assert ws.empty((3,), torch.int64).dtype == torch.int64  # other dtypes: plain tensors
    del b, c
    d = ws.empty((500,), f32)  # 2000 bytes: free buffers of other sizes make room
    assert ws.held_bytes() <= 3000 and d.shape == (500,)
