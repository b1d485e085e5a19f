"""Training a translator is a task of the one loop (:mod:`seqlab.train.loop`).

The task gives padded batches of (source, target) pairs, the cross-entropy of a batch (padding
ignored) with teacher forcing, the validation exact-match accuracy, and a stop once a target
accuracy is reached. Everything else (Adam, clipping, the rate cut when validation stops
improving, the time budget, checkpoints, several processes) is the loop's.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import SeqlabError, check_float, check_positive_int
from ..train.loop import Task, num_shards, shard
from .defaults import DEFAULTS as D
from .model import pad_batch
from .translator import Translator
from .vocab import BOS, EOS, PAD

Pairs = list[tuple[str, str]]
Batch = tuple[Tensor, Tensor, Tensor, Tensor]


def accuracy(tr: Translator, pairs: Pairs, beam: int = 1) -> float:
    """Exact-match accuracy of ``tr`` on ``pairs`` (target compared after its own tokenization)."""
    outs = tr.translate_batch([s for s, _ in pairs], beam=beam)
    want = [tr.tgt_vocab.decode(tr.tgt_vocab.encode(t, "target")) for _, t in pairs]
    return sum(o.text == w for o, w in zip(outs, want)) / max(1, len(pairs))


class TranslationTask(Task):
    """``epoch_data(epoch)`` gives each epoch's training pairs (a function of the epoch alone, so a
    resumed run gets the same); ``val`` pairs are decoded greedily after every epoch, on every
    process (the weights are the same everywhere, so every process decides the same)."""

    def __init__(self, tr: Translator, epoch_data: Callable[[int], Pairs], val: Pairs | None,
                 batch_size: int = D["batch_size"], teacher_forcing: float = D["teacher_forcing"],
                 target_accuracy: float | None = None) -> None:
        check_positive_int("batch_size", batch_size)
        check_float("teacher_forcing", teacher_forcing, 0, 1, meaning="the probability of feeding the true token")
        check_float("target_accuracy", target_accuracy, 0, 1, low_open=True, none="no early stop")
        self.tr, self.model = tr, tr.model
        self.epoch_data, self.val = epoch_data, val or None
        self.batch_size, self.teacher_forcing, self.target_accuracy = batch_size, teacher_forcing, target_accuracy
        self.steps = 0  # optimizer steps over the whole run (kept in checkpoints)
        self._cached: tuple[int, Pairs] | None = None

    def pairs(self, epoch: int) -> Pairs:
        if self._cached is None or self._cached[0] != epoch:
            pairs = self.epoch_data(epoch)
            if not pairs:
                raise SeqlabError(f"epoch_data: epoch {epoch} has no training pairs; give at least one pair per epoch")
            self._cached = (epoch, pairs)
        return self._cached[1]

    def num_batches(self) -> int:
        return num_shards(len(self.pairs(0)), self.batch_size, self.ctx)

    def batches(self, epoch: int, generator: torch.Generator) -> Iterator[Batch]:
        pairs, tr = self.pairs(epoch), self.tr
        for idx in shard(len(pairs), self.batch_size, True, generator, self.ctx):
            chunk = [pairs[j] for j in idx.tolist()]
            src, lengths = pad_batch([tr.src_vocab.encode(s, "source") for s, _ in chunk], self.device)
            tgt, _ = pad_batch([[BOS] + tr.tgt_vocab.encode(t, "target") + [EOS] for _, t in chunk], self.device)
            yield src, lengths, tgt[:, :-1], tgt[:, 1:]  # (B, S), (B,), (B, T), (B, T)

    def training_step(self, net: nn.Module, batch: Batch) -> tuple[Tensor, Tensor]:
        """The mean cross-entropy over the target tokens of the global batch (padding ignored).

        Under several processes each holds a share of the global batch and DistributedDataParallel
        averages their gradients, so each process divides its token sum by the global token count
        over the number of processes: N processes then take exactly the step of one process on the
        whole batch, whatever the target lengths (one small all-reduce per step)."""
        src, lengths, tgt_in, tgt_out = batch
        logits, _ = net(src, lengths, tgt_in, self.teacher_forcing)  # (B, T, V)
        total = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1),  # (B*T, V), (B*T,)
                                ignore_index=PAD, reduction="sum")
        share = (tgt_out != PAD).sum().to(total.dtype)  # this process's target tokens
        if self.ctx.enabled:
            share = self.ctx.all_sum(share.detach().clone()) / self.ctx.world_size
        self.steps += 1
        return total / share, share  # the epoch's loss: a mean over tokens

    def validate(self) -> dict[str, float]:
        return {"val_accuracy": accuracy(self.tr, self.val)} if self.val else {}

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        acc = logs.get("val_accuracy")
        if self.target_accuracy is not None and acc is not None and acc >= self.target_accuracy:
            self.stop_reason = f"target accuracy {100 * self.target_accuracy:g}% reached"

    def state_dict(self) -> tuple[dict[str, Any], dict[str, Tensor]]:
        return {"steps": self.steps}, {}

    def load_state_dict(self, meta: dict[str, Any], tensors: dict[str, Tensor]) -> None:
        self.steps = int(meta.get("steps", 0))


__all__ = ["TranslationTask", "accuracy"]
