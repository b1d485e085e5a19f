"""Losses by name or callable.

A loss is called as ``loss(y_true, y_pred)`` (Keras order) and returns a scalar tensor, the mean
over the batch. Names: ``mse``, ``mae``, ``huber`` (:class:`Huber`: delta 1 by name, any delta as
``{"name": "huber", "delta": d}``), ``binary_crossentropy``, ``categorical_crossentropy``
(one-hot labels (B, C) or integer labels (B,)), and ``sparse_categorical_crossentropy`` (integer
labels). Sequence outputs (B, T, C) take labels (B, T, C) or (B, T).

Numerically stable cross-entropy: when the model's last layer is ``Dense(activation='softmax')``
(or 'sigmoid') and the loss is categorical (binary) cross-entropy, the engine gives the loss the
pre-activation logits and it uses ``log_softmax`` (``binary_cross_entropy_with_logits``), never
``log(softmax(z))``. Otherwise the cross-entropies take probabilities and clamp them to
``[1e-7, 1 - 1e-7]`` before the log, as Keras does.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import SeqlabError, check_float

EPS = 1e-7


class Loss:
    """A named loss. ``fuses`` names the output activation it can take logits for (or None).

    ``elements`` gives the loss of every output value (shaped like ``y_pred``; without the class
    axis for the categorical cross-entropy); the loss is their mean, or with per-sample weights
    ``w`` (the leading axes of the elements: (B,) or (B, T)) Keras's weighted mean, the sum of
    weighted elements over their number."""

    name: str = "loss"
    fuses: str | None = None
    #: for a cross-entropy: None works it out from the last layer (see seqlab.train.engine), True
    #: takes the outputs as logits, False as probabilities (Keras's ``from_logits``)
    from_logits: bool | None = None

    def config(self) -> str | dict[str, Any] | None:
        """What compile saves to rebuild this loss (:func:`get_loss` reads it back): the name, with
        ``from_logits`` where it was set; None for a callable."""
        return self.name if self.from_logits is None else {"name": self.name, "from_logits": self.from_logits}

    def elements(self, y_true: Tensor, y_pred: Tensor, from_logits: bool = False) -> Tensor:
        raise NotImplementedError

    def __call__(self, y_true: Tensor, y_pred: Tensor, from_logits: bool = False, w: Tensor | None = None) -> Tensor:
        e = self.elements(y_true, y_pred, from_logits)
        if w is None:
            return e.mean()
        if e.shape[:w.dim()] != w.shape:
            raise SeqlabError(f"sample_weight: expected weights shaped like the leading axes {tuple(e.shape[:w.dim()])} "
                              f"of the {self.name} loss's values {tuple(e.shape)}, got {tuple(w.shape)}")
        return (e * w.to(e.dtype).reshape(w.shape + (1,) * (e.dim() - w.dim()))).sum() / max(e.numel(), 1)


def trailing_ones_dropped(shape: tuple) -> tuple:
    """``shape`` without its trailing axes of length 1 (the batch axis kept): (B, T, 1) -> (B, T)."""
    shape = tuple(shape)
    while len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    return shape


def _same_shape(y_true: Tensor, y_pred: Tensor, name: str) -> Tensor:
    if y_true.shape != y_pred.shape:
        if trailing_ones_dropped(y_true.shape) == trailing_ones_dropped(y_pred.shape):
            y_true = y_true.reshape(y_pred.shape)  # (B,) for (B, 1), (B, T, 1) for (B, T)
        else:  # the same number of values in another layout, e.g. (B, F, T) for (B, T, F): refused
            raise SeqlabError(
                f"y: the {name} loss needs targets shaped like the model output {tuple(y_pred.shape)}, "
                f"got {tuple(y_true.shape)}"
            )
    return y_true if y_true.dtype == y_pred.dtype else y_true.to(y_pred.dtype)


class _Pointwise(Loss):
    def __init__(self, name: str, fn: Callable[[Tensor, Tensor], Tensor]) -> None:
        self.name, self.fn = name, fn

    def elements(self, y_true: Tensor, y_pred: Tensor, from_logits: bool = False) -> Tensor:
        return self.fn(y_pred, _same_shape(y_true, y_pred, self.name), reduction="none")


class Huber(Loss):
    """Keras's ``Huber`` and torch's ``HuberLoss``: with ``x = y_pred - y_true``, ``0.5 x²`` where
    ``|x| <= delta`` and ``delta (|x| - 0.5 delta)`` beyond: quadratic near 0, linear (slope
    ``delta``) for large errors, so outliers pull less than in the MSE."""

    name = "huber"

    def __init__(self, delta: float = 1.0) -> None:
        self.delta = check_float("delta", delta, 0, low_open=True,
                                 meaning="where the Huber loss turns from quadratic to linear")

    def config(self) -> str | dict[str, Any]:
        return self.name if self.delta == 1.0 else {"name": self.name, "delta": self.delta}  # 'huber': older files

    def elements(self, y_true: Tensor, y_pred: Tensor, from_logits: bool = False) -> Tensor:
        return F.huber_loss(y_pred, _same_shape(y_true, y_pred, self.name), reduction="none", delta=self.delta)


class BinaryCrossentropy(Loss):
    name, fuses = "binary_crossentropy", "sigmoid"

    def elements(self, y_true: Tensor, y_pred: Tensor, from_logits: bool = False) -> Tensor:
        y = _same_shape(y_true, y_pred, self.name)
        if from_logits:
            return F.binary_cross_entropy_with_logits(y_pred, y, reduction="none")
        p = y_pred.clamp(EPS, 1 - EPS)
        return -(y * p.log() + (1 - y) * (1 - p).log())


class CategoricalCrossentropy(Loss):
    """One-hot (..., C) or integer (...,) or (..., 1) labels against predictions (..., C)."""

    name, fuses = "categorical_crossentropy", "softmax"

    def elements(self, y_true: Tensor, y_pred: Tensor, from_logits: bool = False) -> Tensor:
        C = y_pred.shape[-1]
        logp = torch.log_softmax(y_pred, -1) if from_logits else y_pred.clamp(EPS, 1 - EPS).log()
        labels = class_labels(y_true, y_pred, self.name)
        if labels is not None:
            try:  # (N, C) vs (N,), back to the labels' shape
                return F.nll_loss(logp.reshape(-1, C), labels.reshape(-1), reduction="none").reshape(labels.shape)
            except IndexError:  # a label outside 0 .. C-1 (CPU; CUDA asserts on the device)
                raise SeqlabError(f"y: {self.name} needs class labels 0 to {C - 1} (the model has {C} outputs), "
                                  f"got labels from {int(labels.min())} to {int(labels.max())}") from None
        return -(y_true.to(logp.dtype) * logp).sum(-1)


def class_labels(y_true: Tensor, y_pred: Tensor, name: str) -> Tensor | None:
    """``y_true`` as integer class labels shaped like ``y_pred`` without its class axis, or None
    where it is one-hot (shaped like ``y_pred``); labels may come as (..., 1) and as whole floats.
    SeqlabError for any other shape, or floats that are not whole numbers. ``fit`` and
    ``evaluate`` pass array labels as int64, checked once (:func:`seqlab.train.engine.class_targets`),
    so the check of floats here (a host sync) is only for a DataLoader's batches and direct calls."""
    C = y_pred.shape[-1]
    if y_true.shape == y_pred.shape and (C > 1 or y_true.dtype.is_floating_point):
        return None  # one-hot
    if y_true.shape == y_pred.shape[:-1] + (1,):
        y_true = y_true.squeeze(-1)
    if y_true.shape != y_pred.shape[:-1]:
        raise SeqlabError(
            f"y: {name} needs one-hot targets {tuple(y_pred.shape)} or integer labels "
            f"{tuple(y_pred.shape[:-1])}, got {tuple(y_true.shape)}"
        )
    if y_true.dtype.is_floating_point:
        if not bool((y_true == y_true.round()).all()):
            raise SeqlabError(f"y: {name} takes class labels as whole numbers, got fractional values such as "
                              f"{float(y_true[y_true != y_true.round()][0]):g}; pass one-hot targets "
                              f"{tuple(y_pred.shape)} for soft labels")
        y_true = y_true.long()
    return y_true


LOSSES: dict[str, Callable[[], Loss]] = {
    "mse": lambda: _Pointwise("mse", F.mse_loss),
    "mae": lambda: _Pointwise("mae", F.l1_loss),
    "huber": Huber,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": CategoricalCrossentropy,
}
ALIASES = {"mean_squared_error": "mse", "mean_absolute_error": "mae", "meansquarederror": "mse",
           "meanabsoluteerror": "mae", "huber_loss": "huber", "binarycrossentropy": "binary_crossentropy",
           "categoricalcrossentropy": "categorical_crossentropy",
           "sparsecategoricalcrossentropy": "sparse_categorical_crossentropy"}  # Keras's class names too


class _Callable(Loss):
    def __init__(self, fn: Callable[[Tensor, Tensor], Tensor]) -> None:
        self.fn = fn
        self.name = getattr(fn, "__name__", type(fn).__name__)

    def config(self) -> None:
        return None  # code is never saved: a model with a callable loss loads uncompiled

    def __call__(self, y_true: Tensor, y_pred: Tensor, from_logits: bool = False, w: Tensor | None = None) -> Tensor:
        if w is not None:
            raise SeqlabError(f"sample_weight: the callable loss {self.name} returns a mean, which cannot be weighted "
                              "per sample; use a named loss, or weigh inside your function")
        out = self.fn(y_true, y_pred)
        if not isinstance(out, Tensor) or out.dim() != 0:
            raise SeqlabError(f"loss: a callable loss must return a scalar tensor, {self.name} returned {out!r:.60}")
        return out


def get_loss(spec: str | dict | Callable[[Tensor, Tensor], Tensor]) -> Loss:
    """A :class:`Loss` from a name, a saved :meth:`Loss.config` or a callable
    ``fn(y_true, y_pred) -> scalar tensor``."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, dict) and isinstance(spec.get("name"), str):
        loss = get_loss(spec["name"])
        if spec.get("delta") is not None:
            if not isinstance(loss, Huber):
                raise SeqlabError(f"loss: delta applies to the huber loss, not to {loss.name!r}")
            loss = Huber(spec["delta"])
        if spec.get("from_logits") is not None:
            if loss.fuses is None:
                raise SeqlabError(f"loss: from_logits applies to the cross-entropies, not to {loss.name!r}")
            loss.from_logits = bool(spec["from_logits"])
        return loss
    if isinstance(spec, str):
        key = ALIASES.get(spec.lower(), spec.lower())
        if key not in LOSSES:
            raise SeqlabError(f"loss: unknown loss {spec!r}; valid names: {', '.join(LOSSES)}, or pass a callable(y_true, y_pred)")
        return LOSSES[key]()
    if callable(spec):
        return _Callable(spec)
    raise SeqlabError(f"loss: expected a name ({', '.join(LOSSES)}) or a callable, got {type(spec).__name__}")
