"""``ForecastEstimator``: the :class:`~seqlab.forecast.Forecaster` as a scikit-learn estimator.

``Forecaster(config, train, **overrides)`` takes its settings as two config objects, which
scikit-learn's ``get_params`` cannot read. This estimator names the settings one searches over
as keyword arguments, keeps them as given (nothing happens in ``__init__``), and builds and fits a
Forecaster in :meth:`~ForecastEstimator.fit`; the fitted Forecaster is ``forecaster_`` (its
``predict()`` gives the table with every quantile, ``save`` writes the model file).

A setting left at None takes the Forecaster's default (:class:`ForecastConfig`,
:func:`seqlab.forecast.task.training`), so the two never disagree.

The sample axis is time: ``fit(y)`` takes a series (1-D array, pandas Series, or DataFrame with
``target``/``time``/``series_id`` columns: one series or a long panel), ``predict()`` forecasts
the ``horizon`` steps after its end, and ``score(y_future)`` compares that forecast with the values
that followed: minus the mean absolute scaled error (MASE, scaled by the in-sample error of the
seasonal naive forecast of each training series), so greater is better as scikit-learn's search
expects. With ``TimeSeriesSplit`` each test fold starts right after its training fold, which is
what ``score`` needs::

    search = GridSearchCV(ForecastEstimator(horizon=12, ensemble=1), {"hidden": [8, 16]},
                          cv=TimeSeriesSplit(n_splits=2, test_size=12))
    search.fit(series)        # a 1-D array or a pandas Series
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .._sklearn import BaseEstimator, NotFittedError, python_params
from ..errors import SeqlabError

#: the estimator's settings that are ForecastConfig fields, and those that are TrainConfig fields
CONFIG_KEYS = ("horizon", "lookback", "lookbacks", "season", "cell", "hidden", "layers", "dropout", "model",
               "strategy", "quantiles", "ensemble", "batch_size", "transform", "diff", "scaling", "calendar")
TRAIN_KEYS = ("epochs", "lr", "patience", "seed", "threads", "verbose")


class ForecastEstimator(BaseEstimator):
    """Forecast ``horizon`` steps of one series or a panel, with scikit-learn's estimator API.

    The settings are the :class:`ForecastConfig` fields ``horizon``, ``lookback``, ``lookbacks``,
    ``season``, ``cell``, ``hidden``, ``layers``, ``dropout``, ``model``, ``strategy``,
    ``quantiles``, ``ensemble``, ``batch_size``, ``transform``, ``diff``, ``scaling``,
    ``calendar`` and the training settings ``epochs``, ``lr``, ``patience``, ``seed``,
    ``threads``, ``verbose`` (None: the Forecaster's default; ``verbose`` defaults to 0, quiet).
    ``target``, ``time``, ``series_id``: the column names of a DataFrame (see
    :func:`seqlab.forecast.data.prepare`).

    Fitted attributes: ``forecaster_`` (the :class:`Forecaster`, its config resolved from the
    data) and ``n_series_``.
    """

    def __init__(self, horizon: int | None = None, lookback: int | None = None, lookbacks: Sequence[int] | None = None,
                 season: int | None = None, cell: str | None = None, hidden: int | None = None,
                 layers: int | None = None, dropout: float | None = None, model: str | None = None,
                 strategy: str | None = None, quantiles: Sequence[float] | None = None, ensemble: int | None = None,
                 batch_size: int | None = None, transform: str | None = None, diff: str | None = None,
                 scaling: str | None = None, calendar: bool | None = None, epochs: int | None = None,
                 lr: float | None = None, patience: int | None = None, seed: int | None = None,
                 threads: int | None = None, verbose: int = 0, target: str | None = None, time: str | None = None,
                 series_id: str | None = None) -> None:
        # scikit-learn's contract: every argument kept as given; fit builds (and so checks) the Forecaster
        self.horizon = horizon
        self.lookback = lookback
        self.lookbacks = lookbacks
        self.season = season
        self.cell = cell
        self.hidden = hidden
        self.layers = layers
        self.dropout = dropout
        self.model = model
        self.strategy = strategy
        self.quantiles = quantiles
        self.ensemble = ensemble
        self.batch_size = batch_size
        self.transform = transform
        self.diff = diff
        self.scaling = scaling
        self.calendar = calendar
        self.epochs = epochs
        self.lr = lr
        self.patience = patience
        self.seed = seed
        self.threads = threads
        self.verbose = verbose
        self.target = target
        self.time = time
        self.series_id = series_id

    def _forecaster(self):
        """A new Forecaster with the settings given (None: its default)."""
        from .forecaster import Forecaster

        settings = {k: getattr(self, k) for k in CONFIG_KEYS + TRAIN_KEYS if getattr(self, k) is not None}
        for k in ("quantiles", "lookbacks"):
            if k in settings:
                settings[k] = list(settings[k])
        return Forecaster(**settings)

    def _series(self, y: Any, name: str) -> list:
        from .data import prepare

        if y is None:
            raise SeqlabError(f"{name}: expected a series (1-D array, pandas Series or DataFrame), got None")
        return prepare(y, self.target, self.time, None, self.series_id)

    @python_params
    def fit(self, y: Any, X: Any = None) -> "ForecastEstimator":
        """Fit a Forecaster on the series ``y``; returns the estimator. ``X`` is not used (it is
        there for scikit-learn's ``fit(X, y)`` calls, which pass the series first)."""
        if X is not None:
            raise SeqlabError("X: not used; covariates go in the DataFrame y (see seqlab.forecast.Forecaster.fit)")
        forecaster = self._forecaster()  # checks the settings
        series = self._series(y, "y")
        for name in ("forecaster_", "n_series_"):  # a failed fit leaves the estimator unfitted
            self.__dict__.pop(name, None)
        self.forecaster_ = forecaster.fit(series)
        self.n_series_ = len(series)
        return self

    def _check_fitted(self):
        f = getattr(self, "forecaster_", None)
        if f is None:
            raise NotFittedError("this ForecastEstimator is not fitted yet; call fit(y) first")
        return f

    def _medians(self, series: list) -> np.ndarray:
        f = self._check_fitted()
        return f.predict_array(series)[:, :, f.mid]  # (S, H): the median of each step

    def predict(self, y: Any = None) -> np.ndarray:
        """The median forecast of the ``horizon`` steps after the training data (or after the new
        history ``y``, without refitting): (H,) for one series, (S, H) for several, in the order
        of the series. ``forecaster_.predict()`` gives the quantiles and dates as a table."""
        f = self._check_fitted()
        series = list(f.tails.values()) if y is None else self._series(y, "y")
        out = self._medians(series)
        return out[0] if len(series) == 1 else out

    def score(self, y: Any, X: Any = None) -> float:
        """Minus the mean MASE of the forecast from the end of the training data against ``y``,
        the values that followed it (their first ``horizon`` steps; fewer are fine). Each series
        of ``y`` must be one seen in fit (a single series matches by position)."""
        if X is not None:
            raise SeqlabError("X: not used; pass the values that followed the training data as y")
        from .metrics import mase

        f = self._check_fitted()
        future = self._series(y, "y")
        tails = f.tails
        if len(tails) == 1 and len(future) == 1:
            names = list(tails)
        else:
            unknown = [s.name for s in future if s.name not in tails]
            if unknown:
                raise SeqlabError(f"y: series {unknown[:3]} were not seen in fit; score takes the values that "
                                  f"followed the training series {sorted(tails)[:5]}")
            names = [s.name for s in future]
        pred = self._medians([tails[n] for n in names])  # (S, H)
        H = pred.shape[1]
        errors = []
        for s, name, p in zip(future, names, pred):
            history = tails[name]
            if _is_dated(history) and _is_dated(s) and len(s.time) and s.time[0] != history.future_time(1)[0]:
                raise SeqlabError(f"y: series {name!r} starts at {s.time[0]}, but its training data ended at "
                                  f"{history.time[-1]}; score the values that come right after the training data")
            k = min(H, len(s.target))
            errors.append(mase(s.target[:k], p[:k], history.target, f.config.season))
        return -float(np.mean(errors))


def _is_dated(s) -> bool:
    import pandas as pd

    return isinstance(s.time, pd.DatetimeIndex) and s.freq is not None


__all__ = ["ForecastEstimator"]
