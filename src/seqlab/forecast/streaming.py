"""A forecast that follows the data: :func:`update` appends new observations to a fitted
forecaster's stored history and forecasts from there, without refitting anything.

    f = Forecaster(horizon=12).fit(history)
    f.update([412.0])              # one new value of the (only) series
    f.update({"a": [3.1, 2.9]})    # new values of series "a" of a panel
    f.predict()                    # the forecast after the newest value

The networks read a window of the last ``lookback`` values from a zero state, and the window
slides as values arrive, so the new forecast is a new pass over that window, the same numbers as
``f.predict(all data so far)``; the networks, transforms and scalers stay as fitted. Past
covariates are appended with the values (``covariates=``, one row per value); known-future
covariates were given ahead and stay. Dates continue at the series' frequency.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..errors import SeqlabError
from .data import SeriesData


def _append(s: SeriesData, values: Any, covariates: Any) -> SeriesData:
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    if y.size == 0:
        raise SeqlabError(f"new_values: no values for series {s.name!r}")
    if not np.all(np.isfinite(y)):
        raise SeqlabError(f"new_values: series {s.name!r} got NaN or infinite values")
    C = s.n_covariates
    if C:
        if covariates is None:
            raise SeqlabError(f"covariates: series {s.name!r} has {C} past covariate(s); pass one row per new value")
        cov = np.asarray(covariates, dtype=np.float64).reshape(len(y), C) if np.size(covariates) == len(y) * C else None
        if cov is None or not np.all(np.isfinite(cov)):
            raise SeqlabError(f"covariates: expected {len(y)} finite row(s) of {C} value(s), got shape {np.shape(covariates)}")
    else:
        if covariates is not None and np.size(covariates):
            raise SeqlabError(f"covariates: series {s.name!r} was fitted without past covariates")
        cov = np.zeros((len(y), 0))
    time = s.time
    if time is not None:
        time = time.append(pd.Index(s.future_time(len(y))))
    if s.n_future and len(s.future) < len(s.target) + len(y):
        raise SeqlabError(f"new_values: the known-future covariates of series {s.name!r} end "
                          f"{len(s.future) - len(s.target)} step(s) after the history; give them further ahead")
    return SeriesData(s.name, np.concatenate([s.target, y]), np.concatenate([s.covariates, cov]), time, s.future,
                      dict(s.static), s.freq)


def update(forecaster: Any, new_values: Any, covariates: Any = None) -> Any:
    """Append ``new_values`` (values of the only series, or a mapping series name -> values) to
    the forecaster's history; ``covariates`` likewise (rows, or a mapping). Returns the forecaster."""
    forecaster._check_fitted()
    tails = forecaster.tails
    if isinstance(new_values, Mapping):
        updates = dict(new_values)
        covs = dict(covariates) if isinstance(covariates, Mapping) else {}
        if covariates is not None and not isinstance(covariates, Mapping):
            raise SeqlabError("covariates: with a mapping of new values, give a mapping series name -> rows too")
    else:
        if len(tails) != 1:
            raise SeqlabError(f"new_values: this forecaster knows {len(tails)} series; pass a mapping series name -> "
                              f"values (names: {sorted(tails)[:5]})")
        name = next(iter(tails))
        updates, covs = {name: new_values}, {name: covariates}
    unknown = [n for n in updates if n not in tails]
    if unknown:
        raise SeqlabError(f"new_values: series {unknown[0]!r} is not one this forecaster knows ({sorted(tails)[:5]})")
    new = {n: _append(tails[n], v, covs.get(n)) for n, v in updates.items()}  # all checked before any change
    tails.update(new)
    return forecaster


__all__ = ["update"]
