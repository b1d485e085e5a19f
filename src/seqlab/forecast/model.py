"""The forecasting networks: a stack of seqlab recurrent layers and a head, and an ES-RNN hybrid.

``direct``: the head maps the last hidden state (at each window's own last step: windows shorter
than the lookback are right-padded and their ``lengths`` given to the recurrent layers) to every
step of the horizon at once, for each quantile: output (B, horizon, Q). With decoder features
(known-future covariates and calendar features of the forecast steps, ``dec`` (B, horizon, Cd)),
a small per-step layer adds what they say about each step. ``recursive``: the head predicts one
step (B, 1, Q) and :func:`rollout` feeds the predicted median back in as the next input.

:class:`HybridNet` is in the spirit of ES-RNN (Smyl 2020): inside the network, each window's
values go through exponential smoothing with a level and a seasonality whose smoothing
coefficients and initial seasonal indices are learned per series; the recurrent network sees
the values less the last level and the seasonal index, and forecasts what the level and the
seasonality do not explain.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..errors import SeqlabError
from ..nn.registry import cell_names, make_layer

#: every cell of seqlab.nn.registry: the head reads the top layer's output at the last valid step
CELLS = cell_names()
STRATEGIES = ("direct", "recursive")
KINDS = ("rnn", "hybrid")


@dataclass
class NetConfig:
    cell: str = "lstm"
    input_size: int = 1
    hidden_size: int = 16
    num_layers: int = 1
    dropout: float = 0.0
    out_steps: int = 12  # horizon for 'direct', 1 for 'recursive'
    n_quantiles: int = 3
    dec_size: int = 0  # decoder features per forecast step (known-future covariates, calendar)
    kind: str = "rnn"  # 'rnn' (ForecastNet) or 'hybrid' (HybridNet)
    season: int = 1  # the hybrid's seasonal period
    n_series: int = 0  # the hybrid's per-series parameters
    level_penalty: float = 0.0  # the hybrid's penalty on the wiggliness of its level (Smyl 2020)


class ForecastNet(nn.Module):
    """Recurrent encoder + linear head. Input (B, L, F), optional lengths (B,) and decoder
    features (B, out_steps, Cd) -> output (B, out_steps, Q)."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        if cfg.cell not in CELLS:
            raise SeqlabError(f"cell: expected one of {', '.join(CELLS)}, got {cfg.cell!r}")
        self.cfg = cfg
        self.rnn = make_layer(cfg.cell, cfg.input_size, cfg.hidden_size, num_layers=cfg.num_layers,
                              dropout=cfg.dropout if cfg.num_layers > 1 else 0.0)
        self.head = nn.Linear(cfg.hidden_size, cfg.out_steps * cfg.n_quantiles)
        if cfg.dec_size:
            self.dec_in = nn.Linear(cfg.hidden_size + cfg.dec_size, cfg.hidden_size)
            self.dec_out = nn.Linear(cfg.hidden_size, cfg.n_quantiles)

    def forward(self, x: Tensor, lengths: Tensor | None = None, dec: Tensor | None = None) -> Tensor:
        B = x.shape[0]
        if lengths is not None and bool((lengths == x.shape[1]).all()):
            lengths = None  # a batch of full windows: the same result without packing
        out, _ = self.rnn(x, lengths=lengths)  # (B, L, H), zeros past each window's length
        if lengths is None:
            last = out[:, -1]  # (B, H)
        else:
            last = out[torch.arange(B, device=x.device), lengths.to(x.device).long() - 1]  # (B, H)
        y = self.head(last).view(B, self.cfg.out_steps, self.cfg.n_quantiles)  # (B, S, Q)
        if self.cfg.dec_size:
            if dec is None:
                raise SeqlabError(f"dec: this network reads {self.cfg.dec_size} decoder features per step; pass dec")
            e = last.unsqueeze(1).expand(B, self.cfg.out_steps, last.shape[1])  # (B, S, H)
            z = torch.relu(self.dec_in(torch.cat([e, dec], -1)))  # (B, S, H)
            y = y + self.dec_out(z)  # (B, S, Q)
        return y


class HybridNet(nn.Module):
    """ES-RNN-style hybrid (see the module docstring). Inputs: x (B, L, F) whose column 0 is the
    (log, per-series scaled) target, lengths (B,), dec (B, S, Cd), the series index (B,) (-1 for
    a series unseen in training: the mean of the per-series parameters) and the phase (B,) of the
    window's first step in the season. Output (B, S, Q) on the scale of column 0."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        if cfg.n_series < 1:
            raise SeqlabError("hybrid: needs the number of series (n_series >= 1)")
        self.cfg = cfg
        self.core = ForecastNet(cfg)
        m = max(1, cfg.season)
        init = torch.zeros(cfg.n_series, 2 + m)
        init[:, 0] = 0.0  # level smoothing sigmoid(0) = 0.5
        init[:, 1] = -2.0  # seasonal smoothing sigmoid(-2) = 0.12
        self.es = nn.Parameter(init)  # (n_series, 2 + m): alpha, gamma logits, initial seasonal indices
        self.penalty: Tensor | None = None  # the last training forward's level penalty (added to the loss)

    def smooth(self, z: Tensor, lengths: Tensor, series: Tensor, phase: Tensor):
        """Exponential smoothing of z (B, L) over each window's valid steps: the last level (B,),
        the seasonal index of every input step (B, L) and the seasonal indices after the window (B, m),
        by position in the season.

        The seasonal state is held rotated to each window's first step (slot k: the steps j with
        j = k mod m), so every step updates the same slot of every window: one list entry, no
        gather or scatter per step."""
        B, L = z.shape
        m = max(1, self.cfg.season)
        known = series >= 0
        p = torch.where(known.unsqueeze(1), self.es[series.clamp(min=0)], self.es.mean(0, keepdim=True))  # (B, 2+m)
        alpha, gamma = torch.sigmoid(p[:, 0]), torch.sigmoid(p[:, 1])
        if m > 1:
            rot = (phase.unsqueeze(1) + torch.arange(m, device=z.device)) % m  # (B, m): the season slot of slot k
            seas = list(p[:, 2:].gather(1, rot).unbind(1))  # m x (B,)
        else:
            seas = [torch.zeros(B, dtype=z.dtype, device=z.device)]
        zs = z.unbind(1)  # L x (B,)
        level = zs[0] - seas[0]  # the first step leaves its seasonal index as it is
        s_in, levels = [seas[0]], [level]
        padded = bool((lengths < L).any())  # full windows skip the masks (most windows of long series)
        for j in range(1, L):
            k = j % m
            s_j = seas[k]
            s_in.append(s_j)
            # lerp(a, b, w) = a + w (b - a): the smoothing updates in two operations each
            new_level = torch.lerp(level, zs[j] - s_j, alpha)
            new_s = torch.lerp(s_j, zs[j] - new_level, gamma) if m > 1 else None
            if padded:
                valid = j < lengths  # (B,)
                new_level = torch.where(valid, new_level, level)
                new_s = torch.where(valid, new_s, s_j) if m > 1 else None
            level = new_level
            levels.append(level)
            if m > 1:
                seas[k] = new_s
        seas = torch.stack(seas, 1)  # (B, m), rotated
        if m > 1:
            back = (torch.arange(m, device=z.device).unsqueeze(0) - phase.unsqueeze(1)) % m  # (B, m)
            seas = seas.gather(1, back)  # (B, m) by season slot
        self._levels = levels
        return level, torch.stack(s_in, 1), seas

    def level_penalty(self, lengths: Tensor) -> Tensor:
        """Smyl's level variability penalty of the last :meth:`smooth`: ``level_penalty`` times the
        mean over windows' valid steps of the squared second difference of the level (B, L)."""
        lv = torch.stack(self._levels, 1)  # (B, L)
        dd = lv[:, 2:] - 2 * lv[:, 1:-1] + lv[:, :-2]  # (B, L - 2)
        ok = (torch.arange(2, lv.shape[1], device=lv.device).unsqueeze(0) < lengths.unsqueeze(1)).to(lv.dtype)
        return self.cfg.level_penalty * (dd.square() * ok).sum() / ok.sum().clamp(min=1)

    def forward(self, x: Tensor, lengths: Tensor, dec: Tensor | None, series: Tensor, phase: Tensor) -> Tensor:
        B, L, _ = x.shape
        lengths = lengths.to(x.device).long()
        m = max(1, self.cfg.season)
        level, s_in, seas = self.smooth(x[:, :, 0], lengths, series, phase)
        self.penalty = self.level_penalty(lengths) if self.training and self.cfg.level_penalty > 0 else None
        valid = torch.arange(L, device=x.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, L)
        u = torch.where(valid, x[:, :, 0] - level.unsqueeze(1) - s_in, torch.zeros_like(s_in))  # (B, L)
        x = torch.cat([u.unsqueeze(2), x[:, :, 1:]], 2)  # (B, L, F)
        out = self.core(x, lengths, dec)  # (B, S, Q)
        S = out.shape[1]
        slots = (phase.unsqueeze(1) + lengths.unsqueeze(1) + torch.arange(S, device=x.device)) % m  # (B, S)
        s_out = seas.gather(1, slots) if m > 1 else torch.zeros(B, S, dtype=x.dtype, device=x.device)  # (B, S)
        return out + (level.unsqueeze(1) + s_out).unsqueeze(2)  # (B, S, Q)


def make_net(cfg: NetConfig) -> nn.Module:
    """The network of ``cfg.kind``."""
    if cfg.kind not in KINDS:
        raise SeqlabError(f"model: expected one of {', '.join(KINDS)}, got {cfg.kind!r}")
    return HybridNet(cfg) if cfg.kind == "hybrid" else ForecastNet(cfg)


def rollout(net: ForecastNet, x: Tensor, horizon: int, mid: int, lengths: Tensor | None = None,
            ahead: Tensor | None = None, dec: Tensor | None = None, span: int | None = None) -> Tensor:
    """Recursive multi-step forecast of a one-step net: x (B, L, F) -> (B, horizon, Q).

    Each step's median (quantile column ``mid``) becomes the newest input, its other features
    taken from ``ahead`` (B, horizon, F) (the known-future and calendar features of the forecast
    steps; column 0 ignored); a window shorter than the lookback grows, a full one slides.
    ``dec`` (B, horizon, Cd): the decoder features of each step. With ``span``, inputs are
    relative to each window's level (the mean of its last ``span`` values), recomputed as the
    window moves, as in training."""
    B, L, F = x.shape
    lengths = torch.full((B,), L, dtype=torch.long) if lengths is None else lengths.long().clone()
    rows = torch.arange(B)
    outs = []
    for h in range(horizon):
        shift = torch.zeros(B, dtype=x.dtype)
        xin = x
        if span is not None:
            k = lengths.clamp(max=span)
            steps = torch.arange(L).unsqueeze(0)
            use = (steps < lengths.unsqueeze(1)) & (steps >= (lengths - k).unsqueeze(1))
            shift = (x[:, :, 0] * use).sum(1) / k  # (B,)
            valid = steps < lengths.unsqueeze(1)
            xin = x.clone()
            xin[:, :, 0] = torch.where(valid, x[:, :, 0] - shift.unsqueeze(1), x[:, :, 0])
        step = net(xin, lengths, None if dec is None else dec[:, h : h + 1]) + shift.view(B, 1, 1)  # (B, 1, Q)
        outs.append(step)
        row = torch.zeros(B, 1, F, dtype=x.dtype) if ahead is None else ahead[:, h : h + 1].clone()
        row[:, 0, 0] = step[:, 0, mid]
        full = lengths >= L
        rolled = torch.cat([x[:, 1:], row], 1)  # (B, L, F)
        placed = x.clone()
        placed[rows, lengths.clamp(max=L - 1)] = row[:, 0]
        x = torch.where(full.view(B, 1, 1), rolled, placed)
        lengths = (lengths + 1).clamp(max=L)
    return torch.cat(outs, 1)  # (B, horizon, Q)
