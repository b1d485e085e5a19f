"""Keras's weight regularizers: L1, L2 and L1L2 penalties added to the training loss.

``LSTM(32, kernel_regularizer=seqlab.regularizers.l2(1e-4))`` adds ``1e-4 * sum(W_ih ** 2)`` to
every training step's loss (Keras's formula: ``l1 * sum(|w|) + l2 * sum(w ** 2)``, no 1/2, no
mean). The strings ``'l1'``, ``'l2'`` and ``'l1_l2'`` mean Keras's defaults, factor 0.01.
Layers collect their penalties in ``layer.regularization_loss()``; ``Sequential.fit`` adds the
model's total to the loss it minimises and reports (``loss`` in the history includes it, as in
Keras); ``evaluate`` and ``val_loss`` report the data loss alone.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from .errors import SeqlabError, check_float


class Regularizer:
    """A penalty ``reg(weight) -> scalar tensor``; ``get_config``/``from_config`` round-trip it."""

    def __call__(self, weight: Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Regularizer":
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in self.get_config().items()) + ")"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()  # type: ignore[union-attr]


class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w ** 2)``."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1 = check_float("l1", l1, 0, meaning="a penalty factor")
        self.l2 = check_float("l2", l2, 0, meaning="a penalty factor")

    def __call__(self, weight: Tensor) -> Tensor:
        total = weight.new_zeros(())
        if self.l1:
            total = total + self.l1 * weight.abs().sum()
        if self.l2:
            total = total + self.l2 * weight.square().sum()
        return total

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum(|w|)`` (Keras's default factor 0.01)."""

    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(w ** 2)`` (Keras's default factor 0.01)."""

    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


def l1(l1: float = 0.01) -> L1:
    return L1(l1)


def l2(l2: float = 0.01) -> L2:
    return L2(l2)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    return L1L2(l1, l2)


REGULARIZERS: dict[str, type[Regularizer]] = {"L1": L1, "L2": L2, "L1L2": L1L2}
NAMES = {"l1": L1, "l2": L2, "l1_l2": lambda: L1L2(0.01, 0.01), "l1l2": lambda: L1L2(0.01, 0.01)}


def get(spec: Any, name: str = "regularizer") -> Regularizer | None:
    """A :class:`Regularizer` (or None) from None, 'l1' / 'l2' / 'l1_l2', a config dict or an instance."""
    if spec is None or isinstance(spec, Regularizer):
        return spec
    if isinstance(spec, str) and spec.lower() in NAMES:
        return NAMES[spec.lower()]()
    if isinstance(spec, dict) and spec.get("class_name") in REGULARIZERS:
        try:
            return REGULARIZERS[spec["class_name"]].from_config(dict(spec.get("config") or {}))
        except TypeError as exc:
            raise SeqlabError(f"{name}: bad config for {spec['class_name']}: {exc}") from None
    raise SeqlabError(f"{name}: expected None, 'l1', 'l2', 'l1_l2', seqlab.regularizers.l2(1e-4) (an L1 / L2 / "
                      f"L1L2 object) or its config dict, got {spec!r}")


def serialize(reg: Regularizer | None) -> dict[str, Any] | None:
    return None if reg is None else {"class_name": type(reg).__name__, "config": reg.get_config()}


__all__ = ["L1", "L1L2", "L2", "Regularizer", "get", "l1", "l1_l2", "l2", "serialize"]
