"""Generation at batch 1 as one compiled call per symbol: the step of every layer, the output layer,
and the draw of the next symbol (numba; the ``seqlab[fast]`` extra).

A batch-1 step of a small model is a few hundred thousand multiply-adds: ~15 microseconds of
arithmetic. Through torch it is ~20 operations (embedding, a fused cell per layer, the output
layer, temperature, softmax, cumulative sum, search), each with microseconds of dispatch, and
sampling ran at ~3,000 symbols per second. Here the whole symbol is one call on weights copied
once into the layout the loops want (each matrix transposed, so a matrix-vector product is a sum
of rows scaled by the input: vectorized over the outputs, with no reduction to reorder).

:class:`FastStepper` holds those copies and the state (float32 or float64, the model's dtype) for
the standard LSTM and the GRU (reset after or before) without layer norm, any depth and embedding
size; :func:`fast_stepper` returns None for other models (the sampler then steps the model in
torch). The draw is the sampler's (:func:`seqlab.text.sampling.draw`): temperature, then top-k,
softmax, top-p, then the first symbol whose cumulative probability exceeds ``u`` times the total,
with ``u`` from the same ``torch.Generator``, so a seed gives the same text on either path (up to
float rounding of the probabilities, which would move a draw only for ``u`` within ~1e-7 of a
boundary). Tests compare both.
"""

from __future__ import annotations

import numpy as np
import torch

try:
    import numba

    from ..nn._fastmath import KERNEL_OPTIONS, sigmoid, tanh

    AVAILABLE = True
except ImportError:  # pragma: no cover - depends on the environment
    AVAILABLE = False


def _np(t: torch.Tensor, dtype) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=dtype)


class FastStepper:
    """One model's weights in the kernels' layout, and its state at batch 1.

    ``kind`` 0 is the LSTM (``W`` (L, D + H, 4H): the transposed ``[W_ih | W_hh]`` of each
    layer, the input rows zero-padded to D = max(E, H)), 1 the GRU with the reset after, 2 before
    (``W`` (L, D + H, 3H) likewise, the input and recurrent products kept apart since the reset
    acts between them).
    """

    def __init__(self, model) -> None:
        rnn = model.rnn
        cell = rnn.cells[0]
        self.kind = 0 if cell.gates == 4 else (1 if cell.reset == "after" else 2)
        dt = np.float32 if model.embedding.weight.dtype == torch.float32 else np.float64
        self.dtype = dt
        L, H, E = rnn.num_layers, rnn.hidden_size, model.embedding.weight.shape[1]
        G = cell.gates * H
        D = max(E, H)
        self.L, self.H, self.D = L, H, D
        self.emb = np.zeros((model.embedding.weight.shape[0], D), dt)
        self.emb[:, :E] = _np(model.embedding.weight, dt)
        self.W = np.zeros((L, D + H, G), dt)
        self.b_ih, self.b_hh = np.zeros((L, G), dt), np.zeros((L, G), dt)
        for layer, c in enumerate(rnn.cells):
            n_in = c.weight_ih.shape[1]
            self.W[layer, :n_in] = _np(c.weight_ih.t(), dt)
            self.W[layer, D:] = _np(c.weight_hh.t(), dt)
            if c.bias_ih is not None:
                self.b_ih[layer], self.b_hh[layer] = _np(c.bias_ih, dt), _np(c.bias_hh, dt)
        self.Wd = _np(model.decoder.weight.t(), dt)  # (H, V)
        self.bd = _np(model.decoder.bias, dt) if model.decoder.bias is not None else np.zeros(self.Wd.shape[1], dt)
        self.h = np.zeros((L, H), dt)
        self.c = np.zeros((L, H), dt)
        self.logits = np.zeros(self.Wd.shape[1], dt)
        self.work = np.zeros((3, max(G, self.Wd.shape[1])), dt)  # scratch: products, probabilities
        from ..nn._cell_kernels import compiled  # compiled once here (numba's SSA warning silenced)

        self._step = compiled(_step, self.kind, 0, self.emb, self.W, self.b_ih, self.b_hh, self.h, self.c, self.Wd,
                              self.bd, self.logits, self.work)
        self._draw = compiled(_draw, self.logits, self.work, 0.5, 1.0, 0, 1.0, False)

    def set_state(self, states: list[tuple[torch.Tensor, ...]]) -> None:
        """The per-layer states of :func:`seqlab.text.model.split_state` (each (1, H))."""
        for layer, st in enumerate(states):
            self.h[layer] = _np(st[0][0], self.dtype)
            if self.kind == 0:
                self.c[layer] = _np(st[1][0], self.dtype)

    def step(self, token: int) -> np.ndarray:
        """Feed ``token``; returns the next-symbol logits (V,) (a view, overwritten next call)."""
        self._step(self.kind, token, self.emb, self.W, self.b_ih, self.b_hh, self.h, self.c, self.Wd, self.bd,
                   self.logits, self.work)
        return self.logits

    def draw(self, logits: np.ndarray, u: float, temperature: float, top_k: int, top_p: float, greedy: bool) -> int:
        """The next symbol from ``logits`` as :func:`seqlab.text.sampling.draw` of
        ``filter_probs(logits, temperature, top_k, top_p)`` draws it with uniform ``u``
        (``top_k`` 0 and ``top_p`` 1 for no limit)."""
        return int(self._draw(logits, self.work, float(u), float(temperature), int(top_k), float(top_p),
                              bool(greedy)))


def fast_stepper(model) -> FastStepper | None:
    """A :class:`FastStepper` for ``model`` where the kernels cover it (CPU, float32/64, LSTM or
    GRU without peepholes or layer norm), else None."""
    if not AVAILABLE:
        return None
    rnn = model.rnn
    cell = rnn.cells[0]
    if model.embedding.weight.device.type != "cpu" or model.embedding.weight.dtype not in (torch.float32, torch.float64):
        return None
    if rnn.bidirectional or type(cell).__name__ not in ("LSTMCell", "GRUCell") or cell.layer_norm:
        return None
    from ..nn.recurrent import Recurrent

    if getattr(cell, "peephole", False) or type(rnn)._layer_output is not Recurrent._layer_output:
        return None  # pragma: no cover - a layer that changes what it passes on (residuals)
    return FastStepper(model)


if AVAILABLE:
    _jit = numba.njit(**KERNEL_OPTIONS)

    @_jit
    def _matvec(x, W, lo, hi, out):  # pragma: no cover - compiled
        """``out += x[lo:hi] @ W[lo:hi]``: rows of W scaled by x and summed (vectorized over out)."""
        n = out.shape[0]
        for k in range(lo, hi):
            xk = x[k]
            row = W[k]
            for j in range(n):
                out[j] += xk * row[j]

    @_jit
    def _step(kind, token, emb, W, b_ih, b_hh, h, c, Wd, bd, logits, work):  # pragma: no cover - compiled
        L, H = h.shape
        D = emb.shape[1]
        x = np.empty(D + H, emb.dtype)
        x[:D] = emb[token]
        one = emb.dtype.type(1.0)
        for layer in range(L):
            x[D:] = h[layer]
            G = W.shape[2]
            a, gh = work[0, :G], work[1, :G]
            a[:] = b_ih[layer]
            gh[:] = b_hh[layer]
            if kind == 0:  # LSTM: one product over [x | h]
                a += gh
                _matvec(x, W[layer], 0, D + H, a)
                for j in range(H):
                    i = sigmoid(a[j])
                    f = sigmoid(a[H + j])
                    g = tanh(a[2 * H + j])
                    o = sigmoid(a[3 * H + j])
                    cn = f * c[layer, j] + i * g
                    c[layer, j] = cn
                    h[layer, j] = o * tanh(cn)
            elif kind == 1:  # GRU, reset after: r multiplies W_hn h + b_hn
                _matvec(x, W[layer], 0, D, a)
                _matvec(x, W[layer], D, D + H, gh)
                for j in range(H):
                    r = sigmoid(a[j] + gh[j])
                    z = sigmoid(a[H + j] + gh[H + j])
                    n = tanh(a[2 * H + j] + r * gh[2 * H + j])
                    h[layer, j] = (one - z) * h[layer, j] + z * n
            else:  # GRU, reset before: the second product reads r ⊙ h
                _matvec(x, W[layer], 0, D, a)
                Wl = W[layer]
                for k in range(H):  # W_hr|hz h
                    xk = x[D + k]
                    for j in range(2 * H):
                        gh[j] += xk * Wl[D + k, j]
                rh = np.empty(H, emb.dtype)
                for j in range(H):
                    r = sigmoid(a[j] + gh[j])
                    rh[j] = r * h[layer, j]
                for k in range(H):  # W_hn (r ⊙ h)
                    xk = rh[k]
                    for j in range(H):
                        gh[2 * H + j] += xk * Wl[D + k, 2 * H + j]
                for j in range(H):
                    z = sigmoid(a[H + j] + gh[H + j])
                    n = tanh(a[2 * H + j] + gh[2 * H + j])
                    h[layer, j] = (one - z) * h[layer, j] + z * n
            x[:H] = h[layer]
            x[H:D] = 0.0
        logits[:] = bd
        _matvec(x, Wd, 0, H, logits)

    @numba.njit(cache=True, nogil=True)
    def _draw(logits, work, u, temperature, top_k, top_p, greedy):  # pragma: no cover - compiled
        """As seqlab.text.sampling: ``filter_probs`` then ``draw`` (inverse CDF with ``u``)."""
        V = logits.shape[0]
        if greedy:
            return np.argmax(logits)
        z = work[0, :V]
        for j in range(V):
            z[j] = np.float32(logits[j]) / np.float32(temperature)
        if 0 < top_k < V:
            kth = np.sort(z)[V - top_k]
            for j in range(V):
                if z[j] < kth:
                    z[j] = -np.inf
        m = z.max()
        p = work[1, :V]
        total = 0.0
        for j in range(V):
            p[j] = np.exp(z[j] - m)
            total += p[j]
        for j in range(V):
            p[j] /= total
        if top_p < 1.0:
            order = np.argsort(-p, kind="mergesort")
            before = 0.0
            for k in range(V):
                j = order[k]
                if before >= top_p:
                    before += p[j]
                    p[j] = 0.0
                else:
                    before += p[j]
            s = p.sum()
            for j in range(V):
                p[j] /= s
        cdf = 0.0
        for j in range(V):
            cdf += p[j]
        target = u * cdf
        acc = 0.0
        for j in range(V):
            acc += p[j]
            if acc > target:
                return j
        return V - 1
