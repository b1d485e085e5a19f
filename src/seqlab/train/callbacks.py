"""Callbacks: hooks into fit.

Write your own by subclassing :class:`Callback` and overriding any hook; ``self.model`` is the
:class:`~seqlab.model.Sequential` being trained (set before ``on_train_begin``). Set
``self.model.stop_training = True`` to stop after the current epoch. Order of calls::

    on_train_begin(logs)
      on_epoch_begin(epoch, logs)
        on_train_batch_begin(step, logs)
        on_after_backward(model, step)      # gradients are in p.grad; before clipping and the step
        on_train_batch_end(step, logs)      # logs: {"loss": 0-dim tensor, "size": the batch's weight}
      on_epoch_end(epoch, logs)             # logs: {"loss": float, "val_loss": float, metrics...}
    on_train_end(logs)

``step`` counts optimizer steps from the start of this fit call. A batch's weight in the epoch's
mean loss is its number of samples, or of unpadded steps where a padding mask reaches the loss. Batch-level hooks run only when
overridden, so a callback without them costs nothing per step. ``logs['loss']`` at batch level is
a tensor: calling ``.item()`` on it synchronises with the GPU. Example, a gradient-norm recorder::

    class GradNorm(Callback):
        def __init__(self):
            self.norms = []
        def on_after_backward(self, model, step):
            grads = [p.grad for p in model.parameters() if p.grad is not None]
            self.norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())

Under multi-process training every rank runs the callbacks; ``self.is_main`` (rank 0) guards
printing and writing files.
"""

from __future__ import annotations

import copy
import math
import os
from typing import Any, Callable

import torch

from ..errors import SeqlabError


class Callback:
    """Base class: every hook does nothing. ``model`` and ``is_main`` are set by fit."""

    model: Any = None
    is_main: bool = True

    def set_model(self, model: Any) -> None:
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_begin(self, step: int, logs: dict | None = None) -> None: ...
    def on_after_backward(self, model: Any, step: int) -> None: ...
    def on_train_batch_end(self, step: int, logs: dict | None = None) -> None: ...


def overrides(cb: Callback, hook: str) -> bool:
    return getattr(type(cb), hook) is not getattr(Callback, hook)


class _Monitor(Callback):
    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        if mode not in ("auto", "min", "max"):
            raise SeqlabError(f"mode: expected 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.monitor, self.mode, self.min_delta = monitor, mode, abs(min_delta)

    def _value(self, logs: dict | None) -> float | None:
        logs = logs or {}
        if self.monitor not in logs:
            raise SeqlabError(
                f"monitor: {self.monitor!r} is not among the logged values {sorted(logs)}; "
                "pass validation_data for val_* values"
            )
        return float(logs[self.monitor])

    def _better(self, value: float, best: float) -> bool:
        if math.isnan(value):
            return False
        return value < best - self.min_delta if self.mode == "min" else value > best + self.min_delta

    def _worst(self) -> float:
        return math.inf if self.mode == "min" else -math.inf


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs (as
    Keras's: with patience 1, the first epoch without improvement is the last).

    ``restore_best_weights=True`` puts back the weights of the best epoch when training stops
    (early or at the last epoch); ``history.best_epoch`` then names that epoch.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 0, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = False) -> None:
        super().__init__(monitor, mode, min_delta)
        self.patience = patience
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, logs=None):
        self.wait, self.best, self.best_state, self.stopped_epoch, self.best_epoch = 0, self._worst(), None, None, None
        self.restored_epoch: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        value = self._value(logs)
        if self._better(value, self.best):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_state = copy.deepcopy(self.model.state_dict())
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_state is not None:
            self.model.load_state_dict(self.best_state)
            self.restored_epoch = self.best_epoch


class ModelCheckpoint(_Monitor):
    """Save the model (with optimizer state) after each epoch to ``filepath``.

    ``filepath`` may hold ``{epoch}`` (1-based) and any log name, e.g. ``"ckpt-{epoch:02d}.safetensors"``.
    ``save_best_only=True`` saves only when ``monitor`` improves. Only rank 0 writes.
    """

    def __init__(self, filepath: str | os.PathLike, monitor: str = "val_loss", save_best_only: bool = False,
                 mode: str = "auto", include_optimizer: bool = True) -> None:
        super().__init__(monitor, mode, 0.0)
        self.filepath = str(filepath)
        self.save_best_only = save_best_only
        self.include_optimizer = include_optimizer
        self.best = self._worst()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = self._value(logs)
            if not self._better(value, self.best):
                return
            self.best = value
        if self.is_main:
            path = self.filepath.format(epoch=epoch + 1, **logs)
            self.model.save(path, include_optimizer=self.include_optimizer)


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, mode: str = "auto",
                 min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0) -> None:
        super().__init__(monitor, mode, min_delta)
        if not 0 < factor < 1:
            raise SeqlabError(f"factor: expected a number in (0, 1), got {factor!r}")
        self.factor, self.patience, self.cooldown, self.min_lr = factor, patience, cooldown, min_lr

    def on_train_begin(self, logs=None):
        self.wait, self.cool, self.best = 0, 0, self._worst()

    def on_epoch_end(self, epoch, logs=None):
        value = self._value(logs)
        if self.cool > 0:
            self.cool -= 1
            self.wait = 0
        if self._better(value, self.best):
            self.best, self.wait = value, 0
            return
        if self.cool > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            for g in self.model.optimizer.param_groups:
                g["lr"] = max(g["lr"] * self.factor, self.min_lr)
            self.cool, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch start to ``schedule(epoch, lr)`` (epoch 0-based)."""

    def __init__(self, schedule: Callable[[int, float], float]) -> None:
        self.schedule = schedule

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        lr = float(self.schedule(epoch, opt.param_groups[0]["lr"]))
        for g in opt.param_groups:
            g["lr"] = lr


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or infinite (syncs once per step).

    That batch's step is not applied (``guard_steps``: the loop checks each loss before the
    backward pass), so the model keeps the weights of the last step with a finite loss. Under
    multi-process training, where every process must step, the loop's epoch-end check restores
    the weights of the last epoch with a finite loss instead."""

    guard_steps = True

    def on_train_batch_end(self, step, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not bool(torch.isfinite(loss)):
            if self.is_main:
                print(f"Batch {step}: invalid loss {float(loss)}, terminating training")
            self.model.stop_training = True
            self.terminated = True
