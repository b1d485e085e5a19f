"""Baseline forecasts: naive, seasonal naive, drift, and three statistical methods: statsforecast's
AutoETS, AutoARIMA and AutoTheta when statsforecast is installed (``pip install seqlab[statsforecast]``),
statsmodels' ETS, ARIMA and Theta otherwise (``pip install seqlab[stats]``).

Each baseline maps a history ``y`` (T,) to a point forecast (horizon,). The statistical ones are
fitted on the history only, like the model. On a history too short for a model (a seasonal one
needs two seasons, a fit needs a few values) or where its fit fails, each falls back to a simpler
one of its family, down to the naive forecast, so that every method forecasts every series of a
panel. :func:`run_baselines` computes them for many histories: statsforecast's models in one
``StatsForecast.forecast`` call over all the histories (its own processes), statsmodels' in
parallel processes (joblib); :class:`Beside` computes the same forecasts in background processes
while the caller does other work (a backtest fits its model meanwhile).
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


def _sf_fit_failed(exc: Exception) -> bool:
    """Whether ``exc`` is how statsforecast (2.1) says that a fit failed on a degenerate history
    (values near the float limits, a constant or too short a history for a season): ValueError
    (AutoARIMA's "No suitable ARIMA model found"; numpy's LinAlgError is one), RuntimeError ("No
    ARIMA model able to be estimated"), Exception itself (AutoETS's and AutoTheta's "no model able
    to be fitted"), and IndexError as the statsmodels baselines. Anything else is a programming
    error (a TypeError, an AttributeError, a KeyError ...) and propagates."""
    if isinstance(exc, (NotImplementedError, RecursionError)):
        return False
    return type(exc) is Exception or isinstance(exc, (ValueError, RuntimeError, IndexError))


def _sf_one(name: str, y: np.ndarray, horizon: int, season: int, notes: list[str] | None = None) -> np.ndarray:
    """statsforecast's ``name`` on one history; its fallback (:data:`SF_FALLBACK_NAME`) on a
    history too short for it, where its fit fails or where it forecasts a non-finite value, which
    ``notes`` counts as :func:`run_baselines` does (:func:`fallback_notes`)."""
    y = np.asarray(y, dtype=np.float64)
    f = np.full(horizon, np.nan)
    if len(y) >= SF_MIN[name]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                f = np.asarray(_sf_model(name, season).forecast(y=y, h=horizon)["mean"], dtype=np.float64)
            except Exception as exc:  # statsforecast raises Exception itself: see _sf_fit_failed
                if not _sf_fit_failed(exc):
                    raise
    if np.all(np.isfinite(f)):
        return f
    if notes is not None:
        notes.extend(fallback_notes([len(y)], {name: np.array([len(y) >= SF_MIN[name]])}))
    return _STATIC[SF_FALLBACK_NAME[name]](y, horizon, season)


def auto_ets(y: np.ndarray, horizon: int, season: int = 1, notes: list[str] | None = None) -> np.ndarray:
    """statsforecast's AutoETS (Hyndman et al. 2002): the error, trend and season forms (additive,
    multiplicative or none; damped trend or not) chosen by AICc, fitted by maximum likelihood; the
    naive forecast on a history of fewer than ``SF_MIN['AutoETS']`` values or a failed fit (said in
    ``notes``)."""
    return _sf_one("AutoETS", y, horizon, season, notes)


def auto_arima(y: np.ndarray, horizon: int, season: int = 1, notes: list[str] | None = None) -> np.ndarray:
    """statsforecast's AutoARIMA (Hyndman & Khandakar 2008): differencing by unit-root tests, the
    orders by a stepwise AICc search; drift on a too-short history or a failed fit (said in
    ``notes``)."""
    return _sf_one("AutoARIMA", y, horizon, season, notes)


def auto_theta(y: np.ndarray, horizon: int, season: int = 1, notes: list[str] | None = None) -> np.ndarray:
    """statsforecast's AutoTheta (Fiorucci et al. 2016): the standard, optimised and dynamic Theta
    models chosen by in-sample error, on seasonally adjusted data when a seasonality test says so;
    drift on a too-short history or a failed fit (said in ``notes``)."""
    return _sf_one("AutoTheta", y, horizon, season, notes)


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
# ARIMA also leaves the default set for a season longer than this (statsforecast's AutoARIMA with
# season 52 on 481 weekly values took over 150 s for one fit; a seasonal ARIMA's cost grows with
# the season) or for histories longer than ARIMA_DEFAULT_MAX_LENGTH values.
ARIMA_DEFAULT_MAX_SEASON = 24
ARIMA_DEFAULT_MAX_LENGTH = 2000


def select(names: Sequence[str] | None, include_stats: bool = True, n_series: int | None = None,
           notes: list[str] | None = None, season: int | None = None,
           length: int | None = None) -> dict[str, Baseline]:
    """The baselines named in ``names`` (any case; 'snaive' for seasonal naive; 'ets', 'arima' and
    'theta' for the statistical ones in use, 'autoets' etc. for statsforecast's by name,
    'ets-statsmodels' etc. for statsmodels' beside them), or all of
    :func:`baselines` for None, less ARIMA (the slowest to fit; said in ``notes``) on a panel of
    more than ``ARIMA_DEFAULT_MAX_SERIES`` ``n_series``, for a ``season`` longer than
    ``ARIMA_DEFAULT_MAX_SEASON`` or for a longest history (``length``) of more than
    ``ARIMA_DEFAULT_MAX_LENGTH`` values; SeqlabError for an unknown name or a statistical one that
    is not available. Nothing is fitted here."""
    from ..errors import SeqlabError

    table = baselines(include_stats)
    if names is None:
        arima = [n for n in table if n in ("ARIMA", "AutoARIMA")]
        why = None
        if n_series is not None and n_series > ARIMA_DEFAULT_MAX_SERIES:
            why = f"on a panel of more than {ARIMA_DEFAULT_MAX_SERIES} series"
        elif season is not None and season > ARIMA_DEFAULT_MAX_SEASON:
            why = f"for a season of {season} steps (more than {ARIMA_DEFAULT_MAX_SEASON})"
        elif length is not None and length > ARIMA_DEFAULT_MAX_LENGTH:
            why = f"on series of more than {ARIMA_DEFAULT_MAX_LENGTH} values"
        if arima and why:
            del table[arima[0]]
            if notes is not None:
                notes.append(f"{arima[0]} is left out of the default baselines {why} (the slowest baseline to "
                             "fit); --baselines naive,snaive,drift,ets,arima,theta adds it")
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
    if not progress:  # without importing seqlab.utils (torch): a process of baselines only starts fast
        return False
    from ..utils import is_interactive

    return is_interactive() and not os.environ.get("SEQLAB_NO_PROGRESS")


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
    results, failed = baseline_forecasts(histories, horizon, season, names, workers, progress)
    if notes is not None:
        notes.extend(fallback_notes([len(h) for h in histories], failed))
    return results


def baseline_forecasts(histories: Sequence[np.ndarray], horizon: int, season: int, names: Sequence[str],
                       workers: int = 1, progress: bool = False, calls: Sequence[tuple[int, int]] | None = None
                       ) -> tuple[list[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """:func:`run_baselines`' forecasts, and for each statsforecast model of ``names`` a mask
    (S,) of the histories long enough for it where its fit failed (its fallback forecasts them):
    what :func:`fallback_notes` counts. ``calls``: ranges ``(a, b)`` covering the histories, each
    given to statsforecast in a call of its own, in this process (see :func:`sf_calls`)."""
    histories = [np.asarray(h, dtype=np.float64) for h in histories]
    names = list(names)
    show = _show_progress(progress)
    auto = [n for n in names if n in SF_MODELS]
    rest = [n for n in names if n not in SF_MODELS]
    slow = [n for n in rest if n in ("ETS", "ARIMA", "Theta")]
    if not slow:
        results = _chunk(histories, horizon, season, rest)
    else:
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
        if show:
            from ..utils import progress as bar

            parts = bar(parts, total=len(chunks), desc=", ".join(slow), verbose=1, leave=False)
        results = [r for part in parts for r in part]
    failed: dict[str, np.ndarray] = {}
    if auto:
        if calls is None:
            fc = _statsforecast(histories, horizon, season, auto, workers, show)
        else:
            parts = [_statsforecast(histories[a:b], horizon, season, auto, 1, False) for a, b in calls]
            fc = {n: np.concatenate([p[n] for p in parts]) for n in auto}
        for name in auto:
            fallback = _STATIC[SF_FALLBACK_NAME[name]]
            failed[name] = np.zeros(len(histories), dtype=bool)
            for i, h in enumerate(histories):
                f = fc[name][i]
                if len(h) < SF_MIN[name] or not np.all(np.isfinite(f)):
                    failed[name][i] = len(h) >= SF_MIN[name]
                    f = fallback(h, horizon, season)
                results[i][name] = f
    return [{n: r[n] for n in names} for r in results], failed


def fallback_notes(lengths: Sequence[int], failed: dict[str, np.ndarray]) -> list[str]:
    """The notes on the histories (of ``lengths``) where a statsforecast model fell back to a
    simpler method: too short for it, or its fit failed there (``failed``, as
    :func:`baseline_forecasts` gives it)."""
    lengths = np.asarray(lengths)
    out = []
    for name, bad_at in failed.items():
        short, bad = int((lengths < SF_MIN[name]).sum()), int(np.sum(bad_at))
        if short:
            out.append(f"{name}: {short} of {len(lengths)} histories have fewer than {SF_MIN[name]} values; "
                       f"{SF_FALLBACK_NAME[name]} forecasts them")
        if bad:
            out.append(f"{name}: the fit failed on {bad} of {len(lengths)} histories; "
                       f"{SF_FALLBACK_NAME[name]} forecasts them")
    return out


# -- baselines beside other work ------------------------------------------------------------------

def sf_calls(lengths: Sequence[int], names: Sequence[str], workers: int = 1, size: int = 1) -> list[tuple[int, int]]:
    """Ranges ``(a, b)`` covering the histories of ``lengths``, at least ``size`` histories each
    where that is allowed, which statsforecast can fit in calls of their own and give exactly the
    numbers of :func:`baseline_forecasts` with ``workers``.

    statsforecast lays a call's histories end to end in one array, and some fits (AutoTheta's, in
    statsforecast 2.1) differ in the last bits (1e-12) with the parity of a history's place in that
    array. So a range starts at an even place of the calls baseline_forecasts makes: one call
    over all the histories it fits (with one worker or fewer than 40 of them; a range may then
    start wherever the histories fitted before it hold an even number of values), or with more
    workers statsforecast's own split of them into ``min(100 x processes, histories)`` calls
    (a range starts at each of those)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    n, size = len(lengths), max(1, int(size))
    auto = [x for x in names if x in SF_MODELS]
    if not auto:
        return [(a, min(a + size, n)) for a in range(0, n, size)]
    fit = lengths >= min(SF_MIN[x] for x in auto)
    idx = np.flatnonzero(fit)
    if workers > 1 and len(idx) >= 40:
        jobs = min(len(idx), workers)
        starts = [0] + [int(g[0]) for g in np.array_split(idx, min(100 * jobs, len(idx)))[1:]]
        return list(zip(starts, starts[1:] + [n]))
    even = np.concatenate([[0], np.cumsum(np.where(fit, lengths, 0))]) % 2 == 0
    out, a = [], 0
    while a < n:
        b = next((i for i in range(a + size, n) if even[i]), n)
        out.append((a, b))
        a = b
    return out


# Beside's histories come in units of about BESIDE_UNIT histories (whole ranges of sf_calls). Each
# background process takes the lowest unit nobody has taken yet, the caller of Beside.collect the
# highest: a unit is taken by creating the file "taken-<i>" (O_EXCL: exactly one process gets it),
# and its forecasts come back in "unit-<i>.npz". The background processes are plain Python
# processes, not multiprocessing's spawn (which imports the caller's __main__ script again). Their
# job and results are .npz files of arrays with the settings as JSON, read without pickle.
BESIDE_UNIT = 25
_META = "__meta__"

_CHILD = ("import json, sys\n"
          "with open(sys.argv[2]) as fh:\n"
          "    sys.path[:] = json.load(fh)\n"
          "from seqlab.forecast.baselines import _beside_worker\n"
          "_beside_worker(sys.argv[1])\n")


def _write_npz(path: str, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """``arrays`` and the JSON ``meta`` as one .npz, written whole or not at all."""
    import json

    part = path + ".part"
    with open(part, "wb") as fh:
        np.savez(fh, **{_META: np.array(json.dumps(meta))}, **arrays)
    os.replace(part, path)


def _read_npz(path: str) -> tuple[dict, dict[str, np.ndarray]]:
    import json

    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return json.loads(str(arrays.pop(_META))), arrays


def _write_job(path: str, job: dict) -> None:
    meta = {k: v for k, v in job.items() if k != "histories"}
    _write_npz(path, {**meta, "n": len(job["histories"])}, {f"h{i}": h for i, h in enumerate(job["histories"])})


def _read_job(path: str) -> dict:
    meta, arrays = _read_npz(path)
    n = meta.pop("n")
    return {**meta, "histories": [arrays[f"h{i}"] for i in range(n)]}


def _write_unit(path: str, out: tuple[list[dict[str, np.ndarray]], dict[str, np.ndarray]]) -> None:
    results, failed = out
    keys = [list(r) for r in results]
    arrays = {f"r{k}_{j}": r[n] for k, r in enumerate(results) for j, n in enumerate(keys[k])}
    arrays.update({f"f{j}": v for j, v in enumerate(failed.values())})
    _write_npz(path, {"keys": keys, "failed": list(failed)}, arrays)


def _read_unit(path: str) -> tuple[list[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    meta, arrays = _read_npz(path)
    results = [{n: arrays[f"r{k}_{j}"] for j, n in enumerate(names)} for k, names in enumerate(meta["keys"])]
    return results, {n: arrays[f"f{j}"] for j, n in enumerate(meta["failed"])}


def _take(folder: str, i: int) -> bool:
    try:
        os.close(os.open(os.path.join(folder, f"taken-{i}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _unit(job: dict, i: int) -> tuple[list[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    calls = job["units"][i]
    a, b = calls[0][0], calls[-1][1]
    return baseline_forecasts(job["histories"][a:b], job["horizon"], job["season"], job["names"],
                              calls=[(x - a, y - a) for x, y in calls])


def _beside_worker(path: str) -> None:
    """A background process of :class:`Beside` on the job at ``path``: the units nobody has taken
    yet, lowest first, until none is left or the process that started this one is gone."""
    job = _read_job(path)
    folder = os.path.dirname(path)
    for i in range(len(job["units"])):
        if os.getppid() != job["parent"]:
            return
        if not _take(folder, i):
            continue
        _write_unit(os.path.join(folder, f"unit-{i}.npz"), _unit(job, i))


class Beside:
    """:func:`baseline_forecasts` over ``histories`` with ``workers``, computed by ``processes``
    background Python processes (one BLAS thread each) started here, so that the caller can do
    other work (fit a model) meanwhile. :meth:`collect` then computes the units nobody has started
    yet, one at a time, and returns exactly what ``baseline_forecasts(histories, horizon,
    season, names, workers)`` returns (see :func:`sf_calls`). A process that cannot start or dies
    loses nothing: collect computes its share. :meth:`close` (collect calls it) stops the
    processes and removes their folder."""

    def __init__(self, histories: Sequence[np.ndarray], horizon: int, season: int, names: Sequence[str],
                 processes: int = 1, workers: int = 1, unit: int | None = None) -> None:
        import json
        import subprocess
        import sys
        import tempfile

        self.histories = [np.asarray(h, dtype=np.float64) for h in histories]
        self.horizon, self.season, self.names, self.workers = horizon, season, list(names), workers
        size = unit or BESIDE_UNIT
        self.units: list[list[tuple[int, int]]] = []
        for call in sf_calls([len(h) for h in self.histories], self.names, workers, size):
            if self.units and self.units[-1][-1][1] - self.units[-1][0][0] < size:
                self.units[-1].append(call)
            else:
                self.units.append([call])
        self.procs: list = []
        self.folder: str | None = None
        try:
            self.folder = tempfile.mkdtemp(prefix="seqlab-baselines-")
            path, sys_path = os.path.join(self.folder, "job.npz"), os.path.join(self.folder, "sys_path.json")
            _write_job(path, self._job())
            with open(sys_path, "w") as fh:
                json.dump(list(sys.path), fh)
            one = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                    "NUMBA_NUM_THREADS")}
            env = {**os.environ, **one, "SEQLAB_NO_PROGRESS": "1"}
            for _ in range(processes):  # none: collect computes everything
                self.procs.append(subprocess.Popen([sys.executable, "-c", _CHILD, path, sys_path], env=env,
                                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                   stderr=subprocess.DEVNULL))
        except Exception:  # noqa: BLE001 - fewer background processes, or none: collect computes the rest
            pass

    def _job(self) -> dict:
        return {"parent": os.getpid(), "units": self.units, "histories": self.histories, "horizon": self.horizon,
                "season": self.season, "names": self.names}

    def collect(self) -> tuple[list[dict[str, np.ndarray]], dict[str, np.ndarray]]:
        """``baseline_forecasts(histories, horizon, season, names, workers)``: the units the
        background processes delivered, the others computed here (one at a time while a
        background process runs; all at once, with ``workers``, when none delivered any)."""
        n = len(self.units)
        done: dict[int, tuple] = {}
        job = self._job()
        try:
            if self.folder is not None:
                for i in reversed(range(n)):
                    if not any(p.poll() is None for p in self.procs):
                        break
                    if _take(self.folder, i):
                        done[i] = _unit(job, i)
                for p in self.procs:
                    p.wait()
                for i in range(n):
                    if i not in done:
                        try:
                            done[i] = _read_unit(os.path.join(self.folder, f"unit-{i}.npz"))
                        except Exception:  # noqa: BLE001 - not taken, or its process died first
                            pass
            if not done:
                return baseline_forecasts(self.histories, self.horizon, self.season, self.names, self.workers)
            for i in range(n):
                if i not in done:
                    done[i] = _unit(job, i)
        finally:
            self.close()
        results = [r for i in range(n) for r in done[i][0]]
        failed = {k: np.concatenate([done[i][1][k] for i in range(n)]) for k in self.names if k in SF_MODELS}
        return results, failed

    def close(self) -> None:
        """Stop the background processes still running and remove their folder."""
        import shutil

        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        self.procs = []
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
