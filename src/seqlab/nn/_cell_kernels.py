"""numba kernels for the per-step elementwise work of :mod:`seqlab.nn.custom` (``seqlab[fast]``).

:class:`~seqlab.nn.custom.PeepholeLSTMFunction` keeps its matrix products in torch (one
``addmm`` per step forward, one ``mm`` per step backward, dL/dW_hh as one product at the end);
everything elementwise between them, ~10 torch operations per step forward and ~15 backward, is
ONE call of a kernel here per step. The kernels take whole time-major NumPy views of the torch
buffers (``tensor.numpy()`` shares memory) and the step index ``t``, so a step costs one Python
call, and loop over the batch with the hidden units innermost (contiguous; LLVM vectorizes them).
``sigmoid``/``tanh`` come from :mod:`._fastmath`: AVX approximations for float32 (relative error
~1e-7), ``math`` for float64. One thread per call: a (64, 256) block takes ~100 microseconds,
and splitting the batch over two threads measured no faster on a 2-core machine (the torch
matrix products between the calls already use both cores).

Conventions (all arrays C-contiguous, one dtype, float32 or float64):

* ``acts`` (T, B, 4H): gate pre-activations ``i | f | g | o`` for step t on entry to the forward
  kernel (``gi_t + h_{t-1} W_hh^T``, without the peephole terms), their activations on exit.
* ``hs``, ``cs`` (T+1, B, H): ``hs[t]`` is the state before step t; ``hs[T]`` the final state.
* ``cns``, ``tcs`` (T, B, H): the candidate cell ``cn_t`` before masking and ``tanh(cn_t)``.
  Without masks ``cns`` may be the view ``cs[1:]`` and ``out`` the view ``hs[1:]``.
* ``wch`` (3, H): the peephole weights ``w_ci | w_cf | w_co``; zeros for the standard LSTM.
* ``m`` (T, B): step masks (1 while t < length), or a (0, 0) array for no masking.
* ``dout`` (T, B, H): dL/dout (zeros when the outputs get no gradient).
* ``dwch`` (3, H): accumulates dL/dw_ch over the steps, or a (0, 0) array to skip it.

``AVAILABLE`` is False when numba is not installed; the callers then use their torch code.
"""

from __future__ import annotations

import warnings

try:
    import numba
    from numba.core.errors import NumbaIRAssumptionWarning

    from ._fastmath import KERNEL_OPTIONS, sigmoid, tanh

    AVAILABLE = True
except ImportError:  # pragma: no cover - depends on the environment
    AVAILABLE = False


def compiled(kernel, *args):
    """``kernel`` compiled for the types of ``args`` (or loaded from numba's disk cache).

    Call once before a loop of calls. Compiling a float64 kernel that inlines ``sigmoid`` several
    times, numba's internal SSA check warns (``NumbaIRAssumptionWarning``: an inlined variable
    "is not in scope"); the code is right (the tests compare it with the torch code and the NumPy
    reference), so that warning is silenced here rather than turned into an error by the tests.
    """
    sig = tuple(numba.typeof(a) for a in args)
    if sig not in kernel.overloads:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NumbaIRAssumptionWarning)
            kernel.compile(sig)
    return kernel


if AVAILABLE:
    _jit = numba.njit(**KERNEL_OPTIONS)

    @_jit
    def lstm_forward_step(acts, hs, cs, cns, tcs, out, wch, m, t):  # pragma: no cover - compiled
        """Step t of the (peephole) LSTM after the recurrent product, in place:

        ``i, f = σ(a_i + w_ci c), σ(a_f + w_cf c)``, ``g = tanh(a_g)``, ``cn = f c + i g``,
        ``o = σ(a_o + w_co cn)``, ``hn = o tanh(cn)``; unmasked ``h_t, c_t = hn, cn``, masked
        ``h_t = m hn + (1 - m) h_{t-1}`` (same for c) and ``out_t = m hn``.
        """
        B, G = acts.shape[1], acts.shape[2]
        H = G // 4
        masked = m.shape[0] > 0
        one = acts.dtype.type(1.0)
        for b in range(B):
            # one view per gate, and two loops with few arrays each: LLVM checks at run time that
            # the views do not overlap (a few pairs at most) and vectorizes over j
            ai, af, ag, ao = acts[t, b, :H], acts[t, b, H : 2 * H], acts[t, b, 2 * H : 3 * H], acts[t, b, 3 * H :]
            cp, cnb, tcb = cs[t, b], cns[t, b], tcs[t, b]
            for j in range(H):
                c = cp[j]
                i = sigmoid(ai[j] + wch[0, j] * c)
                f = sigmoid(af[j] + wch[1, j] * c)
                g = tanh(ag[j])
                ai[j], af[j], ag[j] = i, f, g
                cnb[j] = f * c + i * g
            hn_ = hs[t + 1, b]
            for j in range(H):
                cn = cnb[j]
                o = sigmoid(ao[j] + wch[2, j] * cn)
                tc = tanh(cn)
                ao[j] = o
                tcb[j] = tc
                hn_[j] = o * tc
            if masked:  # hn_ holds hn; out_t = m hn, h_t = m hn + (1 - m) h_{t-1}, same for c
                mt = m[t, b]
                km = one - mt
                hp, cn_, ob = hs[t, b], cs[t + 1, b], out[t, b]
                for j in range(H):
                    hn = hn_[j]
                    ob[j] = mt * hn
                    hn_[j] = mt * hn + km * hp[j]
                for j in range(H):
                    cn_[j] = mt * cnb[j] + km * cp[j]

    @_jit
    def lstm_backward_step(acts, cs, cns, tcs, dgates, dh, dc, dout, m, wch, dwch, t):  # pragma: no cover
        """Step t of the LSTM's BPTT up to the recurrent product, in place.

        On entry ``dh``, ``dc`` (B, H) are dL/dh_t, dL/dc_t from the later steps (``dh`` without
        dL/dout_t, which ``dout[t]`` adds). Writes dL/d(pre-activations) to ``dgates[t]``,
        dL/dc_{t-1} to ``dc`` and to ``dh`` the part of dL/dh_{t-1} that bypasses the product
        (``(1 - m) dh`` through a masked step, else 0); the caller adds ``dgates[t] @ W_hh``.
        """
        B, G = acts.shape[1], acts.shape[2]
        H = G // 4
        masked = m.shape[0] > 0
        peep = dwch.shape[0] > 0
        one = acts.dtype.type(1.0)
        for b in range(B):
            ai, af, ag, ao = acts[t, b, :H], acts[t, b, H : 2 * H], acts[t, b, 2 * H : 3 * H], acts[t, b, 3 * H :]
            di, df, dgg, do = (dgates[t, b, :H], dgates[t, b, H : 2 * H], dgates[t, b, 2 * H : 3 * H],
                               dgates[t, b, 3 * H :])
            cp, tcb, dob = cs[t, b], tcs[t, b], dout[t, b]
            dhb, dcb = dh[b], dc[b]
            mt = m[t, b] if masked else one  # no branch in the loop: m = 1 gives carries of 0
            km = one - mt
            for j in range(H):
                i, f, g, o = ai[j], af[j], ag[j], ao[j]
                c, tc = cp[j], tcb[j]
                dhs, dcs = dhb[j], dcb[j]
                dhn = (dhs + dob[j]) * mt
                dao = dhn * tc * (o - o * o)
                dcn = dcs * mt + dhn * o * (one - tc * tc) + dao * wch[2, j]
                dai = dcn * g * (i - i * i)
                daf = dcn * c * (f - f * f)
                di[j], df[j], dgg[j], do[j] = dai, daf, dcn * i * (one - g * g), dao
                dcb[j] = dcn * f + dai * wch[0, j] + daf * wch[1, j] + dcs * km
                dhb[j] = dhs * km
            if peep:
                cnb = cns[t, b]
                for j in range(H):
                    c = cp[j]
                    dwch[0, j] += di[j] * c
                    dwch[1, j] += df[j] * c
                    dwch[2, j] += do[j] * cnb[j]
