"""Gate statistics for LSTM and GRU layers: how open each gate is, and how often it saturates.

The gates are recomputed from each cell's parameters at every recorded step (the inputs and
previous states come from running the model once, see :mod:`seqlab.diagnostics._record`), in
the cells' own equations and gate order:

* LSTM, blocks ``i | f | g | o``: ``i, f, o = σ(·)``, ``g = tanh(·)`` (with peepholes when the cell has them).
* GRU, blocks ``r | z | n``: ``r, z = σ(·)``, ``n = tanh(·)``, ``h = (1 - z) h_prev + z n``.

A sigmoid gate is *saturated* when its value is below 0.05 or above 0.95; a tanh gate (g, n),
whose range is [-1, 1], when ``(v + 1) / 2`` is, that is ``|v| > 0.9``. Saturated units pass
almost no gradient through the gate's own parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import SeqlabError
from ..nn import GRUCell, LSTMCell
from ._record import record_eval

LOW, HIGH = 0.05, 0.95
GATE_NAMES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
TANH_GATES = {"g", "n"}


def lstm_gates(cell: LSTMCell, gi: Tensor, state: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
    """The four gates of one LSTM step, each (B, H), from ``gi = W_ih x + b_ih`` and ``(h, c)``."""
    h, c = state
    a = gi + F.linear(h, cell.weight_hh, cell.bias_hh)  # (B, 4H)
    ai, af, ag, ao = a.chunk(4, dim=-1)
    if cell.peephole:
        wci, wcf, wco = cell.weight_ch
        ai, af = ai + wci * c, af + wcf * c
    i, f, g = torch.sigmoid(ai), torch.sigmoid(af), torch.tanh(ag)
    if cell.peephole:
        ao = ao + wco * (f * c + i * g)
    return {"i": i, "f": f, "g": g, "o": torch.sigmoid(ao)}


def gru_gates(cell: GRUCell, gi: Tensor, state: tuple[Tensor]) -> dict[str, Tensor]:
    """The three gates of one GRU step, each (B, H), from ``gi = W_ih x + b_ih`` and ``(h,)``."""
    (h,) = state
    H = cell.hidden_size
    xr, xz, xn = gi.chunk(3, dim=-1)
    w, b = cell.weight_hh, cell.bias_hh
    hr, hz, hn = F.linear(h, w, b).chunk(3, dim=-1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    if cell.reset == "after":
        n = torch.tanh(xn + r * hn)
    else:
        n = torch.tanh(xn + F.linear(r * h, w[2 * H :], None if b is None else b[2 * H :]))
    return {"r": r, "z": z, "n": n}


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
