"""Stacked and bidirectional layers over the reference cells, forward and backward.

Layout as in torch.nn and seqlab.nn: ``params[k]`` is the cell of layer ``k // D`` and direction
``k % D`` (D = 2 when bidirectional). Layer l > 0 reads the concatenated outputs of both
directions of layer l - 1. The backward direction runs on each sequence reversed within its own
length (padding stays where it is) and its outputs are reversed back. States are torch-shaped:
``h`` (L*D, B, H) for RNN and GRU, ``(h, c)`` for LSTM.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import SeqlabError, check_positive_int
from ..nn.registry import CELLS as REGISTRY  # the one cell table (no torch import)
from ._checks import Params, as_float64, check_lengths
from .gru import gru_backward, gru_forward
from .lstm import lstm_backward, lstm_forward
from .rnn import rnn_backward, rnn_forward

_HAND_DERIVED = {f.__name__: f for f in (rnn_forward, rnn_backward, lstm_forward, lstm_backward, gru_forward,
                                         gru_backward)}

#: forward and backward per cell *family*, read from :mod:`seqlab.nn.registry`: the families of
#: its cells that name a hand-derived backward. The registry also gives each cell's options that
#: select the variant ('rnn-relu' is family 'rnn' with ``nonlinearity='relu'``, 'gru-reset-before'
#: is 'gru' with ``reset='before'``, 'lstm-peephole' is 'lstm' with ``weight_ch`` in its params).
CELLS = {s.family: (_HAND_DERIVED[s.reference], _HAND_DERIVED[s.reference_backward])
         for s in REGISTRY.values() if s.reference_backward is not None}


def reverse_padded(x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Reverse each sequence of ``x`` (B, T, ...) within its own length; padding stays in place.
    The map is its own inverse, so it also carries gradients back."""
    y = x.copy()
    for b, n in enumerate(lengths):
        y[b, :n] = x[b, :n][::-1]
    return y


def _split_state(cell: str, state: Any, LD: int, B: int, H: int) -> list[Any]:
    """torch-shaped state -> one per-cell state (h or (h, c)) for each of the L*D cells."""
    if state is None:
        return [None] * LD
    parts = tuple(state) if cell == "lstm" and isinstance(state, (tuple, list)) else (state,)
    n = 2 if cell == "lstm" else 1
    if len(parts) != n:
        raise SeqlabError(f"state: expected {'(h, c)' if n == 2 else 'h'} ({n} array(s)), got {len(parts)}")
    arrs = []
    for j, s in enumerate(parts):
        s = as_float64(f"state[{j}]" if n == 2 else "state", s, 3)
        if s.shape != (LD, B, H):
            raise SeqlabError(f"state: expected shape (layers*directions, batch, hidden) = {(LD, B, H)}, got {s.shape}")
        arrs.append(s)
    return [tuple(a[k] for a in arrs) if n == 2 else arrs[0][k] for k in range(LD)]


def _join_state(cell: str, states: list[Any]) -> Any:
    """Per-cell states -> torch-shaped (L*D, B, H) arrays."""
    if cell == "lstm":
        return np.stack([s[0] for s in states]), np.stack([s[1] for s in states])
    return np.stack(states)


def stacked_forward(cell: str, x: Any, params: Sequence[Params], state: Any = None, lengths: Any = None,
                    num_layers: int = 1, bidirectional: bool = False, **options) -> tuple[np.ndarray, Any, dict]:
    """Run ``num_layers`` layers of ``cell`` ('rnn', 'lstm' or 'gru') over ``x`` (B, T, I).

    ``params`` holds L*D per-cell parameter dicts; ``options`` go to the cell (``nonlinearity``
    for 'rnn', ``reset`` for 'gru', ``activation`` 'tanh' or 'relu' for 'lstm' and 'gru'; a
    peephole LSTM is one whose params have ``weight_ch``).
    Returns ``(out (B, T, D*H), final state (torch-shaped), cache)``.
    """
    if cell not in CELLS:
        raise SeqlabError(f"cell: expected one of {tuple(CELLS)}, got {cell!r}")
    check_positive_int("num_layers", num_layers)
    D = 2 if bidirectional else 1
    LD = num_layers * D
    if not isinstance(params, (list, tuple)) or len(params) != LD:
        got = len(params) if isinstance(params, (list, tuple)) else type(params).__name__
        raise SeqlabError(f"params: expected a list of num_layers*directions = {LD} parameter dicts, got {got}")
    x = as_float64("x", x, 3)
    B, T, _ = x.shape
    H = np.shape(params[0].get("weight_hh"))[-1] if hasattr(params[0], "get") else 0
    lengths = check_lengths(lengths, B, T)
    states = _split_state(cell, state, LD, B, H)
    forward = CELLS[cell][0]
    layer_in, finals, caches = x, [], []
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            k = layer * D + d
            xin = reverse_padded(layer_in, lengths) if d else layer_in
            o, s, c = forward(xin, params[k], states[k], lengths, **options)
            outs.append(reverse_padded(o, lengths) if d else o)
            finals.append(s)
            caches.append(c)
        layer_in = np.concatenate(outs, axis=2)  # (B, T, D*H)
    cache = dict(cell=cell, caches=caches, lengths=lengths, num_layers=num_layers, D=D, H=H, shape=x.shape)
    return layer_in, _join_state(cell, finals), cache


def stacked_backward(dout: Any, dstate: Any, cache: dict) -> tuple[list[dict], np.ndarray, Any]:
    """Backward of :func:`stacked_forward`.

    ``dout`` (B, T, D*H) = dL/d out; ``dstate`` = dL/d final state, torch-shaped, or None.
    Returns ``(grads per cell (L*D dicts), dx (B, T, I), dL/d initial state, torch-shaped)``.
    """
    cell, caches, lengths = cache["cell"], cache["caches"], cache["lengths"]
    L, D, H = cache["num_layers"], cache["D"], cache["H"]
    B, T, _ = cache["shape"]
    dout = as_float64("dout", dout, 3)
    if dout.shape != (B, T, D * H):
        raise SeqlabError(f"dout: expected shape {(B, T, D * H)}, got {dout.shape}")
    dstates = _split_state(cell, dstate, L * D, B, H)
    backward = CELLS[cell][1]
    grads: list[dict] = [{}] * (L * D)
    dstate0: list[Any] = [None] * (L * D)
    for layer in reversed(range(L)):
        dlayer_in = 0.0
        for d in range(D):
            k = layer * D + d
            do = dout[:, :, d * H : (d + 1) * H]  # (B, T, H): this direction's share
            if d:
                do = reverse_padded(do, lengths)
            g, dx, ds = backward(do, dstates[k], caches[k])
            grads[k], dstate0[k] = g, ds
            dlayer_in = dlayer_in + (reverse_padded(dx, lengths) if d else dx)
        dout = dlayer_in
    return grads, dout, _join_state(cell, dstate0)
