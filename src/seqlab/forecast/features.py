"""Features beside the target, as pure functions: calendar encodings of a time index, and the
encoding of static covariates over a panel.

Calendar features are cyclic: each period (month of the year, day of the week, ...) becomes the
pair ``sin(2 pi k / P), cos(2 pi k / P)``, so December sits next to January. Which periods a
frequency gets (:data:`CALENDAR`): monthly data the month of the year; quarterly the quarter;
weekly the week of the year; daily the day of the week and the day of the year; hourly the hour
of the day and the day of the week. Yearly data and series without dates get none. They are
known for every future step, so they are known-future covariates.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

# base frequency alias -> (period name, value of a timestamp index, period length)
_MONTH = ("month", lambda t: t.month - 1, 12)
_QUARTER = ("quarter", lambda t: t.quarter - 1, 4)
_WEEK = ("week", lambda t: t.isocalendar().week.to_numpy() - 1, 53)
_DOW = ("weekday", lambda t: t.day_of_week, 7)
_DOY = ("yearday", lambda t: t.day_of_year - 1, 366)
_HOUR = ("hour", lambda t: t.hour, 24)
CALENDAR: dict[str, tuple] = {
    "MS": (_MONTH,), "ME": (_MONTH,), "M": (_MONTH,), "SMS": (_MONTH,), "BMS": (_MONTH,), "BME": (_MONTH,),
    "QS": (_QUARTER,), "QE": (_QUARTER,), "Q": (_QUARTER,), "BQS": (_QUARTER,), "BQE": (_QUARTER,),
    "W": (_WEEK,), "D": (_DOW, _DOY), "B": (_DOW, _DOY), "h": (_HOUR, _DOW), "H": (_HOUR, _DOW),
    "min": (_HOUR, _DOW), "T": (_HOUR, _DOW), "s": (_HOUR, _DOW), "S": (_HOUR, _DOW),
}


def base_freq(freq: str | None) -> str | None:
    """'MS' from 'MS', 'W' from 'W-SUN', 'h' from '2h', 'QS' from 'QS-OCT'."""
    if not freq:
        return None
    return freq.split("-")[0].lstrip("0123456789")


def calendar_periods(freq: str | None) -> list[str]:
    """Names of the periods encoded for ``freq`` ([] for none)."""
    return [p[0] for p in CALENDAR.get(base_freq(freq) or "", ())]


def calendar_features(times: pd.Index | None, freq: str | None) -> np.ndarray:
    """Cyclic calendar features of ``times``: (T, 2 * len(calendar_periods(freq))), columns
    ``sin, cos`` per period; (T, 0) without dates or for a frequency with no period."""
    specs = CALENDAR.get(base_freq(freq) or "", ())
    n = 0 if times is None else len(times)
    if not specs or not isinstance(times, pd.DatetimeIndex):
        return np.zeros((n, 0))
    cols = []
    for _, value, period in specs:
        k = np.asarray(value(times), dtype=np.float64)  # (T,)
        cols += [np.sin(2 * np.pi * k / period), np.cos(2 * np.pi * k / period)]
    return np.stack(cols, 1)  # (T, 2P)


class StaticEncoder:
    """Static covariates over a panel: a number is standardized over the series, a category
    becomes one-hot columns (categories seen in training; an unseen one is all zeros)."""

    def __init__(self) -> None:
        self.columns: list[str] = []
        self.numeric: dict[str, tuple[float, float]] = {}  # column -> (mean, std)
        self.categories: dict[str, list[str]] = {}

    def fit(self, statics: Sequence[dict[str, Any]]) -> "StaticEncoder":
        self.columns = list(statics[0]) if statics else []
        for c in self.columns:
            vals = [d[c] for d in statics]
            if all(isinstance(v, float) for v in vals):
                a = np.asarray(vals)
                sd = float(a.std())
                self.numeric[c] = (float(a.mean()), sd if sd > 1e-12 else 1.0)
            else:
                self.categories[c] = sorted({str(v) for v in vals})
        return self

    @property
    def size(self) -> int:
        return len(self.numeric) + sum(len(v) for v in self.categories.values())

    def transform(self, static: dict[str, Any]) -> np.ndarray:
        """One series' static covariates as a vector (size,)."""
        out = []
        for c in self.columns:
            v = static.get(c)
            if c in self.numeric:
                mean, sd = self.numeric[c]
                out.append((float(v) - mean) / sd if isinstance(v, float) else 0.0)
            else:
                out += [1.0 if str(v) == k else 0.0 for k in self.categories[c]]
        return np.asarray(out, dtype=np.float64)

    def to_dict(self) -> dict:
        return {"columns": self.columns, "numeric": {k: list(v) for k, v in self.numeric.items()},
                "categories": self.categories}

    @classmethod
    def from_dict(cls, d: dict) -> "StaticEncoder":
        e = cls()
        e.columns = list(d["columns"])
        e.numeric = {k: (float(v[0]), float(v[1])) for k, v in d["numeric"].items()}
        e.categories = {k: list(v) for k, v in d["categories"].items()}
        return e
