"""Small real datasets shipped inside the package, so the main job needs no download.

``airline.csv``: the monthly totals of international airline passengers (thousands), January 1949
to December 1960, 144 values (Box & Jenkins, *Time Series Analysis*, series G; R's
``AirPassengers``). Columns: ``month`` (``YYYY-MM``) and ``passengers``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

AIRLINE = "airline.csv"


def data_path(name: str) -> Path:
    """Path of an embedded data file, e.g. ``data_path("airline.csv")``."""
    return Path(str(resources.files(__package__).joinpath(name)))


def load_airline() -> pd.Series:
    """The airline passengers series: 144 monthly values with a month-start DatetimeIndex."""
    df = pd.read_csv(data_path(AIRLINE))
    index = pd.DatetimeIndex(pd.to_datetime(df["month"], format="%Y-%m"), freq="MS", name="month")
    return pd.Series(df["passengers"].to_numpy(dtype=float), index=index, name="passengers")


__all__ = ["AIRLINE", "data_path", "load_airline"]
