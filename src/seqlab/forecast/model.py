"""The forecasting network: a stack of seqlab recurrent layers and a linear head.

``direct``: the head maps the last hidden state to every step of the horizon at once, for each
quantile: output (B, horizon, Q). ``recursive``: the head predicts one step (B, 1, Q) and
:func:`rollout` feeds the predicted median back in as the next input, ``horizon`` times.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..errors import SeqlabError
from ..nn.registry import cell_names, make_layer

#: every cell of seqlab.nn.registry: the head reads the top layer's last output, which all have
CELLS = cell_names()
STRATEGIES = ("direct", "recursive")


@dataclass
class NetConfig:
    cell: str = "lstm"
    input_size: int = 1
    hidden_size: int = 16
    num_layers: int = 1
    dropout: float = 0.0
    out_steps: int = 12  # horizon for 'direct', 1 for 'recursive'
    n_quantiles: int = 3


class ForecastNet(nn.Module):
    """Recurrent encoder + linear head. Input (B, L, F) -> output (B, out_steps, Q)."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        if cfg.cell not in CELLS:
            raise SeqlabError(f"cell: expected one of {', '.join(CELLS)}, got {cfg.cell!r}")
        self.cfg = cfg
        self.rnn = make_layer(cfg.cell, cfg.input_size, cfg.hidden_size, num_layers=cfg.num_layers,
                              dropout=cfg.dropout if cfg.num_layers > 1 else 0.0)
        self.head = nn.Linear(cfg.hidden_size, cfg.out_steps * cfg.n_quantiles)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x)  # (B, L, H)
        y = self.head(out[:, -1])  # (B, out_steps * Q)
        return y.view(x.shape[0], self.cfg.out_steps, self.cfg.n_quantiles)  # (B, out_steps, Q)


def rollout(net: ForecastNet, x: Tensor, horizon: int, mid: int) -> Tensor:
    """Recursive multi-step forecast of a univariate one-step net: x (B, L, 1) -> (B, horizon, Q).
    Each step's median (quantile column ``mid``) becomes the newest input."""
    outs = []
    for _ in range(horizon):
        step = net(x)  # (B, 1, Q)
        outs.append(step)
        x = torch.cat([x[:, 1:], step[:, :, mid : mid + 1]], 1)  # (B, L, 1)
    return torch.cat(outs, 1)  # (B, horizon, Q)
