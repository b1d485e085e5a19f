"""Time-series forecasting with recurrent networks: data, windows, scalers, model, baselines,
metrics, rolling-origin backtest, plots and the ``seqlab forecast`` command.

    from seqlab.forecast import Forecaster, backtest
    from seqlab.data import load_airline

    f = Forecaster(horizon=12).fit(load_airline())
    f.predict()          # next 12 months: forecast, q0.1, q0.5, q0.9
    backtest(load_airline(), f.config, folds=3).table
"""

from .backtest import BacktestResult, backtest, format_table
from .baselines import arima, drift, ets, naive, seasonal_naive
from .data import SeriesData, prepare, read_csv
from .forecaster import ForecastConfig, Forecaster
from .metrics import mae, mape, mase, rmse, smape
from .model import ForecastNet, NetConfig
from .scalers import Scaler, TargetTransform
from .windows import cutoffs, make_windows, split_train_val

__all__ = [
    "BacktestResult", "ForecastConfig", "ForecastNet", "Forecaster", "NetConfig", "Scaler", "SeriesData",
    "TargetTransform", "arima", "backtest", "cutoffs", "drift", "ets", "format_table", "mae", "make_windows",
    "mape", "mase", "naive", "prepare", "read_csv", "rmse", "seasonal_naive", "smape", "split_train_val",
]
