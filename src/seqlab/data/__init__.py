"""Small real datasets shipped inside the package, so the main job needs no download.

``airline.csv``: the monthly totals of international airline passengers (thousands), January 1949
to December 1960, 144 values (Box & Jenkins, *Time Series Analysis*, series G; R's
``AirPassengers``). Columns: ``month`` (``YYYY-MM``) and ``passengers``.

:func:`make_panel` generates a panel of many short monthly series in code (the tests' and the
benchmarks' panel), for trying ``seqlab forecast --series-id`` without data of one's own.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SeqlabError

AIRLINE = "airline.csv"


def data_path(name: str) -> Path:
    """Path of an embedded data file, e.g. ``data_path("airline.csv")``."""
    return Path(str(resources.files(__package__).joinpath(name)))


def load_airline() -> pd.Series:
    """The airline passengers series: 144 monthly values with a month-start DatetimeIndex."""
    df = pd.read_csv(data_path(AIRLINE))
    index = pd.DatetimeIndex(pd.to_datetime(df["month"], format="%Y-%m"), freq="MS", name="month")
    return pd.Series(df["passengers"].to_numpy(dtype=float), index=index, name="passengers")


def make_panel(n: int = 500, min_length: int = 12, max_length: int = 60, seed: int = 0,
               end: str = "2020-12-01") -> pd.DataFrame:
    """A long table ``id, date, y`` of ``n`` monthly series whose lengths are drawn from
    ``min_length``..``max_length``, all ending at ``end``: magnitudes from 10 to 10,000, a trend
    of about 1 % a month, a seasonal swing of 5-30 % with a random phase and 1-6 % noise, values
    kept positive. Ids are ``s000``, ``s001``, ...; dates are ``YYYY-MM-DD`` strings (as in a
    CSV file). The same ``seed`` gives the same table."""
    if not (isinstance(n, int) and n >= 1 and isinstance(min_length, int) and isinstance(max_length, int)
            and 1 <= min_length <= max_length):
        raise SeqlabError(f"make_panel: expected n >= 1 and 1 <= min_length <= max_length, got n={n!r}, "
                         f"min_length={min_length!r}, max_length={max_length!r}")
    rng = np.random.default_rng(seed)
    digits = max(3, len(str(n - 1)))
    rows = []
    for i in range(n):
        T = int(rng.integers(min_length, max_length + 1))
        t = np.arange(T)
        level, slope = 10 ** rng.uniform(1, 4), rng.normal(0.01, 0.01)
        amp, phase, noise = rng.uniform(0.05, 0.3), rng.uniform(0, 2 * np.pi), rng.uniform(0.01, 0.06)
        y = level * (1 + slope * t) * (1 + amp * np.sin(2 * np.pi * t / 12 + phase)) * (1 + noise * rng.standard_normal(T))
        dates = pd.date_range(end=end, periods=T, freq="MS").strftime("%Y-%m-%d")
        rows.append(pd.DataFrame({"id": f"s{i:0{digits}d}", "date": dates, "y": np.maximum(y, 0.01 * level)}))
    return pd.concat(rows, ignore_index=True)


__all__ = ["AIRLINE", "data_path", "load_airline", "make_panel"]
