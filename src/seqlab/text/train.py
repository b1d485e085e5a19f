"""Stateful training with truncated BPTT, and evaluation in nats, bits per symbol and perplexity.

Each epoch the training ids are cut into ``batch_size`` parallel streams (see
:mod:`seqlab.text.data`); the state starts at zero, is carried from chunk to chunk with its graph
cut (``detach``), and the loss of each chunk is back-propagated through its ``seq_len`` steps only.
Gradients are clipped to a global norm of ``clip`` before each Adam step. The learning rate
follows ``schedule``, over the time budget when ``max_minutes`` is set (else over the steps of all
``epochs``):

* ``"decay"`` (default): constant, then a straight line down to ``min_lr * lr`` over the last
  ``decay_fraction`` of the run (a warmup-free "warmup-stable-decay" schedule). The constant part
  makes fast progress; the decay removes the noise of a large step at the end. On tiny
  Shakespeare (2x128 LSTM, 6,350 steps of 32 x 64 characters, about 4 minutes on 2 cores) it gives
  1.506 nats/char at lr 4e-3 with the last 20 % decayed, against 1.560 for a constant 3e-3.
* ``"constant"``: ``lr`` throughout.
* ``"cosine"``: a half cosine from ``lr`` to ``min_lr * lr`` over the whole run. In a short budget
  that leaves the model under-trained it hurts (same setting: 1.645 with cosine against 1.595
  constant, at batch 64 x 128): it lowers the rate long before the end.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import SeqlabError, check_positive_int
from ..utils import progress
from .data import batchify, iter_chunks, num_chunks
from .model import RecurrentLM, detach_state

LN2 = math.log(2.0)
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
SCHEDULES = ("decay", "constant", "cosine")


def cosine_lr(lr: float, progress: float, min_lr: float) -> float:
    """``lr`` scaled from 1 at ``progress`` 0 down to ``min_lr`` at ``progress`` 1 (half cosine)."""
    p = min(max(progress, 0.0), 1.0)
    return lr * (min_lr + (1.0 - min_lr) * 0.5 * (1.0 + math.cos(math.pi * p)))


def decay_lr(lr: float, progress: float, min_lr: float, fraction: float) -> float:
    """``lr`` until ``progress`` reaches ``1 - fraction``, then linearly down to ``min_lr * lr`` at 1."""
    p = min(max(progress, 0.0), 1.0)
    left = (1.0 - p) / fraction  # 1 where the decay starts, 0 at the end
    return lr if left >= 1.0 else lr * (min_lr + (1.0 - min_lr) * left)


def scheduled_lr(config: "TrainConfig", progress: float) -> float:
    """The learning rate of ``config.schedule`` at ``progress`` in [0, 1] of the run."""
    c = config
    if c.schedule == "cosine":
        return cosine_lr(c.lr, progress, c.min_lr)
    if c.schedule == "decay":
        return decay_lr(c.lr, progress, c.min_lr, c.decay_fraction)
    return c.lr


@dataclass
class TrainConfig:
    """Training settings. ``max_minutes`` stops training (mid-epoch if need be) after that much
    training time; ``None`` runs all ``epochs``. ``clock`` measures that time: ``"wall"`` (default)
    or ``"cpu"``, this process's CPU time (all threads), which a busy shared machine does not
    stretch."""

    epochs: int = 10
    batch_size: int = 64
    seq_len: int = 128
    lr: float = 4e-3
    clip: float | None = 5.0
    weight_decay: float = 0.0
    max_minutes: float | None = None
    val_batch_size: int = 16
    clock: str = "wall"
    schedule: str = "decay"
    min_lr: float = 0.05
    decay_fraction: float = 0.2

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise SeqlabError(f"schedule: expected one of {SCHEDULES}, got {self.schedule!r}")
        if isinstance(self.decay_fraction, bool) or not (isinstance(self.decay_fraction, (int, float))
                                                         and 0 < self.decay_fraction <= 1):
            raise SeqlabError(f"decay_fraction: expected a fraction of the run in (0, 1], got {self.decay_fraction!r}")
        if not (isinstance(self.min_lr, (int, float)) and 0 <= self.min_lr <= 1):
            raise SeqlabError(f"min_lr: expected a fraction of lr in [0, 1], got {self.min_lr!r}")
        if self.clock not in CLOCKS:
            raise SeqlabError(f"clock: expected one of {tuple(CLOCKS)}, got {self.clock!r}")
        for name in ("epochs", "batch_size", "seq_len", "val_batch_size"):
            check_positive_int(name, getattr(self, name))
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise SeqlabError(f"lr: expected a number > 0, got {self.lr!r}")
        if self.clip is not None and not (isinstance(self.clip, (int, float)) and self.clip > 0):
            raise SeqlabError(f"clip: expected a number > 0 or None (no clipping), got {self.clip!r}")
        if self.max_minutes is not None and not (isinstance(self.max_minutes, (int, float)) and self.max_minutes > 0):
            raise SeqlabError(f"max_minutes: expected a number > 0 or None, got {self.max_minutes!r}")


def describe_loss(nats: float, level: str = "char") -> str:
    """``1.234 bits/char (0.855 nats)`` for characters, ``perplexity 123.4 (4.815 nats)`` for words."""
    if level == "char":
        return f"{nats / LN2:.3f} bits/char ({nats:.3f} nats)"
    return f"perplexity {math.exp(min(nats, 50.0)):.1f} ({nats:.3f} nats)"


@torch.no_grad()
def evaluate(model: RecurrentLM, ids: Tensor, batch_size: int = 16, seq_len: int = 256) -> float:
    """Mean next-symbol cross-entropy in nats over ``ids`` (N,), run as ``batch_size`` streams
    with the state carried across chunks (the same cut as training)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    batch_size = max(1, min(batch_size, len(ids) // 2))
    streams = batchify(ids, batch_size).to(device)  # (B, n)
    state, total, count = None, 0.0, 0
    for x, y in iter_chunks(streams, seq_len):
        logits, state = model(x, state)  # (B, L, V)
        total += float(F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum"))  # (B*L, V)
        count += y.numel()
    model.train(was_training)
    return total / count


def train_lm(model: RecurrentLM, train_ids: Tensor, val_ids: Tensor | None, config: TrainConfig,
             on_epoch: Callable[[dict], None] | None = None, verbose: int = 1) -> list[dict]:
    """Train ``model`` on ``train_ids`` (N,) with TBPTT; evaluate on ``val_ids`` after each epoch.

    Returns one dict per epoch: ``epoch, train_loss, val_loss`` (nats per symbol), ``seconds``
    (training time so far), ``tokens`` (trained so far), ``stopped`` (True when the time budget
    ended the epoch early). ``on_epoch`` is called with each dict as it is made.
    """
    c = config
    device = next(model.parameters()).device
    streams = batchify(train_ids, c.batch_size).to(device)  # (B, n)
    opt = torch.optim.Adam(model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
    budget = None if c.max_minutes is None else c.max_minutes * 60.0
    history: list[dict] = []
    seconds, tokens = 0.0, 0
    clock = CLOCKS[c.clock]
    total_steps = c.epochs * num_chunks(streams, c.seq_len)
    step, lr = 0, c.lr
    for epoch in range(1, c.epochs + 1):
        model.train()
        state = None  # reset each epoch: every stream starts over from its beginning
        total, count, stopped = torch.zeros((), device=device), 0, False  # loss sum stays on device
        chunks = progress(iter_chunks(streams, c.seq_len), total=num_chunks(streams, c.seq_len),
                          desc=f"epoch {epoch}/{c.epochs}", verbose=verbose)
        for x, y in chunks:
            t0 = clock()
            state = detach_state(state)  # carry the state, cut the graph
            logits, state = model(x, state)  # (B, L, V)
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())  # (B*L, V) vs (B*L,)
            if c.schedule != "constant":
                done = step / total_steps if budget is None else max(step / total_steps, seconds / budget)
                lr = scheduled_lr(c, done)
                for group in opt.param_groups:
                    group["lr"] = lr
            step += 1
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if c.clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), c.clip)
            opt.step()
            total += loss.detach() * y.numel()  # no host sync per step
            count += y.numel()
            seconds += clock() - t0
            if budget is not None and seconds >= budget:
                stopped = True
                break
        if hasattr(chunks, "close"):
            chunks.close()
        tokens += count
        val = evaluate(model, val_ids, c.val_batch_size) if val_ids is not None and len(val_ids) > 2 else None
        record = {"epoch": epoch, "train_loss": float(total) / max(count, 1), "val_loss": val, "lr": lr,
                  "seconds": seconds, "tokens": tokens, "stopped": stopped}
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        if stopped:
            break
    model.eval()
    return history
