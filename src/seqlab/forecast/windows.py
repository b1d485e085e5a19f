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


def padded_windows(enc: np.ndarray, target: np.ndarray, origins: np.ndarray, lookback: int, horizon: int,
                   start: int = 0, dec: np.ndarray | None = None):
    """Windows of any length, right-padded to ``lookback``, for a series of any length.

    ``enc`` (T, F) holds the inputs of each step, ``target`` (T,) the values to forecast, and
    window ``i`` forecasts the steps ``origins[i] : origins[i] + horizon`` from the inputs
    ``enc[max(start, o - lookback) : o]``: at most ``lookback`` steps, at least one (rows before
    ``start`` are not inputs: a difference's first values). Returns X (N, lookback, F) with zeros
    past each window's length, lengths (N,), Y (N, horizon) with NaN for steps past the end of
    ``target`` (masked in the loss), and, when ``dec`` (T', Cd) is given, the decoder features of
    the forecast steps D (N, horizon, Cd) (zeros past the end of ``dec``)."""
    enc, target = np.asarray(enc, dtype=np.float64), np.asarray(target, dtype=np.float64)
    o = np.asarray(origins, dtype=np.int64)
    if enc.ndim != 2 or target.ndim != 1 or len(enc) < len(target):
        raise SeqlabError(f"padded_windows: expected enc (T, F) and target (T,), got {enc.shape} and {target.shape}")
    if lookback < 1 or horizon < 1:
        raise SeqlabError(f"padded_windows: lookback and horizon must be >= 1, got {lookback} and {horizon}")
    if len(o) and (o.min() <= start or o.max() > len(enc)):
        raise SeqlabError(f"padded_windows: origins must lie in ({start}, {len(enc)}], got {o.min()}..{o.max()}")
    lo = np.maximum(start, o - lookback)  # (N,)
    lengths = o - lo
    steps = np.arange(lookback)[None, :]  # (1, L)
    valid = steps < lengths[:, None]  # (N, L)
    src = np.where(valid, lo[:, None] + steps, 0)
    X = np.where(valid[:, :, None], enc[src], 0.0) if len(enc) else np.zeros((len(o), lookback, enc.shape[1]))
    tidx = o[:, None] + np.arange(horizon)[None, :]  # (N, H)
    inside = tidx < len(target)
    Y = np.where(inside, target[np.minimum(tidx, len(target) - 1)], np.nan)  # (N, H)
    if dec is None:
        return X, lengths, Y
    dec = np.asarray(dec, dtype=np.float64)
    din = tidx < len(dec)
    D = np.where(din[:, :, None], dec[np.minimum(tidx, max(len(dec) - 1, 0))], 0.0) if len(dec) else \
        np.zeros((len(o), horizon, dec.shape[1]))
    return X, lengths, Y, D


def window_level(x: np.ndarray, lengths: np.ndarray, span: int) -> np.ndarray:
    """Each window's level: the mean of its last ``min(length, span)`` valid values.
    ``x`` (N, L) right-padded, ``lengths`` (N,) -> (N,)."""
    x = np.asarray(x, dtype=np.float64)
    lengths = np.asarray(lengths)
    k = np.minimum(lengths, max(1, span))  # (N,)
    steps = np.arange(x.shape[1])[None, :]
    use = (steps < lengths[:, None]) & (steps >= (lengths - k)[:, None])  # (N, L)
    return (x * use).sum(1) / k
