"""Time-series forecasting with recurrent networks: data, windows, scalers, model, baselines,
metrics, rolling-origin backtest, plots and the ``seqlab forecast`` command.

    from seqlab.forecast import Forecaster, backtest
    from seqlab.data import load_airline

    f = Forecaster(horizon=12).fit(load_airline())
    f.predict()          # next 12 months: forecast, q0.1, q0.5, q0.9
    backtest(load_airline(), f.config, folds=3).table
"""

# Exports are imported on first use, so that `seqlab --help` (which imports seqlab.forecast.cli,
# hence this package) does not import torch, pandas or statsmodels.
from .._lazy import lazy_getattr

_LAZY = {
    "BacktestResult": "backtesting", "backtest": "backtesting", "format_table": "backtesting",
    "arima": "baselines", "drift": "baselines", "ets": "baselines", "naive": "baselines",
    "seasonal_naive": "baselines",
    "SeriesData": "data", "prepare": "data", "read_csv": "data",
    "ForecastConfig": "forecaster", "Forecaster": "forecaster", "ForecastEstimator": "estimator",
    "mae": "metrics", "mape": "metrics", "mase": "metrics", "rmse": "metrics", "smape": "metrics",
    "ForecastNet": "model", "NetConfig": "model", "RunCheckpoint": "checkpoints",
    "ForecastTask": "task", "fit_net": "task", "pinball_loss": "task", "training": "task",
    "Scaler": "scalers", "TargetTransform": "scalers",
    "cutoffs": "windows", "make_windows": "windows", "split_train_val": "windows",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = sorted(_LAZY)
