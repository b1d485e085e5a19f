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
    """Paired tensors ``x`` (N, ...) and optional ``y`` (N, ...) cut into batches."""

    def __init__(self, x: Tensor, y: Tensor | None) -> None:
        self.x, self.y = x, y
        self.n = x.shape[0]

    def to(self, device: torch.device) -> "ArrayData":
        return ArrayData(self.x.to(device), None if self.y is None else self.y.to(device))

    def split(self, fraction: float) -> tuple["ArrayData", "ArrayData"]:
        """The last ``fraction`` of samples (before any shuffling) as validation data, as Keras."""
        n_val = int(round(self.n * fraction))
        if n_val < 1 or n_val >= self.n:
            raise SeqlabError(
                f"validation_split: {fraction} of {self.n} samples leaves {n_val} for validation and "
                f"{self.n - n_val} for training; both need at least one"
            )
        k = self.n - n_val
        y = self.y
        return (ArrayData(self.x[:k], None if y is None else y[:k]),
                ArrayData(self.x[k:], None if y is None else y[k:]))

    def num_batches(self, batch_size: int, ctx: DistContext) -> int:
        per_rank = -(-self.n // ctx.world_size)
        return -(-per_rank // batch_size)

    def train_batches(self, batch_size: int, shuffle: bool, epoch: int, seed: int | None,
                      generator: torch.Generator | None, ctx: DistContext) -> Iterator[tuple[Tensor, Tensor]]:
        x, y = self.x, self.y
        if ctx.enabled:
            sampler = DistributedSampler(range(self.n), num_replicas=ctx.world_size, rank=ctx.rank,
                                         shuffle=shuffle, seed=seed or 0)
            sampler.set_epoch(epoch)
            order = torch.tensor(list(sampler), device=x.device)
        elif shuffle:
            order = torch.randperm(self.n, generator=generator).to(x.device)
        else:
            order = None
        n = self.n if order is None else order.shape[0]
        for i in range(0, n, batch_size):
            if order is None:
                yield x[i:i + batch_size], y[i:i + batch_size]
            else:
                idx = order[i:i + batch_size]
                yield x[idx], y[idx]

    def eval_batches(self, batch_size: int, ctx: DistContext | None = None) -> Iterator[tuple[Tensor, Tensor | None]]:
        """In order; under multi-process each rank takes samples ``rank::world_size`` (no repeats)."""
        x, y = self.x, self.y
        if ctx is not None and ctx.enabled:
            idx = torch.arange(ctx.rank, self.n, ctx.world_size, device=x.device)
            x, y = x[idx], (None if y is None else y[idx])
        for i in range(0, x.shape[0], batch_size):
            yield x[i:i + batch_size], (None if y is None else y[i:i + batch_size])


def split_batch(batch: Any, name: str = "data") -> tuple[Any, Any]:
    """``(x, y)`` from a DataLoader batch: a pair (extra items ignored) or x alone (y None)."""
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
