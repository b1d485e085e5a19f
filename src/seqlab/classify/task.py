"""Sequence classification as a task of the one training loop (:mod:`seqlab.train.loop`).

A batch is a shuffled slice of the padded training tensors, cut to its longest sequence; its
loss is the (class-weighted) cross-entropy of the logits, ``sum_i w_i nll_i / sum_i w_i``. The
loop does the rest: Adam, the cosine decay, clipping, checkpoints, several processes.

Under N processes each takes a share of every global batch, and DistributedDataParallel
averages the N gradients. So that this equals the gradient of the global batch's loss even when
the shares differ in size or in class weight, each process divides its weighted sum by the
global batch's ``sum_i w_i`` (known to every process: the order is the same everywhere) and
multiplies by N. Validation, when given, is the loss and accuracy over the whole validation data,
computed alike on every process (the weights are the same everywhere), so early stopping
decides the same everywhere.
"""

from __future__ import annotations

from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from ..train.distributed import DistContext
from ..train.loop import Task, num_shards, shard
from .model import ClassifierNet

#: sequences per validation batch (inference only: no gradients are kept)
EVAL_BATCH = 256


def cut(x: Tensor, lengths: Tensor, idx: Tensor) -> tuple[Tensor, Tensor]:
    """Rows ``idx`` of the padded ``x`` (N, T[, F]), cut to their longest sequence, and their
    lengths: ``(x (b, T_b[, F]), lengths (b,))``. ``lengths`` and ``idx`` stay on the CPU."""
    lb = lengths[idx]
    T = int(lb.max())
    return x[idx.to(x.device), :T], lb  # (b, T_b[, F]): padding past the batch's longest is dropped


class ClassifierTask(Task):
    """Train ``model`` on ``x`` (N, T) token ids or (N, T, F) features with ``lengths`` (N,) and
    class indices ``target`` (N,); ``weight`` (C,) weights the classes in the loss; ``val`` is an
    optional ``(x, lengths, target)`` of the same form."""

    def __init__(self, model: ClassifierNet, x: Tensor, lengths: Tensor, target: Tensor, batch_size: int,
                 weight: Tensor | None = None, val: tuple[Tensor, Tensor, Tensor] | None = None) -> None:
        self.model = model
        self.x, self.lengths, self.target = x, lengths.cpu(), target
        self.batch_size, self.weight, self.val = batch_size, weight, val
        # (N,) each sample's class weight, on the CPU: a batch's normaliser without a device sync
        self.sample_weight = (torch.ones(len(target), dtype=torch.float64) if weight is None
                              else weight.double().cpu()[target.cpu()])

    def on_train_begin(self) -> None:
        dev = self.device
        self.x, self.target = self.x.to(dev), self.target.to(dev)
        if self.weight is not None:
            self.weight = self.weight.to(dev)
        if self.val is not None:
            vx, vl, vt = self.val
            self.val = (vx.to(dev), vl.cpu(), vt.to(dev))

    def num_batches(self) -> int:
        return num_shards(len(self.lengths), self.batch_size, self.ctx)

    def batches(self, epoch: int, generator: torch.Generator) -> Iterator[tuple[Tensor, Tensor, Tensor, float]]:
        """``(x (b, T_b[, F]), lengths (b,), target (b,), sum of the global batch's class weights)``."""
        n, w = len(self.lengths), self.ctx.world_size
        whole = None
        if self.ctx.enabled:  # the global batches: the same order, cut into batch_size * w
            g = torch.Generator()
            g.set_state(generator.get_state())
            whole = shard(n, self.batch_size * w, True, g, DistContext())
        for k, idx in enumerate(shard(n, self.batch_size, True, generator, self.ctx)):
            norm = float(self.sample_weight[idx if whole is None else whole[k]].sum())
            xb, lb = cut(self.x, self.lengths, idx)
            yield xb, lb, self.target[idx.to(self.target.device)], norm

    def share(self, total: Tensor, norm: float) -> tuple[Tensor, float]:
        """A batch's summed loss as this process's loss and weight: divided by the global batch's
        ``norm`` and multiplied by the N processes, whose gradients DistributedDataParallel
        averages; the epoch's loss weighs each share by its part of the sum."""
        w = self.ctx.world_size
        return total * (w / norm), norm / w

    def training_step(self, net, batch) -> tuple[Tensor, float]:
        xb, lb, yb, norm = batch
        return self.share(F.cross_entropy(net(xb, lb), yb, weight=self.weight, reduction="sum"), norm)  # sum w_i nll_i

    def val_outputs(self) -> Iterator[tuple[Tensor, Tensor]]:
        """``(network output, targets)`` over all of ``val`` in batches of :data:`EVAL_BATCH`, in
        evaluation mode without gradients (the model's mode is restored afterwards)."""
        vx, vl, vt = self.val
        model = self.model
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                for start in range(0, len(vl), EVAL_BATCH):
                    idx = torch.arange(start, min(start + EVAL_BATCH, len(vl)))
                    xb, lb = cut(vx, vl, idx)
                    yield model(xb, lb), vt[idx.to(vt.device)]
        finally:
            model.train(was_training)

    def validate(self) -> dict[str, float]:
        """``val_loss`` (weighted like the training loss) and ``val_accuracy`` over all of ``val``."""
        if self.val is None:
            return {}
        nll, wsum, right = (torch.zeros((), dtype=torch.float64, device=self.val[0].device) for _ in range(3))
        for logits, yb in self.val_outputs():  # (b, C), (b,)
            w = self.weight[yb] if self.weight is not None else torch.ones_like(yb, dtype=logits.dtype)
            nll += (w * F.cross_entropy(logits, yb, reduction="none")).sum().double()
            wsum += w.sum().double()
            right += (logits.argmax(-1) == yb).sum().double()
        return {"val_loss": float(nll / wsum), "val_accuracy": float(right / len(self.val[1]))}


__all__ = ["ClassifierTask", "cut"]
