"""Missing dates and values, and wide tables: turned into the regular long panel that
:func:`seqlab.forecast.data.prepare` validates (``fill=`` and ``wide=`` there, ``--fill`` and
``--wide`` on the command line).

:func:`regular_freq` finds the one frequency on whose grid every series' dates lie (the one that
needs the fewest dates inserted); :func:`fill_panel` inserts each series' missing dates between its
own first and last date and fills its missing values; :func:`melt_wide` turns a table with one
column per series into the long form (``pandas.melt``), each column's empty cells before its first
value and after its last left out.

What is filled, per series:

* the target, on the rows up to its last value (the rows after it, with known-future covariates,
  are the horizon: never filled, so the forecast still starts there);
* past covariates, on the same rows;
* known-future covariates, on every row of the series, the horizon's included, each column from
  its own values only (never from the target);
* static covariates: the series' one value, on inserted rows.

Methods: ``interpolate`` (linear in time: by the dates, or by a numeric time column, else by
position; the edges take the nearest value), ``ffill`` (the last value before; a leading gap the
first value after), ``zero`` (0, for sales and demand: nothing sold).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import SeqlabError
from .features import same_offset

FILL_METHODS = ("interpolate", "ffill", "zero")


def check_method(method: str) -> str:
    """``method`` when it is one of :data:`FILL_METHODS`; SeqlabError otherwise."""
    if method not in FILL_METHODS:
        raise SeqlabError(f"--fill: expected one of {', '.join(FILL_METHODS)}, got {method!r}; e.g. --fill "
                          "interpolate")
    return method


@dataclass
class FillReport:
    """What :func:`fill_panel` did: per series, the dates inserted and the values filled (target
    and covariates); ``freq``: the frequency of the inserted dates (a pandas alias, or the numeric
    step as text; None for undated series)."""

    method: str
    freq: str | None = None
    inserted: dict[str, int] = field(default_factory=dict)
    filled: dict[str, int] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per series: ``series``, ``dates inserted``, ``values filled``."""
        return pd.DataFrame({"series": list(self.inserted), "dates inserted": list(self.inserted.values()),
                             "values filled": [self.filled[k] for k in self.inserted]})

    def note(self, shown: int = 5) -> str:
        """One line: the totals, and the counts of the first ``shown`` series touched."""
        touched = [k for k in self.inserted if self.inserted[k] or self.filled[k]]
        freq = f" {self.freq}" if self.freq else ""
        head = (f"--fill {self.method}: {sum(self.inserted.values())} missing{freq} date(s) inserted and "
                f"{sum(self.filled.values())} value(s) filled")
        if not touched:
            return head + "; nothing was missing"
        per = ", ".join(f"{k!r} {self.inserted[k]} date(s), {self.filled[k]} value(s)" for k in touched[:shown])
        return (head + f" in {len(touched)} of {len(self.inserted)} series ({per}"
                + (" ..." if len(touched) > shown else "") + ")")


#: --fill inserts at most this many times the rows present, and at most MAX_FILLED rows in all
FILL_RATIO, MAX_FILLED = 10, 10_000_000


def _grid_estimate(first: pd.Timestamp, last: pd.Timestamp, alias: str) -> int:
    """About the size of ``alias``'s grid from ``first`` to ``last`` (exact for fixed steps),
    computed without building it."""
    off = pd.tseries.frequencies.to_offset(alias)
    span = (last - first).value
    try:
        step = off.nanos  # a fixed step (hours, minutes, days ...)
    except ValueError:
        step = ((first + off) - first).value or 1  # a calendar step (months, years ...): about its first
    return int(span // max(1, step)) + 1


def _on_grid(times: pd.DatetimeIndex, alias: str) -> int | None:
    """The size of ``alias``'s grid from the first to the last of ``times``, when every time lies
    on it; else None. A grid larger than :data:`MAX_FILLED` is not built: its estimated size is
    returned (too many dates to insert, whether or not the times lie on it)."""
    if len(times) < 2:
        return len(times)
    try:
        size = _grid_estimate(times[0], times[-1], alias)
        if size > MAX_FILLED:
            return size
        grid = pd.date_range(times[0], times[-1], freq=alias)
    except (ValueError, TypeError, OverflowError):
        return None
    return len(grid) if len(grid) and times.isin(grid).all() else None


# common frequencies, coarsest first: the first whose grid holds the dates needs the fewest inserted
_COMMON = ("YS", "YE", "QS", "QE", "MS", "ME", *(f"W-{d}" for d in ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
           "B", "D", "h", "min", "s")


def regular_freq(times: Sequence[pd.DatetimeIndex], sample: int = 30) -> str | None:
    """The frequency (a pandas alias) on whose grid the sorted dates of every series lie, the one
    that needs the fewest dates inserted; None when none does. Candidates: each regular series'
    own frequency, and those of runs of three consecutive dates of the others; without any, the
    coarsest common frequency (yearly ... secondly) whose grid holds them, where they fill at
    least half of it (any midnight dates lie on the daily grid: sparse ones are not a gap)."""
    seen: Counter = Counter()
    irregular = []
    for t in times:
        if len(t) < 3:
            continue
        f = pd.infer_freq(t)
        if f:
            seen[f] += 1
        else:
            irregular.append(t)
    for t in irregular[:20]:
        starts = np.unique(np.linspace(0, len(t) - 3, min(sample, len(t) - 2)).round().astype(int))
        for i in starts:
            try:
                f = pd.infer_freq(t[i : i + 3])
            except (ValueError, TypeError):
                f = None
            if f:
                seen[f] += 1
    best, best_size = None, None
    for alias, _ in seen.most_common():
        sizes = [_on_grid(t, alias) for t in times]
        if any(s is None for s in sizes):
            continue
        if best_size is None or sum(sizes) < best_size:
            best, best_size = alias, sum(sizes)
    if best is None:  # too few dates in a row to infer one (Jan, Mar, Apr): the coarsest common grid that holds them
        for alias in _COMMON:
            sizes = [_on_grid(t, alias) for t in times]
            if all(n is not None for n in sizes):  # and the dates hold at least half of its grid
                return alias if sum(sizes) <= 2 * sum(len(t) for t in times) else None
    return best


def _numeric_step(times: Sequence[np.ndarray]) -> float | None:
    """The step of numeric times: the smallest positive difference, when every time lies on its
    grid from the series' first; else None."""
    diffs = np.concatenate([np.diff(t) for t in times if len(t) >= 2] or [np.zeros(0)])
    diffs = diffs[diffs > 0]
    if not len(diffs):
        return None
    step = float(diffs.min())
    for t in times:
        k = (np.asarray(t, dtype=np.float64) - t[0]) / step
        if not np.allclose(k, np.round(k), rtol=0, atol=1e-9):
            return None
    return step


def _fill(s: pd.Series, method: str) -> pd.Series:
    """``s`` with its NaNs filled by ``method`` (see the module docstring); an empty ``s`` as is."""
    if not s.notna().any():
        return s
    if method == "zero":
        return s.fillna(0.0)
    if method == "ffill":
        return s.ffill().bfill()
    how = "time" if isinstance(s.index, pd.DatetimeIndex) else "index" if s.index.dtype.kind in "fiu" else "linear"
    return s.interpolate(method=how, limit_direction="both")


def _check_one_frequency(per: list, series_id: str | None, where: str) -> None:
    """SeqlabError when two series have regular dates of different frequencies (a monthly and a
    daily series): --fill inserts the dates of one frequency, and would turn the coarser series
    into the finer one."""
    by: dict[str, str] = {}
    for key, _, t in per:
        f = pd.infer_freq(t) if len(t) >= 3 else None
        if f and not any(same_offset(f, g) for g in by):
            by[f] = str(key) if series_id else "series"
    if len(by) > 1:
        shown = ", ".join(f"{f} (series {n!r})" for f, n in list(by.items())[:3])
        raise SeqlabError(f"{where}: the series have different frequencies: {shown}; --fill inserts the missing "
                          "dates of one frequency and would turn one series into the other's; forecast each "
                          "frequency separately")


def _check_size(per: list, freq: str | None, step: float | None, n: int, series_id: str | None, target: str,
                where: str) -> None:
    """SeqlabError before any date is inserted when filling would insert more than
    :data:`FILL_RATIO` times the ``n`` rows present, or more than :data:`MAX_FILLED` rows in all
    (a wrong time value far from the others: a year 2204, a number 1e12), naming the largest gap."""
    if freq is None:
        return
    total, gap = 0, (0, None, None, None)
    for key, _, t in per:
        if len(t) < 2:
            total += len(t)
            continue
        if step is None:  # dates
            size = _on_grid(t, freq) or len(t)
            lag = np.diff(t.asi8)
            i = int(np.argmax(lag))
            missing = (_grid_estimate(t[i], t[i + 1], freq) - 2) if lag[i] > 0 else 0
        else:
            tt = np.asarray(t, dtype=np.float64)
            size = int(round((tt[-1] - tt[0]) / step)) + 1
            lag = np.diff(tt)
            i = int(np.argmax(lag))
            missing = int(round(lag[i] / step)) - 1
        total += size
        if missing > gap[0]:
            gap = (missing, t[i], t[i + 1], str(key) if series_id else target)
    inserted = total - n
    if inserted > FILL_RATIO * n or total > MAX_FILLED:
        k, a, b, who = gap
        show = (lambda v: str(v)) if step is None else (lambda v: f"{float(v):.15g}")
        unit = f"{freq} date" if step is None else "step"
        raise SeqlabError(f"{where}: --fill would insert {inserted} missing time(s), more than {FILL_RATIO} times the "
                          f"{n} row(s) present" + (f" or {MAX_FILLED} rows in all" if total > MAX_FILLED else "")
                          + f"; the largest gap misses {k} {unit}(s) between {show(a)} and {show(b)} (series {who!r}); "
                          "fix the time values there (a wrong date or number?), or drop --fill to have the gaps "
                          "named")


def fill_panel(table: pd.DataFrame, times: pd.Index | None, series_id: str | None, target: str,
               covariates: Sequence[str], future: Sequence[str], static: Sequence[str], method: str,
               where: str, row: Callable[[int], str], time_name: str = "index"
               ) -> tuple[pd.DataFrame, pd.Index | None, np.ndarray, FillReport]:
    """Insert each series' missing dates (between its own first and last date) and fill its
    missing values with ``method``.

    ``table`` holds the columns used (target and covariates as numbers, NaN where missing),
    ``times`` the parsed time of each row (None: undated; rows are then only filled), ``row(i)``
    names row ``i`` of ``table`` in messages. Returns the new table (each series' rows together,
    sorted by time), its times, the row of ``table`` each of its rows came from (-1: inserted) and
    a :class:`FillReport`."""
    check_method(method)
    n = len(table)
    groups = table.groupby(series_id, sort=False).indices if series_id else {None: np.arange(n)}
    per = []
    for key, pos in groups.items():
        pos = np.asarray(pos)
        t = None
        if times is not None:
            t = times[pos]
            order = np.argsort(t.to_numpy(), kind="stable")
            t, pos = t[order], pos[order]
            dup = t.duplicated()
            if dup.any():
                i = int(np.flatnonzero(dup)[0])
                who = f" (series {str(key)!r})" if series_id else ""
                raise SeqlabError(f"{where}{who}: time column {time_name!r} has a duplicated timestamp {t[i]!s} "
                                  f"at {row(int(pos[i]))}; each time step must appear once per series")
        per.append((key, pos, t))
    freq = None
    if isinstance(times, pd.DatetimeIndex):
        _check_one_frequency(per, series_id, where)
        freq = regular_freq([t for _, _, t in per])
        if freq is None and any(len(t) >= 2 for _, _, t in per):
            raise SeqlabError(f"{where}: --fill: the dates lie on no one regular frequency (no daily, weekly, "
                              "monthly ... grid holds every date of every series), so the missing dates cannot be "
                              "told; fix the dates, or leave out the time column to number the rows")
    elif times is not None:
        step = _numeric_step([np.asarray(t, dtype=np.float64) for _, _, t in per])
        if step is None and any(len(t) >= 2 for _, _, t in per):
            raise SeqlabError(f"{where}: --fill: the numeric time steps lie on no one regular grid (every step a "
                              f"multiple of the smallest), so the missing steps cannot be told; fix the time column")
        freq = None if step is None else f"{step:g}-step"
    _check_size(per, freq, step if times is not None and freq is not None and not isinstance(times, pd.DatetimeIndex)
                else None, n, series_id, target, where)
    report = FillReport(method, freq)
    pieces, new_times, rows = [], [], []
    for key, pos, t in per:
        sub = table.iloc[pos].reset_index(drop=True)
        src = pos.copy()
        if t is not None:
            if isinstance(t, pd.DatetimeIndex):
                grid = pd.date_range(t[0], t[-1], freq=freq) if len(t) >= 2 else t
                at = grid.get_indexer(t)
            elif len(t) >= 2:  # numeric times: their nearest grid points (the grid check allowed 1e-9)
                tt = np.asarray(t, dtype=np.float64)
                at = np.round((tt - tt[0]) / step).astype(int)
                grid = pd.Index(tt[0] + step * np.arange(at[-1] + 1))
                if pd.api.types.is_integer_dtype(t.dtype) and float(step).is_integer():
                    grid = pd.Index(np.round(np.asarray(grid)).astype(t.dtype))
            else:
                grid, at = t, np.arange(len(t))
            src_full = np.full(len(grid), -1)
            src_full[at] = src
            sub, src, index = sub.set_axis(at).reindex(range(len(grid))).reset_index(drop=True), src_full, grid
        else:
            index = pd.RangeIndex(len(sub))
        name = str(key) if series_id else target
        report.inserted[name] = int((src < 0).sum())
        y = sub[target].to_numpy(dtype=np.float64)
        present = np.flatnonzero(~np.isnan(y))
        end = (int(present[-1]) + 1 if len(present) else 0) if future else len(sub)
        filled = 0
        for c in [target, *covariates]:
            col = pd.Series(sub[c].to_numpy(dtype=np.float64)[:end], index=index[:end])
            done = _fill(col, method)
            filled += int((col.isna() & done.notna()).sum())
            sub.loc[: end - 1, c] = done.to_numpy()
        for c in future:
            col = pd.Series(sub[c].to_numpy(dtype=np.float64), index=index)
            done = _fill(col, method)
            filled += int((col.isna() & done.notna()).sum())
            sub[c] = done.to_numpy()
        for c in static:
            sub[c] = sub[c].ffill().bfill()
        if series_id:
            sub[series_id] = key
        report.filled[name] = filled
        pieces.append(sub)
        rows.append(src)
        if t is not None:
            new_times.append(index)
    out = pd.concat(pieces, ignore_index=True)
    if times is None:
        out_times = None
    elif isinstance(times, pd.DatetimeIndex):
        out_times = new_times[0].append(new_times[1:]) if len(new_times) > 1 else pd.DatetimeIndex(new_times[0])
    else:
        out_times = pd.Index(np.concatenate([np.asarray(x) for x in new_times]))
    return out, out_times, np.concatenate(rows), report


def looks_dated(col: pd.Series) -> bool:
    """Whether every one of the first 20 filled values of ``col`` reads as a date."""
    import warnings

    sample = col.dropna().astype(str).str.strip().head(20)
    if not len(sample) or not sample.str.contains(r"\d[-/.]\d|\d{4}-?W\d|\d:\d").all():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return bool(pd.to_datetime(sample, errors="coerce", format="mixed").notna().all())
        except (ValueError, TypeError, OverflowError):
            return False


def melt_wide(df: pd.DataFrame, time: str | None, where: str, row: Callable[[int], str],
              series_name: str = "series", value_name: str = "value") -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """A wide table (a time column or index, then one column per series) in the long form of
    ``pandas.melt(df, id_vars=[time], var_name=series_name, value_name=value_name)``, each
    column's empty cells before its first value and after its last left out. Returns the long
    table, the row of ``df`` each of its rows came from, and the series names (the columns);
    ``row(i)`` names row ``i`` of ``df`` in messages (a non-numeric value)."""
    cols = [c for c in df.columns if c != time]
    if not cols:
        raise SeqlabError(f"{where}: --wide: the table has no column besides the time column {time!r}; a wide "
                          "table holds one column per series")
    values = {}
    for c in cols:
        num = pd.to_numeric(df[c], errors="coerce")
        bad = (num.isna() & df[c].notna()).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            if time is None and looks_dated(df[c]):
                raise SeqlabError(f"{where}: --wide: column {str(c)!r} holds dates ({df[c].iloc[i]!r} at {row(i)}), "
                                  f"not a series of numbers, and no time column was given; pass --time {c}")
            raise SeqlabError(f"{where}: --wide: column {str(c)!r} has a non-numeric value {df[c].iloc[i]!r} at "
                              f"{row(i)}; in a wide table every column besides the time is one series of numbers")
        values[c] = num.to_numpy(dtype=np.float64)
    n = len(df)
    src = np.tile(np.arange(n), len(cols))  # melt's order: every row of the first column, then the next
    long = pd.DataFrame({series_name: np.repeat(np.array([str(c) for c in cols], dtype=object), n),
                         value_name: np.concatenate([values[c] for c in cols])})
    if time is not None:
        long.insert(0, time, df[time].to_numpy()[src])
    long.index = df.index[src] if isinstance(df.index, pd.DatetimeIndex) else pd.RangeIndex(len(long))
    filled = long[value_name].notna().to_numpy()
    keep = np.zeros(len(long), bool)
    for j in range(len(cols)):
        f = np.flatnonzero(filled[j * n : (j + 1) * n])
        if len(f):
            keep[j * n + f[0] : j * n + f[-1] + 1] = True
        else:
            raise SeqlabError(f"{where}: --wide: column {cols[j]!r} has no values; drop it or fill it")
    return long[keep], src[keep], cols
