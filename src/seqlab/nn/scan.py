"""The linear recurrence ``h_t = a_t ⊙ h_{t-1} + b_t`` for all t at once, with its own backward.

Two implementations, tested equal:

* ``"numba"`` (the ``seqlab[fast]`` extra): compiled loops over time, parallel over the batch, in
  linear space, so they are exactly as accurate as the sequential recurrence for gates near 0
  and near 1 (no division, no logarithm). See :mod:`seqlab.nn._scan_kernels`.
* ``"torch"``: pure torch, a log-depth (Hillis-Steele) scan: ``ceil(log2 T)`` rounds of whole-
  tensor operations; products of gates only, so also safe near 0 and 1. Runs anywhere.

The backward pass is the same scan run in reverse (the adjoint):

    g_t = dL/dh_t + a_{t+1} ⊙ g_{t+1},   dL/db_t = g_t,   dL/da_t = g_t ⊙ h_{t-1},   dL/dh_0 = a_1 ⊙ g_1

:func:`minrnn_scan` fuses the minGRU / minLSTM step ``h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ v_t`` with
the sigmoid of ``z`` and the activation of ``v`` into one kernel (forward and backward), which is
what makes a minGRU training step an order of magnitude faster than a GRU's on a CPU.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ..errors import SeqlabError
from . import _workers
from ._matmul import linear_step, mm_tn, onednn, pack

SCAN_IMPLS = ("auto", "numba", "torch")


def numba_available() -> bool:
    """Whether the compiled kernels can run (numba installed and importable)."""
    from . import _scan_kernels

    return _scan_kernels.AVAILABLE


def resolve_impl(impl: str, t: Tensor) -> str:
    """'numba' or 'torch' for ``impl`` on tensor ``t``; 'auto' takes numba for CPU tensors."""
    if impl not in SCAN_IMPLS:
        raise SeqlabError(f"impl: expected one of {SCAN_IMPLS}, got {impl!r}")
    if impl == "torch":
        return "torch"
    ok = t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64) and numba_available()
    if impl == "numba" and not ok:
        raise SeqlabError("impl='numba': needs numba (pip install seqlab[fast]) and float32/float64 CPU "
                          f"tensors, got {t.dtype} on {t.device}; use impl='auto' or 'torch'")
    return "numba" if ok else "torch"


# -- pure torch -------------------------------------------------------------------------------
def scan_torch(a: Tensor, b: Tensor, h0: Tensor | None = None, reverse: bool = False) -> Tensor:
    """``h_t = a_t h_{t-1} + b_t`` over dim 1 of (B, T, H) tensors by log-depth doubling.

    ``reverse=True`` runs from the last step to the first (``h_t = a_t h_{t+1} + b_t``).
    Differentiable by autograd; :func:`linear_scan` uses it inside its own backward.
    """
    if reverse:
        return scan_torch(a.flip(1), b.flip(1), h0).flip(1)
    if h0 is not None:
        b = torch.cat([b[:, :1] + a[:, :1] * h0.unsqueeze(1), b[:, 1:]], 1)  # fold h0 into b_1
    T = a.shape[1]
    d = 1
    while d < T:
        # after this round, (a, b) at t compose the 2d steps ending at t
        b = torch.cat([b[:, :d], torch.addcmul(b[:, d:], a[:, d:], b[:, :-d])], 1)
        if 2 * d < T:
            a = torch.cat([a[:, :d], a[:, d:] * a[:, :-d]], 1)
        d *= 2
    return b


def scan_sequential(a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    """The plain loop over time (the definition); used by tests and as the step mode's twin."""
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0
    out = []
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        out.append(h)
    return torch.stack(out, 1)


# -- the autograd function --------------------------------------------------------------------
class LinearScan(torch.autograd.Function):
    """``(a, b, h0, impl) -> h``: all (B, T, H) but h0 (B, H); impl 'numba' or 'torch'."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, h0: Tensor, impl: str) -> Tensor:
        a, b, h0 = a.contiguous(), b.contiguous(), h0.contiguous()
        if impl == "numba":
            from ._scan_kernels import scan_forward

            h = torch.empty_like(b)
            scan_forward(a.numpy(), b.numpy(), h0.numpy(), h.numpy())
        else:
            h = scan_torch(a, b, h0)
        ctx.save_for_backward(a, h, h0)
        ctx.impl = impl
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, dh: Tensor):
        a, h, h0 = ctx.saved_tensors
        dh = dh.contiguous()
        if ctx.impl == "numba":
            from ._scan_kernels import scan_backward

            da, db, dh0 = torch.empty_like(a), torch.empty_like(a), torch.empty_like(h0)
            scan_backward(a.numpy(), h.numpy(), h0.numpy(), dh.numpy(), da.numpy(), db.numpy(), dh0.numpy())
            return da, db, dh0, None
        a_next = torch.cat([a[:, 1:], torch.zeros_like(a[:, :1])], 1)  # a_{t+1}, 0 past the end
        g = scan_torch(a_next, dh, reverse=True)  # (B, T, H)
        h_prev = torch.cat([h0.unsqueeze(1), h[:, :-1]], 1)  # (B, T, H)
        return g * h_prev, g, a[:, 0] * g[:, 0], None


def linear_scan(a: Tensor, b: Tensor, h0: Tensor | None = None, impl: str = "auto") -> Tensor:
    """``h_t = a_t ⊙ h_{t-1} + b_t`` for t = 1..T: a, b (B, T, H), h0 (B, H) or None (zeros).

    Returns h (B, T, H). ``impl`` is 'auto' (numba on CPU when installed, else torch), 'numba'
    or 'torch'.
    """
    if a.shape != b.shape or a.dim() != 3:
        raise SeqlabError(f"a, b: expected two (batch, time, hidden) tensors of one shape, got "
                          f"{tuple(a.shape)} and {tuple(b.shape)}")
    if h0 is None:
        h0 = b.new_zeros(b.shape[0], b.shape[2])
    return LinearScan.apply(a, b, h0, resolve_impl(impl, b))


# -- the fused minGRU / minLSTM step --------------------------------------------------------------
ACTIVATIONS = ("g", "identity")


class MinRNNScan(torch.autograd.Function):
    """``(p, h0, activation) -> h`` with p (B, T, 2H) = ``[k | u]`` and

    ``z_t = σ(k_t)``, ``v_t = act(u_t)``, ``h_t = (1 - z_t) h_{t-1} + z_t v_t``.
    ``act`` is the paper's g (``x + 0.5`` for x >= 0, ``σ(x)`` below: positive, continuous) or
    the identity. One numba kernel forward and one backward, each a single pass over ``p``: the
    sigmoid, the activation and the scan are fused, and the backward recomputes the gates rather
    than storing them. Only ``p``, ``h`` and ``h0`` are kept for the backward. (The kernels also
    add a bias, which :class:`MinRNNFunction` uses; here it is zero.)
    """

    @staticmethod
    def forward(ctx, p: Tensor, h0: Tensor, activation: str) -> Tensor:
        from ._scan_kernels import minrnn_forward

        p, h0 = p.contiguous(), h0.contiguous()
        h = p.new_empty(p.shape[0], p.shape[1], p.shape[2] // 2)
        act = ACTIVATIONS.index(activation)
        minrnn_forward(p.numpy(), np.zeros(p.shape[2], p.numpy().dtype), h0.numpy(), h.numpy(), act)
        ctx.save_for_backward(p, h, h0)
        ctx.act = act
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, dh: Tensor):
        from ._scan_kernels import minrnn_backward

        p, h, h0 = ctx.saved_tensors
        dp, dh0 = torch.empty_like(p), torch.zeros_like(h0)  # dh0: the carry, zero past the end
        unused = np.zeros((p.shape[0], p.shape[2]))  # the kernel's bias sums
        minrnn_backward(p.numpy(), np.zeros(p.shape[2], p.numpy().dtype), h.numpy(), h0.numpy(),
                        dh.contiguous().numpy(), dp.numpy(), unused, dh0.numpy(), ctx.act)
        return dp, dh0, None


_POOLED = (torch.float32, torch.float64)  # the dtypes the kernels take


class Workspace:
    """Large CPU buffers recycled from one call to the next, for the fused minGRU function.

    A fresh 67 MB tensor costs more to fault in page by page than to fill: glibc maps every
    allocation above 32 MB anew and unmaps it when freed, and the kernel zeroes each page on
    first touch; two threads writing a fresh output also take turns on the process's memory lock
    (measured: docs/speed.md, "The scan").

    :meth:`empty` hands out tensors that view a pooled buffer through a NumPy array, which it
    remembers by a weak reference: once every tensor on it is gone (the projection after the
    backward pass, the output when the caller drops it), the buffer is free for the next call of
    the same size. The pool holds up to ``max_bytes`` (default 256 MiB; 0 turns it off); beyond
    that, free buffers are dropped oldest first, or a plain new tensor is returned. :meth:`clear`
    empties it.
    """

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        self.max_bytes = max_bytes
        self._pool: list[list] = []  # [base array, weakref to the view in use or None]
        self._lock = threading.Lock()

    def empty(self, shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
        """An uninitialized CPU tensor of ``shape`` and ``dtype``, from the pool where it can be."""
        numel = 1
        for n in shape:
            numel *= n
        if dtype not in _POOLED:
            return torch.empty(shape, dtype=dtype)
        with self._lock:
            free = [e for e in self._pool if e[1] is None or e[1]() is None]
            entry = next((e for e in free if e[0].numel() == numel and e[0].dtype == dtype), None)
            if entry is None:
                need = numel * dtype.itemsize
                for e in free:  # make room: drop free buffers of other sizes, oldest first
                    if self.held_bytes() + need <= self.max_bytes:
                        break
                    self._pool = [x for x in self._pool if x is not e]
                if self.held_bytes() + need > self.max_bytes:
                    return torch.empty(shape, dtype=dtype)
                entry = [torch.empty(numel, dtype=dtype), None]  # torch's 64-byte alignment: a NumPy
                self._pool.append(entry)  # buffer's 16 slowed the projection's product (docs/speed.md, "The scan")
            view = entry[0].numpy().reshape(shape)  # a new array object on the same memory
            entry[1] = weakref.ref(view)  # torch keeps ``view`` alive as long as any tensor on it
            return torch.from_numpy(view)

    def held_bytes(self) -> int:
        """Bytes of all pooled buffers, free or in use."""
        return sum(e[0].numel() * e[0].element_size() for e in self._pool)

    def in_use(self) -> int:
        """How many pooled buffers some tensor still views."""
        return sum(1 for e in self._pool if e[1] is not None and e[1]() is not None)

    def clear(self) -> None:
        with self._lock:
            self._pool.clear()


WORKSPACE = Workspace()


#: rows (time steps of one sequence) per block of :class:`MinRNNFunction`: at most this many
#: floats of projection per block (1 MiB), so a block stays in the core's L2 cache between the
#: product that writes it and the kernel that reads it
BLOCK_FLOATS = 1 << 18

#: rows (steps of one sequence) of each dL/dW product of :class:`MinRNNFunction`'s backward pass:
#: two blocks' dL/dp (2 MiB) in one oneDNN product instead of one product per block (fewer, larger
#: products; four blocks' dL/dp buffers no longer share the L3 cache well on two threads;
#: measured: docs/speed.md, "The scan")
DW_ROWS = 1 << 10


class MinRNNFunction(torch.autograd.Function):
    """``(x, weight, bias, h0, activation, kind) -> h``: a whole minGRU (kind 0) or minLSTM (kind 1)
    layer as one node, in blocks that never leave the cache.

    x (B, T, I), weight (G*H, I), bias (G*H,), h0 (B, H); the projection ``p = x W^T`` is
    ``[k | u]`` (minGRU) or ``[a_f | a_i | u]`` (minLSTM), then :class:`MinRNNScan`'s recurrence
    (minLSTM with ``z = i / (f + i)``). The work is cut into blocks of one sequence and up to
    :data:`BLOCK_FLOATS` / (G*H) steps: a block's projection is computed (oneDNN for float32,
    :mod:`._matmul`) and scanned at once, while it is in the cache, and the next block starts
    from the state it ends with. The backward pass recomputes each block's projection rather than
    keep the (B, T, G*H) tensor: one more product (at oneDNN's rate about the time of writing and
    reading back the tensor it replaces, which also had to be faulted in afresh above 32 MB), and
    the dL/dp of :data:`DW_ROWS` steps goes into dW = dp^T x while it is cached too. Sequences are shared
    out over torch's intra-op threads as worker threads of one thread each (:mod:`._workers`).
    The output ``h`` comes from the :class:`Workspace`.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor, h0: Tensor, activation: str, kind: int) -> Tensor:
        from ._scan_kernels import _consts, _minlstm_forward, _minrnn_forward

        x, h0 = x.detach().contiguous(), h0.detach().contiguous()
        B, T, _ = x.shape
        G = weight.shape[0]
        H = G // 2 if kind == 0 else G // 3
        tau = max(1, min(T, BLOCK_FLOATS // G))
        wp = pack(weight, tau)
        b_np, consts = bias.detach().contiguous().numpy(), _consts(x.numpy())
        h = WORKSPACE.empty((B, T, H), x.dtype)
        act = ACTIVATIONS.index(activation)
        h_np, h0_np = h.numpy(), h0.numpy()
        kernel = _blocks_kernel(_minlstm_forward if kind else _minrnn_forward, x, G, H, b_np, consts, act, False)

        def share(lo: int, hi: int) -> None:
            project = linear_step(wp)
            for b in range(lo, hi):
                for t0 in range(0, T, tau):
                    t1 = min(T, t0 + tau)
                    p = project(x[b, t0:t1]).numpy()  # (tau, G): this block's projection
                    start = h0_np[b : b + 1] if t0 == 0 else h_np[b : b + 1, t0 - 1]  # (1, H)
                    kernel(p.reshape(1, t1 - t0, G), start, h_np[b : b + 1, t0:t1], b_np, consts, act)

        _workers.run(share, B, _workers.shares(B) if onednn(x) else 1)
        ctx.save_for_backward(x, weight, bias, h, h0)
        ctx.act, ctx.kind, ctx.tau = act, kind, tau
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, dh: Tensor):
        from ._scan_kernels import _consts, _minlstm_backward, _minrnn_backward

        x, weight, bias, h, h0 = ctx.saved_tensors
        B, T, I = x.shape
        G = weight.shape[0]
        H = h.shape[2]
        act, kind, tau = ctx.act, ctx.kind, ctx.tau
        need_dx = ctx.needs_input_grad[0]
        wp = pack(weight, tau)
        b_np, consts = bias.detach().contiguous().numpy(), _consts(x.numpy())
        x, dh = x.detach(), dh.contiguous()
        h_np, h0_np, dh_np = h.detach().numpy(), h0.detach().numpy(), dh.numpy()
        dbias = np.zeros((B, G))  # float64 sums per sequence
        carry = torch.zeros(B, H, dtype=x.dtype)  # dL/dh flowing back; dL/dh0 at the end
        carry_np = carry.numpy()
        dx = torch.empty_like(x) if need_dx else None
        kernel = _blocks_kernel(_minlstm_backward if kind else _minrnn_backward, x, G, H, b_np, consts, act, True)

        span = tau * max(1, DW_ROWS // tau)  # steps of one dL/dW product: whole blocks
        wtp = pack(weight.t(), span) if need_dx else None  # (I, G): dx = dp W

        def share(lo: int, hi: int) -> Tensor | None:
            project, input_grad = linear_step(wp), linear_step(wtp) if need_dx else None
            dw = None
            dp = torch.empty(span, G, dtype=x.dtype)  # dL/dp of the blocks of one product
            # the block's h and dL/dh, copied (forwards, which the prefetcher follows) into the
            # cache before the kernel walks them backwards: read in reverse straight from memory
            # they stalled it (measured: docs/speed.md, "The scan")
            hb, dhb = np.empty((1, tau, H), h_np.dtype), np.empty((1, tau, H), h_np.dtype)
            for b in range(lo, hi):
                for t0 in reversed(range(0, T, tau)):
                    t1 = min(T, t0 + tau)
                    n = t1 - t0
                    s0 = t0 - t0 % span  # first step of this block's product
                    p = project(x[b, t0:t1]).numpy()  # the block's projection again
                    start = h0_np[b : b + 1] if t0 == 0 else h_np[b : b + 1, t0 - 1]
                    d = dp[t0 - s0 : t1 - s0]
                    hh, dd = hb[:, :n], dhb[:, :n]
                    np.copyto(hh, h_np[b : b + 1, t0:t1])
                    np.copyto(dd, dh_np[b : b + 1, t0:t1])
                    kernel(p.reshape(1, n, G), hh, start, dd,
                           d.numpy().reshape(1, n, G), dbias[b : b + 1], carry_np[b : b + 1], b_np, consts, act)
                    if t0 == s0:  # the product's blocks are done: dW += dp^T x over them
                        s1 = min(T, s0 + span)
                        part = mm_tn(dp[: s1 - s0], x[b, s0:s1])  # (G, I)
                        dw = part if dw is None else dw.add_(part)
                        if need_dx:
                            dx[b, s0:s1] = input_grad(dp[: s1 - s0])  # (n, I)
            return dw

        parts = _workers.run(share, B, _workers.shares(B) if onednn(x) else 1)
        need = ctx.needs_input_grad
        dw = sum(parts[1:], parts[0]) if need[1] else None
        db = torch.from_numpy(dbias.sum(0)).to(x.dtype) if need[2] else None
        return dx, dw, db, carry, None, None


def _blocks_kernel(kernel, x: Tensor, G: int, H: int, b_np, consts, act: int, backward: bool):
    """The compiled entry point of ``kernel`` for one block of :class:`MinRNNFunction` (compiled
    here, once per signature, with numba's pedantic SSA warning silenced; see
    :func:`seqlab.nn._cell_kernels.compiled`)."""
    from ._cell_kernels import compiled

    dt = x.numpy().dtype
    p, row = np.empty((1, 1, G), dt), np.empty((1, H), dt)
    seq = np.empty((1, 1, H), dt)
    if backward:
        return compiled(kernel, p, seq, row, seq, p.copy(), np.zeros((1, G)), row.copy(), b_np, consts, act)
    return compiled(kernel, p, row, seq, b_np, consts, act)


def mingru_layer(x: Tensor, weight: Tensor, bias: Tensor | None, h0: Tensor, activation: str = "g",
                 impl: str = "auto", kind: int = 0) -> Tensor:
    """A minGRU (kind 0) or minLSTM (kind 1) layer's states ``h`` (B, T, H) from ``x`` (B, T, I):
    the projection ``x W^T + b`` and the recurrence ``h_t = (1 - z_t) h_{t-1} + z_t act(u_t)``.
    One fused node (:class:`MinRNNFunction`) where the numba kernels run (``impl`` 'auto' on CPU
    or 'numba'); else minGRU as the projection and :func:`minrnn_scan` in torch (minLSTM callers
    keep their torch code)."""
    if activation not in ACTIVATIONS:
        raise SeqlabError(f"activation: expected one of {ACTIVATIONS}, got {activation!r}")
    if resolve_impl(impl, x) == "numba" and x.dtype == weight.dtype:
        if bias is None:
            bias = weight.new_zeros(weight.shape[0])
        return MinRNNFunction.apply(x, weight, bias, h0, activation, kind)
    if kind != 0:
        raise SeqlabError("mingru_layer: the minLSTM layer needs the numba kernels (impl='numba' on CPU)")
    return minrnn_scan(torch.nn.functional.linear(x, weight, bias), h0, activation, impl)


def g_activation(x: Tensor) -> Tensor:
    """The minGRU paper's g: ``x + 0.5`` for x >= 0, ``σ(x)`` otherwise (positive, continuous)."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def minrnn_scan(p: Tensor, h0: Tensor, activation: str = "g", impl: str = "auto") -> Tensor:
    """``h_t = (1 - σ(k_t)) h_{t-1} + σ(k_t) act(u_t)`` with ``p = [k | u]`` (B, T, 2H), h0 (B, H).

    The fused numba kernel where available, else the same math in torch over :func:`linear_scan`.
    """
    if activation not in ACTIVATIONS:
        raise SeqlabError(f"activation: expected one of {ACTIVATIONS}, got {activation!r}")
    if resolve_impl(impl, p) == "numba":
        return MinRNNScan.apply(p, h0, activation)
    H = p.shape[-1] // 2
    z = torch.sigmoid(p[..., :H])
    v = g_activation(p[..., H:]) if activation == "g" else p[..., H:]
    return linear_scan(1 - z, z * v, h0, impl="torch")
