"""The Monash forecasting repository's ``.tsf`` format (Godahewa et al. 2021), read into a long table.

A ``.tsf`` file is text: ``#`` comments, a header of ``@`` lines (``@relation``, one
``@attribute NAME TYPE`` per series attribute, ``@frequency``, ``@horizon``, ``@missing``,
``@equallength``), then ``@data`` and one line per series: its attribute values and then its
comma-separated values, all separated by colons::

    @attribute series_name string
    @attribute start_timestamp date
    @frequency monthly
    @horizon 6
    @data
    T1:1979-01-01 00-00-00:2021,2122,2303,2410

:func:`read_tsf` returns the series as a long table (columns ``series``, ``time``, ``value`` and
the other attributes, static per series), with dates where the file gives a start timestamp and
a frequency, else integer steps, and the file's horizon. A missing value (``?``) is an error
naming the series, as any other malformed line is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SeqlabError

#: the format's frequency names -> pandas aliases
FREQUENCIES = {"yearly": "YS", "quarterly": "QS", "monthly": "MS", "weekly": "W", "daily": "D", "hourly": "h",
               "half_hourly": "30min", "10_minutes": "10min", "minutely": "min", "4_seconds": "4s",
               "seconds": "s"}
TYPES = ("numeric", "string", "date")


@dataclass
class TsfData:
    """A read ``.tsf`` file: the long ``table``, its ``frequency`` (pandas alias or None) and ``horizon``."""

    table: pd.DataFrame
    frequency: str | None
    horizon: int | None
    relation: str | None


def read_tsf(path: str | os.PathLike) -> TsfData:
    """Read a Monash ``.tsf`` file (see the module docstring); SeqlabError naming the line of
    any problem."""
    from ..files import read_text

    p = Path(path)
    where = f"data {str(p)!r}"
    text = read_text(p, "--data", "data file")  # a regular file of a sane size, UTF-8, no NUL
    attrs: list[tuple[str, str]] = []
    freq, horizon, relation = None, None, None
    rows: list[dict] = []
    in_data = False
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise SeqlabError(f"{where}: line {no}: expected a header line starting with '@' before @data, "
                                  f"got {line[:40]!r}")
            key, _, rest = line[1:].partition(" ")
            key, rest = key.lower(), rest.strip()
            if key == "attribute":
                parts = rest.split()
                if len(parts) != 2 or parts[1].lower() not in TYPES:
                    raise SeqlabError(f"{where}: line {no}: expected '@attribute NAME numeric|string|date', got {line!r}")
                attrs.append((parts[0], parts[1].lower()))
            elif key == "frequency":
                if rest.lower() not in FREQUENCIES:
                    raise SeqlabError(f"{where}: line {no}: unknown frequency {rest!r}; expected one of "
                                      f"{', '.join(FREQUENCIES)}")
                freq = FREQUENCIES[rest.lower()]
            elif key == "horizon":
                try:
                    horizon = int(rest)
                except ValueError:
                    raise SeqlabError(f"{where}: line {no}: @horizon must be an integer, got {rest!r}") from None
                if horizon < 1:
                    raise SeqlabError(f"{where}: line {no}: @horizon must be >= 1, got {horizon}")
            elif key == "relation":
                relation = rest
            elif key == "data":
                in_data = True
            elif key not in ("missing", "equallength"):
                raise SeqlabError(f"{where}: line {no}: unknown header line {line[:40]!r}")
            continue
        fields = line.split(":")
        if len(fields) != len(attrs) + 1:
            raise SeqlabError(f"{where}: line {no}: expected {len(attrs)} attribute(s) and the values separated by "
                              f"':', got {len(fields)} field(s)")
        meta = dict(zip((a for a, _ in attrs), fields[:-1]))
        name = fields[0] if attrs else f"T{len(rows) + 1}"
        values = []
        for v in fields[-1].split(","):
            v = v.strip()
            if v == "?":
                raise SeqlabError(f"{where}: line {no}: series {name!r} has a missing value ('?'); fill or drop it "
                                  "before forecasting")
            try:
                values.append(float(v))
            except ValueError:
                raise SeqlabError(f"{where}: line {no}: series {name!r} has a non-numeric value {v!r}") from None
        if not values:
            raise SeqlabError(f"{where}: line {no}: series {name!r} has no values")
        rows.append({"name": name, "meta": meta, "values": np.asarray(values)})
    if not in_data:
        raise SeqlabError(f"{where}: no @data line; not a .tsf file")
    if not rows:
        raise SeqlabError(f"{where}: no series after @data")
    date_attr = next((a for a, t in attrs if t == "date"), None)
    others = [(a, t) for a, t in attrs[1:] if a != date_attr]
    frames = []
    for r in rows:
        n = len(r["values"])
        time: pd.Index | np.ndarray = np.arange(n)
        if date_attr and freq:
            stamp = r["meta"][date_attr].strip()
            try:
                start = pd.Timestamp(stamp[:10] + (" " + stamp[11:].replace("-", ":") if len(stamp) > 11 else ""))
            except ValueError:
                raise SeqlabError(f"{where}: series {r['name']!r}: unparseable start timestamp {stamp!r}") from None
            time = pd.date_range(start, periods=n, freq=freq)
        frame = pd.DataFrame({"series": r["name"], "time": time, "value": r["values"]})
        for a, t in others:
            v = r["meta"][a]
            if t == "numeric":
                try:
                    v = float(v)
                except ValueError:
                    raise SeqlabError(f"{where}: series {r['name']!r}: attribute {a!r} is numeric, got {v!r}") from None
            frame[a] = v
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    return TsfData(table, freq if date_attr else None, horizon, relation)
