"""Forecasting inputs: read, validate and normalise every accepted form into ``SeriesData``.

Accepted inputs (:func:`prepare`):

* a 1-D array or list of numbers (one univariate series, integer time steps);
* a pandas Series (its index is the time axis when it is a DatetimeIndex);
* a pandas DataFrame with a DatetimeIndex or a ``time`` column, a ``target`` column, optional
  ``covariates`` columns (past covariates: known up to the forecast origin only) and an optional
  ``series_id`` column (a long table holding several series);
* a list of any of the above (several series, one model over all);
* a CSV path (read with pandas, then treated as a DataFrame).

Every problem raises :class:`SeqlabError` with one line naming it: missing or empty file, unknown
column, non-numeric value, NaN or inf, unparseable or duplicated timestamps.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import SeqlabError


def infer_freq(index: pd.Index) -> str | None:
    """Frequency string of a regular DatetimeIndex ('MS', 'D', ...), else None."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 3:
        return None
    if index.freq is not None:
        return index.freqstr
    return pd.DatetimeIndex(index, freq="infer").freqstr


@dataclass
class SeriesData:
    """One series: ``target`` (T,), ``covariates`` (T, C) and an optional time index (T,)."""

    name: str
    target: np.ndarray
    covariates: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    time: pd.Index | None = None

    def __post_init__(self) -> None:
        self.target = np.asarray(self.target, dtype=np.float64)
        if self.covariates.size == 0:
            self.covariates = np.zeros((len(self.target), 0))

    def __len__(self) -> int:
        return len(self.target)

    @property
    def n_covariates(self) -> int:
        return self.covariates.shape[1]

    def head(self, n: int) -> "SeriesData":
        """The first ``n`` steps (the history up to a forecast origin)."""
        return SeriesData(self.name, self.target[:n], self.covariates[:n],
                          None if self.time is None else self.time[:n])

    def future_time(self, horizon: int) -> pd.Index:
        """Time stamps of the ``horizon`` steps after the end (integer steps when no frequency)."""
        t = self.time
        if isinstance(t, pd.DatetimeIndex) and len(t) >= 3:
            freq = infer_freq(t)
            if freq is not None:
                return pd.date_range(t[-1], periods=horizon + 1, freq=freq)[1:]
        start = len(self.target) if t is None or isinstance(t, pd.DatetimeIndex) else int(t[-1]) + 1
        return pd.RangeIndex(start, start + horizon)


def _check_numeric(values: Any, column: str, where: str) -> np.ndarray:
    """Column values as float64; SeqlabError naming the first non-numeric, NaN or inf value."""
    s = pd.Series(values)
    num = pd.to_numeric(s, errors="coerce")
    bad = num.isna() & s.notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SeqlabError(
            f"{where}: column {column!r} has a non-numeric value {s.iloc[i]!r} at row {i}; "
            "every value must be a number"
        )
    arr = num.to_numpy(dtype=np.float64)
    missing = ~np.isfinite(arr)
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        what = "a missing value (NaN)" if np.isnan(arr[i]) else f"an infinite value ({arr[i]})"
        raise SeqlabError(
            f"{where}: column {column!r} has {what} at row {i}; fill or drop it before forecasting"
        )
    return arr


def _parse_time(values: Any, column: str, where: str) -> pd.Index:
    s = pd.Series(values)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        idx = pd.Index(_check_numeric(s, column, where))
    else:
        parsed = pd.to_datetime(s.astype(str), errors="coerce", format="mixed")
        bad = parsed.isna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise SeqlabError(
                f"{where}: time column {column!r} has an unparseable timestamp {s.iloc[i]!r} at row {i}; "
                "use ISO dates like 2024-01-31"
            )
        idx = pd.DatetimeIndex(parsed)
    dup = idx.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise SeqlabError(
            f"{where}: time column {column!r} has a duplicated timestamp {idx[i]!s} (row {i}); "
            "each time step must appear once per series"
        )
    return idx


def _from_frame(df: pd.DataFrame, target: str | None, time: str | None, covariates: Sequence[str],
                series_id: str | None, where: str) -> list[SeriesData]:
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise SeqlabError(f"{where}: the table is empty (no rows); pass a file with a header and values")
    cols = [str(c) for c in df.columns]
    df = df.set_axis(cols, axis=1)
    if target is None:
        used = {time, series_id, *covariates}
        numeric = [c for c in cols if c not in used and pd.api.types.is_numeric_dtype(df[c])]
        if len(numeric) != 1:
            raise SeqlabError(
                f"{where}: target: could not guess the target column among {cols}; name it with --target COL"
            )
        target = numeric[0]
    for role, name in [("target", target), ("time", time), ("series id", series_id)] + [
            ("covariate", c) for c in covariates]:
        if name is not None and name not in cols:
            raise SeqlabError(f"{where}: {role} column {name!r} not found; the columns are {cols}")
    groups = [(str(k), g) for k, g in df.groupby(series_id, sort=False)] if series_id else [(target, df)]
    out = []
    for name, g in groups:
        gw = f"{where} (series {name!r})" if series_id else where
        if time is not None:
            idx = _parse_time(g[time].to_numpy(), time, gw)
        elif isinstance(g.index, pd.DatetimeIndex):
            idx = _parse_time(g.index, "index", gw)
        else:
            idx = None
        y = _check_numeric(g[target].to_numpy(), target, gw)
        X = (np.stack([_check_numeric(g[c].to_numpy(), c, gw) for c in covariates], 1)
             if covariates else np.zeros((len(y), 0)))  # (T, C)
        if idx is not None and not idx.is_monotonic_increasing:
            order = np.argsort(idx.to_numpy(), kind="stable")
            idx, y, X = idx[order], y[order], X[order]
        if isinstance(idx, pd.DatetimeIndex) and infer_freq(idx) is not None:
            idx = pd.DatetimeIndex(idx, freq="infer")
        out.append(SeriesData(name, y, X, idx))
    return out


def read_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV file; SeqlabError for a missing, unreadable or empty file."""
    p = Path(path)
    if not p.exists():
        raise SeqlabError(f"data: file {str(p)!r} does not exist; check the path given to --data")
    if p.is_dir():
        raise SeqlabError(f"data: {str(p)!r} is a folder; pass a CSV file to --data")
    if p.stat().st_size == 0:
        raise SeqlabError(f"data: file {str(p)!r} is empty; it needs a header row and values")
    try:
        df = pd.read_csv(p)
    except pd.errors.EmptyDataError:
        raise SeqlabError(f"data: file {str(p)!r} is empty; it needs a header row and values") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise SeqlabError(f"data: file {str(p)!r} is not a readable CSV: {str(exc).splitlines()[0]}") from None
    if df.shape[0] == 0:
        raise SeqlabError(f"data: file {str(p)!r} has a header but no rows of values")
    return df


def prepare(data: Any, target: str | None = None, time: str | None = None,
            covariates: Sequence[str] | None = None, series_id: str | None = None) -> list[SeriesData]:
    """Turn any accepted input (see the module docstring) into a list of validated series."""
    covariates = list(covariates or [])
    if isinstance(data, SeriesData):
        return [data]
    if isinstance(data, (str, os.PathLike)):
        return _from_frame(read_csv(data), target, time, covariates, series_id, f"data {str(data)!r}")
    if isinstance(data, pd.DataFrame):
        return _from_frame(data, target, time, covariates, series_id, "data")
    if isinstance(data, pd.Series):
        if covariates or series_id:
            raise SeqlabError("data: a pandas Series holds one target only; pass a DataFrame for covariates or series ids")
        name = str(data.name) if data.name is not None else "series"
        frame = data.to_frame(name)
        return _from_frame(frame, name, None, [], None, "data")
    if isinstance(data, (list, tuple)) and data and not np.isscalar(data[0]):
        out = []
        for i, item in enumerate(data):
            for s in prepare(item, target, time, covariates, series_id):
                s.name = s.name if s.name not in {o.name for o in out} else f"{s.name}_{i}"
                out.append(s)
        return out
    arr = np.asarray(data, dtype=object)
    if arr.ndim != 1 or arr.size == 0:
        raise SeqlabError(
            f"data: expected a 1-D sequence of numbers, a pandas Series/DataFrame, a CSV path or a list of "
            f"series, got {type(data).__name__} with shape {arr.shape}"
        )
    return [SeriesData("series", _check_numeric(arr, "values", "data"))]


def check_lengths(series: list[SeriesData], need: int, what: str) -> None:
    """SeqlabError when a series is shorter than ``need`` steps (``what`` explains the need)."""
    if not series:
        raise SeqlabError("data: no series given")
    for s in series:
        if len(s) < need:
            raise SeqlabError(
                f"data: series {s.name!r} has {len(s)} values, fewer than the {need} needed ({what}); "
                "use a smaller --lookback/--horizon or a longer series"
            )
    ncov = {s.n_covariates for s in series}
    if len(ncov) != 1:
        raise SeqlabError(f"data: every series needs the same covariates, got counts {sorted(ncov)}")
