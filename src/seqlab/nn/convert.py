"""Conversion to and from torch.nn.RNN / LSTM / GRU with identical outputs.

torch names its parameters ``weight_ih_l{k}{suffix}`` with suffix ``_reverse`` for the backward
direction; seqlab keeps one cell per layer and direction, ``cells[k * D + d]``. The only change of
values is the GRU update gate: torch's is ``1 - z``, so its z rows (and biases) are negated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from ..errors import SeqlabError
from .cells import GRUCell, LSTMCell, RNNCell

if TYPE_CHECKING:  # pragma: no cover
    from .recurrent import Recurrent


def _sign(cell) -> torch.Tensor | None:
    return cell._z_sign(cell.weight_ih) if isinstance(cell, GRUCell) else None


def _names(k: int, d: int) -> tuple[str, ...]:
    sfx = f"_l{k}" + ("_reverse" if d else "")
    return tuple(n + sfx for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


def from_torch(module: nn.Module, backend: str = "auto") -> Recurrent:
    """A seqlab layer equal to ``module`` (torch.nn.RNN, LSTM or GRU), weights copied."""
    from .recurrent import GRU, LSTM, RNN

    if isinstance(module, nn.LSTM):
        if module.proj_size:
            raise SeqlabError("module: LSTM with proj_size > 0 has no seqlab equivalent")
        layer = LSTM(module.input_size, module.hidden_size, module.num_layers, module.bias, module.batch_first,
                     float(module.dropout), module.bidirectional, backend=backend)
    elif isinstance(module, nn.GRU):
        layer = GRU(module.input_size, module.hidden_size, module.num_layers, module.bias, module.batch_first,
                    float(module.dropout), module.bidirectional, backend=backend)
    elif isinstance(module, nn.RNN):
        layer = RNN(module.input_size, module.hidden_size, module.num_layers, module.nonlinearity, module.bias,
                    module.batch_first, float(module.dropout), module.bidirectional, backend=backend)
    else:
        raise SeqlabError(f"module: expected torch.nn.RNN, LSTM or GRU, got {type(module).__name__}")
    layer = layer.to(dtype=module.weight_ih_l0.dtype, device=module.weight_ih_l0.device)
    D = layer.num_directions
    with torch.no_grad():
        for k in range(layer.num_layers):
            for d in range(D):
                cell = layer.cells[k * D + d]
                s = _sign(cell)
                for ours, theirs in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), _names(k, d)):
                    p = getattr(cell, ours)
                    if p is None:
                        continue
                    src = getattr(module, theirs)
                    p.copy_(src * (s if p.dim() == 1 else s[:, None]) if s is not None else src)
    layer.train(module.training)
    return layer


def to_torch(layer: Recurrent) -> nn.Module:
    """The torch.nn module equal to a seqlab layer; SeqlabError (a ValueError) for a layer whose
    cells torch.nn does not have."""
    from .recurrent import Recurrent

    if not isinstance(layer, Recurrent):
        raise SeqlabError(f"layer: expected a seqlab.nn RNN, LSTM or GRU layer, got {type(layer).__name__}; "
                          "seqlab.nn.to_torch converts seqlab layers only")
    why = layer.fused_unavailable()
    cell0 = layer.cells[0]
    if why is None and not isinstance(cell0, (LSTMCell, GRUCell, RNNCell)):
        why = f"{type(cell0).__name__} is not one of torch.nn's cells"
    if why:
        raise SeqlabError(f"layer: expected a layer torch.nn.RNN, LSTM or GRU can compute, got a seqlab "
                          f"{type(layer).__name__} it cannot: {why}, so torch.nn has no equal module; keep the "
                          "seqlab layer, or build one without the options torch.nn lacks")
    kw = dict(input_size=layer.input_size, hidden_size=layer.hidden_size, num_layers=layer.num_layers,
              bias=layer.bias, batch_first=layer.batch_first, dropout=layer.dropout,
              bidirectional=layer.bidirectional)
    if isinstance(cell0, LSTMCell):
        mod = nn.LSTM(**kw)
    elif isinstance(cell0, GRUCell):
        mod = nn.GRU(**kw)
    else:
        mod = nn.RNN(nonlinearity=cell0.nonlinearity, **kw)
    mod = mod.to(dtype=cell0.weight_ih.dtype, device=cell0.weight_ih.device)
    D = layer.num_directions
    with torch.no_grad():
        for k in range(layer.num_layers):
            for d in range(D):
                cell = layer.cells[k * D + d]
                for w, name in zip(cell.fused_weights(), _names(k, d)):
                    getattr(mod, name).copy_(w)
    mod.train(layer.training)
    return mod
