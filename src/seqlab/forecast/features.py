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

import re
from typing import Any, Callable, Iterable, Sequence

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


def same_offset(a: str, b: str) -> bool:
    """Whether two frequency aliases name the same offset ('H' from older pandas and 'h', 'MS'
    twice); aliases pandas cannot read are the same only when spelled alike."""
    import warnings

    try:
        with warnings.catch_warnings():  # pandas deprecates some aliases ('H') it still reads
            warnings.simplefilter("ignore")
            return pd.tseries.frequencies.to_offset(a) == pd.tseries.frequencies.to_offset(b)
    except (ValueError, TypeError):
        return a == b


def base_freq(freq: str | None) -> str | None:
    """'MS' from 'MS', 'W' from 'W-SUN', 'h' from '2h', 'QS' from 'QS-OCT'."""
    if not freq:
        return None
    return freq.split("-")[0].lstrip("0123456789")


def freq_multiple(freq: str | None) -> int:
    """The multiplier of a frequency alias: 2 from '2h' or '2MS', 1 from 'MS' (or None)."""
    m = re.match(r"\d+", freq or "")
    return int(m.group()) if m else 1


# sub-daily aliases: fixed steps whose natural cycle is the day
_SUBDAILY = ("h", "H", "min", "T", "s", "S", "ms", "L", "us", "U", "ns", "N")
_DAY_NS = 86_400 * 10**9
_MONTHLY = ("MS", "M", "ME", "BMS", "BM", "BME", "CBMS", "CBM", "CBME")
_QUARTERLY = ("QS", "Q", "QE", "BQS", "BQ", "BQE")
_YEARLY = ("YS", "Y", "YE", "AS", "A", "BYS", "BY", "BYE", "BAS", "BA")
# base alias -> (its natural cycle, steps of one unit in it): the week for daily data, the year
# for weekly, semi-monthly, monthly and quarterly data (the day for sub-daily: computed)
_CYCLES: dict[str, tuple[str, int]] = {
    "D": ("week", 7), "B": ("week", 5), "C": ("week", 5), "W": ("year", 52), "SMS": ("year", 24),
    "SM": ("year", 24), "SME": ("year", 24), **{b: ("year", 12) for b in _MONTHLY},
    **{b: ("year", 4) for b in _QUARTERLY}}
_UNITS = {"h": "hour", "H": "hour", "min": "minute", "T": "minute", "s": "second", "S": "second",
          "ms": "millisecond", "L": "millisecond", "us": "microsecond", "U": "microsecond", "ns": "nanosecond",
          "N": "nanosecond", "D": "day", "B": "business day", "C": "business day", "W": "week",
          "SMS": "half-month", "SM": "half-month", "SME": "half-month", **{b: "month" for b in _MONTHLY},
          **{b: "quarter" for b in _QUARTERLY}, **{b: "year" for b in _YEARLY}}
_ADJECTIVES = {"hour": "hourly", "day": "daily", "business day": "business-daily", "week": "weekly",
               "half-month": "semi-monthly", "month": "monthly", "quarter": "quarterly", "year": "yearly"}


def _step_ns(freq: str) -> int | None:
    """Nanoseconds in one step of a fixed sub-daily frequency, else None."""
    if base_freq(freq) not in _SUBDAILY:
        return None
    try:
        return int(pd.tseries.frequencies.to_offset(freq).nanos)
    except (ValueError, TypeError):
        return None


def natural_season(freq: str | None) -> tuple[int, str | None]:
    """The season of a frequency: the steps in its natural cycle (a day for sub-daily data, a
    week for daily data, a year for weekly, monthly and quarterly data), the multiplier divided
    out (2-hourly 12, 30-minute 48, 2-monthly 6). Returns (season, why it is 1) where the steps
    do not divide the cycle evenly (5-hourly, 5-monthly), the reason a note; (1, None) for yearly
    data and no frequency."""
    base = base_freq(freq)
    if not base:
        return 1, None
    step = _step_ns(freq)
    if step:
        cycle, n, k = "day", _DAY_NS, step
    elif base in _CYCLES:
        (cycle, n), k = _CYCLES[base], freq_multiple(freq)
    else:
        return 1, None
    if n % k:
        return 1, f"{freq} steps do not divide a {cycle} evenly"
    return n // k, None


def cycle_phase(freq: str | None, season: int) -> Callable[[pd.Timestamp], int] | None:
    """The position of a date in its season of ``season`` steps, where the season is a calendar
    cycle (a day of sub-daily steps, a week of days, a year of months or quarters), else None
    (weekly data: a year is not a whole number of weeks)."""
    base, k = base_freq(freq), freq_multiple(freq)
    if season <= 1 or not base:
        return None
    step = _step_ns(freq)
    if step and natural_season(freq)[0] == season:
        return lambda t: int((t - t.normalize()).value // step) % season
    if base == "D" and k == 1 and season == 7:
        return lambda t: int(t.day_of_week)
    if base in ("MS", "M", "ME") and season * k == 12:
        return lambda t: ((t.month - 1) // k) % season
    if base in ("QS", "Q", "QE") and season * k == 4:
        return lambda t: ((t.quarter - 1) // k) % season
    return None


def freq_name(freq: str | None) -> str:
    """A frequency in words: 'monthly' for 'MS', '30-minute' for '30min', '2-month' for '2MS'."""
    unit = _UNITS.get(base_freq(freq) or "")
    if unit is None:
        return f"{freq}"
    k = freq_multiple(freq)
    return _ADJECTIVES.get(unit, f"per-{unit}") if k == 1 else f"{k}-{unit}"


def time_labels(times: Iterable[Any], freq: str | None, compact: bool = True) -> list[str]:
    """Times as text at the resolution of their frequency: the full timestamp for sub-daily data
    (with seconds where any has them), the date for daily and weekly data, the month for monthly
    and quarterly data, the year for yearly data; without a frequency the date, or the full
    timestamp where any time is not midnight. Whole numbers print without '.0' (2025, not 2025.0).
    ``compact=False`` (files) writes the date for monthly, quarterly and yearly data too, so the
    rows join back to the input's dates."""
    times = list(times)
    stamps = [t for t in times if isinstance(t, pd.Timestamp)]
    base = base_freq(freq)
    if not compact and (base in _MONTHLY or base in _QUARTERLY or base in _YEARLY):
        fmt = "%Y-%m-%d"
    elif base in _MONTHLY or base in _QUARTERLY:
        fmt = "%Y-%m"
    elif base in _YEARLY:
        fmt = "%Y"
    elif base in _CYCLES or base in ("D", "B", "C"):
        fmt = "%Y-%m-%d"
    elif base in _SUBDAILY or any(t != t.normalize() for t in stamps):
        fmt = "%Y-%m-%d %H:%M"
        if any(t.second for t in stamps) or base in ("s", "S"):
            fmt += ":%S"
        if any(t.microsecond or t.nanosecond for t in stamps) or base in ("ms", "L", "us", "U", "ns", "N"):
            fmt = None  # ISO with the fraction
        if fmt and any(t.tzinfo is not None for t in stamps):
            fmt += "%z"
    else:
        fmt = "%Y-%m-%d"
    out = []
    for t in times:
        if isinstance(t, pd.Timestamp):
            out.append(t.strftime(fmt) if fmt else t.isoformat(sep=" "))
        elif isinstance(t, (float, np.floating)) and float(t).is_integer():
            out.append(str(int(t)))
        else:
            out.append(str(t))
    return out


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
