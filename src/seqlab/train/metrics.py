"""Metrics by name: accuracy, mae, mse, rmse, mape (and Keras's other spellings of them).

A metric adds up per-sample values over an epoch as tensors (no host sync per step):
``update(y_true, y_pred) -> (sum, count)`` for one batch, ``result(sum, count) -> float`` at the end.

``accuracy``: with C > 1 outputs, argmax of the prediction against integer labels or the argmax
of one-hot labels; with one output, prediction > 0.5 against the 0/1 label.
"""

from __future__ import annotations

import math
from typing import Callable

from torch import Tensor

from ..errors import SeqlabError
from .losses import class_labels, trailing_ones_dropped


class Metric:
    name = "metric"

    def update(self, y_true: Tensor, y_pred: Tensor) -> tuple[Tensor, int]:
        raise NotImplementedError

    def result(self, total: float, count: float) -> float:
        return total / max(count, 1)


def _like(y_true: Tensor, y_pred: Tensor, name: str) -> Tensor:
    if y_true.shape != y_pred.shape:
        if trailing_ones_dropped(y_true.shape) != trailing_ones_dropped(y_pred.shape):
            raise SeqlabError(f"y: the {name} metric needs targets shaped like the model output "
                              f"{tuple(y_pred.shape)}, got {tuple(y_true.shape)}")
        y_true = y_true.reshape(y_pred.shape)  # (B,) for (B, 1), (B, T, 1) for (B, T)
    return y_true.to(y_pred.dtype)


class MAE(Metric):
    name = "mae"

    def update(self, y_true: Tensor, y_pred: Tensor) -> tuple[Tensor, int]:
        d = (y_pred - _like(y_true, y_pred, self.name)).abs()
        return d.sum(), d.numel()


class MSE(Metric):
    name = "mse"

    def update(self, y_true: Tensor, y_pred: Tensor) -> tuple[Tensor, int]:
        d = (y_pred - _like(y_true, y_pred, self.name)).square()
        return d.sum(), d.numel()


class RMSE(MSE):
    name = "rmse"

    def result(self, total: float, count: float) -> float:
        return math.sqrt(total / max(count, 1))


class Accuracy(Metric):
    name = "accuracy"

    def update(self, y_true: Tensor, y_pred: Tensor) -> tuple[Tensor, int]:
        C = y_pred.shape[-1]
        if C == 1:
            hit = (y_pred > 0.5) == (_like(y_true, y_pred, self.name) > 0.5)
        else:
            pred = y_pred.argmax(-1)
            lab = class_labels(y_true, y_pred, "accuracy")
            hit = pred == (y_true.argmax(-1) if lab is None else lab.to(pred.dtype))
        return hit.sum(), hit.numel()


class MAPE(Metric):
    """Mean absolute percentage error, 100 |y - p| / max(|y|, 1e-7), as Keras's."""

    name = "mape"

    def update(self, y_true: Tensor, y_pred: Tensor) -> tuple[Tensor, int]:
        y = _like(y_true, y_pred, self.name)
        d = 100 * (y - y_pred).abs() / y.abs().clamp_min(1e-7)
        return d.sum(), d.numel()


METRICS: dict[str, Callable[[], Metric]] = {"accuracy": Accuracy, "mae": MAE, "mse": MSE, "rmse": RMSE, "mape": MAPE}
#: Keras's other spellings (function names and class names, compared in lower case)
ALIASES = {"acc": "accuracy", "binary_accuracy": "accuracy", "categorical_accuracy": "accuracy",
           "sparse_categorical_accuracy": "accuracy", "binaryaccuracy": "accuracy", "categoricalaccuracy": "accuracy",
           "sparsecategoricalaccuracy": "accuracy", "mean_absolute_error": "mae", "meanabsoluteerror": "mae",
           "mean_squared_error": "mse", "meansquarederror": "mse", "root_mean_squared_error": "rmse",
           "rootmeansquarederror": "rmse", "mean_absolute_percentage_error": "mape",
           "meanabsolutepercentageerror": "mape"}


def get_metric(spec: str | Metric) -> Metric:
    if isinstance(spec, Metric):
        return spec
    if isinstance(spec, str):
        key = ALIASES.get(spec.lower(), spec.lower())
        if key in METRICS:
            return METRICS[key]()
    raise SeqlabError(f"metrics: unknown metric {spec!r}; valid names: {', '.join(METRICS)}")
