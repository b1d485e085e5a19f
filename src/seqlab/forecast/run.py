"""The workflows behind ``seqlab forecast``, callable without argparse.

:func:`forecast` backtests a forecaster against the baselines, scores a final holdout, fits on
all the data, forecasts past its end, and writes the model and the plots; :func:`predict`
forecasts from new history with a saved forecaster. The command only parses its options and calls
one of them.

With ``save``, every network trained (each ensemble member of each backtest origin, of the holdout
fit and of the final fit) checkpoints into one file next to the model file (``m.safetensors``:
``m.ckpt.safetensors``); ``resume=True`` continues an interrupted run from it (finished networks
are loaded, baselines and forecasts recomputed; see :mod:`seqlab.forecast.checkpoints`), and the
file is removed once the model file is written. Under ``torchrun`` every process trains its share
of each batch; only rank 0 prints and writes files.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from time import perf_counter
from typing import Any, Sequence, TextIO

import pandas as pd

from ..cli_args import check_output
from ..errors import SeqlabError, check_int
from ..train.checkpoint import checkpoint_path
from ..train.distributed import is_main_process
from .backtesting import BacktestResult, backtest, format_table, max_folds
from .checkpoints import RunCheckpoint
from .data import SeriesData, prepare
from .forecaster import Forecaster


@dataclass
class ForecastRun:
    """What :func:`forecast` computed: the backtest (None when skipped), the holdout, the
    forecaster fitted on all the data, its forecast table, and the files written."""

    backtest: BacktestResult | None
    holdout: BacktestResult
    forecaster: Forecaster
    forecast: pd.DataFrame
    written: list[str] = field(default_factory=list)


def _printer(out: TextIO | None):
    if not is_main_process():
        return lambda *a: None
    return lambda *a: print(*a, file=out or sys.stdout)


def load_series(data: Any = None, target: str | None = None, time: str | None = None,
                covariates: Sequence[str] = (), series_id: str | None = None) -> tuple[list[SeriesData], str]:
    """The series to forecast and a description of their source (default: the embedded airline
    passengers, which take no column options)."""
    covariates = list(covariates)
    if data is None:
        if target or time or covariates or series_id:
            raise SeqlabError("--target/--time/--covariates/--series-id need --data FILE.csv")
        from ..data import load_airline

        return prepare(load_airline()), "embedded airline passengers, monthly 1949-1960"
    return prepare(data, target, time, covariates, series_id), str(data)


def forecast(data: Any = None, *, target: str | None = None, time: str | None = None,
             covariates: Sequence[str] = (), series_id: str | None = None, folds: int = 3, refit: bool = True,
             stats: bool = True, save: str | None = None, resume: bool = False, plot: str | None = "forecast.png",
             backtest_plot: str | None = "backtest.png", out: TextIO | None = None, **settings: Any) -> ForecastRun:
    """Backtest (``folds`` origins one horizon apart before the holdout; ``refit`` at each),
    score the holdout (the last horizon), fit on everything and forecast; print the tables on
    ``out`` (default stdout) and write ``save`` (the final forecaster), ``plot`` and
    ``backtest_plot`` (None: not written). ``stats`` adds the statsmodels baselines.

    ``settings``: any field of :class:`seqlab.forecast.ForecastConfig` (horizon, cell, hidden,
    ensemble, batch_size...) or of :class:`seqlab.train.TrainConfig` (epochs, lr, patience, seed,
    minutes, threads, device, verbose...); the defaults are ``ForecastConfig()`` and
    :func:`seqlab.forecast.task.training`. ``resume`` continues an interrupted run from the
    checkpoint next to ``save``."""
    t0 = perf_counter()
    say = _printer(out)
    for path, option in ((plot, "--plot"), (backtest_plot, "--backtest-plot"), (save, "--save")):
        check_output(path, option)
    check_int("--folds", folds, 0)
    if resume and not save:
        raise SeqlabError("--resume: needs --save PATH, the model file of the interrupted run (its checkpoint is "
                          "PATH.ckpt.safetensors)")
    probe = Forecaster(**settings)
    ckpt = checkpoint_path(save) if save else None
    train = replace(probe.train_config, checkpoint=None if ckpt is None else str(ckpt), resume=resume)
    run_ckpt = None if ckpt is None else RunCheckpoint(ckpt, resume)  # with resume: reads it now
    series, source = load_series(data, target, time, covariates, series_id)
    c = probe.config = probe.resolve(series)
    H = c.horizon
    need = probe.min_length() + H
    short = [s for s in series if len(s) < need]
    if short:
        s = short[0]
        raise SeqlabError(
            f"data: series {s.name!r} has {len(s)} values, fewer than the {need} needed (holdout {H} + "
            f"differencing {probe.lag} + lookback {c.lookback} + horizon {H if c.strategy == 'direct' else 1} + "
            f"validation {c.val_steps}); use a smaller --lookback/--horizon or a longer series")
    n_folds = min(folds, max_folds(series, probe, H, H, end_offset=H))
    say(f"seqlab forecast: {source}: {len(series)} series, {sum(len(s) for s in series)} values; "
        f"horizon {H}, season {c.season}, lookback {c.lookback}, {c.cell} x{c.layers} hidden {c.hidden}, "
        f"{c.strategy}, transform {c.transform}, diff {c.diff}, quantiles {','.join(f'{q:g}' for q in c.quantiles)}, "
        f"ensemble {c.ensemble}, seed {train.seed}")
    if resume:
        say(f"resuming from {ckpt}: {len(run_ckpt.weights)} network(s) already trained, the others train now")
    bt = None
    if n_folds:
        if n_folds < folds:
            say(f"note: the series allows {n_folds} backtest origin(s), not {folds}")
        bt = backtest(series, c, folds=n_folds, step=H, end_offset=H, refit=refit, include_stats=stats,
                      train=train, checkpoint=run_ckpt)
        cuts = sorted({r["cutoff"] for r in bt.forecasts if r["series"] == series[0].name})
        say(f"\nBacktest: {n_folds} origin(s), {H} steps each, expanding window, "
            f"{'refit at each origin' if refit else 'fit once'}; origins {', '.join(_when(series[0], k) for k in cuts)}")
        say(format_table(bt.table))
    elif folds:
        say("note: the series is too short for a backtest before the holdout; skipped")

    ho = backtest(series, c, folds=1, step=H, end_offset=0, include_stats=stats, train=train, checkpoint=run_ckpt)
    say(f"\nHoldout: the last {H} steps ({_when(series[0], len(series[0]) - H)} on), model fitted on everything before")
    say(format_table(ho.table))
    lo, hi = c.quantiles[0], c.quantiles[-1]
    if len(c.quantiles) > 1:
        say(f"{c.cell} {lo:g}-{hi:g} interval covers {100 * ho.coverage:.0f}% of the holdout values "
            f"(nominal {100 * (hi - lo):.0f}%)")
    model_mase = ho.table.loc[ho.model_name, "MASE"]
    if "seasonal naive" in ho.table.index:
        snaive = ho.table.loc["seasonal naive", "MASE"]
        say(f"holdout MASE: model {model_mase:.3f} {'beats' if model_mase < snaive else 'does not beat'} "
            f"seasonal naive {snaive:.3f}")

    final = Forecaster(c, train).fit(series, checkpoint=run_ckpt)
    future = final.predict()
    say(f"\nForecast: the {H} steps after the data (median, then the interval)")
    say(forecast_text(future))

    result = ForecastRun(bt, ho, final, future)
    if is_main_process():  # everything is computed: write the outputs
        if save:
            final.save(save)
            result.written.append(save)
            run_ckpt.discard()  # only once the model file is safely written
        if plot or backtest_plot:
            from .plots import plot_backtest, plot_forecast

            s0 = series[0]
            if plot:
                hrec = [r for r in ho.forecasts if r["series"] == s0.name][0]
                plot_forecast(plot, s0, c.quantiles, hrec["model"], hrec["cutoff"], final.predict_array([s0])[0],
                              title=f"{s0.name}: {c.cell} forecast, holdout MASE {model_mase:.3f}")
                result.written.append(plot)
            if backtest_plot and bt is not None:
                plot_backtest(backtest_plot, s0, bt.forecasts, bt.model_name, c.quantiles, bt.table)
                result.written.append(backtest_plot)
    if result.written:
        say(f"\nwrote {', '.join(result.written)}")
    say(f"done in {perf_counter() - t0:.1f} s")
    return result


def predict(model: str, data: Any = None, *, target: str | None = None, time: str | None = None,
            covariates: Sequence[str] = (), series_id: str | None = None, plot: str | None = "forecast.png",
            threads: int | None = 0, out: TextIO | None = None) -> pd.DataFrame:
    """Forecast with the forecaster saved at ``model`` from ``data`` (default: the history saved
    with it), without refitting, on the CPU with ``threads`` (0: automatic); print the forecast
    and write ``plot`` (None: no plot). Returns the forecast table."""
    say = _printer(out)
    check_output(plot, "--plot")
    f = Forecaster.load(model)
    f.train_config = replace(f.train_config, threads=threads)
    if data is not None:
        series, source = prepare(data, target, time, list(covariates), series_id), str(data)
    else:
        series, source = list(f.tails.values()), "the history saved with the model"
    pred = f.predict_array(series)
    frame = f.to_frame(series, pred)
    say(f"seqlab forecast: {model} ({f.config.cell}, horizon {f.config.horizon}), from {source}, no refitting")
    say(forecast_text(frame))
    if plot and is_main_process():
        from .plots import plot_forecast

        plot_forecast(plot, series[0], f.config.quantiles, future=pred[0], title=f"{series[0].name}: forecast")
        say(f"\nwrote {plot}")
    return frame


def forecast_text(frame: pd.DataFrame) -> str:
    """The forecast table as text: one line per series and step, median then the other quantiles."""
    lines = []
    for _, r in frame.iterrows():
        t = r["time"]
        t = t.strftime("%Y-%m-%d") if hasattr(t, "strftime") else str(t)
        qs = "  ".join(f"{c}={r[c]:.1f}" for c in frame.columns if c.startswith("q") and c != "q0.5")
        lines.append(f"  {r['series']:<12} {t:<12} {r['forecast']:>10.1f}   {qs}")
    return "\n".join(lines)


def _when(s: SeriesData, k: int) -> str:
    if s.time is not None and 0 <= k < len(s.time):
        t = s.time[k]
        return t.strftime("%Y-%m") if hasattr(t, "strftime") else str(t)
    return f"step {k}"
