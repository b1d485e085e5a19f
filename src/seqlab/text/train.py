"""Training a language model on the one loop, and evaluation in nats, bits per symbol and perplexity.

:func:`train_lm` runs an :class:`~seqlab.text.task.LMTask` (stateful truncated BPTT over parallel
streams) with :func:`seqlab.train.train`; :func:`default_config` is this job's
:class:`seqlab.train.TrainConfig`: Adam at 4e-3, the gradient norm clipped at 5, and the
``"decay"`` schedule (see :mod:`seqlab.train.schedules`) over the time budget when ``minutes`` is
set, else over the steps of all epochs, by default from the first step (``decay_fraction`` 1.0).
The decay makes the difference on short budgets: it removes the noise of a large step by the
end (measured against a constant rate, the last 20 % decayed and a half cosine:
docs/generate.md, "Benchmark").
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..train import Callback, History, TrainConfig, train
from .data import batchify, iter_chunks
from .defaults import DEFAULTS as D
from .model import RecurrentLM
from .task import LMTask

LN2 = math.log(2.0)


def default_config(**fields: Any) -> TrainConfig:
    """This job's :class:`TrainConfig`; ``fields`` override any of its settings. The epochs, Adam's
    rate, the clipping norm and the schedule come from :data:`seqlab.text.defaults.DEFAULTS`."""
    base: dict[str, Any] = dict(epochs=D.epochs, lr=D.lr, clipnorm=D.clipnorm, schedule=D.schedule,
                                decay_fraction=D.decay_fraction)
    base.update(fields)
    return TrainConfig(**base)


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


def train_lm(model: RecurrentLM, train_ids: Tensor, val_ids: Tensor | None = None, config: TrainConfig | None = None,
             *, batch_size: int = 32, seq_len: int = 64, val_batch_size: int = 16,
             callbacks: Sequence[Callback] = (), precision: str = "float32") -> History:
    """Train ``model`` in place on ``train_ids`` (N,) with truncated BPTT over ``batch_size``
    parallel streams (per process) of chunks of ``seq_len``; validate on ``val_ids`` after each
    epoch. ``config`` defaults to :func:`default_config`.

    Returns the engine's :class:`~seqlab.train.History`: per epoch ``loss`` and ``val_loss``
    (nats per symbol), ``lr``, ``tokens`` and ``train_seconds`` (so far); ``history.stopped``
    says why training ended early (a time or step limit). ``precision`` "bfloat16" runs the
    training steps under autocast to bfloat16 (:data:`seqlab.text.task.PRECISIONS`)."""
    task = LMTask(model, train_ids, val_ids, batch_size, seq_len, val_batch_size, precision)
    return train(task, default_config() if config is None else config, callbacks)
