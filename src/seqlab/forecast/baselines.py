"""Baseline forecasts: naive, seasonal naive, drift, and statsmodels ETS and ARIMA when installed.

Each baseline maps a history ``y`` (T,) to a point forecast (horizon,). The statistical ones are
fitted on the history only, like the model.
"""

from __future__ import annotations

import warnings
from typing import Callable

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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels warns on convergence; the forecast is still usable
        fit = ExponentialSmoothing(y, trend="add", damped_trend=True, seasonal=seasonal,
                                   seasonal_periods=season if seasonal else None,
                                   initialization_method="estimated").fit()
        return np.asarray(fit.forecast(horizon), dtype=np.float64)


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ARIMA(z, order=order, seasonal_order=seasonal).fit()
        f = np.asarray(fit.forecast(horizon), dtype=np.float64)
    return np.exp(f) if log else f


Baseline = Callable[[np.ndarray, int, int], np.ndarray]


def baselines(include_stats: bool = True) -> dict[str, Baseline]:
    """The baselines by display name; ETS and ARIMA only when statsmodels is importable."""
    out: dict[str, Baseline] = {"naive": naive, "seasonal naive": seasonal_naive, "drift": drift}
    if include_stats and statsmodels_available():
        out["ETS"] = ets
        out["ARIMA"] = arima
    return out
