"""Point-forecast accuracy: MAE, RMSE, MAPE, sMAPE and MASE (Hyndman & Koehler 2006).

All take ``actual`` and ``forecast`` of the same shape. MAPE and sMAPE are percentages. MASE
divides the MAE by the in-sample MAE of the seasonal naive forecast on the training part:
``mean(|y_t - y_{t-m}|)`` over ``insample`` with season ``m`` (``m = 1``: the naive forecast).
MASE below 1 beats the in-sample seasonal naive forecast.
"""

from __future__ import annotations

import numpy as np

from ..errors import SeqlabError

METRICS = ("MAE", "RMSE", "MAPE", "sMAPE", "MASE")


def _pair(actual, forecast) -> tuple[np.ndarray, np.ndarray]:
    a, f = np.asarray(actual, dtype=np.float64), np.asarray(forecast, dtype=np.float64)
    if a.shape != f.shape or a.size == 0:
        raise SeqlabError(f"metrics: actual and forecast need the same non-empty shape, got {a.shape} and {f.shape}")
    return a, f


def mae(actual, forecast) -> float:
    a, f = _pair(actual, forecast)
    return float(np.mean(np.abs(a - f)))


def rmse(actual, forecast) -> float:
    a, f = _pair(actual, forecast)
    return float(np.sqrt(np.mean((a - f) ** 2)))


def mape(actual, forecast) -> float:
    """Mean absolute percentage error, in percent; NaN when an actual value is 0."""
    a, f = _pair(actual, forecast)
    if np.any(a == 0):
        return float("nan")
    return float(100 * np.mean(np.abs((a - f) / a)))


def smape(actual, forecast) -> float:
    """Symmetric MAPE in percent: ``mean(2 |f - a| / (|a| + |f|))``; a pair of zeros counts 0."""
    a, f = _pair(actual, forecast)
    den = np.abs(a) + np.abs(f)
    terms = np.divide(2 * np.abs(f - a), den, out=np.zeros_like(den), where=den > 0)
    return float(100 * np.mean(terms))


def mase_scale(insample, season: int = 1) -> float:
    """In-sample MAE of the seasonal naive forecast: ``mean(|y_t - y_{t-m}|)``."""
    y = np.asarray(insample, dtype=np.float64)
    m = season if len(y) > season else 1
    if len(y) <= m:
        raise SeqlabError(f"MASE: the training part needs more than {m} values, got {len(y)}")
    return float(np.mean(np.abs(y[m:] - y[:-m])))


def mase(actual, forecast, insample, season: int = 1) -> float:
    """MAE scaled by :func:`mase_scale` of the training part (NaN when that scale is 0)."""
    scale = mase_scale(insample, season)
    return mae(actual, forecast) / scale if scale > 0 else float("nan")


def all_metrics(actual, forecast, insample, season: int = 1) -> dict[str, float]:
    """Every metric of :data:`METRICS` as a dict."""
    return {"MAE": mae(actual, forecast), "RMSE": rmse(actual, forecast), "MAPE": mape(actual, forecast),
            "sMAPE": smape(actual, forecast), "MASE": mase(actual, forecast, insample, season)}


def pinball(actual, quantile_forecast, quantiles) -> float:
    """Mean pinball (quantile) loss; ``quantile_forecast`` (..., Q) against ``actual`` (...)."""
    a = np.asarray(actual, dtype=np.float64)[..., None]
    q = np.asarray(quantiles, dtype=np.float64)
    d = a - np.asarray(quantile_forecast, dtype=np.float64)
    return float(np.mean(np.maximum(q * d, (q - 1) * d)))
