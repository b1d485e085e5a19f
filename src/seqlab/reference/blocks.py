"""The pieces of a saved seqlab model in NumPy, for inference without torch.

:class:`Stack` is one ``seqlab.nn`` recurrent layer (any registry cell, stacked, one or two
directions, per-sequence lengths, the state carried in and out); its cells run the reference
functions of this package (``rnn_forward``, ``lstm_forward``, ``gru_forward``,
``ln_lstm_forward``, ``ln_gru_forward``, ``min_forward``). :class:`Linear`, :class:`Embedding`
and :data:`ACTIVATIONS` are the rest, with the classifier's pieces: :class:`ConvBranch` (the
fully convolutional network of LSTM-FCN: 'same' convolutions, batch norm with its running
statistics, ReLU, the mean over valid steps), :class:`AttentionPool` and :func:`znormalize`.
Everything computes in float64 from the stored weights.

States are per cell: a list of ``L*D`` tuples, ``(h,)`` or ``(h, c)``, each (B, H), cell ``k``
being layer ``k // D``, direction ``k % D``; :func:`torch_state` / :func:`cell_states` convert
to and from torch's ``h`` (L*D, B, H) or ``(h, c)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import SeqlabError
from ..nn.registry import MAX_LAYERS, gate_count
from ._checks import sigmoid
from .gru import gru_forward
from .layernorm import layer_norm, ln_gru_forward, ln_lstm_forward
from .lstm import lstm_forward
from .minrnn import min_forward
from .rnn import rnn_forward
from .stack import reverse_padded

Arrays = Mapping[str, np.ndarray]
CellState = tuple  # (h,) or (h, c), each (B, H)

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _log_softmax(a: np.ndarray) -> np.ndarray:
    s = a - a.max(-1, keepdims=True)
    return s - np.log(np.exp(s).sum(-1, keepdims=True))


def softplus(a: np.ndarray) -> np.ndarray:
    """log(1 + e^a), linear above 20 as torch's."""
    return np.where(a > 20, a, np.log1p(np.exp(np.minimum(a, 20))))


_SELU = (1.6732632423543772, 1.0507009873554805)  # alpha, scale (torch's)

#: Dense activations by name, as seqlab.layers.ACTIVATIONS
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda a: a,
    "relu": lambda a: np.maximum(a, 0.0),
    "tanh": np.tanh,
    "sigmoid": sigmoid,
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    "elu": lambda a: np.where(a > 0, a, np.expm1(np.minimum(a, 0))),
    "selu": lambda a: _SELU[1] * np.where(a > 0, a, _SELU[0] * np.expm1(np.minimum(a, 0))),
    "gelu": lambda a: 0.5 * a * (1.0 + _erf(a / math.sqrt(2.0))),
    "softplus": softplus,
    "swish": lambda a: a * sigmoid(a),
}


@dataclass
class Linear:
    """``act(x W^T + b)`` on the last axis."""

    weight: np.ndarray  # (O, I)
    bias: np.ndarray | None = None  # (O,)
    activation: str = "linear"

    def __call__(self, x: np.ndarray, logits: bool = False) -> np.ndarray:
        z = x @ self.weight.T + (0.0 if self.bias is None else self.bias)
        return z if logits else ACTIVATIONS[self.activation](z)


@dataclass
class Embedding:
    """Integer ids (...) -> vectors (..., E)."""

    weight: np.ndarray  # (V, E)

    def __call__(self, ids: Any) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.dtype.kind not in "iu":
            raise SeqlabError(f"ids: expected integer token ids, got dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.weight)):
            raise SeqlabError(f"ids: expected values in [0, {len(self.weight) - 1}], got min {ids.min()}, max {ids.max()}")
        return self.weight[ids]


def znormalize(x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each series of ``x`` (B, T, F) z-normalised per channel over its valid steps (population
    deviation); a constant channel becomes 0, padding 0 (``seqlab.classify.data.znormalize``)."""
    valid = (np.arange(x.shape[1])[None, :] < lengths[:, None])[..., None]  # (B, T, 1)
    n = lengths[:, None, None].astype(np.float64)  # (B, 1, 1)
    xv = np.where(valid, x, 0.0).astype(np.float64)
    mean = xv.sum(1, keepdims=True) / n  # (B, 1, F)
    std = np.sqrt((np.where(valid, xv - mean, 0.0) ** 2).sum(1, keepdims=True) / n)  # (B, 1, F)
    ok = std > 1e-8
    return np.where(valid & ok, (xv - mean) / np.where(ok, std, 1.0), 0.0)


def conv1d_same(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``y[b, t, o] = sum_{c, j} W[o, c, j] x[b, t + j - (k-1)//2, c]``: x (B, T, C), W (O, C, k)
    -> (B, T, O), zeros read before the start ((k-1)//2 steps) and past the end (k//2 steps)."""
    k = weight.shape[2]
    xp = np.pad(x, ((0, 0), ((k - 1) // 2, k // 2), (0, 0)))  # (B, T+k-1, C)
    win = np.lib.stride_tricks.sliding_window_view(xp, k, axis=1)  # (B, T, C, k)
    return np.einsum("btcj,ocj->bto", win, weight)


@dataclass
class BatchNorm:
    """Batch normalisation in evaluation: ``(h - running_mean) / sqrt(running_var + eps) * weight + bias``
    per channel (the last axis)."""

    weight: np.ndarray
    bias: np.ndarray
    running_mean: np.ndarray
    running_var: np.ndarray
    eps: float = 1e-5

    def __call__(self, h: np.ndarray) -> np.ndarray:
        return (h - self.running_mean) / np.sqrt(self.running_var + self.eps) * self.weight + self.bias


@dataclass
class ConvBranch:
    """LSTM-FCN's fully convolutional branch (``seqlab.classify.model.ConvBranch`` in evaluation):
    per block ``relu(bn(conv(x * valid)))``, then the mean over the valid steps.
    ``(x (B, T, I), valid (B, T) bool) -> (B, W)``."""

    convs: list[np.ndarray]  # (O, C, k) each, no bias
    norms: list[BatchNorm]

    @classmethod
    def from_tensors(cls, tensors: Arrays, prefix: str) -> "ConvBranch":
        f64 = lambda n: np.asarray(tensors[prefix + n], dtype=np.float64)  # noqa: E731
        convs, norms, k = [], [], 0
        while f"{prefix}convs.{k}.weight" in tensors:
            convs.append(f64(f"convs.{k}.weight"))
            norms.append(BatchNorm(*(f64(f"norms.{k}.{n}") for n in ("weight", "bias", "running_mean", "running_var"))))
            k += 1
        if not convs:
            raise SeqlabError(f"weights: expected {prefix}convs.0.weight in the model file")
        return cls(convs, norms)

    @property
    def out_size(self) -> int:
        return int(self.convs[-1].shape[0])

    def __call__(self, x: np.ndarray, valid: np.ndarray) -> np.ndarray:
        m = valid[..., None].astype(np.float64)  # (B, T, 1)
        h = x
        for w, bn in zip(self.convs, self.norms):
            h = np.maximum(bn(conv1d_same(h * m, w)), 0.0)  # (B, T, O)
        return (h * m).sum(1) / m.sum(1)  # (B, W)


@dataclass
class AttentionPool:
    """Additive attention over the valid steps: ``a_t = v . tanh(W out_t + b)``, softmax over the
    valid t, ``sum_t w_t out_t``. ``(out (B, T, D), valid (B, T) bool) -> (B, D)``."""

    proj: Linear  # W, b
    score: Linear  # v, no bias

    def weights(self, out: np.ndarray, valid: np.ndarray) -> np.ndarray:
        a = self.score(np.tanh(self.proj(out)))[..., 0]  # (B, T)
        return _softmax(np.where(valid, a, -np.inf))  # (B, T): 0 on padding

    def __call__(self, out: np.ndarray, valid: np.ndarray) -> np.ndarray:
        w = self.weights(out, valid)
        return (w[..., None] * np.where(valid[..., None], out, 0.0)).sum(1)  # (B, D)


# -- the cell table: registry family + options -> the reference forward ----------------------
def cell_options(cell: str) -> tuple[str, dict[str, Any]]:
    """``(family, options)`` of a registry cell name (torch-free: reads seqlab.nn.registry)."""
    from ..nn.registry import get_cell

    spec = get_cell(cell)
    return spec.family, dict(spec.kwargs)


@dataclass
class Stack:
    """One seqlab.nn recurrent layer in NumPy (see the module docstring).

    ``family`` is the registry family ('rnn', 'lstm', 'gru', 'mingru', 'minlstm'); ``options`` the
    layer's constructor arguments that change the equations (``nonlinearity``, ``peephole``,
    ``layer_norm``, ``reset``, ``activation``, ``norm``, ``residual``); ``cells`` the L*D
    parameter dicts with torch's names.
    """

    family: str
    cells: list[dict[str, np.ndarray]]
    num_layers: int = 1
    bidirectional: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def D(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def hidden_size(self) -> int:
        w = self.cells[0].get("weight_hh")
        return int(w.shape[1]) if w is not None else int(self.cells[0]["weight_ih"].shape[0] // self.gates)

    @property
    def input_size(self) -> int:
        return int(self.cells[0]["weight_ih"].shape[1])

    @property
    def gates(self) -> int:
        return gate_count(self.family)

    @property
    def state_size(self) -> int:
        return 2 if self.family == "lstm" else 1

    @property
    def output_size(self) -> int:
        return self.D * self.hidden_size

    @classmethod
    def from_tensors(cls, cell: str, tensors: Arrays, prefix: str, num_layers: int = 1, bidirectional: bool = False,
                     **extra: Any) -> "Stack":
        """The layer stored under ``prefix`` (e.g. ``"rnn."``: ``rnn.cells.0.weight_ih``...) for
        registry cell ``cell``; ``extra`` as make_layer's (``peephole``, ``norm``, ``residual``...)."""
        family, options = cell_options(cell)
        options.update(extra)
        D = 2 if bidirectional else 1
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or not 1 <= num_layers <= MAX_LAYERS:
            raise SeqlabError(f"config: num_layers is {num_layers!r}, not an integer in [1, {MAX_LAYERS}]")
        if f"{prefix}cells.{num_layers * D}.weight_ih" in tensors:
            raise SeqlabError(f"config: num_layers is {num_layers}, but the file holds more layers under {prefix!r}")
        cells = []
        for k in range(num_layers * D):
            p = f"{prefix}cells.{k}."
            params = {n[len(p):]: np.asarray(v, dtype=np.float64) for n, v in tensors.items() if n.startswith(p)}
            if "weight_ih" not in params:
                raise SeqlabError(f"weights: expected {p}weight_ih in the model file")
            cells.append(params)
        return cls(family, cells, num_layers, bidirectional, options)

    def zero_state(self, batch: int) -> list[CellState]:
        z = np.zeros((batch, self.hidden_size))
        return [tuple(z for _ in range(self.state_size)) for _ in self.cells]

    def _run_cell(self, k: int, x: np.ndarray, st: CellState, lengths: np.ndarray | None) -> tuple[np.ndarray, CellState]:
        """Cell ``k`` over ``x`` (B, T, I) from ``st``: ``(out (B, T, H), final state)``."""
        p, o, fam = self.cells[k], self.options, self.family
        if fam == "rnn" and not o.get("layer_norm"):
            out, h, _ = rnn_forward(x, p, st[0], lengths, nonlinearity=o.get("nonlinearity", "tanh"))
            return out, (h,)
        if fam == "lstm" and not o.get("layer_norm"):
            out, (h, c), _ = lstm_forward(x, p, st, lengths, activation=o.get("activation", "tanh"))
            return out, (h, c)
        if fam == "gru" and not o.get("layer_norm"):
            out, h, _ = gru_forward(x, p, st[0], lengths, reset=o.get("reset", "after"),
                                    activation=o.get("activation", "tanh"))
            return out, (h,)
        if lengths is not None and np.any(lengths < x.shape[1]):
            # the layer-norm and minimal cells' references run full sequences: one sequence at a time
            outs, finals = np.zeros(x.shape[:2] + (self.hidden_size,)), []
            for b, n in enumerate(lengths):
                o_b, s_b = self._run_cell(k, x[b : b + 1, :n], tuple(s[b : b + 1] for s in st), None)
                outs[b, :n] = o_b[0]
                finals.append(s_b)
            return outs, tuple(np.concatenate([f[j] for f in finals]) for j in range(len(st)))
        if fam == "lstm":
            out, (h, c) = ln_lstm_forward(x, p, st[0], st[1])
            return out, (h, c)
        if fam == "gru":
            out, h = ln_gru_forward(x, p, st[0], reset=o.get("reset", "after"))
            return out, (h,)
        if o.get("norm"):
            x = layer_norm(x, p["ln_weight"], p["ln_bias"])
        out, h = min_forward(fam, x, p, st[0], activation=o.get("activation", "g"))
        return out, (h,)

    def run(self, x: Any, state: Sequence[CellState] | None = None,
            lengths: Any = None) -> tuple[np.ndarray, list[CellState]]:
        """``x`` (B, T, I) from ``state`` (per cell; None: zeros), ``lengths`` (B,) or None.

        Returns ``(out (B, T, D*H), final state per cell)``; outputs past a length are zero."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 3 or x.shape[2] != self.input_size or x.shape[1] < 1:
            raise SeqlabError(f"input: expected shape (batch, time >= 1, {self.input_size}), got {x.shape}")
        B, T, _ = x.shape
        states = self.zero_state(B) if state is None else list(state)
        if len(states) != len(self.cells):
            raise SeqlabError(f"state: expected {len(self.cells)} per-cell states, got {len(states)}")
        if lengths is not None:
            lengths = np.asarray(lengths, dtype=np.int64)
            if lengths.shape != (B,) or lengths.min() < 1 or lengths.max() > T:
                raise SeqlabError(f"lengths: expected {B} values in [1, {T}], got {lengths!r}")
        layer_in, finals = x, []
        valid = None if lengths is None else (np.arange(T)[None, :] < lengths[:, None])[..., None]  # (B, T, 1)
        for layer in range(self.num_layers):
            outs = []
            for d in range(self.D):
                k = layer * self.D + d
                full = np.full(B, T) if lengths is None else lengths
                xin = reverse_padded(layer_in, full) if d else layer_in
                o, s = self._run_cell(k, xin, tuple(states[k]), lengths)
                outs.append(reverse_padded(o, full) if d else o)
                finals.append(s)
            y = np.concatenate(outs, axis=2)  # (B, T, D*H)
            if self.options.get("residual") and y.shape[2] == layer_in.shape[2]:
                y = y + (layer_in if valid is None else layer_in * valid)
            layer_in = y
        return layer_in, finals


def torch_state(states: Sequence[CellState]) -> tuple[np.ndarray, ...]:
    """Per-cell states -> torch's layout: ``(h (L*D, B, H),)`` or ``(h, c)``."""
    return tuple(np.stack([s[j] for s in states]) for j in range(len(states[0])))


def cell_states(state: Any, n_cells: int, state_size: int) -> list[CellState] | None:
    """torch's ``h`` (L*D, B, H) or ``(h, c)`` -> per-cell states (None stays None)."""
    if state is None:
        return None
    parts = (state,) if isinstance(state, np.ndarray) or not isinstance(state, (tuple, list)) else tuple(state)
    if len(parts) != state_size:
        raise SeqlabError(f"state: expected {'(h, c)' if state_size == 2 else 'h'}, got {len(parts)} array(s)")
    parts = tuple(np.asarray(p, dtype=np.float64) for p in parts)
    for p in parts:
        if p.ndim != 3 or p.shape[0] != n_cells:
            raise SeqlabError(f"state: expected arrays of shape ({n_cells}, batch, hidden), got {p.shape}")
    return [tuple(p[k] for p in parts) for k in range(n_cells)]


__all__ = ["ACTIVATIONS", "AttentionPool", "BatchNorm", "ConvBranch", "Embedding", "Linear", "Stack", "cell_options",
           "cell_states", "conv1d_same", "softplus", "torch_state", "znormalize"]


def exp_smooth(z: np.ndarray, lengths: np.ndarray, alpha: np.ndarray, gamma: np.ndarray,
               seas0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The hybrid forecaster's exponential smoothing (additive seasonality, on the transformed
    values) of ``z`` (B, L) over each window's ``lengths`` (B,) valid steps, with per-window
    coefficients ``alpha``, ``gamma`` (B,) and initial seasonal indices ``seas0`` (B, m), slot k
    being the season position of the window's step k (m = 1: no seasonality).

    Returns the last level (B,), the seasonal index read at every step (B, L) and the seasonal
    state after the window (B, m), slot k again for the steps j = k mod m::

        l_0 = z_0 - s_0
        l_j = alpha (z_j - s_{j mod m}) + (1 - alpha) l_{j-1}           (valid steps j >= 1)
        s_{j mod m} <- gamma (z_j - l_j) + (1 - gamma) s_{j mod m}      (m > 1)
    """
    B, L = z.shape
    m = seas0.shape[1]
    seas = seas0.astype(np.float64).copy()  # (B, m)
    level = z[:, 0] - seas[:, 0]  # (B,)
    s_in = np.zeros((B, L))
    s_in[:, 0] = seas[:, 0]
    for j in range(1, L):
        k = j % m
        s_j = seas[:, k].copy()
        s_in[:, j] = s_j
        valid = j < lengths  # (B,)
        level = np.where(valid, alpha * (z[:, j] - s_j) + (1 - alpha) * level, level)
        if m > 1:
            seas[:, k] = np.where(valid, gamma * (z[:, j] - level) + (1 - gamma) * s_j, s_j)
    return level, s_in, seas
