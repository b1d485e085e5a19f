"""Gate statistics for LSTM and GRU layers: how open each gate is, and how often it saturates.

The gates are recomputed at every recorded step by the cell itself (``cell.gate_values(gi,
prev)``, the function its step is built from), from the inputs and previous states recorded by
running the model once (see :mod:`seqlab.diagnostics.trace`), so every LSTM and GRU variant
(peepholes, reset before, layer norm) is covered in its own equations and gate order:

* LSTM, blocks ``i | f | g | o``: ``i, f, o = σ(·)``, ``g = tanh(·)``.
* GRU, blocks ``r | z | n``: ``r, z = σ(·)``, ``n = tanh(·)``, ``h = (1 - z) h_prev + z n``.

A sigmoid gate is *saturated* when its value is below 0.05 or above 0.95; a tanh gate (g, n),
whose range is [-1, 1], when ``(v + 1) / 2`` is, that is ``|v| > 0.9``. Saturated units pass
almost no gradient through the gate's own parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..errors import SeqlabError
from ..nn import GRUCell, LSTMCell
from ..nn.registry import GATE_NAMES
from .trace import record_eval

LOW, HIGH = 0.05, 0.95
TANH_GATES = {"g", "n"}


def lstm_gates(cell: LSTMCell, gi: Tensor, state: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
    """The four gates of one LSTM step, each (B, H), from ``gi = W_ih x + b_ih`` and ``(h, c)``."""
    return cell.gate_values(gi, state)


def gru_gates(cell: GRUCell, gi: Tensor, state: tuple[Tensor]) -> dict[str, Tensor]:
    """The three gates of one GRU step, each (B, H), from ``gi = W_ih x + b_ih`` and ``(h,)``."""
    return cell.gate_values(gi, state)


def saturated(values: Tensor, gate: str) -> Tensor:
    """Bool mask of saturated entries of a gate's values (see the module docstring)."""
    v = (values + 1) / 2 if gate in TANH_GATES else values
    return (v < LOW) | (v > HIGH)


@dataclass
class GateStats:
    """Statistics of one (layer, direction): per gate, over batch, valid time steps and units."""

    label: str
    kind: str  # "lstm" or "gru"
    mean: dict[str, float] = field(default_factory=dict)
    saturated: dict[str, float] = field(default_factory=dict)  # fraction in [0, 1]
    per_unit_mean: dict[str, Tensor] = field(default_factory=dict)  # each (H,)

    def rows(self) -> list[tuple[str, str, float, float]]:
        """``(label, gate, mean, saturated fraction)`` rows, in gate order."""
        return [(self.label, g, self.mean[g], self.saturated[g]) for g in GATE_NAMES[self.kind]]


@torch.no_grad()
def gate_statistics(model: nn.Module, x: Tensor, **forward_kwargs) -> dict[str, GateStats]:
    """Mean activation and saturated fraction of every LSTM and GRU gate over the batch ``x``.

    Runs ``model(x, **forward_kwargs)`` once in eval mode (its mode is restored). Returns one
    :class:`GateStats` per LSTM/GRU (layer, direction), keyed by labels such as ``"lstm.l0"``;
    steps past a sequence's length (``lengths=`` or ``mask=``) are left out.
    """
    rec = record_eval(model, x, **forward_kwargs)
    out: dict[str, GateStats] = {}
    for tr in rec.traces:
        if isinstance(tr.cell, LSTMCell):
            kind, fn = "lstm", lstm_gates
        elif isinstance(tr.cell, GRUCell):
            kind, fn = "gru", gru_gates
        else:
            continue
        if not tr.gi:
            continue
        valid = tr.valid()  # (B, T), stepping order keeps validity: both start at each sequence's step 0
        steps = [fn(tr.cell, gi, prev) for gi, prev in zip(tr.gi, tr.prev)]
        stats = GateStats(tr.label, kind)
        for g in GATE_NAMES[kind]:
            v = torch.stack([s[g] for s in steps], 1)[valid]  # (B, T, H) -> (N valid, H)
            stats.mean[g] = float(v.mean())
            stats.saturated[g] = float(saturated(v, g).double().mean())
            stats.per_unit_mean[g] = v.mean(0)
        out[tr.label] = stats
    if not out:
        raise SeqlabError("model: gate statistics need LSTM or GRU layers; this model has only plain RNN layers")
    return out
