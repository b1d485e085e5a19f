"""Whole recurrent layers as one autograd node each, on CPU: numba kernels between oneDNN products.

What made the reset-before GRU and minGRU fast here, applied to every gated cell:

* one autograd node per layer and direction (no graph of T steps);
* per step ONE matrix product and ONE compiled kernel call forward (``a = [x_t | h_{t-1}] W^T +
  b``, then gates, cell, layer norms, masks), and one kernel and one product backward (the
  reset-before GRU: two of each); the LSTM folds the input product into the step's product
  (``W = [W_ih | W_hh]``), so no (B, T, 4H) projection is written and read back;
* the recurrent weight gradient as one sum over all steps at the end (``dW = dA^T [x | h]``, in
  chunks of rows: :func:`._matmul.mm_tn`),
  the bias and gain gradients summed inside the backward kernels;
* the products in oneDNN (:mod:`._matmul`), twice MKL's speed on this AMD CPU, with the weights
  packed once per call into oneDNN's blocked layout;
* the batch shared out over torch's intra-op threads as worker threads of one thread each
  (:mod:`._workers`): each share is an independent recurrence, so there is no barrier per step.
* the large buffers (gate activations, states, their gradients) recycled from one call to the
  next (:func:`_empty`), so the step does not depend on what glibc did with freed memory.

Everything runs in float32 or float64 on CPU tensors (:func:`available`); float64 uses exact
``math`` functions and torch's products, so it matches the NumPy reference to 1e-9 (tested).
Without numba the callers (:mod:`seqlab.nn.custom`, :mod:`seqlab.nn.cells`) use torch code or
the runner's loop.

Buffers are time-major (``(T, B, .)``: a step's rows of a share are contiguous for its product);
inputs and outputs are batch-first like the layers.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from . import _cell_kernels as _ck
from . import _workers
from ._matmul import linear, linear_fn, linear_step, mm_tn, onednn, pack
from .scan import WORKSPACE

_DTYPES = (torch.float32, torch.float64)
_LN_EPS = 1e-5  # seqlab.nn.cells.LN_EPS (torch's default)


def available(x: Tensor) -> bool:
    """Whether the compiled layers can run on tensors like ``x`` (numba, CPU, float32/64)."""
    return _ck.AVAILABLE and x.device.type == "cpu" and x.dtype in _DTYPES


def _np(t: Tensor):
    """The NumPy view of a C-contiguous CPU tensor (shares memory)."""
    return t.detach().numpy()


def _empty(like: Tensor, *shape: int) -> Tensor:
    """An uninitialized tensor of ``shape`` and ``like``'s dtype from the recycled buffers of
    :data:`seqlab.nn.scan.WORKSPACE`: a layer's (T, B, 4H) buffers are tens of MB, which glibc maps
    afresh and the kernel faults in page by page on each call, depending on what the process
    freed before; recycled, they cost nothing after the first call (measured: docs/speed.md,
    "Custom cells at fused speed")."""
    return WORKSPACE.empty(shape, like.dtype)


def _none(like: Tensor, dims: int):
    """An empty array with ``dims`` axes: the kernels' "not used" argument."""
    return np.empty((0,) * dims, dtype=np.float32 if like.dtype == torch.float32 else np.float64)


def _masks(m: Tensor | None, like: Tensor):
    """(T, B, 1) step masks as the kernels' (T, B) array, or the "no masks" array."""
    if m is None:
        return _none(like, 2)
    return _np(m.reshape(m.shape[0], m.shape[1]).to(like.dtype).contiguous())


def _shares(x: Tensor, B: int) -> int:
    """How many worker shares a layer of batch B runs in: with oneDNN products (float32), torch's
    intra-op threads, at most B; otherwise 1 (float64 goes through MKL, which keeps its own
    thread count, so it stays on the calling thread)."""
    return _workers.shares(B) if onednn(x) else 1


def _sum(parts: list) -> list:
    """Elementwise sum of the shares' lists of accumulators (float64 arrays)."""
    return [sum(p[k] for p in parts) for k in range(len(parts[0]))]


def _f64(*shape: int):
    return np.zeros(shape)


# -- LSTM ------------------------------------------------------------------------------------------
class LSTMLayerFunction(torch.autograd.Function):
    """``(x, h0, c0, w_ih, w_hh, b, w_ch, m) -> (out, h_T, c_T)``: an LSTM layer (peephole when
    ``w_ch`` is given) over x (B, T, I) from h0, c0 (B, H); b (4H,) = b_ih + b_hh or None;
    w_ch (3, H) or None; m (T, B, 1) step masks or None. out (B, T, H)."""

    @staticmethod
    def forward(ctx, x: Tensor, h0: Tensor, c0: Tensor, w_ih: Tensor, w_hh: Tensor, b: Tensor | None,
                w_ch: Tensor | None, m: Tensor | None):
        B, T, I = x.shape
        G = w_ih.shape[0]
        H = G // 4
        xh = _empty(x, T + 1, B, I + H)  # xh[t] = [x_t | h_{t-1}]: the operand of step t's product
        xh[:T, :, :I] = x.transpose(0, 1)
        xh[T, :, :I] = 0
        xh[0, :, I:] = h0
        w = torch.cat([w_ih, w_hh], 1).detach().contiguous()  # (4H, I + H)
        bias = None if b is None else b.detach().contiguous()
        acts = _empty(x, T, B, G)  # i | f | g | o
        cs = _empty(x, T + 1, B, H)  # cs[t] = c_{t-1}
        cs[0] = c0
        cns = cs[1:] if m is None else _empty(x, T, B, H)  # unmasked, the candidate is the cell
        tcs = _empty(x, T, B, H)  # tanh(cn_t)
        out = _empty(x, B, T, H)
        wch = x.new_zeros(3, H) if w_ch is None else w_ch.detach().contiguous()
        arrays = [_np(acts), _np(xh), _np(cs), _np(cns), _np(tcs), _np(out), _np(wch), _masks(m, x)]
        step = _ck.compiled(_ck.lstm_forward_step, _np(x.new_empty(1, G)), *arrays, 0, I, 0)

        def share(lo: int, hi: int) -> None:
            product, rows = linear_step(pack(w, hi - lo), bias), xh[:T, lo:hi].unbind(0)
            for t in range(T):
                step(_np(product(rows[t])), *arrays, t, I, lo)  # (n, 4H) then the gates

        _workers.run(share, B, _shares(x, B))
        ctx.save_for_backward(xh, acts, cs, None if m is None else cns, tcs, w, w_ch, m)
        ctx.I = I
        return out, xh[T, :, I:].clone(), cs[T].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dout: Tensor, dhT: Tensor, dcT: Tensor):
        xh, acts, cs, cns, tcs, w, w_ch, m = ctx.saved_tensors
        I = ctx.I
        T, B, G = acts.shape
        H = G // 4
        if cns is None:
            cns = cs[1:]
        peep = w_ch is not None
        dh = acts.new_zeros(B, H)  # the carry of dL/dh past the product (masked steps); dL/dh0 at the end
        dc = dcT.contiguous().clone()
        dhT = dhT.contiguous()
        wch = acts.new_zeros(3, H) if w_ch is None else w_ch.detach().contiguous()
        dgates = _empty(acts, *acts.shape)  # (T, B, 4H)
        w_hh = w[:, I:]  # dgates @ W_hh = linear(dgates, W_hh^T)
        arrays = [_np(acts), _np(cs), _np(cns), _np(tcs), _np(dgates)]
        rest = [_np(dh), _np(dc), _np(dout.contiguous()), _masks(m, acts), _np(wch)]
        step = _ck.compiled(_ck.lstm_backward_step, *arrays, _np(dhT), *rest, _f64(3, H), _f64(G), 0, 0)

        def share(lo: int, hi: int) -> list:
            product, rows = linear_step(pack(w_hh.t(), hi - lo)), dgates[:, lo:hi].unbind(0)
            dwch, db = _f64(3, H) if peep else _f64(0, 0), _f64(G)
            dhmm = dhT[lo:hi]
            for t in range(T - 1, -1, -1):
                step(*arrays, _np(dhmm), *rest, dwch, db, t, lo)
                dhmm = product(rows[t])  # (n, H)
            dh[lo:hi] += dhmm
            return [dwch, db]

        dwch, db = _sum(_workers.run(share, B, _shares(acts, B)))
        dgates2 = dgates.view(T * B, G)
        dw = mm_tn(dgates2, xh[:T].view(T * B, -1))  # (4H, I + H): every step in one product
        need = ctx.needs_input_grad
        dx = linear(dgates2, w[:, :I].t().contiguous()).view(T, B, I).transpose(0, 1) if need[0] else None
        dbias = torch.from_numpy(db).to(acts.dtype) if need[5] else None
        dw_ch = torch.from_numpy(dwch).to(acts.dtype) if peep and need[6] else None
        return dx, dh, dc, dw[:, :I], dw[:, I:], dbias, dw_ch, None


def lstm_layer(cell, x: Tensor, state: tuple[Tensor, Tensor], lengths: Tensor | None, m: Tensor | None):
    """An LSTMCell (standard or peephole, no layer norm) over ``x`` (B, T, I) as one node."""
    b = None if cell.bias_ih is None else cell.bias_ih + cell.bias_hh
    w_ch = cell.weight_ch if cell.peephole else None
    out, h, c = LSTMLayerFunction.apply(x.contiguous(), state[0], state[1], cell.weight_ih, cell.weight_hh, b, w_ch, m)
    return out, (h, c)


# -- GRU -------------------------------------------------------------------------------------------
class GRULayerFunction(torch.autograd.Function):
    """``(gi, h0, w_hh, beta, gamma, m, before) -> (out, h_T)``: a GRU layer (seqlab's ``h = (1 - z)
    h_prev + z n``) from its input projection gi (B, T, 3H) and h0 (B, H); w_hh (3H, H);
    beta (3H,) = b_hh (zeros without bias); gamma (3H,) the layer-norm gains of the recurrent
    products, or None for no layer norm; m (T, B, 1) or None; ``before``: reset before the
    product (two products per step) or after (one)."""

    @staticmethod
    def forward(ctx, gi: Tensor, h0: Tensor, w_hh: Tensor, beta: Tensor, gamma: Tensor | None, m: Tensor | None,
                before: bool):
        B, T, G = gi.shape
        H = G // 3
        ln = gamma is not None
        hs = _empty(gi, T + 1, B, H)
        hs[0] = h0
        acts = _empty(gi, T, B, G)  # r | z | n
        out = _empty(gi, B, T, H)
        lnq = _empty(gi, T, B, G) if ln else None
        rstd = _empty(gi, T, B, 2) if ln else None
        gam = beta.detach().contiguous() if gamma is None else gamma.detach().contiguous()
        norm = [_np(lnq) if ln else _none(gi, 3), _np(rstd) if ln else _none(gi, 3), _np(gam),
                _np(beta.detach().contiguous())]
        gi_np, m_np, w_hh = _np(gi), _masks(m, gi), w_hh.detach()
        if before:
            rhs = _empty(gi, T, B, H)  # r ⊙ h_{t-1}
            one = [_np(acts), _np(hs), _np(rhs)]
            two = [_np(acts), _np(hs), _np(out), m_np]
            k_rz = _ck.compiled(_ck.gru_before_forward_rz, gi_np, _np(gi.new_empty(1, 2 * H)), *one, *norm, 0, 0)
            k_n = _ck.compiled(_ck.gru_before_forward_n, gi_np, _np(gi.new_empty(1, H)), *two, *norm, 0, 0)

            def share(lo: int, hi: int) -> None:
                p_rz, p_n = linear_step(pack(w_hh[: 2 * H], hi - lo)), linear_step(pack(w_hh[2 * H :], hi - lo))
                h_rows, rh_rows = hs[:T, lo:hi].unbind(0), rhs[:, lo:hi].unbind(0)
                for t in range(T):
                    k_rz(gi_np, _np(p_rz(h_rows[t])), *one, *norm, t, lo)  # (n, 2H)
                    k_n(gi_np, _np(p_n(rh_rows[t])), *two, *norm, t, lo)  # (n, H)
            saved = rhs
        else:
            ghn = _empty(gi, T, B, H)  # gh_n, which the reset multiplies
            arrays = [_np(acts), _np(ghn), _np(hs), _np(out), m_np]
            k = _ck.compiled(_ck.gru_after_forward_step, gi_np, _np(gi.new_empty(1, G)), *arrays, *norm, 0, 0)

            def share(lo: int, hi: int) -> None:
                product, rows = linear_step(pack(w_hh, hi - lo)), hs[:T, lo:hi].unbind(0)
                for t in range(T):
                    k(gi_np, _np(product(rows[t])), *arrays, *norm, t, lo)  # (n, 3H)
            saved = ghn
        _workers.run(share, B, _shares(gi, B))
        ctx.save_for_backward(acts, hs, saved, lnq, rstd, w_hh, gamma, m)
        ctx.before = before
        return out, hs[T].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dout: Tensor, dhT: Tensor):
        acts, hs, saved, lnq, rstd, w_hh, gamma, m = ctx.saved_tensors
        T, B, G = acts.shape
        H = G // 3
        ln = gamma is not None
        like = acts
        dgi = _empty(like, B, T, G)
        dh = like.new_zeros(B, H)
        dhT = dhT.contiguous()
        gam = like.new_empty(G) if gamma is None else gamma.detach().contiguous()
        norm = [_np(lnq) if ln else _none(like, 3), _np(rstd) if ln else _none(like, 3), _np(gam)]
        dout_np, m_np = _np(dout.contiguous()), _masks(m, like)
        sums = [_f64(G), _f64(G)]  # for compiling; each share sums into its own
        if ctx.before:
            rhs = saved
            dgn, drz = _empty(like, T, B, H), _empty(like, T, B, 2 * H)
            one = [_np(acts), _np(hs), *norm, _np(dgi), _np(dgn)]
            two = [_np(acts), _np(hs), *norm, _np(dgi), _np(drz)]
            k_n = _ck.compiled(_ck.gru_before_backward_n, *one, _np(dhT), _np(dh), dout_np, m_np, *sums, 0, 0)
            k_rz = _ck.compiled(_ck.gru_before_backward_rz, *two, _np(dhT), _np(dh), *sums, 0, 0)

            def share(lo: int, hi: int) -> list:
                p_n = linear_step(pack(w_hh[2 * H :].t(), hi - lo))
                p_rz = linear_step(pack(w_hh[: 2 * H].t(), hi - lo))
                gn_rows, rz_rows = dgn[:, lo:hi].unbind(0), drz[:, lo:hi].unbind(0)
                acc = [_f64(G), _f64(G)]
                dhmm = dhT[lo:hi]
                for t in range(T - 1, -1, -1):
                    k_n(*one, _np(dhmm), _np(dh), dout_np, m_np, *acc, t, lo)
                    drh = p_n(gn_rows[t])  # (n, H): dL/d(r ⊙ h_{t-1})
                    k_rz(*two, _np(drh), _np(dh), *acc, t, lo)
                    dhmm = p_rz(rz_rows[t])  # (n, H)
                dh[lo:hi] += dhmm
                return acc

            dgamma, dbeta = _sum(_workers.run(share, B, _shares(like, B)))
            dw = torch.cat([mm_tn(drz.view(T * B, 2 * H), hs[:T].reshape(T * B, H)),
                            mm_tn(dgn.view(T * B, H), rhs.view(T * B, H))])
        else:
            ghn = saved
            dgh = _empty(like, T, B, G)
            arrays = [_np(acts), _np(ghn), _np(hs), *norm, _np(dgi), _np(dgh)]
            k = _ck.compiled(_ck.gru_after_backward_step, *arrays, _np(dhT), _np(dh), dout_np, m_np, *sums, 0, 0)

            def share(lo: int, hi: int) -> list:
                product, rows = linear_step(pack(w_hh.t(), hi - lo)), dgh[:, lo:hi].unbind(0)  # (H, 3H)
                acc = [_f64(G), _f64(G)]
                dhmm = dhT[lo:hi]
                for t in range(T - 1, -1, -1):
                    k(*arrays, _np(dhmm), _np(dh), dout_np, m_np, *acc, t, lo)
                    dhmm = product(rows[t])  # (n, H)
                dh[lo:hi] += dhmm
                return acc

            dgamma, dbeta = _sum(_workers.run(share, B, _shares(like, B)))
            dw = mm_tn(dgh.view(T * B, G), hs[:T].reshape(T * B, H))  # (3H, H)
        need, d = ctx.needs_input_grad, like.dtype
        return (dgi, dh, dw, torch.from_numpy(dbeta).to(d) if need[3] else None,
                torch.from_numpy(dgamma).to(d) if ln and need[4] else None, None, None)


def _zeros_if_none(p: Tensor | None, n: int, like: Tensor) -> Tensor:
    return like.new_zeros(n) if p is None else p


def gru_layer(cell, x: Tensor, state: tuple[Tensor], lengths: Tensor | None, m: Tensor | None):
    """A GRUCell (reset before or after, with or without layer norm) over ``x`` (B, T, I) as one
    node after its input projection (oneDNN products; layer norm in torch)."""
    G = cell.weight_ih.shape[0]
    if cell.layer_norm:
        gi = F.layer_norm(linear_fn(x, cell.weight_ih), (G,), cell.ln_weight_ih, cell.bias_ih, eps=_LN_EPS)
        gamma = cell.ln_weight_hh
    else:
        gi, gamma = linear_fn(x, cell.weight_ih, cell.bias_ih), None
    beta = _zeros_if_none(cell.bias_hh, G, x)
    out, h = GRULayerFunction.apply(gi.contiguous(), state[0], cell.weight_hh, beta, gamma, m, cell.reset == "before")
    return out, (h,)


# -- layer-normalized LSTM -------------------------------------------------------------------------
class LNLSTMLayerFunction(torch.autograd.Function):
    """``(x, h0, c0, w_ih, w_hh, gx, bx, beta, gamma, gc, bc, w_ch, m) -> (out, h_T, c_T)``: a
    layer-normalized LSTM layer over x (B, T, I): ``a = LN(x W_ih^T) γ_ih + b_ih + LN(h W_hh^T) γ_hh
    + b_hh`` with gx, bx = γ_ih, b_ih and gamma, beta = γ_hh, b_hh (zero shifts without bias);
    gc, bc = γ_c, β_c (H,); w_ch (3, H) or None; m (T, B, 1) or None. The input product is one
    product over all steps; its layer norm happens in the step kernel, which keeps the normalized
    rows for the backward."""

    @staticmethod
    def forward(ctx, x: Tensor, h0: Tensor, c0: Tensor, w_ih: Tensor, w_hh: Tensor, gx: Tensor, bx: Tensor,
                beta: Tensor, gamma: Tensor, gc: Tensor, bc: Tensor, w_ch: Tensor | None, m: Tensor | None):
        B, T, I = x.shape
        G = w_ih.shape[0]
        H = G // 4
        x2 = x.detach().reshape(B * T, I).contiguous()
        xw = linear(x2, pack(w_ih, B * T)).view(B, T, G)  # normalized in place by the kernel
        hs, cs = _empty(x, T + 1, B, H), _empty(x, T + 1, B, H)
        hs[0], cs[0] = h0, c0
        cns = cs[1:] if m is None else _empty(x, T, B, H)
        acts, tcs, out = _empty(x, T, B, G), _empty(x, T, B, H), _empty(x, B, T, H)
        lnq, lnc, rstd = _empty(x, T, B, G), _empty(x, T, B, H), _empty(x, T, B, 3)
        wch = x.new_zeros(3, H) if w_ch is None else w_ch.detach().contiguous()
        params = [_np(p.detach().contiguous()) for p in (gamma, gx, (beta + bx).detach(), gc, bc)]
        arrays = [_np(acts), _np(hs), _np(cs), _np(cns), _np(tcs), _np(out), _np(wch), _masks(m, x), _np(lnq),
                  _np(lnc), _np(rstd), *params]
        xw_np, w_hh = _np(xw), w_hh.detach()
        k = _ck.compiled(_ck.ln_lstm_forward_step, xw_np, _np(x.new_empty(1, G)), *arrays, 0, 0)

        def share(lo: int, hi: int) -> None:
            product, rows = linear_step(pack(w_hh, hi - lo)), hs[:T, lo:hi].unbind(0)
            for t in range(T):
                k(xw_np, _np(product(rows[t])), *arrays, t, lo)  # (n, 4H)

        _workers.run(share, B, _shares(x, B))
        ctx.save_for_backward(x2, xw, acts, hs, cs, None if m is None else cns, tcs, lnq, lnc, rstd, w_ih, w_hh, gx,
                              gamma, gc, w_ch, m)
        return out, hs[T].clone(), cs[T].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dout: Tensor, dhT: Tensor, dcT: Tensor):
        x2, xw, acts, hs, cs, cns, tcs, lnq, lnc, rstd, w_ih, w_hh, gx, gamma, gc, w_ch, m = ctx.saved_tensors
        T, B, G = acts.shape
        H = G // 4
        if cns is None:
            cns = cs[1:]
        peep = w_ch is not None
        dxw, dq = _empty(acts, B, T, G), _empty(acts, T, B, G)
        dh, dc, dhT = acts.new_zeros(B, H), dcT.contiguous().clone(), dhT.contiguous()
        wch = acts.new_zeros(3, H) if w_ch is None else w_ch.detach().contiguous()
        det = lambda p: _np(p.detach().contiguous())  # noqa: E731
        arrays = [_np(acts), _np(cs), _np(cns), _np(tcs), _np(lnq), _np(lnc), _np(rstd), det(gamma), det(gc),
                  _np(xw), det(gx), _np(dxw), _np(dq)]
        rest = [_np(dh), _np(dc), _np(dout.contiguous()), _masks(m, acts), _np(wch)]
        k = _ck.compiled(_ck.ln_lstm_backward_step, *arrays, _np(dhT), *rest, _f64(3, H), *[_f64(G)] * 3,
                         _f64(H), _f64(H), 0, 0)

        def share(lo: int, hi: int) -> list:
            product, rows = linear_step(pack(w_hh.detach().t(), hi - lo)), dq[:, lo:hi].unbind(0)  # (H, 4H)
            acc = [_f64(3, H) if peep else _f64(0, 0), _f64(G), _f64(G), _f64(G), _f64(H), _f64(H)]
            dhmm = dhT[lo:hi]
            for t in range(T - 1, -1, -1):
                k(*arrays, _np(dhmm), *rest, *acc, t, lo)
                dhmm = product(rows[t])  # (n, H)
            dh[lo:hi] += dhmm
            return acc

        dwch, dgamma, dgx, dshift, dgc, dbc = _sum(_workers.run(share, B, _shares(acts, B)))
        need = ctx.needs_input_grad
        dxw2 = dxw.view(B * T, G)
        dx = linear(dxw2, w_ih.detach().t().contiguous()).view(B, T, -1) if need[0] else None
        dw_ih = mm_tn(dxw2, x2) if need[3] else None
        dw_hh = mm_tn(dq.view(T * B, G), hs[:T].reshape(T * B, H))  # (4H, H)
        f = lambda a: torch.from_numpy(a).to(acts.dtype)  # noqa: E731
        return (dx, dh, dc, dw_ih, dw_hh, f(dgx), f(dshift) if need[6] else None, f(dshift) if need[7] else None,
                f(dgamma), f(dgc), f(dbc) if need[10] else None, f(dwch) if peep and need[11] else None, None)


def ln_lstm_layer(cell, x: Tensor, state: tuple[Tensor, Tensor], lengths: Tensor | None, m: Tensor | None):
    """A layer-normalized LSTMCell (peephole or not) over ``x`` (B, T, I) as one node."""
    G, H = cell.weight_ih.shape[0], cell.hidden_size
    bx, beta = _zeros_if_none(cell.bias_ih, G, x), _zeros_if_none(cell.bias_hh, G, x)
    bc = _zeros_if_none(cell.ln_bias_c, H, x)
    w_ch = cell.weight_ch if cell.peephole else None
    out, h, c = LNLSTMLayerFunction.apply(x.contiguous(), state[0], state[1], cell.weight_ih, cell.weight_hh,
                                          cell.ln_weight_ih, bx, beta, cell.ln_weight_hh, cell.ln_weight_c, bc, w_ch, m)
    return out, (h, c)
