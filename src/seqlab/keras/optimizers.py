"""``keras.optimizers`` on seqlab: Keras's names, arguments and defaults, built as torch optimizers.

``Adam(learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7)``, ``SGD(learning_rate=0.01,
momentum=0.0, nesterov=False)``, ``RMSprop(learning_rate=1e-3, rho=0.9, momentum=0.0,
epsilon=1e-7, centered=False)``, ``Adagrad(learning_rate=1e-3, initial_accumulator_value=0.1,
epsilon=1e-7)``, ``AdamW(learning_rate=1e-3, weight_decay=0.004, ...)``. Keras 2's ``lr=`` is
accepted too. Each returns a :class:`seqlab.train.optimizers.OptimizerSpec` that ``compile``
builds over the model's parameters and that ``save`` / ``load_model`` keep.

Differences from Keras, by design of torch's optimizers: epsilon is added to the bias-corrected
``sqrt(v_hat)`` (Keras adds it to ``sqrt(v)``), a difference only while v is near epsilon.
``clipnorm`` and ``global_clipnorm`` both clip the global gradient norm through the training
loop (``fit(clipnorm=...)``): Keras's ``clipnorm`` clips each weight tensor on its own, which
lets the whole gradient reach ``clipnorm * sqrt(number of tensors)``, so seqlab's is the stricter
of the two. ``clipvalue`` is not available (a SeqlabError says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import SeqlabError, check_float
from ..train.optimizers import OptimizerSpec


@dataclass
class KerasOptimizer(OptimizerSpec):
    """An :class:`OptimizerSpec` that also carries Keras's ``clipnorm`` (applied by ``fit``)."""

    clipnorm: float | None = None

    def to_config(self) -> dict[str, Any]:
        return {"name": self.name, "lr": self.lr, "kwargs": dict(self.kwargs)}


def _make(name: str, learning_rate: float, lr: float | None, clipnorm: float | None, global_clipnorm: float | None,
          clipvalue: float | None, kwargs: dict[str, Any], extra: dict[str, Any]) -> KerasOptimizer:
    if extra:
        key = next(iter(extra))
        raise SeqlabError(f"{key}: unknown argument of keras.optimizers.{name}; see seqlab.keras.optimizers")
    if clipvalue is not None:
        raise SeqlabError("clipvalue: clipping each gradient value is not available; use clipnorm=... (the global "
                          "gradient norm, applied by the training loop)")
    if clipnorm is not None and global_clipnorm is not None:
        raise SeqlabError("clipnorm and global_clipnorm: pass one of them (seqlab clips the global norm for both)")
    rate = check_float("learning_rate", learning_rate if lr is None else lr, 0, low_open=True)
    clip = check_float("clipnorm", clipnorm if clipnorm is not None else global_clipnorm, 0, low_open=True,
                       none="no clipping")
    return KerasOptimizer(name.lower(), rate, kwargs, clip)


def Adam(learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
         amsgrad: bool = False, weight_decay: float | None = None, clipnorm: float | None = None,
         clipvalue: float | None = None, global_clipnorm: float | None = None, lr: float | None = None,
         **extra: Any) -> KerasOptimizer:
    """Keras's Adam (``weight_decay`` as torch's Adam: added to the gradient)."""
    kw = {"betas": [beta_1, beta_2], "eps": epsilon, "amsgrad": bool(amsgrad), "weight_decay": weight_decay or 0.0}
    return _make("Adam", learning_rate, lr, clipnorm, global_clipnorm, clipvalue, kw, extra)


def AdamW(learning_rate: float = 0.001, weight_decay: float = 0.004, beta_1: float = 0.9, beta_2: float = 0.999,
          epsilon: float = 1e-7, amsgrad: bool = False, clipnorm: float | None = None,
          clipvalue: float | None = None, global_clipnorm: float | None = None, lr: float | None = None,
          **extra: Any) -> KerasOptimizer:
    """Keras's AdamW: decoupled weight decay (Loshchilov and Hutter 2019)."""
    kw = {"betas": [beta_1, beta_2], "eps": epsilon, "amsgrad": bool(amsgrad), "weight_decay": weight_decay}
    return _make("AdamW", learning_rate, lr, clipnorm, global_clipnorm, clipvalue, kw, extra)


def SGD(learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
        weight_decay: float | None = None, clipnorm: float | None = None, clipvalue: float | None = None,
        global_clipnorm: float | None = None, lr: float | None = None, **extra: Any) -> KerasOptimizer:
    """Keras's SGD; its momentum ``v = m v - lr g; w += v`` equals torch's for a constant rate."""
    kw = {"momentum": momentum, "nesterov": bool(nesterov), "weight_decay": weight_decay or 0.0}
    return _make("SGD", learning_rate, lr, clipnorm, global_clipnorm, clipvalue, kw, extra)


def RMSprop(learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0, epsilon: float = 1e-7,
            centered: bool = False, clipnorm: float | None = None, clipvalue: float | None = None,
            global_clipnorm: float | None = None, lr: float | None = None, **extra: Any) -> KerasOptimizer:
    """Keras's RMSprop (``rho`` is torch's ``alpha``)."""
    kw = {"alpha": rho, "momentum": momentum, "eps": epsilon, "centered": bool(centered)}
    return _make("RMSprop", learning_rate, lr, clipnorm, global_clipnorm, clipvalue, kw, extra)


def Adagrad(learning_rate: float = 0.001, initial_accumulator_value: float = 0.1, epsilon: float = 1e-7,
            clipnorm: float | None = None, clipvalue: float | None = None, global_clipnorm: float | None = None,
            lr: float | None = None, **extra: Any) -> KerasOptimizer:
    """Keras's Adagrad."""
    kw = {"initial_accumulator_value": initial_accumulator_value, "eps": epsilon}
    return _make("Adagrad", learning_rate, lr, clipnorm, global_clipnorm, clipvalue, kw, extra)


__all__ = ["Adagrad", "Adam", "AdamW", "KerasOptimizer", "RMSprop", "SGD"]
