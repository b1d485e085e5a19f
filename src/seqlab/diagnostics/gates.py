"""Gate statistics for LSTM and GRU layers: how open each gate is, and how often it saturates.

The gates are recomputed at every recorded step by the cell itself (``cell.gate_values(gi,
prev)``, the function its step is built from), from the inputs and previous states recorded by
running the model once (see :mod:`seqlab.diagnostics.trace`), so every LSTM and GRU variant
(peepholes, reset before, layer norm) is covered in its own equations and gate order:

* LSTM, blocks ``i | f | g | o``: ``i, f, o = σ(·)``, ``g = tanh(·)``.
* GRU, blocks ``r | z | n``: ``r, z = σ(·)``, ``n = tanh(·)``, ``h = (1 - z) h_prev + z n``.

(A cell built with ``activation='relu'`` computes ``g`` / ``n`` with relu instead of tanh.)

A sigmoid gate is *saturated* when its value is below 0.05 or above 0.95; a tanh gate (g, n),
whose range is [-1, 1], when ``(v + 1) / 2`` is, that is ``|v| > 0.9``. Saturated units pass
almost no gradient through the gate's own parameters. A relu gate has no saturation: it grows
without bound above 0, so no threshold there means anything. Its flat side is 0 (a pre-activation
at or below 0), where it passes no gradient at all, so for a relu gate the figure is the fraction
of values that are exactly 0, *zero* (dead for that step) in place of *saturated*
(:attr:`GateStats.rule` says which rule each gate's figure follows).
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
TANH_GATES = {"g", "n"}  # the candidate: tanh, or the cell's activation (relu)


def lstm_gates(cell: LSTMCell, gi: Tensor, state: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
    """The four gates of one LSTM step, each (B, H), from ``gi = W_ih x + b_ih`` and ``(h, c)``."""
    return cell.gate_values(gi, state)


def gru_gates(cell: GRUCell, gi: Tensor, state: tuple[Tensor]) -> dict[str, Tensor]:
    """The three gates of one GRU step, each (B, H), from ``gi = W_ih x + b_ih`` and ``(h,)``."""
    return cell.gate_values(gi, state)


def gate_rule(gate: str, activation: str = "tanh") -> str:
    """The function that computes ``gate``, and so the rule of its figure: 'sigmoid', 'tanh' or
    'relu' (the candidate g / n of a cell built with ``activation='relu'``)."""
    return ("relu" if activation == "relu" else "tanh") if gate in TANH_GATES else "sigmoid"


def saturated(values: Tensor, gate: str, activation: str = "tanh") -> Tensor:
    """Bool mask of saturated entries of a gate's values (see the module docstring); for a relu
    gate, of the entries at 0, where it passes no gradient (it does not saturate above)."""
    rule = gate_rule(gate, activation)
    if rule == "relu":
        return values == 0
    v = (values + 1) / 2 if rule == "tanh" else values
    return (v < LOW) | (v > HIGH)


@dataclass
class GateStats:
    """Statistics of one (layer, direction): per gate, over batch, valid time steps and units."""

    label: str
    kind: str  # "lstm" or "gru"
    mean: dict[str, float] = field(default_factory=dict)
    saturated: dict[str, float] = field(default_factory=dict)  # fraction in [0, 1]; relu gates: at 0
    per_unit_mean: dict[str, Tensor] = field(default_factory=dict)  # each (H,)
    rule: dict[str, str] = field(default_factory=dict)  # 'sigmoid', 'tanh' or 'relu' (see gate_rule)

    def rows(self) -> list[tuple[str, str, float, float]]:
        """``(label, gate, mean, saturated fraction)`` rows, in gate order (for a relu gate the
        last figure is the fraction at 0: see :meth:`measure`)."""
        return [(self.label, g, self.mean[g], self.saturated[g]) for g in GATE_NAMES[self.kind]]

    def measure(self, gate: str) -> str:
        """What ``saturated[gate]`` counts: 'saturated', or 'zero' for a relu gate."""
        return "zero" if self.rule.get(gate) == "relu" else "saturated"


@torch.no_grad()
def gate_statistics(model: nn.Module, x: Tensor, **forward_kwargs) -> dict[str, GateStats]:
    """Mean activation and saturated fraction of every LSTM and GRU gate over the batch ``x``
    (for the relu candidate of a cell built with ``activation='relu'``: the fraction at 0).

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
        activation = getattr(tr.cell, "activation", "tanh")
        for g in GATE_NAMES[kind]:
            v = torch.stack([s[g] for s in steps], 1)[valid]  # (B, T, H) -> (N valid, H)
            stats.rule[g] = gate_rule(g, activation)
            stats.mean[g] = float(v.mean())
            stats.saturated[g] = float(saturated(v, g, activation).double().mean())
            stats.per_unit_mean[g] = v.mean(0)
        out[tr.label] = stats
    if not out:
        raise SeqlabError("model: gate statistics need LSTM or GRU layers; this model has only plain RNN layers")
    return out
