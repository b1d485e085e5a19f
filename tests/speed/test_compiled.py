"""The compiled layers (seqlab.nn.compiled: numba kernels between oneDNN products) against the
slow, obvious paths: the runner's loop (torch autograd through every step) in float64 for every
gated cell, the NumPy reference (seqlab.reference) for the cells it derives by hand, float32 with
and without oneDNN, one batch share against several (the worker threads), and torch's gradcheck."""

import numpy as np
import pytest
import torch

pytest.importorskip("numba", reason="the compiled layers need the seqlab[fast] extra")

from seqlab import reference as ref  # noqa: E402
from seqlab.nn import GRU, LSTM, _matmul, _workers, compiled, custom  # noqa: E402

B, T, I, H = 4, 7, 3, 19  # H = 19: a vector loop plus a remainder
LENGTHS = torch.tensor([7, 3, 1, 5])
VARIANTS = {
    "lstm": lambda **kw: LSTM(I, H, **kw),
    "lstm-peephole": lambda **kw: LSTM(I, H, peephole=True, **kw),
    "lstm-ln": lambda **kw: LSTM(I, H, layer_norm=True, **kw),
    "lstm-ln-peephole": lambda **kw: LSTM(I, H, layer_norm=True, peephole=True, **kw),
    "gru": lambda **kw: GRU(I, H, **kw),
    "gru-before": lambda **kw: GRU(I, H, reset="before", **kw),
    "gru-ln": lambda **kw: GRU(I, H, layer_norm=True, **kw),
    "gru-ln-before": lambda **kw: GRU(I, H, layer_norm=True, reset="before", **kw),
}


@pytest.fixture
def kernel_calls(monkeypatch):
    """Names of the kernels the compiled layers prepare (so a test knows which path ran)."""
    calls = []
    real = compiled._ck.compiled

    def spy(kernel, *args):
        calls.append(kernel.__name__)
        return real(kernel, *args)

    monkeypatch.setattr(compiled._ck, "compiled", spy)
    return calls


def _pair(name, bias=True, dtype=torch.float64, layers=2, bidirectional=True):
    """The layer under test (backend='sequence') and the loop with the same weights (float64)."""
    torch.manual_seed(3)
    fast = VARIANTS[name](bias=bias, num_layers=layers, bidirectional=bidirectional, backend="sequence")
    with torch.no_grad():  # gains near 1, everything else N(0, 0.5²): every gate differs
        for n, p in fast.named_parameters():
            p.normal_(1.0 if "ln_weight" in n else 0.0, 0.5)
    slow = VARIANTS[name](bias=bias, num_layers=layers, bidirectional=bidirectional, backend="loop").double()
    slow.load_state_dict(fast.state_dict())
    return fast.to(dtype), slow


def _run(layer, x, lengths, dtype):
    x = x.to(dtype).detach().requires_grad_()
    state = tuple(torch.randn(layer.num_layers * layer.num_directions, B, H, generator=torch.Generator().manual_seed(k),
                              dtype=torch.float64).to(dtype).requires_grad_() for k in range(layer.state_size))
    out, fin = layer(x, state[0] if layer.state_size == 1 else state, lengths=lengths)
    fin = (fin,) if isinstance(fin, torch.Tensor) else fin
    g = torch.linspace(-1, 1, out.numel(), dtype=torch.float64).view_as(out).to(dtype)
    loss = (out * g).sum() + sum((f * (0.5 + k)).sum() for k, f in enumerate(fin))
    grads = torch.autograd.grad(loss, [x, *state, *layer.parameters()])
    return [t.detach().double() for t in (out, *fin, *grads)]


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "lengths"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("name", list(VARIANTS))
def test_compiled_layer_equals_loop_float64(kernel_calls, name, bias, lengths):
    fast, slow = _pair(name, bias)
    x = torch.randn(B, T, I, dtype=torch.float64)
    got, want = _run(fast, x, lengths, torch.float64), _run(slow, x, lengths, torch.float64)
    assert kernel_calls, "the compiled layer did not run"
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        tol = 1e-12 if k < 3 else 1e-9  # outputs and states; gradients
        torch.testing.assert_close(a, b, rtol=tol, atol=tol, msg=f"{name}: result {k}")
    if lengths is not None:  # padded steps output zeros
        assert float(got[0][2, 1:].abs().max()) == 0.0


@pytest.mark.parametrize("onednn", [True, False])
@pytest.mark.parametrize("name", list(VARIANTS))
def test_compiled_layer_float32_with_and_without_onednn(monkeypatch, name, onednn):
    """float32: vectorized sigmoid/tanh (relative error ~1e-7), oneDNN's products or torch's."""
    monkeypatch.setattr(_matmul, "ENABLED", onednn)
    fast, slow = _pair(name, dtype=torch.float32)
    x = torch.randn(B, T, I, dtype=torch.float64)
    got, want = _run(fast, x, LENGTHS, torch.float32), _run(slow, x, LENGTHS, torch.float64)
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        torch.testing.assert_close(a, b, rtol=2e-4, atol=2e-4, msg=f"{name}: result {k}")


@pytest.mark.parametrize("name", list(VARIANTS))
def test_batch_shares_on_worker_threads_equal_one_share(monkeypatch, name):
    """The batch cut into 3 shares run by worker threads (each its own recurrence and products)
    computes what one share computes."""
    fast, _ = _pair(name, dtype=torch.float32)
    x = torch.randn(B, T, I, dtype=torch.float64)
    monkeypatch.setattr(compiled, "_shares", lambda like, n: 1)
    one = _run(fast, x, LENGTHS, torch.float32)
    monkeypatch.setattr(compiled, "_shares", lambda like, n: min(3, n))
    three = _run(fast, x, LENGTHS, torch.float32)
    for k, (a, b) in enumerate(zip(three, one, strict=True)):  # float32 rounding, relative to the size
        scale = float(b.abs().max())
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * max(1.0, scale), msg=f"{name}: result {k}")


@pytest.mark.parametrize("name", list(VARIANTS))
def test_recycled_buffers_are_never_shared_by_live_graphs(name):
    """The layers' buffers come from the workspace: two forward passes whose graphs are both
    alive get separate buffers (outputs and gradients are those of each pass alone), and once
    every tensor on them is gone the buffers are free again."""
    from seqlab.nn.scan import WORKSPACE

    fast, _ = _pair(name, dtype=torch.float32)
    params = list(fast.parameters())
    xs = [torch.randn(B, T, I, generator=torch.Generator().manual_seed(k)) for k in (1, 2)]
    gs = [torch.randn(B, T, 2 * H, generator=torch.Generator().manual_seed(k)) for k in (3, 4)]

    def alone(k):  # forward and backward before the next pass starts
        out = fast(xs[k].clone().requires_grad_(), lengths=LENGTHS)[0]
        return out.detach().clone(), torch.autograd.grad((out * gs[k]).sum(), params)

    want = [alone(0), alone(1)]
    before = WORKSPACE.in_use()
    outs = [fast(x.clone().requires_grad_(), lengths=LENGTHS)[0] for x in xs]  # both graphs alive
    assert outs[0].data_ptr() != outs[1].data_ptr() and WORKSPACE.in_use() > before
    grads = [torch.autograd.grad((outs[k] * gs[k]).sum(), params) for k in (1, 0)][::-1]
    for k in range(2):
        torch.testing.assert_close(outs[k].detach(), want[k][0], rtol=0, atol=0)
        for a, b in zip(grads[k], want[k][1], strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    del outs, grads
    assert WORKSPACE.in_use() == before


@pytest.mark.parametrize("kind", ["lstm", "lstm-peephole", "gru", "gru-before"])
@pytest.mark.parametrize("lengths", [None, [7, 3, 1, 5]])
def test_compiled_layer_equals_numpy_reference(kernel_calls, kind, lengths):
    """One layer against the hand-derived BPTT of seqlab.reference, from non-zero states."""
    fast, _ = _pair(kind, layers=1, bidirectional=False)
    cell = fast.cells[0]
    x = torch.randn(B, T, I, dtype=torch.float64, requires_grad=True)
    state = tuple(torch.randn(B, H, dtype=torch.float64, requires_grad=True) for _ in range(cell.state_size))
    dout = torch.randn(B, T, H, dtype=torch.float64)
    dstate = [torch.randn(B, H, dtype=torch.float64) for _ in state]
    lt = None if lengths is None else torch.tensor(lengths)
    out, st = cell.forward_sequence(x, state, lt)
    loss = (out * dout).sum() + sum((s * d).sum() for s, d in zip(st, dstate))
    grads = torch.autograd.grad(loss, [x, *state, *cell.parameters()])
    assert kernel_calls
    params = {n: p.detach().numpy() for n, p in cell.named_parameters()}
    xs, st0 = x.detach().numpy(), tuple(s.detach().numpy() for s in state)
    if kind.startswith("gru"):
        r_out, r_h, cache = ref.gru_forward(xs, params, st0[0], lengths, reset=cell.reset)
        r_grads, r_dx, r_dh0 = ref.gru_backward(dout.numpy(), dstate[0].numpy(), cache)
        r_finals, r_dst = (r_h,), (r_dh0,)
    else:
        r_out, r_finals, cache = ref.lstm_forward(xs, params, st0, lengths)
        r_grads, r_dx, r_dst = ref.lstm_backward(dout.numpy(), tuple(d.numpy() for d in dstate), cache)
    np.testing.assert_allclose(out.detach().numpy(), r_out, rtol=0, atol=1e-12)
    for a, b in zip(st, r_finals, strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b, rtol=0, atol=1e-12)
    got = dict(zip(["x", *[f"s{k}" for k in range(len(state))], *params], grads))
    np.testing.assert_allclose(got["x"].numpy(), r_dx, rtol=0, atol=1e-9)
    for k, d in enumerate(r_dst):
        np.testing.assert_allclose(got[f"s{k}"].numpy(), d, rtol=0, atol=1e-9)
    for name in params:
        np.testing.assert_allclose(got[name].numpy(), r_grads[name], rtol=0, atol=1e-9, err_msg=name)


def test_functions_pass_torch_gradcheck():
    g = torch.Generator().manual_seed(0)
    rnd = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64).requires_grad_()  # noqa: E731
    b, t, i, h = 2, 4, 3, 3
    m = torch.tensor([[1.0, 1.0]] * 2 + [[1.0, 0.0]] * 2, dtype=torch.float64).unsqueeze(-1)  # (T, B, 1)
    lstm = (rnd(b, t, i), rnd(b, h), rnd(b, h), rnd(4 * h, i), rnd(4 * h, h), rnd(4 * h), rnd(3, h))
    assert torch.autograd.gradcheck(lambda *a: compiled.LSTMLayerFunction.apply(*a, m), lstm, fast_mode=True)
    for before in (False, True):
        for gamma in (None, rnd(3 * h)):
            gru = (rnd(b, t, 3 * h), rnd(b, h), rnd(3 * h, h), rnd(3 * h))
            fn = lambda *a, gm=gamma, bf=before: compiled.GRULayerFunction.apply(*a, gm, m, bf)  # noqa: E731
            assert torch.autograd.gradcheck(fn, gru, fast_mode=True)
    ln = (rnd(b, t, i), rnd(b, h), rnd(b, h), rnd(4 * h, i), rnd(4 * h, h), rnd(4 * h), rnd(4 * h), rnd(4 * h),
          rnd(4 * h), rnd(h), rnd(h), rnd(3, h))
    assert torch.autograd.gradcheck(lambda *a: compiled.LNLSTMLayerFunction.apply(*a, m), ln, fast_mode=True)


def test_compiled_layers_run_only_where_they_can(monkeypatch):
    x = torch.zeros(2, 3)
    assert custom.use_compiled(x) and custom.use_compiled(x.double())
    assert not custom.use_compiled(x.half()) and not custom.use_compiled(x.bfloat16())
    monkeypatch.setattr(custom, "COMPILED", False)
    assert not custom.use_compiled(x)
    assert "switched off" in custom.compiled_unavailable(x)
    monkeypatch.setattr(custom, "COMPILED", True)
    monkeypatch.setattr(compiled._ck, "AVAILABLE", False)  # as without numba installed
    assert not custom.use_compiled(x) and "need numba" in custom.compiled_unavailable(x)


# -- the products -----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_products_equal_torch(dtype):
    g = torch.Generator().manual_seed(1)
    x, w, b = (torch.randn(*s, generator=g, dtype=dtype) for s in ((7, 5), (6, 5), (6,)))
    other, a2 = torch.randn(7, 6, generator=g, dtype=dtype), torch.randn(7, 4, generator=g, dtype=dtype)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-14, atol=1e-14)
    for w_ in (w, _matmul.pack(w, 7)):
        torch.testing.assert_close(_matmul.linear(x, w_, b), x @ w.t() + b, **tol)
        torch.testing.assert_close(_matmul.linear_add(x, w_, other), x @ w.t() + other, **tol)
        torch.testing.assert_close(_matmul.linear_step(w_, b)(x), x @ w.t() + b, **tol)
        torch.testing.assert_close(_matmul.linear_step(w_)(x), x @ w.t(), **tol)
    torch.testing.assert_close(_matmul.mm_tn(x, a2), x.t() @ a2, **tol)
    assert _matmul.onednn(x) == (dtype == torch.float32 and _matmul._OP is not None)
    xr, wr, br = (t.clone().requires_grad_() for t in (x.view(1, 7, 5), w, b))
    y = _matmul.linear_fn(xr, wr, br)
    dy = torch.randn(1, 7, 6, generator=g, dtype=dtype)
    got = torch.autograd.grad((y * dy).sum(), (xr, wr, br))
    want = torch.autograd.grad((torch.nn.functional.linear(xr, wr, br) * dy).sum(), (xr, wr, br))
    for a, e in zip(got, want, strict=True):
        torch.testing.assert_close(a, e, **tol)


@pytest.mark.parametrize("floats", [1 << 19, 10, 5])  # one chunk; chunks of 2 rows; of 1 row
def test_weight_gradient_product_in_chunks_of_rows(monkeypatch, floats):
    """mm_tn sums its oneDNN products over chunks of rows (the last one short: 7 rows) to the
    product of the whole, in float64 against torch's."""
    monkeypatch.setattr(_matmul, "MM_TN_FLOATS", floats)
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(7, 5, generator=g), torch.randn(7, 3, generator=g)
    want = (a.double().t() @ b.double()).float()
    torch.testing.assert_close(_matmul.mm_tn(a, b), want, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(_matmul.mm_tn(a[:0], b[:0]), torch.zeros(5, 3))


def test_workers_share_out_items_and_run_one_thread_each():
    seen = []

    def fn(lo, hi):
        seen.append((lo, hi))
        return torch.get_num_threads() if _workers._OMP is None else _workers._OMP.omp_get_max_threads(), \
            torch.is_grad_enabled()

    res = _workers.run(fn, 10, 3)
    assert sorted(seen) == [(0, 3), (3, 6), (6, 10)]
    if _workers._OMP is not None:
        assert all(r == (1, False) for r in res)  # one OpenMP thread, no autograd graph
    assert _workers.run(fn, 5, 1)[0][1] is False and seen[-1] == (0, 5)
    assert _workers.shares(1) == 1 and _workers.shares(100, work=1.0, min_work=2.0) == 1


def test_workers_pause_the_callers_openmp_team_which_then_starts_again(monkeypatch):
    """Before n > 1 shares run, the caller's OpenMP team is paused (its spinning threads would
    take cores from the workers); the caller's next parallel torch operation works as before."""
    if _workers._PAUSE is None:
        pytest.skip("torch's OpenMP runtime has no omp_pause_resource_all")
    calls = []
    real = _workers._PAUSE
    monkeypatch.setattr(_workers, "_PAUSE", lambda kind: calls.append(kind) or real(kind))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        g = torch.Generator().manual_seed(0)
        a, b = torch.randn(300, 200, generator=g), torch.randn(200, 100, generator=g)
        want = torch.from_numpy(a.numpy().astype("float64") @ b.numpy().astype("float64"))
        torch.mm(a, b)  # the team has just run a region
        assert _workers.run(lambda lo, hi: hi - lo, 4, 1) == [4] and calls == []
        assert _workers.run(lambda lo, hi: hi - lo, 4, 2) == [2, 2] and calls == [1]  # omp_pause_soft
        assert torch.get_num_threads() == 2 and _workers._OMP.omp_get_max_threads() == 2
        torch.testing.assert_close(torch.mm(a, b).double(), want, rtol=1e-5, atol=1e-4)
    finally:
        torch.set_num_threads(threads)


def test_workers_are_pinned_one_per_cpu_only_when_they_are_as_many_as_the_cpus(monkeypatch):
    """As many workers as CPUs: each pinned to its own CPU, the calling thread left free; more or
    fewer workers than CPUs: none pinned."""
    import os

    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this platform")
    cpus = sorted(os.sched_getaffinity(0))
    assert _workers._pinned_cpus(len(cpus)) == cpus
    assert _workers._pinned_cpus(len(cpus) + 1) == []
    if len(cpus) > 1:
        assert _workers._pinned_cpus(len(cpus) - 1) == []
    if len(cpus) < 2:
        return  # one CPU: no workers to pin
    monkeypatch.setattr(_workers, "_POOL", None)  # a pool of its own, created here
    try:
        import threading

        meet = threading.Barrier(len(cpus), timeout=30)  # every share on a worker of its own

        def where(lo, hi):
            meet.wait()
            return sorted(os.sched_getaffinity(0))

        seen = _workers.run(where, len(cpus), len(cpus))
        assert sorted(a for (a,) in seen) == cpus  # each worker on one CPU of its own
        assert sorted(os.sched_getaffinity(0)) == cpus  # the calling thread stays free
    finally:
        _workers._POOL.shutdown(wait=True)


def test_workers_in_a_forked_child_start_their_own_pool():
    """A forked child has none of the parent's worker threads: work sent to it must not wait for
    them forever (torchrun and DataLoader fork after the parent trained)."""
    import os

    assert _workers.run(lambda lo, hi: hi - lo, 4, 2) == [2, 2]
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        ok = _workers.run(lambda lo, hi: hi - lo, 4, 2) == [2, 2]
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
