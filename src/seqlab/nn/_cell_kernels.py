"""numba kernels for the per-step elementwise work of the LSTM and GRU layers in :mod:`seqlab.nn.compiled`.

A layer's matrix products stay in torch (:mod:`seqlab.nn._matmul`: one product per step forward
and one backward, the weight gradient as one product at the end); everything elementwise between
them, ~10 torch operations per step forward and ~15 backward, is ONE call of a kernel here per
step. The kernels take whole NumPy views of the torch buffers (``tensor.numpy()`` shares memory)
and the step index ``t``, so a step costs one Python call, and loop over the batch with the hidden
units innermost (contiguous; LLVM vectorizes them). ``sigmoid``/``tanh`` come from
:mod:`._fastmath`: AVX approximations for float32 (relative error ~1e-7), ``math`` for float64.

Conventions (C-contiguous arrays of one dtype, float32 or float64; B batch, H units, G = 4H):

* ``lo``: the first batch row a call works on; it takes the n rows ``lo .. lo + n - 1``, n the
  rows of its per-step input (``a``, ``q``, ``dhmm``), so parallel calls take disjoint rows.
* ``a`` (n, G): the pre-activations ``x_t W_ih^T + h_{t-1} W_hh^T + b`` of step t (without the
  peephole terms), the output of that step's matrix product.
* ``acts`` (T, B, G): gate activations ``i | f | g | o`` of every step (written forward).
* ``xh`` (T+1, B, I+H): row ``xh[t, b] = [x_t | h_{t-1}]``, the operand of step t's product;
  the kernel writes ``h_t`` into ``xh[t+1, b, I:]`` (so ``xh[T, :, I:]`` is ``h_T``).
* ``cs`` (T+1, B, H): ``cs[t]`` is the cell state before step t. ``cns`` (T, B, H): the
  candidate cell ``cn_t`` before masking (the view ``cs[1:]`` when nothing is masked);
  ``tcs`` (T, B, H): ``tanh(cn_t)``.
* ``out`` (B, T, H): the layer's output, batch first (``m_t hn_t``).
* ``wch`` (3, H): peephole weights ``w_ci | w_cf | w_co``; zeros for the standard LSTM.
* ``m`` (T, B): step masks (1 while t < length), or a (0, 0) array for no masking.
* backward: ``dgates`` (T, B, G) dL/d(pre-activations); ``dhmm`` (n, H) the part of dL/dh_t
  coming through step t+1's product (``dL/dh_T`` at the last step); ``dh`` (B, H) the rest (the
  masked carry); ``dc`` (B, H); ``dout`` (B, T, H); ``dwch`` (3, H) float64 or (0, 0) to
  skip, and ``db`` (G,) float64: they accumulate the peephole and bias gradients over all steps.

GRU kernels, and the layer-normalized variants of both cells: see :func:`gru_after_forward_step`,
:func:`ln_lstm_forward_step` and the section comments below.

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
    """``kernel`` compiled for the types of ``args`` (or loaded from numba's disk cache): the
    compiled entry point, which skips numba's per-call type dispatch (a few microseconds for a
    dozen arguments, at every step).

    Compiling a float64 kernel that inlines ``sigmoid`` several times, numba's internal SSA check
    warns (``NumbaIRAssumptionWarning``: an inlined variable "is not in scope"); the code is right
    (the tests compare it with the torch code and the NumPy reference), so that warning is
    silenced here rather than turned into an error by the tests.
    """
    sig = tuple(numba.typeof(a) for a in args)
    if sig not in kernel.overloads:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NumbaIRAssumptionWarning)
            kernel.compile(sig)
    return kernel.overloads[sig].entry_point


if AVAILABLE:
    _jit = numba.njit(**KERNEL_OPTIONS)

    @_jit
    def lstm_forward_step(a, acts, xh, cs, cns, tcs, out, wch, m, t, I, lo):  # pragma: no cover - compiled
        """Step t of the (peephole) LSTM after its matrix product ``a``:

        ``i, f = σ(a_i + w_ci c), σ(a_f + w_cf c)``, ``g = tanh(a_g)``, ``cn = f c + i g``,
        ``o = σ(a_o + w_co cn)``, ``hn = o tanh(cn)``; unmasked ``h_t, c_t = hn, cn``, masked
        ``h_t = m hn + (1 - m) h_{t-1}`` (same for c) and ``out_t = m hn``.
        """
        n, G = a.shape
        H = G // 4
        masked = m.shape[0] > 0
        one = acts.dtype.type(1.0)
        for r in range(n):
            b = lo + r
            # one view per gate, and loops with few arrays each: LLVM checks at run time that the
            # views do not overlap (a few pairs at most) and vectorizes over j
            ai, af, ag, ao = a[r, :H], a[r, H : 2 * H], a[r, 2 * H : 3 * H], a[r, 3 * H :]
            si, sf, sg, so = acts[t, b, :H], acts[t, b, H : 2 * H], acts[t, b, 2 * H : 3 * H], acts[t, b, 3 * H :]
            cp, cnb, tcb = cs[t, b], cns[t, b], tcs[t, b]
            for j in range(H):
                c = cp[j]
                i = sigmoid(ai[j] + wch[0, j] * c)
                f = sigmoid(af[j] + wch[1, j] * c)
                g = tanh(ag[j])
                si[j] = i
                sf[j] = f
                sg[j] = g
                cnb[j] = f * c + i * g
            hn_, ob = xh[t + 1, b, I:], out[b, t]
            for j in range(H):
                cn = cnb[j]
                o = sigmoid(ao[j] + wch[2, j] * cn)
                tc = tanh(cn)
                so[j] = o
                tcb[j] = tc
                ob[j] = o * tc
            if masked:  # out_t = m hn, h_t = m hn + (1 - m) h_{t-1}, same for c
                mt = m[t, b]
                km = one - mt
                hp, cn_ = xh[t, b, I:], cs[t + 1, b]
                for j in range(H):
                    hn = ob[j]
                    ob[j] = mt * hn
                    hn_[j] = mt * hn + km * hp[j]
                for j in range(H):
                    cn_[j] = mt * cnb[j] + km * cp[j]
            else:
                for j in range(H):
                    hn_[j] = ob[j]

    @_jit
    def lstm_backward_step(acts, cs, cns, tcs, dgates, dhmm, dh, dc, dout, m, wch, dwch, db, t, lo):  # pragma: no cover
        """Step t of the LSTM's BPTT up to the recurrent product.

        On entry ``dh + dhmm`` is dL/dh_t from the later steps (without dL/dout_t, which
        ``dout[:, t]`` adds) and ``dc`` dL/dc_t. Writes dL/d(pre-activations) to ``dgates[t]``,
        adds their batch sums to ``db``, sets ``dc`` to dL/dc_{t-1} and ``dh`` to the part of
        dL/dh_{t-1} that bypasses the product (``(1 - m) dh`` through a masked step, else 0); the
        caller computes the rest, ``dgates[t] @ W_hh``, as the next call's ``dhmm``.
        """
        n, G = dhmm.shape[0], dgates.shape[2]
        H = G // 4
        masked = m.shape[0] > 0
        peep = dwch.shape[0] > 0
        one = acts.dtype.type(1.0)
        for r in range(n):
            b = lo + r
            ai, af, ag, ao = acts[t, b, :H], acts[t, b, H : 2 * H], acts[t, b, 2 * H : 3 * H], acts[t, b, 3 * H :]
            dg = dgates[t, b]
            di, df, dgg, do = dg[:H], dg[H : 2 * H], dg[2 * H : 3 * H], dg[3 * H :]
            cp, tcb, dob, dmb = cs[t, b], tcs[t, b], dout[b, t], dhmm[r]
            dhb, dcb = dh[b], dc[b]
            mt = m[t, b] if masked else one  # no branch in the loop: m = 1 gives carries of 0
            km = one - mt
            for j in range(H):
                i, f, g, o = ai[j], af[j], ag[j], ao[j]
                c, tc = cp[j], tcb[j]
                dhs, dcs = dhb[j] + dmb[j], dcb[j]
                dhn = (dhs + dob[j]) * mt
                dao = dhn * tc * (o - o * o)
                dcn = dcs * mt + dhn * o * (one - tc * tc) + dao * wch[2, j]
                dai = dcn * g * (i - i * i)
                daf = dcn * c * (f - f * f)
                di[j] = dai
                df[j] = daf
                dgg[j] = dcn * i * (one - g * g)
                do[j] = dao
                dcb[j] = dcn * f + dai * wch[0, j] + daf * wch[1, j] + dcs * km
                dhb[j] = dhs * km
            for j in range(G):
                db[j] += dg[j]
            if peep:
                cnb = cns[t, b]
                for j in range(H):
                    c = cp[j]
                    dwch[0, j] += di[j] * c
                    dwch[1, j] += df[j] * c
                    dwch[2, j] += do[j] * cnb[j]

    # -- GRU ---------------------------------------------------------------------------------
    # numba kernels for the per-step elementwise work of the GRU layers in :mod:`seqlab.nn.compiled`,
    # with or without layer normalization of the recurrent products (the LSTM's are in
    # :mod:`._cell_kernels`; the conventions there apply).
    # 
    # GRU (seqlab's convention ``h_t = (1 - z) h_{t-1} + z n``), gate blocks ``r | z | n``:
    # 
    # * reset after:  ``gh = N(h W_hh^T)``, ``r, z = σ(gi_r + gh_r), σ(gi_z + gh_z)``,
    #   ``n = tanh(gi_n + r gh_n)``: one product per step, one kernel.
    # * reset before: ``gh_rz = N(h W_rz^T)``, ``r, z``; then ``gh_n = N((r h) W_n^T)``,
    #   ``n = tanh(gi_n + gh_n)``: two products per step, a kernel after each.
    # 
    # ``N(q) = LN(q) γ + β`` with layer norm (over each product's gate blocks) and ``q + β`` without;
    # ``β`` is ``b_hh`` (zeros without bias). ``gi`` (B, T, 3H), batch-first, is the input projection
    # ``x W_ih^T + b_ih`` (with layer norm ``LN(x W_ih^T) γ_ih + b_ih``), computed outside.
    # 
    # Arrays: ``q`` (B, G') the step's product, turned in place into ``gh``; ``acts`` (T, B, 3H)
    # ``r | z | n``; ``ghn`` (T, B, H) ``gh_n`` (reset after); ``hs`` (T+1, B, H) states, ``hs[t]``
    # before step t; ``rhs`` (T, B, H) ``r h_{t-1}`` (reset before); ``out`` (B, T, H); ``m`` (T, B)
    # or (0, 0); ``lnq`` (T, B, 3H) the normalized products and ``rstd`` (T, B, 2) their 1/std, or
    # (0, 0, 0) / (0, 0) without layer norm. Backward: ``dgi`` (B, T, 3H) dL/dgi; ``dgh`` (T, B, .)
    # dL/d(product), the operand of the step's backward product; ``dhmm`` (B, H) dL/dh from the
    # product; ``dh`` (B, H) the rest of dL/dh (carry); ``dgamma``, ``dbeta`` (3H,) float64 sums.

    # the layer-norm reductions may be reordered (``reassoc``), so that they vectorize too
    _jit_sum = numba.njit(**{**KERNEL_OPTIONS, "fastmath": {"contract", "reassoc"}})

    @_jit_sum
    def _standardize(v, vhat, eps):  # pragma: no cover - compiled
        """``vhat := (v - mean) / sqrt(var + eps)`` over the row ``v``; returns 1/sqrt(var + eps)."""
        n = v.shape[0]
        mean = v.dtype.type(0.0)
        for j in range(n):
            mean += v[j]
        mean /= n
        var = v.dtype.type(0.0)
        for j in range(n):
            d = v[j] - mean
            var += d * d
        rs = v.dtype.type(1.0) / (var / n + eps) ** 0.5
        for j in range(n):
            vhat[j] = (v[j] - mean) * rs
        return rs

    @_jit_sum
    def _stats(v, eps):  # pragma: no cover - compiled
        """(mean, 1/sqrt(var + eps)) of the row ``v``."""
        n = v.shape[0]
        mean = v.dtype.type(0.0)
        for j in range(n):
            mean += v[j]
        mean /= n
        var = v.dtype.type(0.0)
        for j in range(n):
            d = v[j] - mean
            var += d * d
        return mean, v.dtype.type(1.0) / (var / n + eps) ** 0.5

    @_jit_sum
    def _normalize(q, lnq_row, gamma, beta, eps):  # pragma: no cover - compiled
        """``q := LN(q) γ + β`` in place, ``lnq_row := LN(q)``; returns 1/std."""
        rs = _standardize(q, lnq_row, eps)
        for j in range(q.shape[0]):
            q[j] = lnq_row[j] * gamma[j] + beta[j]
        return rs

    @_jit_sum
    def _norm_backward(dy, lnq_row, rs, gamma, dgamma, dbeta, dq):  # pragma: no cover - compiled
        """dL/dq into ``dq`` (not ``dy``: see :func:`_norm_backward_inplace`) from dL/d(LN(q) γ + β)
        = ``dy``; accumulates dγ, dβ. One loop per written array: LLVM vectorizes a loop only
        after checking at run time that its arrays do not overlap, and gives up beyond a few
        pairs (measured: 4x slower with all four in one loop)."""
        n = dy.shape[0]
        s1 = dy.dtype.type(0.0)
        s2 = dy.dtype.type(0.0)
        for j in range(n):
            g = dy[j] * gamma[j]
            s1 += g
            s2 += g * lnq_row[j]
        for j in range(n):
            dgamma[j] += dy[j] * lnq_row[j]
        for j in range(n):
            dbeta[j] += dy[j]
        s1 /= n
        s2 /= n
        for j in range(n):
            dq[j] = rs * (dy[j] * gamma[j] - s1 - lnq_row[j] * s2)

    @_jit_sum
    def _norm_backward_inplace(d, lnq_row, rs, gamma, dgamma, dbeta):  # pragma: no cover - compiled
        """:func:`_norm_backward` with dL/dq written over ``d`` (one array: two views of the same
        memory would fail LLVM's overlap check and run scalar)."""
        n = d.shape[0]
        s1 = d.dtype.type(0.0)
        s2 = d.dtype.type(0.0)
        for j in range(n):
            g = d[j] * gamma[j]
            s1 += g
            s2 += g * lnq_row[j]
        for j in range(n):
            dgamma[j] += d[j] * lnq_row[j]
        for j in range(n):
            dbeta[j] += d[j]
        s1 /= n
        s2 /= n
        for j in range(n):
            d[j] = rs * (d[j] * gamma[j] - s1 - lnq_row[j] * s2)

    @_jit
    def gru_after_forward_step(gi, q, acts, ghn, hs, out, m, lnq, rstd, gamma, beta, t, lo):  # pragma: no cover
        """Step t of the reset-after GRU after its product ``q = h_{t-1} W_hh^T`` (B, 3H)."""
        n, G = q.shape
        H = G // 3
        masked = m.shape[0] > 0
        ln = lnq.shape[0] > 0
        one = q.dtype.type(1.0)
        eps = q.dtype.type(1e-5)
        for r in range(n):
            b = lo + r
            qb = q[r]
            if ln:
                rstd[t, b, 0] = _normalize(qb, lnq[t, b], gamma, beta, eps)
            else:
                for j in range(G):
                    qb[j] += beta[j]
            xr, xz, xn = gi[b, t, :H], gi[b, t, H : 2 * H], gi[b, t, 2 * H :]
            hr, hz, hn = qb[:H], qb[H : 2 * H], qb[2 * H :]
            sr, sz, sn = acts[t, b, :H], acts[t, b, H : 2 * H], acts[t, b, 2 * H :]
            gn, hp, hnew, ob = ghn[t, b], hs[t, b], hs[t + 1, b], out[b, t]
            for j in range(H):
                r = sigmoid(xr[j] + hr[j])
                z = sigmoid(xz[j] + hz[j])
                n = tanh(xn[j] + r * hn[j])
                sr[j] = r
                sz[j] = z
                sn[j] = n
                gn[j] = hn[j]
                ob[j] = hp[j] + z * (n - hp[j])
            if masked:
                mt = m[t, b]
                km = one - mt
                for j in range(H):
                    v = ob[j]
                    ob[j] = mt * v
                    hnew[j] = mt * v + km * hp[j]
            else:
                for j in range(H):
                    hnew[j] = ob[j]

    @_jit
    def gru_after_backward_step(acts, ghn, hs, lnq, rstd, gamma, dgi, dgh, dhmm, dh, dout, m, dgamma,
                                dbeta, t, lo):  # pragma: no cover
        """BPTT of step t of the reset-after GRU up to its product: dgi[:, t], dgh[t] (dL/dq), and
        ``dh`` := the part of dL/dh_{t-1} past the product (the caller adds ``dgh[t] @ W_hh``)."""
        n, G = dhmm.shape[0], dgh.shape[2]
        H = G // 3
        masked = m.shape[0] > 0
        ln = lnq.shape[0] > 0
        one = acts.dtype.type(1.0)
        for r in range(n):
            b = lo + r
            ar, az, an = acts[t, b, :H], acts[t, b, H : 2 * H], acts[t, b, 2 * H :]
            dr, dz, dn = dgi[b, t, :H], dgi[b, t, H : 2 * H], dgi[b, t, 2 * H :]
            dq = dgh[t, b]
            dqn = dq[2 * H :]
            gn, hp, dob, dmb, dhb = ghn[t, b], hs[t, b], dout[b, t], dhmm[r], dh[b]
            mt = m[t, b] if masked else one
            km = one - mt
            for j in range(H):
                r, z, n = ar[j], az[j], an[j]
                dhs = dhb[j] + dmb[j]
                dhn = (dhs + dob[j]) * mt
                dan = dhn * z * (one - n * n)
                dz[j] = dhn * (n - hp[j]) * (z - z * z)
                dn[j] = dan
                dr[j] = dan * gn[j] * (r - r * r)
                dqn[j] = dan * r
                dhb[j] = dhn * (one - z) + dhs * km
            dq[: 2 * H] = dgi[b, t, : 2 * H]
            if ln:
                _norm_backward_inplace(dq, lnq[t, b], rstd[t, b, 0], gamma, dgamma, dbeta)
            else:
                for j in range(G):
                    dbeta[j] += dq[j]

    @_jit
    def gru_before_forward_rz(gi, q, acts, hs, rhs, lnq, rstd, gamma, beta, t, lo):  # pragma: no cover
        """First half of step t of the reset-before GRU, after ``q = h_{t-1} W_rz^T`` (B, 2H):
        ``r, z`` and ``rhs[t] = r h_{t-1}`` (the operand of the second product)."""
        n, G2 = q.shape
        H = G2 // 2
        ln = lnq.shape[0] > 0
        eps = q.dtype.type(1e-5)
        for r in range(n):
            b = lo + r
            qb = q[r]
            if ln:
                rstd[t, b, 0] = _normalize(qb, lnq[t, b, : 2 * H], gamma[: 2 * H], beta[: 2 * H], eps)
            else:
                for j in range(G2):
                    qb[j] += beta[j]
            xr, xz = gi[b, t, :H], gi[b, t, H : 2 * H]
            sr, sz = acts[t, b, :H], acts[t, b, H : 2 * H]
            hp, rh = hs[t, b], rhs[t, b]
            for j in range(H):
                r = sigmoid(xr[j] + qb[j])
                sr[j] = r
                sz[j] = sigmoid(xz[j] + qb[H + j])
                rh[j] = r * hp[j]

    @_jit
    def gru_before_forward_n(gi, q, acts, hs, out, m, lnq, rstd, gamma, beta, t, lo):  # pragma: no cover
        """Second half of step t of the reset-before GRU, after ``q = (r h_{t-1}) W_n^T`` (B, H):
        ``n = tanh(gi_n + gh_n)``, the new state and the output."""
        n, H = q.shape
        masked = m.shape[0] > 0
        ln = lnq.shape[0] > 0
        one = q.dtype.type(1.0)
        eps = q.dtype.type(1e-5)
        for r in range(n):
            b = lo + r
            qb = q[r]
            if ln:
                rstd[t, b, 1] = _normalize(qb, lnq[t, b, 2 * H :], gamma[2 * H :], beta[2 * H :], eps)
            else:
                for j in range(H):
                    qb[j] += beta[2 * H + j]
            xn = gi[b, t, 2 * H :]
            az, sn = acts[t, b, H : 2 * H], acts[t, b, 2 * H :]
            hp, hnew, ob = hs[t, b], hs[t + 1, b], out[b, t]
            for j in range(H):
                n = tanh(xn[j] + qb[j])
                sn[j] = n
                ob[j] = hp[j] + az[j] * (n - hp[j])
            if masked:
                mt = m[t, b]
                km = one - mt
                for j in range(H):
                    v = ob[j]
                    ob[j] = mt * v
                    hnew[j] = mt * v + km * hp[j]
            else:
                for j in range(H):
                    hnew[j] = ob[j]

    @_jit
    def gru_before_backward_n(acts, hs, lnq, rstd, gamma, dgi, dgn, dhmm, dh, dout, m, dgamma, dbeta,
                              t, lo):  # pragma: no cover
        """First half of the reset-before GRU's BPTT at step t: dL/dz, dL/dgi_n into ``dgi``,
        dL/d(second product) into ``dgn[t]`` (B, H), and ``dh`` := dL/dh_{t-1} through the
        carry (the caller adds the products' parts)."""
        n, H = dhmm.shape[0], dgn.shape[2]
        masked = m.shape[0] > 0
        ln = lnq.shape[0] > 0
        one = acts.dtype.type(1.0)
        for r in range(n):
            b = lo + r
            az, an = acts[t, b, H : 2 * H], acts[t, b, 2 * H :]
            dz, dn = dgi[b, t, H : 2 * H], dgi[b, t, 2 * H :]
            hp, dob, dmb, dhb = hs[t, b], dout[b, t], dhmm[r], dh[b]
            mt = m[t, b] if masked else one
            km = one - mt
            for j in range(H):
                z, n = az[j], an[j]
                dhs = dhb[j] + dmb[j]
                dhn = (dhs + dob[j]) * mt
                dz[j] = dhn * (n - hp[j]) * (z - z * z)
                dn[j] = dhn * z * (one - n * n)
                dhb[j] = dhn * (one - z) + dhs * km
            dq = dgn[t, b]
            if ln:
                _norm_backward(dn, lnq[t, b, 2 * H :], rstd[t, b, 1], gamma[2 * H :], dgamma[2 * H :],
                               dbeta[2 * H :], dq)
            else:
                for j in range(H):
                    dq[j] = dn[j]
                    dbeta[2 * H + j] += dn[j]

    @_jit
    def gru_before_backward_rz(acts, hs, lnq, rstd, gamma, dgi, drz, drh, dh, dgamma, dbeta, t, lo):  # pragma: no cover
        """Second half: with ``drh`` = dL/d(r h_{t-1}) (B, H) from the second product, dL/dr into
        ``dgi``, ``dh += drh r``, and dL/d(first product) into ``drz[t]`` (B, 2H)."""
        n, G2 = drh.shape[0], drz.shape[2]
        H = G2 // 2
        ln = lnq.shape[0] > 0
        for r in range(n):
            b = lo + r
            ar = acts[t, b, :H]
            dr = dgi[b, t, :H]
            hp, dhb, drb = hs[t, b], dh[b], drh[r]
            for j in range(H):
                r = ar[j]
                dr[j] = drb[j] * hp[j] * (r - r * r)
                dhb[j] += drb[j] * r
            dq = drz[t, b]
            if ln:
                _norm_backward(dgi[b, t, : 2 * H], lnq[t, b, : 2 * H], rstd[t, b, 0], gamma[: 2 * H],
                               dgamma[: 2 * H], dbeta[: 2 * H], dq)
            else:
                for j in range(G2):
                    v = dgi[b, t, j]
                    dq[j] = v
                    dbeta[j] += v

    # -- layer-normalized LSTM --------------------------------------------------------------------
    # ``xw`` (B, T, 4H) = x W_ih^T (batch-first, computed outside), normalized here in place (so
    # it holds LN(x W_ih^T) afterwards, for the backward); ``q`` (B, 4H) the step's product
    # h_{t-1} W_hh^T; a = LN(xw) γ_ih + LN(q) γ + shift (shift = b_ih + b_hh: both shifts add to
    # a, so their gradients are one sum, ``dshift``); the cell's output reads LN(cn) γ_c + β_c.
    # ``lnq`` (T, B, 4H), ``lnc`` (T, B, H) the normalized values, ``rstd`` (T, B, 3) the 1/std of
    # q, cn and xw; ``hs`` (T+1, B, H) the states; ``tcs`` = tanh(LN(cn) γ_c + β_c). Loops write
    # one array each where they can (see :func:`_norm_backward`).

    @_jit
    def ln_lstm_forward_step(xw, q, acts, hs, cs, cns, tcs, out, wch, m, lnq, lnc, rstd, gamma, gx, shift, gc, bc,
                             t, lo):  # pragma: no cover - compiled
        """Step t of the layer-normalized (peephole) LSTM after its product ``q``."""
        n, G = q.shape
        H = G // 4
        masked = m.shape[0] > 0
        one = q.dtype.type(1.0)
        eps = q.dtype.type(1e-5)
        for r in range(n):
            b = lo + r
            qb, xr, lq = q[r], xw[b, t], lnq[t, b]
            mq, rq = _stats(qb, eps)
            mx, rx = _stats(xr, eps)
            rstd[t, b, 0] = rq
            rstd[t, b, 2] = rx
            for j in range(G):
                lq[j] = (qb[j] - mq) * rq
            for j in range(G):
                xr[j] = (xr[j] - mx) * rx
            for j in range(G):
                qb[j] = lq[j] * gamma[j] + shift[j]
            for j in range(G):
                qb[j] += xr[j] * gx[j]
            si, sf, sg, so = acts[t, b, :H], acts[t, b, H : 2 * H], acts[t, b, 2 * H : 3 * H], acts[t, b, 3 * H :]
            cp, cnb = cs[t, b], cns[t, b]
            for j in range(H):
                c = cp[j]
                i = sigmoid(qb[j] + wch[0, j] * c)
                f = sigmoid(qb[H + j] + wch[1, j] * c)
                g = tanh(qb[2 * H + j])
                si[j] = i
                sf[j] = f
                sg[j] = g
                cnb[j] = f * c + i * g
            lc = lnc[t, b]
            rstd[t, b, 1] = _standardize(cnb, lc, eps)
            tcb, ob, hnew, hp = tcs[t, b], out[b, t], hs[t + 1, b], hs[t, b]
            for j in range(H):
                o = sigmoid(qb[3 * H + j] + wch[2, j] * cnb[j])
                tc = tanh(lc[j] * gc[j] + bc[j])
                so[j] = o
                tcb[j] = tc
                ob[j] = o * tc
            if masked:
                mt = m[t, b]
                km = one - mt
                cn_ = cs[t + 1, b]
                for j in range(H):
                    v = ob[j]
                    ob[j] = mt * v
                    hnew[j] = mt * v + km * hp[j]
                for j in range(H):
                    cn_[j] = mt * cnb[j] + km * cp[j]
            else:
                for j in range(H):
                    hnew[j] = ob[j]

    @_jit_sum
    def _two_norms_backward(row, lq, rq, gamma, lx, rx, gx, dgamma, dgx, dshift, dq):  # pragma: no cover
        """With ``row`` = dL/da for a = LN(q) γ + LN(xw) γ_x + shift: dL/dq into ``dq``, dL/dxw over
        ``row``, and the sums of dγ, dγ_x, dshift; one pass for both norms' reductions."""
        n = row.shape[0]
        s1q = row.dtype.type(0.0)
        s2q = row.dtype.type(0.0)
        s1x = row.dtype.type(0.0)
        s2x = row.dtype.type(0.0)
        for j in range(n):
            d = row[j]
            a = d * gamma[j]
            c = d * gx[j]
            s1q += a
            s2q += a * lq[j]
            s1x += c
            s2x += c * lx[j]
        for j in range(n):
            dgamma[j] += row[j] * lq[j]
        for j in range(n):
            dgx[j] += row[j] * lx[j]
        for j in range(n):
            dshift[j] += row[j]
        s1q /= n
        s2q /= n
        s1x /= n
        s2x /= n
        for j in range(n):
            dq[j] = rq * (row[j] * gamma[j] - s1q - lq[j] * s2q)
        for j in range(n):
            row[j] = rx * (row[j] * gx[j] - s1x - lx[j] * s2x)

    @_jit
    def ln_lstm_backward_step(acts, cs, cns, tcs, lnq, lnc, rstd, gamma, gc, xw, gx, dxw, dq, dhmm, dh, dc, dout, m,
                              wch, dwch, dgamma, dgx, dshift, dgc, dbc, t, lo):  # pragma: no cover - compiled
        """BPTT of step t of the layer-normalized LSTM up to its products: dL/d(x W_ih^T) into
        ``dxw[:, t]``, dL/dq into ``dq[t]``, ``dc`` := dL/dc_{t-1}, ``dh`` := dL/dh_{t-1} past the
        product; the gains' and shifts' gradients summed (float64)."""
        n, G = dhmm.shape[0], dq.shape[2]
        H = G // 4
        masked = m.shape[0] > 0
        peep = dwch.shape[0] > 0
        one = acts.dtype.type(1.0)
        for r in range(n):
            b = lo + r
            ai, af, ag, ao = acts[t, b, :H], acts[t, b, H : 2 * H], acts[t, b, 2 * H : 3 * H], acts[t, b, 3 * H :]
            row = dxw[b, t]  # dL/da first, then dL/d(x W_ih^T)
            di, df, dgg, do = row[:H], row[H : 2 * H], row[2 * H : 3 * H], row[3 * H :]
            cp, cnb, tcb, dob, dmb = cs[t, b], cns[t, b], tcs[t, b], dout[b, t], dhmm[r]
            dhb, dcb = dh[b], dc[b]
            mt = m[t, b] if masked else one
            km = one - mt
            for j in range(H):  # dL/d(LN(cn) γ_c + β_c) into the g slot for now
                o, tc = ao[j], tcb[j]
                dhs = dhb[j] + dmb[j]
                dhn = (dhs + dob[j]) * mt
                do[j] = dhn * tc * (o - o * o)
                dgg[j] = dhn * o * (one - tc * tc)
                dhb[j] = dhs * km
            _norm_backward(dgg, lnc[t, b], rstd[t, b, 1], gc, dgc, dbc, di)  # dL/dcn via the norm, in the i slot
            for j in range(H):
                i, f, g = ai[j], af[j], ag[j]
                c = cp[j]
                dcs = dcb[j]
                dcn = dcs * mt + di[j] + do[j] * wch[2, j]
                dai = dcn * g * (i - i * i)
                daf = dcn * c * (f - f * f)
                di[j] = dai
                df[j] = daf
                dgg[j] = dcn * i * (one - g * g)
                dcb[j] = dcn * f + dai * wch[0, j] + daf * wch[1, j] + dcs * km
            if peep:
                for j in range(H):
                    c = cp[j]
                    dwch[0, j] += di[j] * c
                    dwch[1, j] += df[j] * c
                    dwch[2, j] += do[j] * cnb[j]
            _two_norms_backward(row, lnq[t, b], rstd[t, b, 0], gamma, xw[b, t], rstd[t, b, 2], gx, dgamma, dgx,
                                dshift, dq[t, b])
