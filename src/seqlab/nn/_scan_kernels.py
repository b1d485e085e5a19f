"""numba kernels for :mod:`seqlab.nn.scan` (the optional ``seqlab[fast]`` extra).

All arrays are C-contiguous NumPy views of torch tensors, batch first: (B, T, H) or (B, T, 2H).
Each kernel is sequential over time and vectorizable over the hidden units; the public wrappers
split the batch over ``torch.get_num_threads()`` Python threads (the kernels release the GIL).
That keeps compilation short (no ``parallel=True``): a few seconds on first use, then cached.
``AVAILABLE`` is False when numba is not installed; callers then use the torch code.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch

try:
    import numba

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


def minrnn_forward(p, s, h0, h, act: int) -> None:
    _batched(_minrnn_forward, (p, s, h0, h), (act,))


def minrnn_backward(p, s, h, h0, dh, dp, dh0, act: int) -> None:
    _batched(_minrnn_backward, (p, s, h, h0, dh, dp, dh0), (act,))


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

    @_jit
    def _minrnn_forward(p, s, h0, h, act):  # pragma: no cover - compiled
        """h_t = (1 - z) h_{t-1} + z v with z = s[..., :H], v = act(p[..., H:]) (s = σ(p))."""
        B, T, H2 = p.shape
        H = H2 // 2
        for i in prange(B):
            prev = h0[i].copy()
            for t in range(T):
                for j in range(H):
                    z = s[i, t, j]
                    u = p[i, t, H + j]
                    if act == 0:
                        v = u + 0.5 if u >= 0 else s[i, t, H + j]
                    else:
                        v = u
                    prev[j] = prev[j] + z * (v - prev[j])
                    h[i, t, j] = prev[j]

    @_jit
    def _minrnn_backward(p, s, h, h0, dh, dp, dh0, act):  # pragma: no cover - compiled
        """dL/dp for :func:`minrnn_forward` from dL/dh, by the adjoint scan (no transcendentals)."""
        B, T, H2 = p.shape
        H = H2 // 2
        for i in prange(B):
            carry = 0.0 * h0[i]
            for t in range(T - 1, -1, -1):
                for j in range(H):
                    g = dh[i, t, j] + carry[j]
                    z = s[i, t, j]
                    u = p[i, t, H + j]
                    if act == 0:
                        if u >= 0:
                            v = u + 0.5
                            dv_du = 1.0
                        else:
                            sg = s[i, t, H + j]
                            v = sg
                            dv_du = sg * (1.0 - sg)
                    else:
                        v = u
                        dv_du = 1.0
                    hp = h[i, t - 1, j] if t > 0 else h0[i, j]
                    dp[i, t, j] = g * (v - hp) * z * (1.0 - z)  # dL/dk through z = σ(k)
                    dp[i, t, H + j] = g * z * dv_du
                    carry[j] = g * (1.0 - z)
            for j in range(H):
                dh0[i, j] = carry[j]
