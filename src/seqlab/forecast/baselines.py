"""Baseline forecasts: naive, seasonal naive, drift, and statsmodels ETS, ARIMA and Theta when
installed.

Each baseline maps a history ``y`` (T,) to a point forecast (horizon,). The statistical ones are
fitted on the history only, like the model. On a history too short for a model (a seasonal one
needs two seasons, a fit needs a few values) each falls back to a simpler one of its family,
down to the naive forecast, so that every method forecasts every series of a panel.
:func:`run_baselines` computes them for many histories in parallel processes.
"""

from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np


def naive(y: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """Repeat the last value."""
    return np.full(horizon, float(y[-1]))


def seasonal_naive(y: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """Repeat the last season: ``f(T + h) = y(T + h - m * ceil(h / m))``."""
    m = season if 1 <= season <= len(y) else 1
    last = np.asarray(y[-m:], dtype=np.float64)
    return np.array([last[h % m] for h in range(horizon)])


def drift(y: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """The line through the first and last values, extended: ``y_T + h (y_T - y_1) / (T - 1)``."""
    slope = (y[-1] - y[0]) / (len(y) - 1) if len(y) > 1 else 0.0
    return float(y[-1]) + slope * np.arange(1, horizon + 1)


def statsmodels_available() -> bool:
    try:
        import statsmodels  # noqa: F401
    except ImportError:
        return False
    return True


def ets(y: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """Holt-Winters exponential smoothing (statsmodels): additive damped trend, and a seasonal
    component (multiplicative for positive series) when two full seasons are available."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    y = np.asarray(y, dtype=np.float64)
    seasonal = None
    if season > 1 and len(y) >= 2 * season + 2:
        seasonal = "mul" if np.all(y > 0) else "add"
    if len(y) < 4:
        return naive(y, horizon)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels warns on convergence; the forecast is still usable
        try:
            fit = ExponentialSmoothing(y, trend="add" if len(y) >= 6 else None, damped_trend=len(y) >= 6,
                                       seasonal=seasonal, seasonal_periods=season if seasonal else None,
                                       initialization_method="estimated").fit()
            f = np.asarray(fit.forecast(horizon), dtype=np.float64)
        except (ValueError, np.linalg.LinAlgError, IndexError):
            f = np.full(horizon, np.nan)
        if not np.all(np.isfinite(f)):  # a failed fit: simple exponential smoothing, then naive
            try:
                f = np.asarray(ExponentialSmoothing(y, initialization_method="estimated").fit().forecast(horizon))
            except (ValueError, np.linalg.LinAlgError, IndexError):
                f = naive(y, horizon)
        return f if np.all(np.isfinite(f)) else naive(y, horizon)


def arima(y: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """Box & Jenkins' airline model ARIMA(0,1,1)(0,1,1)_m when two full seasons are available,
    else ARIMA(1,1,1); fitted by statsmodels, on log values for positive series."""
    from statsmodels.tsa.arima.model import ARIMA

    y = np.asarray(y, dtype=np.float64)
    log = bool(np.all(y > 0))
    z = np.log(y) if log else y
    seasonal_ok = season > 1 and len(y) >= 2 * season + 2
    order = (0, 1, 1) if seasonal_ok else (1, 1, 1)
    seasonal = (0, 1, 1, season) if seasonal_ok else (0, 0, 0, 0)
    if len(y) < 5:
        return drift(y, horizon)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = ARIMA(z, order=order, seasonal_order=seasonal).fit()
            f = np.asarray(fit.forecast(horizon), dtype=np.float64)
        except (ValueError, np.linalg.LinAlgError, IndexError):
            return drift(y, horizon)
    f = np.exp(f) if log else f
    return f if np.all(np.isfinite(f)) else drift(y, horizon)


def theta(y: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """The Theta method (Assimakopoulos & Nikolopoulos 2000; statsmodels' ThetaModel): simple
    exponential smoothing plus half the linear trend, on seasonally adjusted data (classical
    multiplicative decomposition, for positive series with two full seasons)."""
    from statsmodels.tsa.forecasting.theta import ThetaModel

    y = np.asarray(y, dtype=np.float64)
    if len(y) < 4:
        return drift(y, horizon)
    deseason = bool(season > 1 and len(y) >= 2 * season and np.all(y > 0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = ThetaModel(y, period=season if deseason else None, deseasonalize=deseason).fit()
            f = np.asarray(fit.forecast(horizon), dtype=np.float64)
        except (ValueError, np.linalg.LinAlgError, IndexError):
            return drift(y, horizon)
    return f if np.all(np.isfinite(f)) else drift(y, horizon)


Baseline = Callable[[np.ndarray, int, int], np.ndarray]


def baselines(include_stats: bool = True) -> dict[str, Baseline]:
    """The baselines by display name; ETS, ARIMA and Theta only when statsmodels is importable."""
    out: dict[str, Baseline] = {"naive": naive, "seasonal naive": seasonal_naive, "drift": drift}
    if include_stats and statsmodels_available():
        out["ETS"] = ets
        out["ARIMA"] = arima
        out["Theta"] = theta
    return out


ALIASES = {"naive": "naive", "seasonal naive": "seasonal naive", "snaive": "seasonal naive",
           "seasonal_naive": "seasonal naive", "drift": "drift", "ets": "ETS", "arima": "ARIMA", "theta": "Theta"}


def select(names: Sequence[str] | None, include_stats: bool = True) -> dict[str, Baseline]:
    """The baselines named in ``names`` (any case; 'snaive' for seasonal naive), or all of
    :func:`baselines` for None; SeqlabError for an unknown name or a statistical one without
    statsmodels."""
    from ..errors import SeqlabError

    table = baselines(include_stats)
    if names is None:
        return table
    out = {}
    for n in names:
        key = ALIASES.get(n.strip().lower())
        if key is None:
            raise SeqlabError(f"--baselines: unknown method {n!r}; expected some of naive, snaive, drift, ETS, ARIMA, "
                              "Theta")
        if key not in table:
            raise SeqlabError(f"--baselines: {key} needs statsmodels (pip install seqlab[stats]) and no --no-stats")
        out[key] = table[key]
    return out


def _chunk(histories: Sequence[np.ndarray], horizon: int, season: int, names: Sequence[str]) -> list[dict]:
    from threadpoolctl import threadpool_limits

    table = baselines(True)
    with threadpool_limits(1):
        return [{n: table[n](h, horizon, season) for n in names} for h in histories]


def run_baselines(histories: Sequence[np.ndarray], horizon: int, season: int, names: Sequence[str],
                  workers: int = 1) -> list[dict[str, np.ndarray]]:
    """Every baseline of ``names`` on every history: one dict name -> forecast (horizon,) per
    history. With ``workers`` > 1 and many histories, in that many processes (joblib), each with
    one BLAS thread; the result is the same as in one process."""
    histories = [np.asarray(h, dtype=np.float64) for h in histories]
    names = list(names)
    slow = [n for n in names if n in ("ETS", "ARIMA", "Theta")]
    if workers <= 1 or len(histories) < 40 or not slow:
        try:
            return _chunk(histories, horizon, season, names)
        except ImportError:  # no threadpoolctl: statsmodels' BLAS threads as they are
            table = baselines(True)
            return [{n: table[n](h, horizon, season) for n in names} for h in histories]
    try:
        from joblib import Parallel, delayed
    except ImportError:  # joblib comes with seqlab[stats]; without it, one process
        return _chunk(histories, horizon, season, names)
    n = max(1, -(-len(histories) // (4 * workers)))  # about 4 chunks per worker
    chunks = [histories[i:i + n] for i in range(0, len(histories), n)]
    parts = Parallel(n_jobs=workers, backend="loky")(delayed(_chunk)(c, horizon, season, names) for c in chunks)
    return [r for part in parts for r in part]
