"""Matrix products for the compiled CPU paths: oneDNN where torch exposes it, else ``torch.mm``.

torch's dense ``mm``/``addmm``/``F.linear`` call MKL's sgemm. On AMD processors MKL takes its AVX2
code, and oneDNN (the library behind torch.nn.LSTM on CPU) its faster AVX-512 code (measured:
docs/speed.md, "Custom cells at fused speed"). torch reaches oneDNN's fp32 inner product on
ordinary dense tensors through ``torch.ops.mkldnn._linear_pointwise`` (the op its CPU compiler
uses for fused linear layers); this module calls it for float32 CPU tensors and falls back to
torch's own products everywhere else (float64, other devices, a torch without the op). oneDNN's
fp32 products are plain fp32 (no reduced-precision mode is set), so only the order of the
additions differs.

Each function returns a new tensor (oneDNN writes its own output); shapes as ``F.linear``.
``ENABLED = False`` forces torch's products (the tests run both).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

#: use oneDNN where it applies; False forces torch.mm (tests compare the two)
ENABLED = True


def _find_op():
    try:
        op = torch.ops.mkldnn._linear_pointwise
        if not torch.backends.mkldnn.is_available():
            return None
        a, w = torch.ones(2, 3), torch.ones(4, 3)
        if not torch.equal(op(a, w, None, "none", [], ""), torch.full((2, 4), 3.0)):
            return None  # pragma: no cover - a build whose op does something else
        if not torch.equal(op.binary(a, torch.ones(2, 4), w, None, "add"), torch.full((2, 4), 4.0)):
            return None  # pragma: no cover
        return op
    except (AttributeError, RuntimeError):  # pragma: no cover - depends on the torch build
        return None


def _find_weight_op():
    """oneDNN's weight-gradient product ``g^T x`` (aten::mkldnn_linear_backward_weights), which
    takes both operands row-major as they are: no transposed copies (measured: docs/speed.md,
    "Custom cells at fused speed")."""
    try:
        op = torch.ops.aten.mkldnn_linear_backward_weights
        g, x = torch.ones(3, 2), torch.ones(3, 4)
        dw = op(g.to_mkldnn(), x.to_mkldnn(), torch.empty(0), False)[0]
        if dw.layout != torch.strided or not torch.equal(dw, torch.full((2, 4), 3.0)):
            return None  # pragma: no cover
        return op
    except (AttributeError, RuntimeError, NotImplementedError):  # pragma: no cover - depends on the build
        return None


def _find_pack_op():
    """oneDNN's reorder of a weight into the blocked layout its product wants for a given number
    of rows; without it every product reorders the plain weight again (measured: docs/speed.md,
    "Custom cells at fused speed")."""
    try:
        op = torch.ops.mkldnn._reorder_linear_weight
        w = op(torch.ones(4, 3), 2)
        if not torch.equal(_OP(torch.ones(2, 3), w, None, "none", [], ""), torch.full((2, 4), 3.0)):
            return None  # pragma: no cover
        return op
    except (AttributeError, RuntimeError):  # pragma: no cover - depends on the torch build
        return None


_OP = _find_op()
_PACK_OP = _find_pack_op() if _OP is not None else None
_WEIGHT_OP = _find_weight_op() if _OP is not None else None
_EMPTY = torch.empty(0)


def onednn(t: Tensor) -> bool:
    """Whether products on tensors like ``t`` go to oneDNN."""
    return ENABLED and _OP is not None and t.dtype == torch.float32 and t.device.type == "cpu"


def pack(w: Tensor, rows: int) -> Tensor:
    """``w`` (N, K) prepared for many products ``x w^T`` with x of ``rows`` rows: oneDNN's blocked
    copy where products go to oneDNN, else ``w`` itself (contiguous). Use the result only as the
    weight of :func:`linear` / :func:`linear_add`."""
    w = w.detach().contiguous()
    if onednn(w) and _PACK_OP is not None:
        return _PACK_OP(w, rows)
    return w


def linear(x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
    """``x w^T + b``: x (M, K) C-contiguous, w (N, K) C-contiguous or from :func:`pack`, b (N,)
    or None -> (M, N)."""
    if onednn(x):
        return _OP(x, w, b, "none", [], "")
    return F.linear(x, w, b)


def linear_step(w: Tensor, b: Tensor | None = None) -> Callable[[Tensor], Tensor]:
    """``x -> linear(x, w, b)`` for a loop of many small products with one weight (the per-step
    products of :mod:`seqlab.nn.compiled`), with :func:`linear`'s checks done once here rather
    than at every call: on two worker threads each step's Python runs under the GIL, one
    worker's waiting for the other's (measured: docs/speed.md, "Custom cells at fused speed")."""
    if onednn(w):
        op = _OP
        return lambda x: op(x, w, b, "none", [], "")
    return lambda x: F.linear(x, w, b)


def linear_add(x: Tensor, w: Tensor, other: Tensor) -> Tensor:
    """``x w^T + other``: x (M, K), other (M, N) C-contiguous, w (N, K) as for :func:`linear`."""
    if onednn(x):
        return _OP.binary(x, other, w, None, "add")
    return torch.addmm(other, x, w.t())


#: floats of ``a`` per oneDNN product of :func:`mm_tn` (a weight gradient over many rows is summed
#: over chunks of rows of this size)
MM_TN_FLOATS = 1 << 19


def mm_tn(a: Tensor, b: Tensor) -> Tensor:
    """``a^T b`` for a (K, M), b (K, N) C-contiguous -> (M, N): a weight gradient summed over the
    K rows (steps x batch).

    In oneDNN the rows go in chunks of about :data:`MM_TN_FLOATS` floats of ``a``, each chunk's
    product added to the sum: the op takes its operands as oneDNN tensors, a copy of each, and
    copies of a whole (6,400 x 1,024) gradient were fresh tens of MB, single-threaded and out of
    the cache (measured: docs/speed.md, "Custom cells at fused speed" and the layer-norm bullet
    of "Benchmarks")."""
    if onednn(a):
        if _WEIGHT_OP is not None:  # takes its operands as oneDNN tensors: a plain copy each
            rows = max(1, MM_TN_FLOATS // max(1, a.shape[1]))
            out = None
            for lo in range(0, a.shape[0], rows):
                part = _WEIGHT_OP(a[lo : lo + rows].to_mkldnn(), b[lo : lo + rows].to_mkldnn(), _EMPTY, False)[0]
                out = part if out is None else out.add_(part)
            if out is None:  # no rows: a sum of nothing
                return a.new_zeros(a.shape[1], b.shape[1])
            return out
        return _OP(a.t().contiguous(), b.t().contiguous(), None, "none", [], "")  # pragma: no cover
    return torch.mm(a.t(), b)


class _Linear(torch.autograd.Function):
    """``x w^T + b`` over the last axis of x (..., K), all three products in oneDNN."""

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
        x2 = x.reshape(-1, x.shape[-1]).contiguous()  # (M, K)
        ctx.save_for_backward(x2, w)
        ctx.has_bias = b is not None
        ctx.shape = x.shape
        return linear(x2, w.contiguous(), b).view(*x.shape[:-1], w.shape[0])

    @staticmethod
    def backward(ctx, dy: Tensor):
        x2, w = ctx.saved_tensors
        dy2 = dy.reshape(-1, dy.shape[-1]).contiguous()  # (M, N)
        need = ctx.needs_input_grad
        dx = linear(dy2, w.t().contiguous()).view(ctx.shape) if need[0] else None
        dw = mm_tn(dy2, x2) if need[1] else None
        db = dy2.sum(0) if ctx.has_bias and need[2] else None
        return dx, dw, db


def linear_fn(x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
    """``F.linear(x, w, b)`` with its forward and backward products in oneDNN where it applies
    (float32 CPU), else ``F.linear`` itself. Differentiable once."""
    if onednn(x) and w.dtype == x.dtype:
        return _Linear.apply(x, w, b)
    return F.linear(x, w, b)
