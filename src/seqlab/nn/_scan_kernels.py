"""numba kernels for :mod:`seqlab.nn.scan` (the optional ``seqlab[fast]`` extra).

All arrays are C-contiguous NumPy views of torch tensors, batch first: (B, T, H) or (B, T, 2H).
Each kernel is sequential over time and vectorizable over the hidden units; the public wrappers
split the batch over ``torch.get_num_threads()`` Python threads (the kernels release the GIL).
That keeps compilation short (no ``parallel=True``): a few seconds on first use, then cached.
``AVAILABLE`` is False when numba is not installed; callers then use the torch code.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

try:
    import numba

    from ._fastmath import KERNEL_OPTIONS, sigmoid, sigmoid_pair

    AVAILABLE = True
except ImportError:  # pragma: no cover - depends on the environment
    AVAILABLE = False

_POOL: ThreadPoolExecutor | None = None


def _batched(kernel, arrays: tuple, scalars: tuple = ()) -> None:
    """Run ``kernel(*arrays, *scalars)`` on slices of the batch (axis 0) in parallel threads."""
    global _POOL
    B = arrays[0].shape[0]
    n = max(1, min(torch.get_num_threads(), B))
    if n == 1 or arrays[0].size < 1 << 16:  # small problems: threads cost more than they save
        kernel(*arrays, *scalars)
        return
    if _POOL is None or _POOL._max_workers < n:
        _POOL = ThreadPoolExecutor(max_workers=n)
    bounds = [B * k // n for k in range(n + 1)]
    futures = [_POOL.submit(kernel, *(a[lo:hi] for a in arrays), *scalars)
               for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
    for f in futures:
        f.result()


def scan_forward(a, b, h0, h) -> None:
    _batched(_scan_forward, (a, b, h0, h))


def scan_backward(a, h, h0, dh, da, db, dh0) -> None:
    _batched(_scan_backward, (a, h, h0, dh, da, db, dh0))


def minrnn_forward(p, bias, h0, h, act: int) -> None:
    """minGRU over ``p = [k | u]``; ``bias`` (2H,) is added inside the kernel (saves a pass)."""
    _batched(_minrnn_forward, (p, h0, h), (bias, _consts(p), act))


def minrnn_backward(p, bias, h, h0, dh, dp, dbias, dcarry, act: int) -> None:
    """``dbias`` (B, 2H) float64 accumulates the per-row sums of ``dp``; ``dcarry`` (B, H) holds
    dL/dh_T flowing in from later steps (zeros at the end of a sequence) and gets dL/dh0."""
    _batched(_minrnn_backward, (p, h, h0, dh, dp, dbias, dcarry), (bias, _consts(p), act))


def _consts(p):
    """0.5 and 1 in ``p``'s dtype: float literals in a kernel are float64, which would make a
    float32 kernel compute in float64 (half the vector width)."""
    return np.array([0.5, 1.0], p.dtype)


if AVAILABLE:
    _jit = numba.njit(cache=True, nogil=True)
    prange = range

    @_jit
    def _scan_forward(a, b, h0, h):  # pragma: no cover - compiled
        """h[:, t] = a[:, t] * h[:, t-1] + b[:, t], h[:, -1] := h0."""
        B, T, H = a.shape
        for i in prange(B):
            prev = h0[i].copy()
            for t in range(T):
                for j in range(H):
                    prev[j] = a[i, t, j] * prev[j] + b[i, t, j]
                    h[i, t, j] = prev[j]

    @_jit
    def _scan_backward(a, h, h0, dh, da, db, dh0):  # pragma: no cover - compiled
        """Adjoint scan: g_t = dh_t + a_{t+1} g_{t+1}; db = g; da = g h_{t-1}; dh0 = a_1 g_1."""
        B, T, H = a.shape
        for i in prange(B):
            carry = 0.0 * h0[i]
            for t in range(T - 1, -1, -1):
                for j in range(H):
                    g = dh[i, t, j] + carry[j]
                    hp = h[i, t - 1, j] if t > 0 else h0[i, j]
                    db[i, t, j] = g
                    da[i, t, j] = g * hp
                    carry[j] = a[i, t, j] * g
            for j in range(H):
                dh0[i, j] = carry[j]

    @numba.njit(**KERNEL_OPTIONS)
    def _minrnn_forward(p, h0, h, bias, consts, act):  # pragma: no cover - compiled
        """minGRU: h_t = (1 - z) h_{t-1} + z v, z = σ(k), v = act(u), [k | u] = p[:, t] + bias.

        act 0 is the paper's g (u + 0.5 for u >= 0, σ(u) below), 1 the identity. σ and 1 - σ come
        from one exp each (:func:`sigmoid_pair`), so gates near 0 and near 1 stay accurate.
        """
        B, T, H2 = p.shape
        H = H2 // 2
        half = consts[0]
        prev = np.empty(H, p.dtype)
        for i in range(B):
            prev[:] = h0[i]
            for t in range(T):
                pt, ht = p[i, t], h[i, t]  # one step's rows: the inner loop vectorizes over j
                for j in range(H):
                    z, a = sigmoid_pair(pt[j] + bias[j])
                    u = pt[H + j] + bias[H + j]
                    v = (u + half if u >= 0 else sigmoid(u)) if act == 0 else u
                    prev[j] = a * prev[j] + z * v
                    ht[j] = prev[j]

    @numba.njit(**KERNEL_OPTIONS)
    def _minrnn_backward(p, h, h0, dh, dp, dbias, dcarry, bias, consts, act):  # pragma: no cover - compiled
        """minGRU: dL/dp (and its row sums, added to dL/dbias per batch row) from dL/dh by the
        adjoint scan: g_t = dh_t + (1 - z_{t+1}) g_{t+1}; dk = g (v - h_{t-1}) z (1 - z);
        du = g z act'(u). The carry g starts from ``dcarry`` (dL/dh flowing in from later steps)
        and ends there (dL/dh0). The gates are recomputed from p (cheaper than storing them: the
        pass is memory-bound). The bias sums run in the element type over blocks of 64 steps,
        then in float64."""
        B, T, H2 = p.shape
        H = H2 // 2
        half, one = consts[0], consts[1]
        carry = np.empty(H, p.dtype)
        acc = np.empty(H2, p.dtype)
        total = np.empty(H2, np.float64)
        for i in range(B):
            carry[:] = dcarry[i]
            acc[:] = 0.0
            total[:] = 0.0
            for t in range(T - 1, -1, -1):
                hp = h[i, t - 1] if t > 0 else h0[i]
                pt, dpt, dht = p[i, t], dp[i, t], dh[i, t]
                for j in range(H):
                    z, a = sigmoid_pair(pt[j] + bias[j])
                    u = pt[H + j] + bias[H + j]
                    if act == 0:
                        s = sigmoid(u)
                        v = u + half if u >= 0 else s
                        dv = one if u >= 0 else s * (one - s)
                    else:
                        v = u
                        dv = one
                    g = dht[j] + carry[j]
                    dk = g * (v - hp[j]) * z * a
                    du = g * z * dv
                    dpt[j] = dk
                    dpt[H + j] = du
                    acc[j] += dk
                    acc[H + j] += du
                    carry[j] = g * a
                if t % 64 == 0:
                    for j in range(H2):
                        total[j] += acc[j]
                        acc[j] = 0.0
            dcarry[i] = carry
            for j in range(H2):
                dbias[i, j] += total[j]

    @numba.njit(**KERNEL_OPTIONS)
    def _minlstm_forward(p, h0, h, bias, consts, act):  # pragma: no cover - compiled
        """minLSTM: the minGRU recurrence with z = i / (f + i) and 1 - z = f / (f + i) (the paper's
        i' and f'), f, i = σ(a_f), σ(a_i), [a_f | a_i | u] = p[:, t] + bias."""
        B, T, H3 = p.shape
        H = H3 // 3
        half = consts[0]
        prev = np.empty(H, p.dtype)
        for i in range(B):
            prev[:] = h0[i]
            for t in range(T):
                pt, ht = p[i, t], h[i, t]
                for j in range(H):
                    f = sigmoid(pt[j] + bias[j])
                    ig = sigmoid(pt[H + j] + bias[H + j])
                    u = pt[2 * H + j] + bias[2 * H + j]
                    v = (u + half if u >= 0 else sigmoid(u)) if act == 0 else u
                    prev[j] = (f * prev[j] + ig * v) / (f + ig)
                    ht[j] = prev[j]

    @numba.njit(**KERNEL_OPTIONS)
    def _minlstm_backward(p, h, h0, dh, dp, dbias, dcarry, bias, consts, act):  # pragma: no cover - compiled
        """minLSTM's adjoint scan as :func:`_minrnn_backward`, with dL/dz = g (v - h_{t-1}) sent to
        da_i = dL/dz z (1 - z) σ(-a_i) and da_f = -dL/dz z (1 - z) σ(-a_f)."""
        B, T, H3 = p.shape
        H = H3 // 3
        half, one = consts[0], consts[1]
        carry = np.empty(H, p.dtype)
        acc = np.empty(H3, p.dtype)
        total = np.empty(H3, np.float64)
        for i in range(B):
            carry[:] = dcarry[i]
            acc[:] = 0.0
            total[:] = 0.0
            for t in range(T - 1, -1, -1):
                hp = h[i, t - 1] if t > 0 else h0[i]
                pt, dpt, dht = p[i, t], dp[i, t], dh[i, t]
                for j in range(H):
                    f, nf = sigmoid_pair(pt[j] + bias[j])
                    ig, ni = sigmoid_pair(pt[H + j] + bias[H + j])
                    s = f + ig
                    z, a = ig / s, f / s
                    u = pt[2 * H + j] + bias[2 * H + j]
                    if act == 0:
                        sv = sigmoid(u)
                        v = u + half if u >= 0 else sv
                        dv = one if u >= 0 else sv * (one - sv)
                    else:
                        v = u
                        dv = one
                    g = dht[j] + carry[j]
                    dz = g * (v - hp[j]) * z * a
                    daf = -dz * nf
                    dai = dz * ni
                    du = g * z * dv
                    dpt[j] = daf
                    dpt[H + j] = dai
                    dpt[2 * H + j] = du
                    acc[j] += daf
                    acc[H + j] += dai
                    acc[2 * H + j] += du
                    carry[j] = g * a
                if t % 64 == 0:
                    for j in range(H3):
                        total[j] += acc[j]
                        acc[j] = 0.0
            dcarry[i] = carry
            for j in range(H3):
                dbias[i, j] += total[j]
