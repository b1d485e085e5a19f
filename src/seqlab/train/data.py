"""Inputs for fit, evaluate and predict: arrays or tensors to batches, or a DataLoader as given."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, DistributedSampler

from ..errors import SeqlabError
from .distributed import DistContext


def as_tensor(name: str, a: Any, float_dtype: torch.dtype = torch.float32) -> Tensor:
    """``a`` (NumPy array, tensor, nested list) as a tensor: floats in ``float_dtype``, integers
    as int64 (ids, class labels), booleans as floats."""
    if isinstance(a, Tensor):
        t = a.detach()
    else:
        try:
            arr = np.asarray(a)
        except (ValueError, TypeError) as exc:
            raise SeqlabError(f"{name}: expected an array or tensor, got {type(a).__name__}: {exc}") from exc
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise SeqlabError(f"{name}: expected numbers (an array of floats or integers), got dtype {arr.dtype}")
        arr = np.ascontiguousarray(arr)
        if not arr.flags.writeable:  # e.g. a sliding_window_view: torch warns on read-only memory
            arr = arr.copy()
        t = torch.from_numpy(arr)
    if t.dim() == 0:
        raise SeqlabError(f"{name}: expected an array with a batch axis, got a scalar")
    if t.dtype.is_floating_point or t.dtype == torch.bool:
        return t.to(float_dtype)
    return t.to(torch.long)


class ArrayData:
    """Paired tensors ``x`` (N, ...), optional ``y`` (N, ...) and optional per-sample loss weights
    ``w`` (N,) or, for sequence outputs, per-step weights (N, T), cut into batches."""

    def __init__(self, x: Tensor, y: Tensor | None, w: Tensor | None = None) -> None:
        self.x, self.y, self.w = x, y, w
        self.n = x.shape[0]

    def _take(self, idx: Any) -> "ArrayData":
        return ArrayData(self.x[idx], *(None if t is None else t[idx] for t in (self.y, self.w)))

    def to(self, device: torch.device) -> "ArrayData":
        return ArrayData(self.x.to(device), *(None if t is None else t.to(device) for t in (self.y, self.w)))

    def split(self, fraction: float) -> tuple["ArrayData", "ArrayData"]:
        """The last ``fraction`` of samples (before any shuffling) as validation data, as Keras."""
        n_val = int(round(self.n * fraction))
        if n_val < 1 or n_val >= self.n:
            raise SeqlabError(
                f"validation_split: {fraction} of {self.n} samples leaves {n_val} for validation and "
                f"{self.n - n_val} for training; both need at least one"
            )
        k = self.n - n_val
        return self._take(slice(None, k)), self._take(slice(k, None))

    def num_batches(self, batch_size: int, ctx: DistContext) -> int:
        per_rank = -(-self.n // ctx.world_size)
        return -(-per_rank // batch_size)

    def batch(self, idx: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """``(x, y, w)`` of the samples ``idx``."""
        part = self._take(idx)
        return part.x, part.y, part.w

    def eval_batches(self, batch_size: int, ctx: DistContext | None = None
                     ) -> Iterator[tuple[Tensor, Tensor | None, Tensor | None]]:
        """``(x, y, w)`` in order; under multi-process each rank takes samples ``rank::world_size``
        (no repeats)."""
        data = self
        if ctx is not None and ctx.enabled:
            data = self._take(torch.arange(ctx.rank, self.n, ctx.world_size, device=self.x.device))
        for i in range(0, data.n, batch_size):
            yield data.batch(slice(i, i + batch_size))


def split_batch(batch: Any, name: str = "data") -> tuple[Any, Any]:
    """``(x, y)`` from a DataLoader batch: a pair (a third item is the sample weights, which
    :func:`seqlab.train.engine._loader_batch` reads; further items ignored) or x alone (y None)."""
    if isinstance(batch, (tuple, list)):
        if len(batch) >= 2:
            return batch[0], batch[1]
        return batch[0], None
    if isinstance(batch, dict) and "x" in batch:
        return batch["x"], batch.get("y")
    return batch, None


def distributed_loader(loader: DataLoader, ctx: DistContext, shuffle: bool, seed: int | None) -> DataLoader:
    """The same loader with a DistributedSampler, unless it already has one."""
    if not ctx.enabled or isinstance(loader.sampler, DistributedSampler):
        return loader
    if loader.batch_size is None:
        raise SeqlabError("x: under multi-process training a DataLoader needs batch_size (not a batch_sampler)")
    sampler = DistributedSampler(loader.dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=shuffle,
                                 seed=seed or 0)
    return DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=sampler, num_workers=loader.num_workers,
                      collate_fn=loader.collate_fn, pin_memory=loader.pin_memory, drop_last=loader.drop_last)
