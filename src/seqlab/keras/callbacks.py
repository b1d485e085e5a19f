"""``keras.callbacks`` on seqlab: :mod:`seqlab.train.callbacks` with Keras's arguments.

``verbose`` is accepted (1 prints one line when the callback acts). Keras arguments that seqlab
does not implement (``baseline``, ``save_weights_only``, ``save_freq`` other than 'epoch') raise
a SeqlabError saying so when set.
"""

from __future__ import annotations

from typing import Any

from ..errors import SeqlabError
from ..train import callbacks as _cb
from ..train.callbacks import Callback, LearningRateScheduler, TerminateOnNaN
from ..train.history import History


def _refuse(name: str, **given: Any) -> None:
    for key, (value, default) in given.items():
        if value != default:
            raise SeqlabError(f"{key}: {name}'s {key}={value!r} is not implemented in seqlab; leave it at {default!r}")


class EarlyStopping(_cb.EarlyStopping):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: float | None = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0) -> None:
        _refuse("EarlyStopping", baseline=(baseline, None), start_from_epoch=(start_from_epoch, 0))
        super().__init__(monitor=monitor, patience=patience, min_delta=min_delta, mode=mode,
                         restore_best_weights=restore_best_weights)
        self.verbose = verbose

    def on_train_end(self, logs=None):
        super().on_train_end(logs)
        if self.verbose and self.is_main and self.stopped_epoch is not None:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")


class ModelCheckpoint(_cb.ModelCheckpoint):
    """Save the model after each epoch (one .safetensors file, whatever the extension)."""

    def __init__(self, filepath: str, monitor: str = "val_loss", verbose: int = 0, save_best_only: bool = False,
                 save_weights_only: bool = False, mode: str = "auto", save_freq: str = "epoch") -> None:
        _refuse("ModelCheckpoint", save_weights_only=(save_weights_only, False), save_freq=(save_freq, "epoch"))
        super().__init__(filepath, monitor=monitor, save_best_only=save_best_only, mode=mode)
        self.verbose = verbose


class ReduceLROnPlateau(_cb.ReduceLROnPlateau):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0) -> None:
        super().__init__(monitor=monitor, factor=factor, patience=patience, mode=mode, min_delta=min_delta,
                         cooldown=cooldown, min_lr=min_lr)
        self.verbose = verbose


__all__ = ["Callback", "EarlyStopping", "History", "LearningRateScheduler", "ModelCheckpoint", "ReduceLROnPlateau",
           "TerminateOnNaN"]
