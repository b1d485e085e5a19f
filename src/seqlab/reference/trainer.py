"""Training in pure NumPy: one step (forward, BPTT, clipping, update), truncated BPTT over a text
with the state carried between chunks, validation loss, and a char-RNN in the spirit of
min-char-rnn. Equations and a walk-through: docs/numpy.md.

    streams = ids[: B * n].reshape(B, n)           B contiguous parts of the text, one per row
    chunk j: inputs streams[:, jL : jL + L], targets shifted by one, state from chunk j - 1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from ..errors import SeqlabError, check_float, check_int
from .net import NetConfig, init_params, loss_and_dy, loss_and_grads, net_forward, sample
from .optim import OPTIMIZERS, Optimizer, clip_grad_norm, global_norm, make_optimizer


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimizer, learning rate, clipping, truncation length, batch, steps."""

    optimizer: str = "adagrad"  # one of OPTIMIZERS
    lr: float = 0.1
    momentum: float = 0.9  # optimizer 'momentum' only
    weight_decay: float = 0.0  # L2, folded into the gradient
    clip: float | None = 5.0  # max global gradient norm; None for no clipping
    seq_len: int = 25  # truncated BPTT: steps per chunk
    batch_size: int = 1  # streams trained side by side
    steps: int = 1000  # updates
    seed: int = 0

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise SeqlabError(f"optimizer: expected one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        check_float("lr", self.lr, 0, low_open=True)
        check_float("momentum", self.momentum, 0, 1, high_open=True)
        check_float("weight_decay", self.weight_decay, 0)
        check_float("clip", self.clip, 0, low_open=True, none="no clipping")
        for name in ("seq_len", "batch_size", "steps"):
            check_int(name, getattr(self, name))
        check_int("seed", self.seed, 0)

    def make_optimizer(self) -> Optimizer:
        return make_optimizer(self.optimizer, self.lr, self.momentum, self.weight_decay)


def train_step(params: dict[str, np.ndarray], config: NetConfig, optimizer: Optimizer, inputs: Any,
               targets: Any, state: Any = None, clip: float | None = None) -> tuple[float, Any, float]:
    """Forward, BPTT, clipping by global norm, one update: ``(loss, final state, gradient norm
    before clipping)``. Pass the final state as the next chunk's ``state`` (truncated BPTT)."""
    loss, grads, final = loss_and_grads(params, config, inputs, targets, state)
    norm = clip_grad_norm(grads, clip) if clip is not None else global_norm(grads)
    optimizer.update(params, grads)
    return loss, final, norm


def streams(ids: Any, batch_size: int) -> np.ndarray:
    """``ids`` cut into ``batch_size`` contiguous rows (B, n); the tail that does not fit is dropped."""
    ids = np.asarray(ids, dtype=np.int64)
    n = len(ids) // batch_size
    if n < 2:
        raise SeqlabError(f"ids: expected at least 2 tokens per stream ({2 * batch_size} for batch_size "
                          f"{batch_size}), got {len(ids)}; use a longer text or a smaller batch")
    return ids[: batch_size * n].reshape(batch_size, n)  # (B, n)


def chunks(rows: np.ndarray, seq_len: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One pass over the streams: ``(inputs, targets)`` (B, <= seq_len), targets shifted by one."""
    for j in range(0, rows.shape[1] - 1, seq_len):
        end = min(j + seq_len, rows.shape[1] - 1)
        yield rows[:, j:end], rows[:, j + 1 : end + 1]


def evaluate(params: dict[str, np.ndarray], config: NetConfig, ids: Any, batch_size: int = 8,
             seq_len: int = 100) -> float:
    """Mean cross-entropy (nats per token) over ``ids`` read as ``batch_size`` streams (fewer for
    a short text), the state carried from chunk to chunk."""
    total, count, state = 0.0, 0, None
    for x, y in chunks(streams(ids, max(1, min(batch_size, len(ids) // 2))), seq_len):
        logits, state, _ = net_forward(params, config, x, state)
        total += loss_and_dy(config, logits, y)[0] * y.size
        count += y.size
    return total / count


def train_lm(train_ids: Any, val_ids: Any, config: NetConfig, train: TrainConfig,
             params: dict[str, np.ndarray] | None = None, every: int = 0,
             log: Callable[[int, float, float | None, np.ndarray], None] | None = None) -> tuple[dict, list[dict]]:
    """Train a language model on ``train_ids`` with truncated BPTT; validate on ``val_ids``.

    Each pass over the text starts from a zero state; within a pass the state is carried from
    chunk to chunk. Every ``every`` steps (and at the end) ``log(step, train_loss, val_loss,
    state)`` is called, train_loss the mean of the steps since the last call. Returns
    ``(params, history)``, history one ``{step, loss, val_loss}`` per call.
    """
    params = init_params(config, train.seed) if params is None else params
    opt = train.make_optimizer()
    rows = streams(train_ids, train.batch_size)
    history, losses, step, state = [], [], 0, None
    while step < train.steps:
        state = None  # a new pass over the text
        for x, y in chunks(rows, train.seq_len):
            loss, state, _ = train_step(params, config, opt, x, y, state, train.clip)
            losses.append(loss)
            step += 1
            if step == train.steps or (every and step % every == 0):
                val = evaluate(params, config, val_ids) if len(val_ids) > 1 else None
                history.append(dict(step=step, loss=float(np.mean(losses)), val_loss=val))
                losses = []
                if log is not None:
                    log(step, history[-1]["loss"], val, state)
            if step == train.steps:
                break
    return params, history


__all__ = ["TrainConfig", "chunks", "evaluate", "sample", "streams", "train_lm", "train_step"]
