"""Truncated BPTT over parallel streams, as a task of the one training loop (:mod:`seqlab.train`).

The training ids are cut into streams (see :mod:`seqlab.text.data`) and walked in chunks of
``seq_len``; the state is carried from chunk to chunk with its graph cut, and starts from zero at
each epoch. The carried state is the task's own checkpoint state, so a run interrupted mid-epoch
resumes with the very state it had.

Under multi-process training (``torchrun``) the ids are cut into ``batch_size * world_size``
streams and each process takes every ``world_size``-th of them::

    ids (N,) -> streams (B * W, n) -> this process's rows rank, rank + W, ... -> (B, n)

All streams have the same length, so every process takes the same number of chunks; DDP averages
the gradients of equal-sized batches, so W processes at ``batch_size`` B train like one process
at W * B.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import SeqlabError, check_int
from ..train import Task
from ..utils import cpu_has_bf16
from .data import batchify, iter_chunks, num_chunks
from .model import RecurrentLM, detach_state


#: ``precision`` of :class:`LMTask`: "float32", or "bfloat16": the training steps under torch's
#: autocast to bfloat16 (matrix products and the fused recurrent kernels in bfloat16 with float32
#: sums, weights and optimizer state in float32; the loss and the carried state in float32), or
#: "auto": bfloat16 on a CPU with native bfloat16 products (:func:`seqlab.utils.cpu_has_bf16`),
#: float32 elsewhere (other CPUs emulate bfloat16, slower than float32; GPUs: not measured)
PRECISIONS = ("auto", "float32", "bfloat16")


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """The precision ``precision`` means for training on ``device`` ("auto" resolved)."""
    if precision != "auto":
        return precision
    return "bfloat16" if torch.device(device).type == "cpu" and cpu_has_bf16() else "float32"


class LMTask(Task):
    """A :class:`RecurrentLM` learning ``train_ids`` (N,) by truncated BPTT; validation is the
    mean cross-entropy in nats over ``val_ids`` (read the same way, ``val_batch_size`` streams).

    Logged each epoch, besides the engine's ``loss``, ``val_loss`` and ``lr``: ``tokens`` (trained
    so far, by all processes) and ``train_seconds`` (training time so far). ``epoch_complete``
    says whether the last epoch ran to its end (False when a step or time limit cut it short).
    """

    def __init__(self, model: RecurrentLM, train_ids: Tensor, val_ids: Tensor | None = None, batch_size: int = 32,
                 seq_len: int = 64, val_batch_size: int = 16, precision: str = "float32") -> None:
        if not isinstance(model, nn.Module):
            raise SeqlabError(f"model: expected a seqlab.text.RecurrentLM, got {type(model).__name__}")
        if precision not in PRECISIONS:
            raise SeqlabError(f"precision: expected one of {PRECISIONS}, got {precision!r}")
        self.precision = precision
        check_int("batch_size", batch_size, meaning="parallel streams per process")
        check_int("seq_len", seq_len, meaning="the truncated BPTT length")
        check_int("val_batch_size", val_batch_size)
        for name, ids in (("train_ids", train_ids), ("val_ids", val_ids)):
            if ids is not None and (not isinstance(ids, Tensor) or ids.dim() != 1 or ids.dtype != torch.long):
                got = f"{ids.dtype} of shape {tuple(ids.shape)}" if isinstance(ids, Tensor) else type(ids).__name__
                raise SeqlabError(f"{name}: expected a 1-D tensor of token ids (torch.long), got {got}")
        batchify(train_ids, batch_size)  # too few tokens: SeqlabError now rather than in training
        self.model, self.train_ids, self.val_ids = model, train_ids, val_ids
        self.batch_size, self.seq_len, self.val_batch_size = batch_size, seq_len, val_batch_size
        self.streams: Tensor | None = None
        self.state: Any = None  # carried from chunk to chunk, detached
        self.done = 0  # chunks done in this epoch
        self.tokens = 0  # trained so far, all processes
        self.seconds = 0.0  # training time so far
        self._t: float | None = None

    def configure_optimizer(self, config) -> torch.optim.Optimizer:
        """Adam at ``config.lr`` (the engine's default) with its multi-tensor update: a dozen
        operations per step instead of a dozen per parameter tensor."""
        return torch.optim.Adam(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                foreach=True)

    # -- data --------------------------------------------------------------------------------
    def _streams(self) -> Tensor:
        w = self.ctx.world_size
        if self.streams is None or self.streams.device != self.device:
            if len(self.train_ids) // (self.batch_size * w) < 2:
                raise SeqlabError(f"train_ids: {len(self.train_ids)} tokens are too few for {self.batch_size} streams "
                                  f"on each of {w} processes; use a longer text, a smaller batch size or fewer processes")
            streams = batchify(self.train_ids, self.batch_size * w)  # (B * W, n)
            self.streams = streams[self.ctx.rank::w].to(self.device)  # (B, n): this process's share
        return self.streams

    def num_batches(self) -> int:
        return num_chunks(self._streams(), self.seq_len)

    def batches(self, epoch: int, generator: torch.Generator) -> Iterator[tuple[Tensor, Tensor]]:
        return iter_chunks(self._streams(), self.seq_len)  # the order is fixed: no randomness to draw

    # -- steps ---------------------------------------------------------------------------------
    def on_epoch_begin(self, epoch: int) -> None:
        self.state, self.done = None, 0  # every stream starts over from its beginning

    def training_step(self, net: nn.Module, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, float]:
        x, y = batch  # (B, L) each
        now = time.perf_counter()
        if self._t is not None:
            self.seconds += now - self._t
        self._t = now
        bf16 = resolve_precision(self.precision, x.device) == "bfloat16"
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            logits, state = net(x, self.state)  # (B, L, V)
        self.state = detach_state(state, torch.float32 if bf16 else None)  # carried, graph cut
        self.done += 1
        self.tokens += y.numel() * self.ctx.world_size
        return F.cross_entropy(logits.float().flatten(0, 1), y.flatten()), y.numel()  # (B*L, V) vs (B*L,)

    def epoch_logs(self) -> dict[str, float]:
        if self._t is not None:
            self.seconds += time.perf_counter() - self._t
            self._t = None
        return {"tokens": float(self.tokens), "train_seconds": self.seconds}

    @property
    def epoch_complete(self) -> bool:
        return self.done >= self.num_batches()

    def validate(self) -> dict[str, float]:
        if self.val_ids is None or len(self.val_ids) <= 2:
            return {}
        from .train import evaluate

        return {"val_loss": evaluate(self.model, self.val_ids.to(self.device), self.val_batch_size)}

    # -- checkpoint state ----------------------------------------------------------------------
    def state_dict(self) -> tuple[dict[str, Any], dict[str, Tensor]]:
        """The carried state and counters. Under multi-process training only rank 0 writes the
        checkpoint, so it holds rank 0's state (see :meth:`load_state_dict`)."""
        st = self.state
        parts = () if st is None else (st,) if isinstance(st, Tensor) else tuple(st)
        meta = {"streams": self.batch_size * self.ctx.world_size, "seq_len": self.seq_len, "done": self.done,
                "tokens": self.tokens, "seconds": self.seconds, "parts": len(parts),
                "tuple": not isinstance(st, Tensor)}
        return meta, {f"state/{i}": p.detach().cpu().contiguous() for i, p in enumerate(parts)}

    def load_state_dict(self, meta: dict[str, Any], tensors: dict[str, Tensor]) -> None:
        """Put back :meth:`state_dict`. Rank 0 gets its carried state back exactly; other ranks
        of a multi-process run resumed mid-epoch start theirs from zero (the engine checkpoints
        rank 0's task state only)."""
        streams = self.batch_size * self.ctx.world_size
        if meta["streams"] != streams or meta["seq_len"] != self.seq_len:
            raise SeqlabError(
                f"the checkpoint was made with {meta['streams']} streams (batch size x processes) of chunks of "
                f"{meta['seq_len']}, this run has {streams} of {self.seq_len}; resume with the same --batch-size, "
                "--seq-len and number of processes")
        self.done, self.tokens, self.seconds = int(meta["done"]), int(meta["tokens"]), float(meta["seconds"])
        parts = [tensors[f"state/{i}"].to(self.device) for i in range(int(meta["parts"]))]
        if not parts or not self.ctx.is_main:
            self.state = None
        else:
            self.state = tuple(parts) if meta["tuple"] else parts[0]
