"""Sequence-level autograd functions for the cells torch's fused kernels do not cover, in torch.

The peephole LSTM and the GRU with the reset before the recurrent product run as ONE autograd
node per layer and direction instead of a graph of ~20 operations per time step:

* the input products of all steps are one matrix multiply, done outside (``F.linear`` over
  (B, T, I), so dL/dW_ih = sum_t dgates_t^T x_t is one matrix multiply too);
* the forward loop does one ``addmm`` and a few elementwise operations per step and keeps the
  gate activations;
* the backward loop is the hand-derived BPTT of :mod:`seqlab.reference` (same equations, same
  masking), in reverse time, with one ``mm`` per step for dL/dh_{t-1}; dL/dW_hh is one matrix
  multiply over all (B*T) rows at the end.

On CPU with numba installed (the ``seqlab[fast]`` extra) :func:`lstm_sequence` and
:func:`gru_before_sequence` hand the work to the compiled layers of :mod:`seqlab.nn.compiled`
instead (numba kernels between oneDNN products; also the standard GRU and the layer-normalized
cells); the functions here are what runs elsewhere (other devices and dtypes, no numba, or
``COMPILED = False``), and what the tests compare the compiled layers with.

Masking for ``lengths`` follows the reference: ``h_t = m_t hn_t + (1 - m_t) h_{t-1}`` and
``out_t = m_t hn_t`` with ``m_t`` = 1 while t < length. Gradients flow to the initial state.
These functions are differentiable once (no double backward).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable


def step_masks(lengths: Tensor | None, T: int, like: Tensor) -> Tensor | None:
    """``m[t, b, 0] = 1.0`` while ``t < lengths[b]``: (T, B, 1) in ``like``'s dtype, or None."""
    if lengths is None:
        return None
    t = torch.arange(T, device=like.device).unsqueeze(1)  # (T, 1)
    return (t < lengths.to(like.device).unsqueeze(0)).to(like.dtype).unsqueeze(-1)  # (T, B, 1)


def _tanh(x: Tensor, out: Tensor) -> Tensor:
    """``tanh(x) = 2 σ(2x) - 1`` written into ``out``. ATen's sigmoid is vectorized everywhere;
    torch.tanh goes through MKL's VML, which is several times slower on some CPUs (AMD) and
    starts threads even for a (64, 256) block (measured: docs/speed.md, "Custom cells at fused speed")."""
    return torch.sigmoid(x * 2, out=out).mul_(2).sub_(1)


def _time_major(t: Tensor) -> Tensor:
    return t.transpose(0, 1).contiguous()  # (B, T, X) -> (T, B, X)


# Use the compiled layers of .compiled (numba kernels, the ``seqlab[fast]`` extra) where the
# tensors suit them. Set to False to force the torch code below (the tests run both).
COMPILED = True


def use_compiled(x: Tensor) -> bool:
    """Whether a layer on ``x``'s kind of tensor runs as a compiled layer (:mod:`.compiled`)."""
    return compiled_unavailable(x) is None


def compiled_unavailable(x: Tensor) -> str | None:
    """Why a layer on ``x``'s kind of tensor (its device and dtype) cannot run compiled, or None."""
    from . import compiled

    if not COMPILED:
        return "the compiled layers are switched off (seqlab.nn.custom.COMPILED = False)"
    if not compiled.available(x):
        if not compiled._ck.AVAILABLE:
            return "the compiled layers need numba (pip install seqlab[fast])"
        return f"the compiled layers run float32/float64 on CPU, not {x.dtype} on {x.device.type}"
    return None


class PeepholeLSTMFunction(torch.autograd.Function):
    """``(gi, h0, c0, w_hh, w_ch, m) -> (out, h_T, c_T)`` for an LSTM, peephole when ``w_ch`` is given.

    gi (B, T, 4H) = x W_ih^T + b_ih + b_hh; h0, c0 (B, H); w_hh (4H, H); w_ch (3, H) or None;
    m (T, B, 1) step masks or None. out (B, T, H).
    """

    @staticmethod
    def forward(ctx, gi: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor, w_ch: Tensor | None,
                m: Tensor | None):
        B, T, G = gi.shape
        H = G // 4
        gi_t = _time_major(gi)  # (T, B, 4H)
        w_t = w_hh.t()  # (H, 4H)
        peep = w_ch is not None
        if peep:
            wci, wcf, wco = w_ch[0], w_ch[1], w_ch[2]
        acts = gi.new_empty(T, B, G)  # i | f | g | o after their nonlinearities
        hs = gi.new_empty(T + 1, B, H)  # hs[t] = h_{t-1} (state before step t); hs[T] = h_T
        cs = gi.new_empty(T + 1, B, H)
        cns = gi.new_empty(T, B, H)  # candidate cell cn_t before masking
        tcs = gi.new_empty(T, B, H)  # tanh(cn_t)
        out = gi.new_empty(T, B, H)
        hs[0], cs[0] = h0, c0
        h, c = h0, c0
        for t in range(T):
            a = torch.addmm(gi_t[t], h, w_t)  # (B, 4H)
            if peep:
                a[:, :H].addcmul_(c, wci)
                a[:, H : 2 * H].addcmul_(c, wcf)
            act = acts[t]
            torch.sigmoid(a[:, : 2 * H], out=act[:, : 2 * H])
            _tanh(a[:, 2 * H : 3 * H], out=act[:, 2 * H : 3 * H])
            i, f, g = act[:, :H], act[:, H : 2 * H], act[:, 2 * H : 3 * H]
            cn = torch.addcmul(f * c, i, g, out=cns[t])
            ao = a[:, 3 * H :]
            if peep:
                ao = ao.addcmul_(cn, wco)
            o = torch.sigmoid(ao, out=act[:, 3 * H :])
            if m is None:  # no padding: the output is the state, written in place
                h = torch.mul(o, _tanh(cn, out=tcs[t]), out=hs[t + 1])
                c = cn
            else:
                hn = o * _tanh(cn, out=tcs[t])
                mt = m[t]
                torch.mul(hn, mt, out=out[t])
                h = torch.lerp(h, hn, mt, out=hs[t + 1])  # m hn + (1 - m) h
                c = torch.lerp(c, cn, mt, out=cs[t + 1])
        if m is None:
            out = hs[1:]
            cs[1:] = cns
        ctx.save_for_backward(acts, hs, cs, cns, tcs, w_hh, w_ch, m)
        ctx.peep = peep
        return out.transpose(0, 1).clone(), hs[T].clone(), cs[T].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dout: Tensor | None, dhT: Tensor | None, dcT: Tensor | None):
        acts, hs, cs, cns, tcs, w_hh, w_ch, m = ctx.saved_tensors
        peep = ctx.peep
        T, B, G = acts.shape
        H = G // 4
        if peep:
            wci, wcf, wco = w_ch[0], w_ch[1], w_ch[2]
        # derivatives of the nonlinearities for all steps at once (a few big vectorized ops)
        dact = torch.addcmul(acts, acts, acts, value=-1)  # σ' = s - s² for i, f, o
        g_all = acts[..., 2 * H : 3 * H]
        torch.mul(g_all, g_all, out=dact[..., 2 * H : 3 * H]).neg_().add_(1)  # tanh' = 1 - g² for g
        o_all = acts[..., 3 * H :]
        dtc = (o_all * tcs).mul_(tcs).neg_().add_(o_all)  # o (1 - tanh² cn) = dh/dcn, (T, B, H)
        dout_t = None if dout is None else _time_major(dout)  # (T, B, H)
        dh = torch.zeros_like(hs[0]) if dhT is None else dhT.clone()
        dc = torch.zeros_like(cs[0]) if dcT is None else dcT.clone()
        dgates = torch.empty_like(acts)  # (T, B, 4H): dL/d pre-activations
        fold = dout_t is not None and m is None  # dL/dout_{t-1} joins dh in the addmm below
        if fold:
            dh = dh + dout_t[T - 1]
        for t in range(T - 1, -1, -1):
            act, da, dg = acts[t], dact[t], dgates[t]
            dhn = dh if (dout_t is None or fold) else dh + dout_t[t]
            dcn = dc
            if m is not None:
                mt = m[t]
                keep = 1.0 - mt
                carry_h, carry_c = dh * keep, dc * keep
                dhn, dcn = dhn * mt, dcn * mt
            dao = torch.mul(dhn, tcs[t], out=dg[:, 3 * H :]).mul_(da[:, 3 * H :])
            dcn = torch.addcmul(dcn, dhn, dtc[t])
            if peep:
                dcn.addcmul_(dao, wco)
            torch.mul(dcn, act[:, 2 * H : 3 * H], out=dg[:, :H])  # i: dcn * g
            torch.mul(dcn, cs[t], out=dg[:, H : 2 * H])  # f: dcn * c_prev
            torch.mul(dcn, act[:, :H], out=dg[:, 2 * H : 3 * H])  # g: dcn * i
            for k in range(3):  # per gate: blocks of B*H elements stay below ATen's threading grain
                dg[:, k * H : (k + 1) * H].mul_(da[:, k * H : (k + 1) * H])
            dc = dcn * act[:, H : 2 * H]
            if peep:
                dc.addcmul_(dg[:, :H], wci).addcmul_(dg[:, H : 2 * H], wcf)
            if fold and t > 0:
                dh = torch.addmm(dout_t[t - 1], dg, w_hh)  # (B, H)
            else:
                dh = torch.mm(dg, w_hh)  # (B, H)
            if m is not None:
                dh += carry_h
                dc += carry_c
        flat = dgates.view(T * B, G)  # (T*B, 4H)
        dw_hh = flat.t().mm(hs[:T].reshape(T * B, H))  # (4H, H): one multiply over all steps
        dw_ch = None
        if peep and ctx.needs_input_grad[4]:
            dw_ch = torch.stack([
                (dgates[..., :H] * cs[:T]).sum((0, 1)),
                (dgates[..., H : 2 * H] * cs[:T]).sum((0, 1)),
                (dgates[..., 3 * H :] * cns).sum((0, 1)),
            ])
        return dgates.transpose(0, 1), dh, dc, dw_hh, dw_ch, None


class ResetBeforeGRUFunction(torch.autograd.Function):
    """``(gi, h0, w_hh, m) -> (out, h_T)`` for the GRU with the reset before the product:

    ``r, z = σ(gi_rz + W_hrz h)``, ``n = tanh(gi_n + W_hn (r ⊙ h) + b_hn)``, ``hn = (1 - z) h + z n``.
    gi (B, T, 3H) = x W_ih^T + b_ih + b_hh (b_hn sits outside the product, so it folds in too).
    """

    @staticmethod
    def forward(ctx, gi: Tensor, h0: Tensor, w_hh: Tensor, m: Tensor | None):
        B, T, G = gi.shape
        H = G // 3
        gi_t = _time_major(gi)  # (T, B, 3H)
        w_rz_t, w_n_t = w_hh[: 2 * H].t(), w_hh[2 * H :].t()  # (H, 2H), (H, H)
        acts = gi.new_empty(T, B, G)  # r | z | n
        hs = gi.new_empty(T + 1, B, H)
        rhs = gi.new_empty(T, B, H)  # r ⊙ h_{t-1}
        out = gi.new_empty(T, B, H)
        hs[0] = h0
        h = h0
        for t in range(T):
            act = acts[t]
            rz = torch.sigmoid(torch.addmm(gi_t[t, :, : 2 * H], h, w_rz_t), out=act[:, : 2 * H])
            r, z = rz[:, :H], rz[:, H:]
            rh = torch.mul(r, h, out=rhs[t])
            n = _tanh(torch.addmm(gi_t[t, :, 2 * H :], rh, w_n_t), out=act[:, 2 * H :])
            hn = torch.addcmul(h, z, n - h)
            if m is None:
                h = hn
                out[t] = hn
            else:
                mt = m[t]
                torch.mul(hn, mt, out=out[t])
                h = torch.lerp(h, hn, mt)
            hs[t + 1] = h
        ctx.save_for_backward(acts, hs, rhs, w_hh, m)
        return out.transpose(0, 1), hs[T].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dout: Tensor | None, dhT: Tensor | None):
        acts, hs, rhs, w_hh, m = ctx.saved_tensors
        T, B, G = acts.shape
        H = G // 3
        w_rz, w_n = w_hh[: 2 * H], w_hh[2 * H :]  # (2H, H), (H, H)
        dout_t = None if dout is None else _time_major(dout)
        dh = torch.zeros_like(hs[0]) if dhT is None else dhT.clone()
        dgates = torch.empty_like(acts)
        for t in range(T - 1, -1, -1):
            act = acts[t]
            r, z, n = act[:, :H], act[:, H : 2 * H], act[:, 2 * H :]
            h_prev = hs[t]
            dhn = dh if dout_t is None else dh + dout_t[t]
            if m is not None:
                mt = m[t]
                carry = dh * (1.0 - mt)
                dhn = dhn * mt
            dg = dgates[t]
            dar, daz, dan = dg[:, :H], dg[:, H : 2 * H], dg[:, 2 * H :]
            torch.mul(dhn * (n - h_prev), z * (1 - z), out=daz)
            torch.mul(dhn * z, 1 - n * n, out=dan)
            drh = torch.mm(dan, w_n)  # (B, H)
            torch.mul(drh * h_prev, r * (1 - r), out=dar)
            dh = torch.addmm(dhn - dhn * z, dg[:, : 2 * H], w_rz)  # (B, H)
            dh.addcmul_(drh, r)
            if m is not None:
                dh += carry
        flat = dgates.view(T * B, G)  # (T*B, 3H)
        dw_rz = flat[:, : 2 * H].t().mm(hs[:T].reshape(T * B, H))  # (2H, H)
        dw_n = flat[:, 2 * H :].t().mm(rhs.view(T * B, H))  # (H, H)
        return dgates.transpose(0, 1), dh, torch.cat([dw_rz, dw_n]), None


def lstm_sequence(cell, x: Tensor, state: tuple[Tensor, Tensor], lengths: Tensor | None):
    """Run an LSTMCell (standard or peephole, no layer norm) over ``x`` (B, T, I) as one node:
    the compiled layer (:mod:`.compiled`) where it runs, else the torch code here."""
    if use_compiled(x):
        from .compiled import lstm_layer

        return lstm_layer(cell, x, state, lengths, step_masks(lengths, x.shape[1], x))
    b = None if cell.bias_ih is None else cell.bias_ih + cell.bias_hh
    gi = F.linear(x, cell.weight_ih, b)  # (B, T, 4H): every input product in one multiply
    m = step_masks(lengths, x.shape[1], x)
    w_ch = cell.weight_ch if cell.peephole else None
    out, h, c = PeepholeLSTMFunction.apply(gi, state[0], state[1], cell.weight_hh, w_ch, m)
    return out, (h, c)


def gru_before_sequence(cell, x: Tensor, state: tuple[Tensor], lengths: Tensor | None):
    """Run a GRUCell with ``reset='before'`` (no layer norm) over ``x`` (B, T, I) as one node: the
    compiled layer where it runs, else the torch code here."""
    if use_compiled(x):
        from .compiled import gru_layer

        return gru_layer(cell, x, state, lengths, step_masks(lengths, x.shape[1], x))
    b = None if cell.bias_ih is None else cell.bias_ih + cell.bias_hh  # b_hn sits outside W_hn(r⊙h)
    gi = F.linear(x, cell.weight_ih, b)  # (B, T, 3H)
    m = step_masks(lengths, x.shape[1], x)
    out, h = ResetBeforeGRUFunction.apply(gi, state[0], cell.weight_hh, m)
    return out, (h,)
