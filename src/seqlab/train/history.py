"""The record fit returns: per-epoch training and validation values."""

from __future__ import annotations

from typing import Any


class History:
    """``history[name]`` is the list of per-epoch values of ``name`` ('loss', 'val_loss', 'mae', ...).

    ``epoch`` lists the epoch indices; ``params`` holds fit's settings (epochs, steps, ...);
    ``stopped`` says why training ended early; ``best_epoch`` is the epoch whose weights were kept;
    ``steps`` and ``seconds`` count the optimizer steps and the training time.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params: dict[str, Any] = {}
        self.stopped: str = ""  # why training ended before its epoch limit ("" when it did not)
        self.best_epoch: int = -1  # the epoch whose weights were kept
        self.steps: int = 0  # optimizer steps taken (over every run resumed into this one)
        self.seconds: float = 0.0  # training time, by the run's clock

    def record(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"
