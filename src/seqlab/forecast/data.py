"""Forecasting inputs: read, validate and normalise every accepted form into ``SeriesData``.

Accepted inputs (:func:`prepare`):

* a 1-D array or list of numbers (one univariate series, integer time steps);
* a pandas Series (its index is the time axis when it is a DatetimeIndex, or a PeriodIndex, read
  as the periods' start times);
* a pandas DataFrame with a DatetimeIndex (or PeriodIndex) or a ``time`` column, a ``target`` column, optional
  ``covariates`` columns (past covariates: known up to the forecast origin only),
  ``future_covariates`` columns (known for the horizon too: their rows may extend past the
  target's last value, with the target left empty there), ``static_covariates`` columns (one
  value per series: numbers or categories) and an optional ``series_id`` column (a long table
  holding several series);
* a list of any of the above (several series, one model over all);
* a CSV path (read with pandas, the series id column as text, then treated as a DataFrame), or a Monash ``.tsf`` file
  (:mod:`seqlab.forecast.tsf`).

Every problem raises :class:`SeqlabError` with one line naming it: missing or empty file, unknown
column, non-numeric value, NaN or inf, unparseable or duplicated timestamps, a series id with no
values, a static covariate that varies within a series, a future covariate with a gap, and
series of different frequencies in one panel. A value's row is its row in the table given (and,
for a CSV file, its line), not its position in its series.

``fill=`` ('interpolate', 'ffill', 'zero') inserts missing dates and fills missing values instead
of refusing them, and ``wide=True`` reads a table with one column per series
(:mod:`seqlab.forecast.fill`).
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import MAX_ABS, SeqlabError

FILL_HINT = "pass --fill interpolate|ffill|zero (fill= in Python) to fill missing values and dates"


def infer_freq(index: pd.Index) -> str | None:
    """Frequency string of a regular DatetimeIndex ('MS', 'D', ...), else None."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 3:
        return None
    if index.freq is not None:
        return index.freqstr
    return pd.DatetimeIndex(index, freq="infer").freqstr


@dataclass
class SeriesData:
    """One series: ``target`` (T,), past ``covariates`` (T, C), an optional time index (T,),
    known-future covariates ``future`` (T + E, Cf: E rows past the last target value), static
    covariates ``static`` (column -> value) and the panel's frequency ``freq`` (a pandas alias)."""

    name: str
    target: np.ndarray
    covariates: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    time: pd.Index | None = None
    future: np.ndarray | None = None
    static: dict[str, Any] = field(default_factory=dict)
    freq: str | None = None

    def __post_init__(self) -> None:
        self.target = np.asarray(self.target, dtype=np.float64)
        if self.covariates.size == 0:
            self.covariates = np.zeros((len(self.target), 0))
        if self.future is None or self.future.size == 0:
            self.future = np.zeros((len(self.target), 0))
        if self.freq is None and isinstance(self.time, pd.DatetimeIndex):
            self.freq = infer_freq(self.time)

    def __len__(self) -> int:
        return len(self.target)

    @property
    def n_covariates(self) -> int:
        return self.covariates.shape[1]

    @property
    def n_future(self) -> int:
        return self.future.shape[1]

    @property
    def known_ahead(self) -> int:
        """Steps past the last target value for which the future covariates are given."""
        return len(self.future) - len(self.target) if self.n_future else 10**9

    def head(self, n: int) -> "SeriesData":
        """The first ``n`` steps (the history up to a forecast origin). Known-future covariates
        keep their rows after ``n``: they are known in advance by definition."""
        return SeriesData(self.name, self.target[:n], self.covariates[:n],
                          None if self.time is None else self.time[:n], self.future, dict(self.static), self.freq)

    def all_time(self, extra: int) -> pd.Index | None:
        """The time stamps of the series and the ``extra`` steps after it (None without dates)."""
        if not isinstance(self.time, pd.DatetimeIndex) or self.freq is None or len(self.time) == 0:
            return None
        return pd.date_range(self.time[0], periods=len(self.time) + extra, freq=self.freq)

    def future_time(self, horizon: int) -> pd.Index:
        """Time stamps of the ``horizon`` steps after the end (integer steps when no frequency)."""
        t = self.time
        if isinstance(t, pd.DatetimeIndex) and len(t) >= 1 and self.freq is not None:
            return pd.date_range(t[-1], periods=horizon + 1, freq=self.freq)[1:]
        if t is None or isinstance(t, pd.DatetimeIndex) or len(t) == 0:
            return pd.RangeIndex(len(self.target), len(self.target) + horizon)
        step = t[-1] - t[-2] if len(t) >= 2 else 1  # a numeric time column's (regular) step
        if float(step).is_integer() and float(t[-1]).is_integer():
            last, step = int(t[-1]), int(step)
            return pd.RangeIndex(last + step, last + step * (horizon + 1), step)
        return pd.Index(float(t[-1]) + float(step) * np.arange(1, horizon + 1))


def _row(i: int) -> str:
    return f"row {i}"


def _check_numeric(values: Any, column: str, where: str, at: Callable[[int], str] = _row,
                   hint: str | None = None) -> np.ndarray:
    """Column values as float64; SeqlabError naming the first non-numeric, NaN or inf value
    (``at(i)`` names the table row of value ``i``; ``hint``: what else a NaN could be met with)."""
    s = pd.Series(values)
    num = pd.to_numeric(s, errors="coerce")
    bad = num.isna() & s.notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SeqlabError(
            f"{where}: column {column!r} has a non-numeric value {s.iloc[i]!r} at {at(i)}; "
            "every value must be a number"
        )
    arr = num.to_numpy(dtype=np.float64)
    missing = ~np.isfinite(arr)
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        what = "a missing value (NaN)" if np.isnan(arr[i]) else f"an infinite value ({arr[i]})"
        raise SeqlabError(
            f"{where}: column {column!r} has {what} at {at(i)}; fill or drop it before forecasting"
            + (f", or {hint}" if hint and np.isnan(arr[i]) else "")
        )
    huge = np.abs(arr) > MAX_ABS
    if huge.any():
        i = int(np.flatnonzero(huge)[0])
        raise SeqlabError(f"{where}: column {column!r} has the value {arr[i]:g} at {at(i)}, beyond the {MAX_ABS:g} "
                          "a forecast can compute with (squares and sums would overflow); rescale the column")
    return arr


_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
# pandas holds nanosecond timestamps: the dates it can hold
_FIRST, _LAST = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")


def _to_datetime(s: pd.Series, column: str, where: str) -> tuple[pd.Series, pd.Series | None]:
    """Timestamps (NaT where unparseable) and, for text whose UTC offsets differ from row to row
    (a local time across a daylight-saving change), the local wall-clock times (the offsets left
    out; else None). Offsets that differ are read as UTC instants; a column mixing timestamps with
    and without an offset is refused, as it has no single meaning."""
    if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s):
        return s, None
    text = s.astype(str).str.strip()
    try:
        with warnings.catch_warnings():  # pandas 2 warns (FutureWarning) where pandas 3 raises on mixed offsets
            warnings.simplefilter("error", FutureWarning)
            return pd.to_datetime(text, errors="coerce", format="mixed"), None
    except (ValueError, TypeError, OverflowError, FutureWarning) as exc:
        aware = text.str.contains(_OFFSET)
        if not aware.all() and aware.any():
            i = int(np.flatnonzero(~aware.to_numpy())[0])
            raise SeqlabError(f"{where}: time column {column!r} mixes timestamps with and without a time zone "
                              f"(row {i}: {s.iloc[i]!r}); give every timestamp an offset, or none") from None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                utc = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
                wall = pd.to_datetime(text.str.replace(_OFFSET, "", regex=True), errors="coerce", format="mixed")
            return utc, wall
        except (ValueError, TypeError, OverflowError):
            raise SeqlabError(f"{where}: time column {column!r} cannot be read as timestamps: "
                              f"{str(exc).splitlines()[0]}") from None


def _out_of_range(text: str) -> bool:
    """Whether ``text`` is a date that pandas cannot hold (before 1677 or after 2262)."""
    from dateutil import parser

    try:
        d = parser.parse(text)
    except (ValueError, OverflowError, TypeError):
        m = re.match(r"\s*([+-]?\d{5,})-\d", text)  # a year of five digits or more
        return bool(m)
    return not (_FIRST.year < d.year < _LAST.year)


# time zones tried, in this order, for times whose UTC offsets change (see :func:`_zoned`)
_REGIONS = ("Europe/", "America/", "Asia/", "Australia/", "Pacific/", "Africa/", "Atlantic/", "Indian/")


def _zone_of(utc: pd.DatetimeIndex, offsets: np.ndarray) -> str | None:
    """A time zone (an IANA name) whose UTC offsets at the instants ``utc`` are ``offsets``
    (nanoseconds), else None. Checked at the first and last time, on both sides of each change of
    offset and at up to 200 times between."""
    import zoneinfo

    n = len(utc)
    change = np.flatnonzero(np.diff(offsets) != 0)
    at = np.unique(np.concatenate([[0, n - 1], change, change + 1,
                                   np.linspace(0, n - 1, min(n, 200)).round().astype(int)]))
    sample, want = utc[at], offsets[at]
    naive = sample.tz_localize(None).asi8

    def rank(z: str) -> tuple[int, str]:  # the regions in _REGIONS' order, then the rest
        return next((i for i, r in enumerate(_REGIONS) if z.startswith(r)), len(_REGIONS)), z

    names = sorted(zoneinfo.available_timezones(), key=rank)
    for name in names:
        try:
            got = sample.tz_convert(name).tz_localize(None).asi8 - naive
        except (ValueError, TypeError, KeyError, OSError):
            continue
        if np.array_equal(got, want):
            return name
    return None


def _zoned(idx: pd.DatetimeIndex, wall: pd.DatetimeIndex | None, column: str, where: str) -> pd.DatetimeIndex:
    """Times that carry a time zone or UTC offsets, read at their wall-clock meaning.

    Dates at one time of day (daily, weekly, monthly ... data): their local calendar dates, without
    the zone. Sub-daily times: kept as instants in the input's zone, so a daylight-saving change is
    neither a gap nor a duplicate and every time is written with the input's offset: one offset
    (or a pandas time zone) as given; offsets that change (text with them) in a time zone whose
    offsets match them at every time (SeqlabError when none does)."""
    local = wall if wall is not None else idx.tz_localize(None)
    if len(local) == 0 or (local - local.normalize()).nunique() <= 1:
        return pd.DatetimeIndex(local)  # the local calendar dates
    if wall is None:
        return idx  # one offset, or a pandas time zone: pandas steps across its changes
    offsets = local.asi8 - idx.tz_localize(None).asi8
    if (offsets == offsets[0]).all():
        import datetime as dt

        return idx.tz_convert(dt.timezone(dt.timedelta(microseconds=int(offsets[0]) // 1000)))
    zone = _zone_of(idx, offsets)
    if zone is None:
        shown = ", ".join(f"{o / 3.6e12:+g}h" for o in pd.unique(offsets)[:4])
        raise SeqlabError(f"{where}: time column {column!r}: its UTC offsets ({shown}) change in a way no time "
                          "zone's do, so the times have no one local meaning; give the times in UTC (or all with "
                          "one offset)")
    return idx.tz_convert(zone)


def _parse_time(values: Any, column: str, where: str, check_duplicates: bool = True,
                at: Callable[[int], str] = _row) -> pd.Index:
    s = pd.Series(values)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        idx = pd.Index(_check_numeric(s, column, where, at))
    else:
        parsed, wall = _to_datetime(s, column, where)
        bad = parsed.isna().to_numpy() | (np.zeros(len(s), bool) if wall is None else wall.isna().to_numpy())
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            text = str(s.iloc[i]).strip()
            if _out_of_range(text):
                raise SeqlabError(
                    f"{where}: time column {column!r} has the date {s.iloc[i]!r} at {at(i)}, outside the dates pandas "
                    f"can hold ({_FIRST.date()} to {_LAST.date()}, years 1677-2262); give dates in that range "
                    "(shift the years), or numbers (e.g. the year as a number) for the time column")
            raise SeqlabError(
                f"{where}: time column {column!r} has an unparseable timestamp {s.iloc[i]!r} at {at(i)}; "
                "use ISO dates like 2024-01-31"
            )
        idx = pd.DatetimeIndex(parsed)
        if idx.tz is not None:
            idx = _zoned(idx, None if wall is None else pd.DatetimeIndex(wall), column, where)
    dup = idx.duplicated() if check_duplicates else np.zeros(len(idx), bool)
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise SeqlabError(
            f"{where}: time column {column!r} has a duplicated timestamp {idx[i]!s} ({at(i)}); "
            "each time step must appear once per series"
        )
    return idx


def _dates_at_rest(df: pd.DataFrame, used: set, where: str) -> list[str]:
    """Notes for the columns of ``df`` outside ``used`` that hold dates (text that parses as
    timestamps, with a date separator, on every one of the first 20 filled rows): a table run
    without a time column would silently take its series as undated."""
    from .fill import looks_dated

    notes = []
    for c in df.columns:
        if c in used or pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]):
            continue
        if (isinstance(df[c].dtype, (pd.DatetimeTZDtype, pd.PeriodDtype)) or pd.api.types.is_datetime64_dtype(df[c])
                or looks_dated(df[c])):
            notes.append(f"{where}: column {c!r} holds dates but no time column was given, so the series are "
                         f"taken as undated (no season from the dates, no calendar features, forecast steps "
                         f"numbered); pass --time {c} (time={c!r} in Python) to use them")
    return notes


def _from_frame(df: pd.DataFrame, target: str | None, time: str | None, covariates: Sequence[str],
                series_id: str | None, where: str, future: Sequence[str] = (),
                static: Sequence[str] = (), notes: list[str] | None = None, fill: str | None = None,
                wide: bool = False, file: bool = False) -> list[SeriesData]:
    """The series of table ``df`` (see :func:`prepare`). ``file``: ``df`` was read from a CSV file,
    so messages give the file's line of a row too (the header is line 1, one line per row)."""
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise SeqlabError(f"{where}: the table is empty (no rows); pass a file with a header and values")
    if fill is not None:
        from .fill import check_method

        check_method(fill)
    cols = [str(c) for c in df.columns]
    df = df.set_axis(cols, axis=1)
    if isinstance(df.index, pd.PeriodIndex):  # statsmodels' and sktime's data sets: periods are dates
        df = df.set_axis(df.index.to_timestamp(), axis=0)
    if time is not None and time in cols and isinstance(df[time].dtype, pd.PeriodDtype):
        df = df.assign(**{time: df[time].dt.to_timestamp()})
    rowmap: np.ndarray | None = None  # the row of the table given, for each row of df (-1: inserted by fill)

    def row(i: int) -> str:  # row i of df, named by its row in the table given (and its line in the file)
        r = i if rowmap is None else int(rowmap[i])
        return "a row inserted by --fill" if r < 0 else f"row {r}" + (f" (line {r + 2} of the file)" if file else "")

    if wide:
        df, rowmap, series_id, target = _melt(df, cols, target, time, covariates, series_id, future, static, where,
                                              row, notes)
        cols = [str(c) for c in df.columns]
    if target is None:
        used = {time, series_id, *covariates, *future, *static}
        numeric = [c for c in cols if c not in used and pd.api.types.is_numeric_dtype(df[c])]
        if len(numeric) != 1:
            raise SeqlabError(
                f"{where}: target: could not guess the target column among {cols}; name it with --target COL"
                + (", or pass --wide (wide=True in Python) when each numeric column is one series"
                   if len(numeric) > 1 and series_id is None else "")
            )
        target = numeric[0]
    roles = [("target", target), ("time", time), ("series id", series_id)] + [("covariate", c) for c in covariates] \
        + [("future covariate", c) for c in future] + [("static covariate", c) for c in static]
    for role, name in roles:
        if name is not None and name not in cols:
            raise SeqlabError(f"{where}: {role} column {name!r} not found; the columns are {cols}")
    if series_id:
        missing_id = df[series_id].isna().to_numpy()
        if missing_id.any():
            i = int(np.flatnonzero(missing_id)[0])
            raise SeqlabError(f"{where}: series id column {series_id!r} is empty at {row(i)}; every row needs a series "
                              "id")
    # whole columns are parsed and checked once; each series then takes its rows
    where_rows = f"{where}" if not series_id else f"{where}"
    if time is not None:
        times = _parse_time(df[time].to_numpy(), time, where_rows, check_duplicates=False, at=row)
    elif isinstance(df.index, pd.DatetimeIndex):
        times = _parse_time(df.index, "index", where_rows, check_duplicates=False, at=row)
    else:
        times = None
        if notes is not None:
            notes += _dates_at_rest(df, {target, series_id, *covariates, *future, *static}, where)
    y_raw = df[target]
    y_all = pd.to_numeric(y_raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(y_all) & y_raw.notna().to_numpy()
    if bad.any():
        _check_numeric(y_raw.to_numpy(), target, where, row)  # names the first non-numeric value
    cov_all = {c: pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64) for c in covariates}
    fut_all = {c: pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64) for c in future}
    for c in [*covariates, *future]:
        b = (np.isnan(cov_all.get(c, fut_all.get(c))) & df[c].notna().to_numpy())
        if b.any():
            _check_numeric(df[c].to_numpy(), c, where, row)
    if fill is not None:
        from .fill import fill_panel

        table = pd.DataFrame({target: y_all, **cov_all, **fut_all})
        for c in [series_id, *static]:
            if c:
                table[c] = df[c].to_numpy()
        table, times, src, report = fill_panel(table, times, series_id, target, covariates, future, static, fill,
                                               where, row, time or "index")
        rowmap = src if rowmap is None else np.where(src >= 0, rowmap[np.maximum(src, 0)], -1)
        df = table
        y_all = table[target].to_numpy(dtype=np.float64)
        cov_all = {c: table[c].to_numpy(dtype=np.float64) for c in covariates}
        fut_all = {c: table[c].to_numpy(dtype=np.float64) for c in future}
        if notes is not None:
            notes.append(f"{where}: {report.note()}")
    hint = None if fill is not None else FILL_HINT
    if series_id:
        positions = [(str(k), np.asarray(v)) for k, v in df.groupby(series_id, sort=False).indices.items()]
    else:
        positions = [(target, np.arange(len(df)))]
    out = []
    for name, pos in positions:
        gw = f"{where} (series {name!r})" if series_id else where
        idx = None
        if times is not None:
            idx = times[pos]
            if not idx.is_monotonic_increasing:
                order = np.argsort(idx.to_numpy(), kind="stable")
                idx, pos = idx[order], pos[order]
            dup = idx.duplicated()
            if dup.any():
                i = int(np.flatnonzero(dup)[0])
                raise SeqlabError(
                    f"{gw}: time column {time or 'index'!r} has a duplicated timestamp {idx[i]!s} at {row(pos[i])}; "
                    "each time step must appear once per series")
        yv = y_all[pos]
        present = ~np.isnan(yv)
        if not present.any():
            raise SeqlabError(f"{where}: series {name!r} has no values of {target!r}; drop its rows or fill them")
        n = int(np.flatnonzero(present)[-1]) + 1 if future else len(pos)
        at = lambda i, pos=pos: row(int(pos[i]))  # noqa: E731  (value i of the series: its table row)
        y = _check_numeric(yv[:n], name if wide else target, gw, at, hint)  # wide: the series' own column
        X = np.stack([_check_numeric(cov_all[c][pos][:n], c, gw, at, hint) for c in covariates], 1) if covariates \
            else np.zeros((n, 0))  # (T, C)
        F = np.stack([_check_future(fut_all[c][pos], c, gw, n, at, hint) for c in future], 1) if future \
            else np.zeros((n, 0))  # (T + E, Cf)
        st = {}
        for c in static:
            vals = pd.unique(df[c].to_numpy()[pos])
            vals = [v for v in vals if not (isinstance(v, float) and np.isnan(v))]
            if len(vals) != 1:
                shown = ", ".join(repr(v) for v in list(vals)[:3])
                raise SeqlabError(f"{where}: static covariate {c!r} varies within series {name!r} ({shown}); a "
                                  "static covariate takes one value per series" if len(vals) else
                                  f"{where}: static covariate {c!r} is empty for series {name!r}; give it one value")
            v = vals[0]
            st[c] = float(v) if isinstance(v, (int, float, np.number)) and not isinstance(v, bool) else str(v)
        if idx is not None:
            idx = idx[:n]
        out.append(SeriesData(name, y, X, idx, F, st))
    check_frequencies(out, where, time or "index")
    return out


def _melt(df: pd.DataFrame, cols: list[str], target: str | None, time: str | None, covariates: Sequence[str],
          series_id: str | None, future: Sequence[str], static: Sequence[str], where: str,
          row: Callable[[int], str], notes: list[str] | None) -> tuple[pd.DataFrame, np.ndarray, str, str]:
    """A wide table (``wide=True``) in the long form: (the long table, the row each of its rows
    came from, its series id column, its target column); see :func:`seqlab.forecast.fill.melt_wide`."""
    from .fill import melt_wide

    for option, given in (("--target", target), ("--series-id", series_id), ("--covariates", covariates),
                          ("--future-covariates", future), ("--static-covariates", static)):
        if given:
            raise SeqlabError(f"--wide: a wide table has one column per series (the column name is the series id) "
                              f"and no other columns, so {option} does not apply; drop {option}, or drop --wide to "
                              "read a long table")
    if time is not None and time not in cols:
        raise SeqlabError(f"{where}: time column {time!r} not found; the columns are {cols}")
    sid, value = "series", "value"
    while sid == time:
        sid = "_" + sid
    long, rows, names = melt_wide(df, time, where, row, sid, value)
    if notes is not None:
        shown = ", ".join(repr(c) for c in names[:5]) + (" ..." if len(names) > 5 else "")
        left = len(df) * len(names) - len(long)
        notes.append(f"{where}: --wide: {len(names)} column(s) read as series ({shown})"
                     + (f"; {left} empty cell(s) before a column's first value or after its last are not part of its "
                        "series" if left else ""))
    return long, rows, sid, value


def _check_future(values: Any, column: str, where: str, n: int, at: Callable[[int], str] = _row,
                  hint: str | None = None) -> np.ndarray:
    """A known-future covariate: numbers on every row, the rows past the last target value included
    (``at(i)`` names the table row of value ``i``; ``hint``: what else could fill a gap)."""
    s = pd.Series(values)
    num = pd.to_numeric(s, errors="coerce")
    bad = num.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        when = "of the history" if i < n else f"of the horizon (step {i - n + 1} after the last target value)"
        raise SeqlabError(f"{where}: future covariate {column!r} is missing at {at(i)} {when}; a known-future "
                          "covariate needs a value at every step, the horizon included"
                          + (f"; {hint}" if hint else ""))
    return num.to_numpy(dtype=np.float64)


def _gap_hint(times: pd.DatetimeIndex, freq: str | None, time_name: str) -> str | None:
    """How to fill the gaps of ``times`` when they lie on the grid of ``freq`` (default: the one
    :func:`seqlab.forecast.fill.regular_freq` finds): None when they lie on no regular grid."""
    from .fill import _on_grid, regular_freq

    freq = freq or regular_freq([times])
    size = _on_grid(times, freq) if freq else None
    if size is None:
        return None
    return (f"{size - len(times)} {freq} date(s) are missing between them: pass --fill interpolate|ffill|zero "
            f"(fill= in Python) to insert them and fill their values, or fill them with pandas: "
            f"df.set_index({time_name!r}).asfreq({freq!r}), then fill or interpolate the values")


def check_frequencies(series: Sequence[SeriesData], where: str = "data", time_name: str = "TIME") -> str | None:
    """The one frequency of a panel of dated series (None without dates); SeqlabError for series
    of different frequencies or a series whose dates do not follow the panel's frequency (with
    how to fill the gaps, when its dates lie on a regular grid: ``time_name`` is the time column
    the hint names)."""
    freqs = {s.freq for s in series if isinstance(s.time, pd.DatetimeIndex) and s.freq is not None}
    if len(freqs) > 1:
        by = {}
        for s in series:
            if s.freq is not None:
                by.setdefault(s.freq, s.name)
        shown = ", ".join(f"{f} (series {n!r})" for f, n in list(by.items())[:3])
        raise SeqlabError(f"{where}: the series have different frequencies: {shown}; forecast each frequency "
                          "separately")
    freq = next(iter(freqs), None)
    for s in series:
        if freq is None or not isinstance(s.time, pd.DatetimeIndex):
            continue
        if s.freq is None:
            expect = pd.date_range(s.time[0], periods=len(s.time), freq=freq)
            if len(s.time) > 1 and not expect.equals(pd.DatetimeIndex(s.time)):
                hint = _gap_hint(pd.DatetimeIndex(s.time), freq, time_name)
                raise SeqlabError(f"{where}: series {s.name!r} does not follow the panel's frequency {freq} (its "
                                  "time steps are irregular or of another frequency); "
                                  + (hint if hint else "fix its dates"))
            s.freq = freq
            if len(s.time):
                s.time = pd.date_range(s.time[0], periods=len(s.time), freq=freq)
    for s in series:  # dates that follow no frequency: the forecast could not be dated (nor seasons found)
        if isinstance(s.time, pd.DatetimeIndex) and s.freq is None and len(s.time) >= 3:
            who = f" series {s.name!r}:" if len(series) > 1 else ""
            hint = _gap_hint(s.time, None, time_name)
            raise SeqlabError(
                f"{where}:{who} its {len(s.time)} dates from {s.time[0].date()} to {s.time[-1].date()} follow no "
                "one frequency (a missing, extra or shifted date); "
                + (hint or "give every step once (the dates lie on no one regular grid, so --fill cannot tell the "
                            "missing ones either)"))
    for s in series:  # a numeric time column: one constant step, which the forecast's labels continue
        t = s.time
        if t is not None and not isinstance(t, pd.DatetimeIndex) and len(t) >= 3:
            d = np.diff(np.asarray(t, dtype=np.float64))
            if not np.allclose(d, d[0], rtol=1e-9, atol=0):
                i = int(np.flatnonzero(~np.isclose(d, d[0], rtol=1e-9, atol=0))[0])
                who = f" series {s.name!r}:" if len(series) > 1 else ""
                raise SeqlabError(
                    f"{where}:{who} its numeric time steps are not regular ({t[0]:g}, {t[1]:g}, ... then {t[i]:g} "
                    f"to {t[i + 1]:g}); give one constant step, or leave out the time column to number the rows")
    return freq


def read_csv(path: str | os.PathLike, sep: str | None = ",", text_columns: Sequence[str] = ()) -> pd.DataFrame:
    """Read a CSV file through the read boundary (:func:`seqlab.files.read_csv`: a regular file of
    a sane size, gzip-compressed or not, a byte-order mark or CRLF line ends are fine, fields
    separated by ``sep``); SeqlabError for a missing, unreadable, ragged or empty file.
    ``text_columns`` are read as text, as written: series ids like 00001 keep their zeros."""
    from ..files import read_csv as read

    text = [c for c in text_columns if c]
    return read(path, "--data", sep, dtype={c: str for c in text}) if text else read(path, "--data", sep)


def prepare(data: Any, target: str | None = None, time: str | None = None,
            covariates: Sequence[str] | None = None, series_id: str | None = None,
            future_covariates: Sequence[str] | None = None,
            static_covariates: Sequence[str] | None = None, sep: str | None = ",",
            notes: list[str] | None = None, fill: str | None = None, wide: bool = False) -> list[SeriesData]:
    """Turn any accepted input (see the module docstring) into a list of validated series
    (``sep``: the separator of a CSV file). ``notes``, a list, receives a note for each column of
    a table without a time column that holds dates (see :func:`_dates_at_rest`), and what
    ``fill`` and ``wide`` did.

    ``fill``: None (missing values and dates are refused) or 'interpolate', 'ffill', 'zero':
    insert each series' missing dates of the data's frequency and fill the missing values (see
    :mod:`seqlab.forecast.fill`). ``wide``: a table with a time column (or index) and one column
    per series, the column names the series ids, read as :func:`pandas.melt` would give it."""
    covariates = list(covariates or [])
    extra = dict(future=list(future_covariates or []), static=list(static_covariates or []), notes=notes,
                 fill=fill, wide=wide)
    if isinstance(data, SeriesData):
        return [data]
    if isinstance(data, (str, os.PathLike)) and str(data).lower().endswith(".tsf"):
        from .tsf import read_tsf

        frame = read_tsf(data)
        if wide:
            raise SeqlabError("--wide: a Monash .tsf file holds its series in the long form already; drop --wide")
        return _from_frame(frame.table, target or "value", time or "time", covariates, series_id or "series",
                           f"data {str(data)!r}", **extra)
    if isinstance(data, (str, os.PathLike)):
        return _from_frame(read_csv(data, sep, [series_id] if series_id else []), target, time, covariates,
                           series_id, f"data {str(data)!r}", file=True, **extra)
    if isinstance(data, pd.DataFrame):
        return _from_frame(data, target, time, covariates, series_id, "data", **extra)
    if isinstance(data, pd.Series):
        if covariates or series_id:
            raise SeqlabError("data: a pandas Series holds one target only; pass a DataFrame for covariates or series ids")
        name = str(data.name) if data.name is not None else "series"
        frame = data.to_frame(name)
        if wide:
            raise SeqlabError("--wide: a pandas Series holds one series; pass a DataFrame with one column per series")
        return _from_frame(frame, name, None, [], None, "data", notes=notes, fill=fill)
    if isinstance(data, (list, tuple)) and data and not np.isscalar(data[0]):
        out = []
        for i, item in enumerate(data):
            for s in prepare(item, target, time, covariates, series_id, extra["future"], extra["static"],
                             notes=notes, fill=fill, wide=wide):
                s.name = s.name if s.name not in {o.name for o in out} else f"{s.name}_{i}"
                out.append(s)
        check_frequencies(out)
        return out
    arr = np.asarray(data, dtype=object)
    if arr.ndim != 1 or arr.size == 0:
        raise SeqlabError(
            f"data: expected a 1-D sequence of numbers, a pandas Series/DataFrame, a CSV path or a list of "
            f"series, got {type(data).__name__} with shape {arr.shape}"
        )
    if fill is not None:
        return _from_frame(pd.DataFrame({"series": arr}), "series", None, [], None, "data", notes=notes, fill=fill)
    return [SeriesData("series", _check_numeric(arr, "values", "data", hint=FILL_HINT))]


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
    check_same_covariates(series)


def check_same_covariates(series: Sequence[SeriesData]) -> None:
    """SeqlabError unless every series has the same numbers of past, future and static covariates."""
    if not series:
        raise SeqlabError("data: no series given")
    for what, counts in (("past covariates", {s.n_covariates for s in series}),
                         ("future covariates", {s.n_future for s in series}),
                         ("static covariates", {len(s.static) for s in series})):
        if len(counts) != 1:
            raise SeqlabError(f"data: every series needs the same {what}, got counts {sorted(counts)}")
