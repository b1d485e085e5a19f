"""Windowing and time splits as pure NumPy functions (no torch, no state).

A window starting at ``i`` has inputs ``values[i : i + lookback]`` and targets
``target[i + lookback : i + lookback + horizon]``: every target lies strictly after every input.
"""

from __future__ import annotations

import numpy as np

from ..errors import SeqlabError


def n_windows(length: int, lookback: int, horizon: int) -> int:
    """How many full windows fit in ``length`` steps (0 when none does)."""
    return max(0, length - lookback - horizon + 1)


def make_windows(values: np.ndarray, target: np.ndarray, lookback: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """All windows of a series. ``values`` (T, F), ``target`` (T,) -> X (N, lookback, F), Y (N, horizon)."""
    values = np.asarray(values)
    target = np.asarray(target)
    if values.ndim != 2 or target.ndim != 1 or len(values) != len(target):
        raise SeqlabError(f"make_windows: expected values (T, F) and target (T,), got {values.shape} and {target.shape}")
    if lookback < 1 or horizon < 1:
        raise SeqlabError(f"make_windows: lookback and horizon must be >= 1, got {lookback} and {horizon}")
    N = n_windows(len(target), lookback, horizon)
    F = values.shape[1]
    if N == 0:
        return np.zeros((0, lookback, F)), np.zeros((0, horizon))
    starts = np.arange(N)[:, None]  # (N, 1)
    X = values[starts + np.arange(lookback)[None, :]]  # (N, lookback, F)
    Y = target[starts + lookback + np.arange(horizon)[None, :]]  # (N, horizon)
    return X, Y


def split_train_val(X: np.ndarray, Y: np.ndarray, length: int, lookback: int, val_steps: int):
    """Split windows by time: a window is validation when any of its targets falls in the last
    ``val_steps`` steps of the ``length``-step training part, else training. Training targets thus
    all precede every validation target. Returns (X_train, Y_train, X_val, Y_val)."""
    horizon = Y.shape[1]
    last_target = np.arange(len(X)) + lookback + horizon - 1  # (N,) index of each window's last target
    is_val = last_target >= length - val_steps
    return X[~is_val], Y[~is_val], X[is_val], Y[is_val]


def cutoffs(length: int, horizon: int, folds: int, step: int | None = None, end: int | None = None) -> list[int]:
    """Rolling-origin forecast origins, oldest first: the last fold's test block ends at ``end``
    (default ``length``) and each earlier origin is ``step`` (default ``horizon``) steps before.
    Fold ``k`` trains on ``[0, c_k)`` (expanding window) and tests on ``[c_k, c_k + horizon)``."""
    end = length if end is None else end
    step = horizon if step is None else step
    if folds < 1 or step < 1:
        raise SeqlabError(f"backtest: folds and step must be >= 1, got {folds} and {step}")
    return [end - horizon - k * step for k in range(folds - 1, -1, -1)]
