"""The forecasting task on the one training loop: windows in, the pinball loss out.

:class:`ForecastTask` gives the engine (:func:`seqlab.train.train`) batches of training windows
and the pinball loss of a batch. Validation is the pinball loss over every validation window,
computed whole on every process, so early stopping on ``val_loss`` (with the best weights
kept) decides the same everywhere under multi-process training. Without validation windows
training runs every epoch and keeps the last weights.

The data order is the forecaster's own, as before the engine: each epoch's permutation is the
next draw of one generator seeded with the network's seed. (The engine's per-epoch generators
gave the same fits in another order, and a worse holdout: MASE 0.607 against 0.575 on average
over seeds 0-23 of ``seqlab forecast``.) The generator's state at the start of the epoch in
progress goes into the checkpoint as task state, so a resumed run draws the same batches. With
no seed the order comes from the engine's generator.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import SeqlabError, check_positive_int
from ..train import Callback, History, Task, TrainConfig, num_shards, shard, train
from ..utils import is_interactive

if TYPE_CHECKING:
    from .checkpoints import RunCheckpoint


def pinball_loss(pred: Tensor, target: Tensor, quantiles: Tensor) -> Tensor:
    """Mean pinball loss of ``pred`` (B, S, Q) against ``target`` (B, S) for ``quantiles`` (Q,).
    Target values that are NaN (steps past the end of a short series) are left out of the mean."""
    known = torch.isfinite(target)
    if bool(known.all()):
        d = target.unsqueeze(-1) - pred  # (B, S, Q)
        return torch.maximum(quantiles * d, (quantiles - 1) * d).mean()
    d = torch.where(known, target, torch.zeros_like(target)).unsqueeze(-1) - pred  # (B, S, Q)
    loss = torch.maximum(quantiles * d, (quantiles - 1) * d) * known.unsqueeze(-1)
    return loss.sum() / (known.sum() * len(quantiles)).clamp(min=1)


def _tensors(X: Any) -> tuple[Tensor, ...]:
    """The network's inputs as a tuple of tensors: an array is the one input (float32), a tuple
    holds several (float arrays as float32, integer arrays, like lengths, as int64)."""
    items = X if isinstance(X, (tuple, list)) else (X,)
    out = []
    for a in items:
        t = torch.as_tensor(np.asarray(a))
        out.append(t.to(torch.float32) if t.dtype.is_floating_point else t.to(torch.long))
    return tuple(out)


def training(**fields: Any) -> TrainConfig:
    """The forecaster's training settings: Adam at lr 0.01, up to 200 epochs, gradient norm
    clipped at 1, early stopping on the validation pinball loss (patience 20, improvements above
    1e-6, best weights kept); ``fields`` override any of them.

    With a checkpoint file, a network writes it when it finishes and every 5 minutes, not at each
    epoch end: its epochs take milliseconds and a write (with fsync) about 4 ms, so saving each
    epoch made ``seqlab forecast --save`` run twice as long."""
    base: dict[str, Any] = dict(epochs=200, lr=1e-2, clipnorm=1.0, monitor="val_loss", patience=20,
                                min_delta=1e-6, restore_best=True, checkpoint_epochs=None)
    base.update(fields)
    return TrainConfig(**base)


class ForecastTask(Task):
    """Windows X (N, L, F) -> Y (N, S) with validation windows (Xv, Yv), for ``model`` predicting
    (B, S, Q) quantiles. ``batch_size`` windows per batch and process. X may be a tuple of
    arrays with N rows each (windows, lengths, decoder features, ...): the model is called with
    all of them. NaN targets (past the end of a short series) are masked out of the loss.

    Under multi-process training the loss of a process's share is scaled so that the averaged
    gradient is the gradient of the mean over the whole global batch, even when the last global
    batch splits unevenly: N processes at ``batch_size`` train like one at ``N * batch_size``.
    """

    def __init__(self, model: nn.Module, X: np.ndarray, Y: np.ndarray, Xv: np.ndarray, Yv: np.ndarray,
                 quantiles: Sequence[float], batch_size: int = 32, seed: int | None = None,
                 checkpoint: RunCheckpoint | None = None, key: str = "",
                 windows_per_epoch: int | None = None) -> None:
        check_positive_int("batch_size", batch_size)
        self.windows_per_epoch = windows_per_epoch
        self.x, self.xv = _tensors(X), _tensors(Xv)
        if len(self.x[0]) == 0:
            raise SeqlabError("X: no training windows; use a longer series or a smaller lookback/horizon")
        self.model = model
        self.y = torch.as_tensor(np.asarray(Y), dtype=torch.float32)
        self.yv = torch.as_tensor(np.asarray(Yv), dtype=torch.float32)
        self.q = torch.tensor(list(quantiles), dtype=torch.float32)
        self.batch_size = batch_size
        self.checkpoint, self.key = checkpoint, key
        # the order's generator at the start of epoch ``order_epoch`` (see the module docstring)
        self.order_epoch = 0
        self.order_start = None if seed is None else torch.Generator().manual_seed(seed).get_state()

    def on_train_begin(self) -> None:
        dev = self.device
        self.x, self.xv = tuple(t.to(dev) for t in self.x), tuple(t.to(dev) for t in self.xv)
        self.y, self.yv, self.q = (t.to(dev) for t in (self.y, self.yv, self.q))

    def num_batches(self) -> int:
        n = num_shards(len(self.y), self.batch_size, self.ctx)
        return n if self.windows_per_epoch is None else min(n, self._capped())

    def _capped(self) -> int:
        """Batches per epoch when at most ``windows_per_epoch`` windows are drawn (a panel's
        epoch is then a random sample of its windows, a fresh one each epoch)."""
        g = self.batch_size * self.ctx.world_size
        return max(1, -(-self.windows_per_epoch // g))

    def order(self, epoch: int) -> torch.Generator:
        """The generator to draw ``epoch``'s permutation from: the epochs' one stream, wound on
        from the start of the last epoch drawn (the same epoch again after a resume)."""
        gen = torch.Generator().set_state(self.order_start)
        for _ in range(epoch - self.order_epoch):
            torch.randperm(len(self.y), generator=gen)
        self.order_epoch, self.order_start = epoch, gen.get_state()
        return gen

    def batches(self, epoch: int, generator: torch.Generator):
        if self.order_start is not None:
            generator = self.order(epoch)
        n, g = len(self.y), self.batch_size * self.ctx.world_size
        batches = shard(n, self.batch_size, True, generator, self.ctx)
        if self.windows_per_epoch is not None:
            batches = batches[: self._capped()]
        for b, idx in enumerate(batches):
            idx = idx.to(self.y.device)
            # the last: size of the whole global batch
            yield tuple(t[idx] for t in self.x), self.y[idx], min(g, n - b * g)

    def training_step(self, net: nn.Module, batch: Any) -> tuple[Tensor, float]:
        x, y, whole = batch
        w = self.ctx.world_size
        loss = pinball_loss(net(*x), y, self.q)
        penalty = getattr(self.model, "penalty", None)  # the hybrid's level penalty of this forward
        if penalty is not None:
            loss = loss + penalty
        if len(y) * w != whole:  # DDP averages over processes: make that the mean of the global batch
            loss = loss * (len(y) * w / whole)
        return loss, whole / w

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        if len(self.yv) == 0:
            return {}
        self.model.eval()
        v = float(pinball_loss(self.model(*self.xv), self.yv, self.q))
        self.model.train()
        return {"val_loss": v}

    def state_dict(self) -> tuple[dict[str, Any], dict[str, Tensor]]:
        meta, tensors = self.checkpoint.task_state(self.key) if self.checkpoint is not None else ({}, {})
        if self.order_start is not None:
            meta, tensors = {**meta, "order_epoch": self.order_epoch}, {**tensors, "order": self.order_start}
        return meta, tensors

    def load_state_dict(self, meta: dict[str, Any], tensors: dict[str, Tensor]) -> None:
        if self.checkpoint is not None:
            self.checkpoint.check_task_state(self.key, meta)
        if self.order_start is not None:
            if "order" not in tensors:
                raise SeqlabError("--resume: the checkpoint holds no data order for this network; start over "
                                  "without --resume")
            self.order_epoch, self.order_start = int(meta["order_epoch"]), tensors["order"]


class EpochBar(Callback):
    """One progress bar per network over its epochs (the forecaster's epochs take milliseconds,
    so the engine's bar per epoch would only flicker)."""

    def __init__(self, epochs: int | None, desc: str) -> None:
        self.epochs, self.desc, self.bar = epochs, desc, None

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.is_main and is_interactive() and not os.environ.get("SEQLAB_NO_PROGRESS"):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.epochs, desc=self.desc, leave=False, dynamic_ncols=True)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def fit_net(net: nn.Module, X: Any, Y: np.ndarray, Xv: Any, Yv: np.ndarray,
            quantiles: Sequence[float], config: TrainConfig | None = None, batch_size: int = 32,
            desc: str = "train", checkpoint: RunCheckpoint | None = None, key: str = "",
            callbacks: Sequence[Callback] = (), windows_per_epoch: int | None = None) -> History:
    """Train ``net`` on windows X (N, L, F) -> Y (N, S), validating on (Xv, Yv), with ``config``
    (default :func:`training`); returns the engine's History ('loss', 'val_loss' per epoch,
    ``best_epoch``). ``verbose`` 1 shows one bar over the epochs, 2 one line per epoch."""
    config = config or training()
    task = ForecastTask(net, X, Y, Xv, Yv, quantiles, batch_size, config.seed, checkpoint, key, windows_per_epoch)
    bar = [EpochBar(config.epochs, desc)] if config.verbose == 1 else []
    return train(task, replace(config, verbose=2 if config.verbose == 2 else 0), [*bar, *callbacks])
