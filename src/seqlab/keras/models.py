"""``keras.models`` on seqlab: ``Sequential`` with Keras's signatures, and ``load_model``.

The model is :class:`seqlab.model.Sequential` (an ordinary ``torch.nn.Module``, trained on the
one loop); only the argument order and defaults of ``compile``, ``fit``, ``evaluate`` and
``predict`` change to Keras's: ``compile(optimizer='rmsprop', loss=None, metrics=None)``,
``fit(x, y, batch_size=None, epochs=1, verbose='auto', ...)`` with ``batch_size=None`` meaning 32
and ``verbose='auto'`` meaning 1. Optimizer names map onto :mod:`seqlab.keras.optimizers`, so
'adagrad' starts at Keras's rate 1e-3.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

from ..errors import SeqlabError
from ..model import Sequential as _Sequential
from ..model import load_model as _load_model
from ..train.history import History
from . import optimizers as kopt

_OPTIMIZERS = {"adam": kopt.Adam, "adamw": kopt.AdamW, "sgd": kopt.SGD, "rmsprop": kopt.RMSprop,
               "adagrad": kopt.Adagrad}


def _verbose(verbose: Any, auto: int) -> int:
    if verbose == "auto":
        return auto
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise SeqlabError(f"verbose: expected 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


def _not_implemented(method: str, **given: Any) -> None:
    for key, value in given.items():
        if value is not None:
            raise SeqlabError(f"{key}: {method}'s {key} is not implemented in seqlab; leave it None "
                              "(weight the loss with a callable loss instead)")


class Sequential(_Sequential):
    """``keras.models.Sequential``: ``Sequential([LSTM(50, input_shape=(T, F)), Dense(1)])``."""

    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None,  # type: ignore[override]
                metrics: Sequence[str] | None = None, **kwargs: Any) -> None:
        _not_implemented("compile", loss_weights=loss_weights)
        if loss is None:
            raise SeqlabError("loss: compile needs a loss, e.g. loss='mse' or 'categorical_crossentropy'")
        for key in ("weighted_metrics", "run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss"):
            kwargs.pop(key, None)  # execution settings of Keras's backends: nothing to choose on torch
        if kwargs:
            raise SeqlabError(f"{next(iter(kwargs))}: unknown argument of compile; accepted: optimizer, loss, "
                              "metrics (and Keras's execution settings, which change nothing here)")
        if isinstance(optimizer, str) and optimizer.lower() in _OPTIMIZERS:
            optimizer = _OPTIMIZERS[optimizer.lower()]()
        super().compile(loss=loss, optimizer=optimizer, metrics=metrics)

    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,  # type: ignore[override]
            verbose: Any = "auto", callbacks: Sequence[Any] | None = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: bool = True, class_weight: Any = None,
            sample_weight: Any = None, initial_epoch: int = 0, steps_per_epoch: Any = None,
            validation_steps: Any = None, validation_batch_size: Any = None, validation_freq: int = 1,
            **seqlab_kwargs: Any) -> History:
        """Keras's fit; seqlab's own options (``seed``, ``clipnorm``, ``device``, ``threads``,
        ``checkpoint``, ``resume``, ``l1``, ``l2``) may follow as keywords."""
        _not_implemented("fit", class_weight=class_weight, sample_weight=sample_weight, steps_per_epoch=steps_per_epoch,
                         validation_steps=validation_steps, validation_batch_size=validation_batch_size)
        if validation_freq != 1:
            raise SeqlabError("validation_freq: seqlab validates after every epoch; leave it at 1")
        return super().fit(x, y, batch_size=32 if batch_size is None else batch_size, epochs=epochs,
                           verbose=_verbose(verbose, 1), callbacks=callbacks, validation_split=validation_split,
                           validation_data=validation_data, shuffle=shuffle, initial_epoch=initial_epoch,
                           **seqlab_kwargs)

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None, verbose: Any = "auto",  # type: ignore[override]
                 sample_weight: Any = None, steps: Any = None, return_dict: bool = False, **kwargs: Any):
        _not_implemented("evaluate", sample_weight=sample_weight, steps=steps)
        kwargs.pop("callbacks", None)
        if kwargs:
            raise SeqlabError(f"{next(iter(kwargs))}: unknown argument of evaluate")
        return super().evaluate(x, y, batch_size=32 if batch_size is None else batch_size,
                                verbose=_verbose(verbose, 1), return_dict=return_dict)

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto", steps: Any = None,  # type: ignore[override]
                callbacks: Any = None):
        _not_implemented("predict", steps=steps)
        return super().predict(x, batch_size=32 if batch_size is None else batch_size)


def load_model(filepath: str | os.PathLike, compile: bool = True, **kwargs: Any) -> Sequential:
    """A model saved by ``model.save(path)`` (``custom_objects`` and ``safe_mode`` are accepted
    and unused: a seqlab file holds JSON and tensors only, never code)."""
    for key in kwargs:
        if key not in ("custom_objects", "safe_mode"):
            raise SeqlabError(f"{key}: unknown argument of load_model")
    return _load_model(filepath, compile=compile, cls=Sequential)  # type: ignore[return-value]


__all__ = ["Sequential", "load_model"]
