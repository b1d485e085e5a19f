"""Baseline forecasts: naive, seasonal naive, drift, and three statistical methods: statsforecast's
AutoETS, AutoARIMA and AutoTheta when statsforecast is installed (``pip install seqlab[statsforecast]``),
statsmodels' ETS, ARIMA and Theta otherwise (``pip install seqlab[stats]``).

Each baseline maps a history ``y`` (T,) to a point forecast (horizon,). The statistical ones are
fitted on the history only, like the model. On a history too short for a model (a seasonal one
needs two seasons, a fit needs a few values) or where its fit fails, each falls back to a simpler
one of its family, down to the naive forecast, so that every method forecasts every series of a
panel. :func:`run_baselines` computes them for many histories: statsforecast's models in one
``StatsForecast.forecast`` call over all the histories (its own processes), statsmodels' in
parallel processes (joblib).
"""

from __future__ import annotations

import os
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
    """Whether statsmodels is installed; looked up without importing it."""
    import importlib.util

    return importlib.util.find_spec("statsmodels") is not None


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


def statsforecast_available() -> bool:
    """Whether statsforecast is installed; looked up without importing it (the import takes seconds)."""
    import importlib.util

    return importlib.util.find_spec("statsforecast") is not None


# statsforecast's automatic models. Each is fitted on histories of at least SF_MIN values; a
# shorter history, or one where the fit fails or forecasts a non-finite value, gets SF_FALLBACK_NAME.
SF_MODELS = ("AutoETS", "AutoARIMA", "AutoTheta")
SF_MIN = {"AutoETS": 7, "AutoARIMA": 1, "AutoTheta": 4}  # statsforecast 2.1: "tiny datasets" below
SF_FALLBACK_NAME = {"AutoETS": "naive", "AutoARIMA": "drift", "AutoTheta": "drift"}


def _sf_model(name: str, season: int):
    """statsforecast's ``name`` with the season length (1: no season), aliased to its display name."""
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta

    cls = {"AutoETS": AutoETS, "AutoARIMA": AutoARIMA, "AutoTheta": AutoTheta}[name]
    return cls(season_length=max(1, int(season)), alias=name)


def _sf_one(name: str, y: np.ndarray, horizon: int, season: int) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    f = np.full(horizon, np.nan)
    if len(y) >= SF_MIN[name]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                f = np.asarray(_sf_model(name, season).forecast(y=y, h=horizon)["mean"], dtype=np.float64)
            except Exception:  # noqa: BLE001 - as StatsForecast's own fallback_model: any failed fit falls back
                pass
    return f if np.all(np.isfinite(f)) else _STATIC[SF_FALLBACK_NAME[name]](y, horizon, season)


def auto_ets(y: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """statsforecast's AutoETS (Hyndman et al. 2002): the error, trend and season forms (additive,
    multiplicative or none; damped trend or not) chosen by AICc, fitted by maximum likelihood; the
    naive forecast on a history of fewer than ``SF_MIN['AutoETS']`` values or a failed fit."""
    return _sf_one("AutoETS", y, horizon, season)


def auto_arima(y: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """statsforecast's AutoARIMA (Hyndman & Khandakar 2008): differencing by unit-root tests, the
    orders by a stepwise AICc search; drift on a too-short history or a failed fit."""
    return _sf_one("AutoARIMA", y, horizon, season)


def auto_theta(y: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """statsforecast's AutoTheta (Fiorucci et al. 2016): the standard, optimised and dynamic Theta
    models chosen by in-sample error, on seasonally adjusted data when a seasonality test says so;
    drift on a too-short history or a failed fit."""
    return _sf_one("AutoTheta", y, horizon, season)


Baseline = Callable[[np.ndarray, int, int], np.ndarray]

_STATIC: dict[str, Baseline] = {"naive": naive, "seasonal naive": seasonal_naive, "drift": drift}
# every statistical method by display name, whichever library is the default
_STATS: dict[str, Baseline] = {"ETS": ets, "ARIMA": arima, "Theta": theta,
                               "AutoETS": auto_ets, "AutoARIMA": auto_arima, "AutoTheta": auto_theta}


def stat_names() -> dict[str, str]:
    """The statistical baselines in use, by kind: ``{'ets': 'AutoETS', 'arima': 'AutoARIMA',
    'theta': 'AutoTheta'}`` with statsforecast, ``{'ets': 'ETS', 'arima': 'ARIMA', 'theta':
    'Theta'}`` (statsmodels) without it, ``{}`` with neither."""
    if statsforecast_available():
        return {"ets": "AutoETS", "arima": "AutoARIMA", "theta": "AutoTheta"}
    if statsmodels_available():
        return {"ets": "ETS", "arima": "ARIMA", "theta": "Theta"}
    return {}


def baselines(include_stats: bool = True) -> dict[str, Baseline]:
    """The baselines by display name: naive, seasonal naive, drift, and with ``include_stats``
    the statistical ones of :func:`stat_names`."""
    out = dict(_STATIC)
    if include_stats:
        out.update({n: _STATS[n] for n in stat_names().values()})
    return out


ALIASES = {"naive": "naive", "seasonal naive": "seasonal naive", "snaive": "seasonal naive",
           "seasonal_naive": "seasonal naive", "drift": "drift",
           "autoets": "AutoETS", "autoarima": "AutoARIMA", "autotheta": "AutoTheta",
           "ets-statsmodels": "ETS", "arima-statsmodels": "ARIMA", "theta-statsmodels": "Theta"}


ARIMA_DEFAULT_MAX_SERIES = 200


def select(names: Sequence[str] | None, include_stats: bool = True, n_series: int | None = None,
           notes: list[str] | None = None) -> dict[str, Baseline]:
    """The baselines named in ``names`` (any case; 'snaive' for seasonal naive; 'ets', 'arima' and
    'theta' for the statistical ones in use, 'autoets' etc. for statsforecast's by name,
    'ets-statsmodels' etc. for statsmodels' beside them), or all of
    :func:`baselines` for None, less ARIMA on a panel of more than ``ARIMA_DEFAULT_MAX_SERIES``
    ``n_series`` (the slowest to fit; said in ``notes``); SeqlabError
    for an unknown name or a statistical one that is not available."""
    from ..errors import SeqlabError

    table = baselines(include_stats)
    if names is None:
        arima = [n for n in table if n in ("ARIMA", "AutoARIMA")]
        if arima and n_series is not None and n_series > ARIMA_DEFAULT_MAX_SERIES:
            del table[arima[0]]
            if notes is not None:
                notes.append(f"{arima[0]} is left out of the default baselines on a panel of more than "
                             f"{ARIMA_DEFAULT_MAX_SERIES} series (the slowest baseline to fit); --baselines "
                             "naive,snaive,drift,ets,arima,theta adds it")
        return table
    stats = stat_names()
    out = {}
    for n in names:
        low = n.strip().lower()
        key = ALIASES.get(low) or (stats.get(low) if low in ("ets", "arima", "theta") else None)
        if key is None and low in ("ets", "arima", "theta"):
            raise SeqlabError(f"--baselines: {n} needs statsforecast or statsmodels (pip install "
                              "seqlab[statsforecast] or seqlab[stats])")
        if key is None:
            raise SeqlabError(f"--baselines: unknown method {n!r}; expected some of naive, snaive, drift, ets, arima, "
                              "theta (autoets, autoarima, autotheta: statsforecast's by name; ets-statsmodels, "
                              "arima-statsmodels, theta-statsmodels: statsmodels')")
        if key in SF_MODELS and not statsforecast_available():
            raise SeqlabError(f"--baselines: {key} needs statsforecast (pip install seqlab[statsforecast]); "
                              f"'{key[4:].lower()}' picks statsmodels' {key[4:]}")
        if key in ("ETS", "ARIMA", "Theta") and not statsmodels_available():
            raise SeqlabError(f"--baselines: {n} needs statsmodels (pip install seqlab[stats])")
        if key in _STATS and not include_stats:
            raise SeqlabError(f"--baselines: {key} is a statistical baseline, left out by --no-stats; drop "
                              "--no-stats or that name")
        out[key] = {**_STATIC, **_STATS}[key]
    return out


def _show_progress(progress: bool) -> bool:
    from ..utils import is_interactive

    return bool(progress) and is_interactive() and not os.environ.get("SEQLAB_NO_PROGRESS")


def _chunk(histories: Sequence[np.ndarray], horizon: int, season: int, names: Sequence[str]) -> list[dict]:
    table = {**_STATIC, **_STATS}
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # no threadpoolctl: statsmodels' BLAS threads as they are
        return [{n: table[n](h, horizon, season) for n in names} for h in histories]
    with threadpool_limits(1):
        return [{n: table[n](h, horizon, season) for n in names} for h in histories]


def _statsforecast(histories: Sequence[np.ndarray], horizon: int, season: int, names: Sequence[str],
                   workers: int, progress: bool) -> dict[str, np.ndarray]:
    """statsforecast's models ``names`` on every history in one ``StatsForecast.forecast`` call
    (``workers`` processes), then each model's fallback where its history was too short or its fit
    failed (statsforecast's ``fallback_model``, here a NaN forecast, marks those): name -> (S, horizon)."""
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import NaNModel

    lens = np.array([len(h) for h in histories])
    out = {n: np.full((len(histories), horizon), np.nan) for n in names}
    fit = np.flatnonzero(lens >= min(SF_MIN[n] for n in names))
    if len(fit):
        df = pd.DataFrame({"unique_id": np.repeat(fit, lens[fit]),
                           "ds": np.concatenate([np.arange(lens[i]) for i in fit]),
                           "y": np.concatenate([histories[i] for i in fit])})
        sf = StatsForecast(models=[_sf_model(n, season) for n in names], freq=1, fallback_model=NaNModel(),
                           n_jobs=workers if workers > 1 and len(fit) >= 40 else 1, verbose=progress)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fits warn on convergence, and fork warns in a threaded process
            fc = sf.forecast(df=df, h=horizon)
        ids = fc["unique_id"].to_numpy().reshape(-1, horizon)[:, 0].astype(np.int64)  # one row per step
        for n in names:
            out[n][ids] = fc[n].to_numpy(dtype=np.float64).reshape(-1, horizon)  # (series, horizon)
    return out


def run_baselines(histories: Sequence[np.ndarray], horizon: int, season: int, names: Sequence[str],
                  workers: int = 1, notes: list[str] | None = None,
                  progress: bool = False) -> list[dict[str, np.ndarray]]:
    """Every baseline of ``names`` on every history: one dict name -> forecast (horizon,) per
    history; the same forecasts as the per-series functions.

    statsforecast's models run in one ``StatsForecast`` call over all the histories (``workers``
    processes for 40 histories or more); statsmodels' with ``workers`` > 1 and many histories in
    that many processes (joblib), each with one BLAS thread. The histories where a statsforecast
    model fell back to a simpler method are counted in ``notes``. ``progress``: a progress bar on a
    terminal (statsforecast's own, or one over the statsmodels chunks)."""
    histories = [np.asarray(h, dtype=np.float64) for h in histories]
    names = list(names)
    show = _show_progress(progress)
    auto = [n for n in names if n in SF_MODELS]
    rest = [n for n in names if n not in SF_MODELS]
    slow = [n for n in rest if n in ("ETS", "ARIMA", "Theta")]
    if not slow:
        results = _chunk(histories, horizon, season, rest)
    else:
        from ..utils import progress as bar

        n = max(1, -(-len(histories) // (4 * max(1, workers))))  # about 4 chunks per worker
        chunks = [histories[i:i + n] for i in range(0, len(histories), n)]
        parts = (_chunk(c, horizon, season, rest) for c in chunks)
        if workers > 1 and len(histories) >= 40:
            try:
                from joblib import Parallel, delayed
            except ImportError:  # joblib comes with seqlab[stats]; without it, one process
                pass
            else:
                parts = Parallel(n_jobs=workers, backend="loky", return_as="generator")(
                    delayed(_chunk)(c, horizon, season, rest) for c in chunks)
        results = [r for part in bar(parts, total=len(chunks), desc=", ".join(slow), verbose=int(show), leave=False)
                   for r in part]
    if auto:
        fc = _statsforecast(histories, horizon, season, auto, workers, show)
        for name in auto:
            fallback = _STATIC[SF_FALLBACK_NAME[name]]
            short = bad = 0
            for i, h in enumerate(histories):
                f = fc[name][i]
                if len(h) < SF_MIN[name] or not np.all(np.isfinite(f)):
                    short += len(h) < SF_MIN[name]
                    bad += len(h) >= SF_MIN[name]
                    f = fallback(h, horizon, season)
                results[i][name] = f
            if notes is not None and short:
                notes.append(f"{name}: {short} of {len(histories)} histories have fewer than {SF_MIN[name]} values; "
                             f"{SF_FALLBACK_NAME[name]} forecasts them")
            if notes is not None and bad:
                notes.append(f"{name}: the fit failed on {bad} of {len(histories)} histories; "
                             f"{SF_FALLBACK_NAME[name]} forecasts them")
    return [{n: r[n] for n in names} for r in results]
