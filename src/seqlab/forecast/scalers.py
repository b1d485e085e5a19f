"""Scalers and the per-series target transform, fitted on the training part only.

The target goes through ``log`` (optional), a difference at lag ``d`` (0: none, 1: first
difference, ``season``: seasonal difference) and a scaler (standard or min-max). Each piece is
fitted on values up to the forecast origin, so nothing after it changes a parameter. Differencing
turns a trending, seasonal series like the airline totals into year-on-year growth, which a small
recurrent network learns from a hundred points.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import SeqlabError

SCALERS = ("standard", "minmax")


@dataclass
class Scaler:
    """``(x - shift) / scale`` per column; ``kind`` 'standard' (mean, std) or 'minmax' (min, range)."""

    kind: str = "standard"
    shift: list[float] | None = None
    scale: list[float] | None = None

    def fit(self, x: np.ndarray) -> "Scaler":
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)  # (T, C)
        if self.kind not in SCALERS:
            raise SeqlabError(f"scaler: expected one of {SCALERS}, got {self.kind!r}")
        if len(x) == 0:
            raise SeqlabError("scaler: no training values to fit on")
        if self.kind == "standard":
            shift, scale = x.mean(0), x.std(0)
        else:
            shift, scale = x.min(0), x.max(0) - x.min(0)
        scale = np.where(scale > 1e-12, scale, 1.0)  # a constant column passes through shifted
        self.shift, self.scale = shift.tolist(), scale.tolist()
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - np.asarray(self.shift)) / np.asarray(self.scale)

    def inverse(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) * np.asarray(self.scale) + np.asarray(self.shift)


@dataclass
class TargetTransform:
    """log -> difference at lag ``lag`` -> scaler, for one series' target."""

    log: bool = False
    lag: int = 0
    scaler: Scaler | None = None
    nonneg: bool = False  # every training value >= 0: forecasts and quantiles are clipped at 0

    def fit(self, y_train: np.ndarray, kind: str = "standard") -> "TargetTransform":
        """Fit on the training part ``y_train`` (T,) only; ``nonneg`` records whether every
        training value is >= 0."""
        y = np.asarray(y_train, dtype=np.float64)
        self.nonneg = bool(len(y)) and bool(np.all(y[np.isfinite(y)] >= 0))
        if self.log and np.any(y_train <= 0):
            raise SeqlabError("transform: 'log' needs positive values, the target has zeros or negatives; use --transform none")
        if len(y_train) <= self.lag:
            raise SeqlabError(f"transform: {len(y_train)} training values cannot be differenced at lag {self.lag}")
        self.scaler = Scaler(kind).fit(self._diff(self._level(y_train)))
        return self

    def _level(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        if self.log:
            if np.any(y <= 0):
                raise SeqlabError("transform: the forecaster forecasts logs (--transform log, or auto on positive data), "
                                  "but the history has zeros or negatives; give a history of positive values (with "
                                  "--fill: interpolate or ffill, not zero), or train a forecaster with --transform none")
            return np.log(y)
        return y

    def _diff(self, z: np.ndarray) -> np.ndarray:
        return z[self.lag:] - z[:-self.lag] if self.lag else z

    def transform(self, y: np.ndarray) -> np.ndarray:
        """``y`` (T,) -> scaled differenced values (T - lag,), aligned with ``y[lag:]``."""
        return self.scaler.transform(self._diff(self._level(y)).reshape(-1, 1))[:, 0]  # (T - lag,)

    def inverse(self, u: np.ndarray, history: np.ndarray, mid: int | None = None) -> np.ndarray:
        """Future values from predicted transformed values ``u`` (H, Q) and the ``history`` (T,).

        Undoing the difference adds the level ``lag`` steps back: a known value inside the
        horizon's first ``lag`` steps, beyond that the predicted median (column ``mid``, default
        the middle one)."""
        H, Q = u.shape
        w = self.scaler.inverse(u.reshape(-1, 1)).reshape(H, Q)  # (H, Q) unscaled differences
        z_hist = self._level(history)
        if self.lag:
            mid = Q // 2 if mid is None else mid
            z = np.concatenate([z_hist, np.zeros(H)])
            out = np.zeros((H, Q))
            T = len(z_hist)
            for h in range(H):
                base = z[T + h - self.lag]
                out[h] = w[h] + base
                z[T + h] = out[h, mid]
        else:
            out = w
        if not self.log:
            return out
        with np.errstate(over="ignore"):  # a diverged network: inf, which the caller reports in one line
            return np.exp(out)

    def to_dict(self) -> dict:
        return {"log": self.log, "lag": self.lag, "scaler": asdict(self.scaler), "nonneg": self.nonneg}

    @classmethod
    def from_dict(cls, d: dict) -> "TargetTransform":  # files without "nonneg": a log target is positive
        return cls(bool(d["log"]), int(d["lag"]), Scaler(**d["scaler"]), bool(d.get("nonneg", d["log"])))
