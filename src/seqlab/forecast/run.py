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

import math
import sys
from dataclasses import dataclass, field, replace
from time import perf_counter
from typing import Any, Sequence, TextIO

import pandas as pd

import os

import numpy as np

from ..cli_args import PLOT_SUFFIXES, check_output, check_outputs
from ..errors import SeqlabError, check_int
from ..files import atomic_write_text, held_writes
from ..resources import check_fits, recurrent_estimate
from ..utils import resolve_device
from ..train.checkpoint import checkpoint_path
from ..train.distributed import is_main_process
from .backtesting import BacktestResult, backtest, format_panel, format_table, max_folds
from .checkpoints import RunCheckpoint
from .conformal import calibrate, cross_calibrated, interval_stats, widen
from .conformal import scores as conformal_scores
from .data import SeriesData, check_same_covariates, prepare
from .features import calendar_periods, time_labels
from .forecaster import Forecaster, clip_at_zero, season_choice
from .selection import (NETWORK, SELECT_MARGIN, SELECTED, Selection, backtest_mase, baseline_offsets, check_select,
                        choose, describe, quantile_forecasts, with_selected)

INTERVALS = ("conformal", "quantile")


@dataclass
class ForecastRun:
    """What :func:`forecast` computed: the backtest (None when skipped), the holdout, the
    forecaster fitted on all the data, its forecast table, and the files written."""

    backtest: BacktestResult | None
    holdout: BacktestResult
    forecaster: Forecaster
    forecast: pd.DataFrame
    written: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    selection: Selection | None = None  # select='backtest': the method chosen for every series


def _freq(series: Sequence[SeriesData], fallback: str | None = None) -> str | None:
    """The frequency of a panel's dates (None without), which times are printed at."""
    return next((s.freq for s in series if s.freq), fallback)


def _printer(out: TextIO | None):
    if not is_main_process():
        return lambda *a: None
    return lambda *a: print(*a, file=out or sys.stdout)


def load_series(data: Any = None, target: str | None = None, time: str | None = None,
                covariates: Sequence[str] = (), series_id: str | None = None,
                future_covariates: Sequence[str] = (), static_covariates: Sequence[str] = (),
                sep: str | None = ",", notes: list[str] | None = None, fill: str | None = None,
                wide: bool = False) -> tuple[list[SeriesData], str]:
    """The series to forecast and a description of their source (default: the embedded airline
    passengers, which take no column options); ``notes`` receives a note for a column that holds
    dates when no time column is given, and what ``fill`` and ``wide`` did (see
    :func:`seqlab.forecast.data.prepare`)."""
    covariates = list(covariates)
    if data is None:
        if target or time or covariates or series_id or future_covariates or static_covariates or fill or wide:
            raise SeqlabError("--target/--time/--series-id/--fill/--wide and the covariate options need --data "
                              "FILE.csv")
        from ..data import load_airline

        return prepare(load_airline()), "embedded airline passengers, monthly 1949-1960"
    series = prepare(data, target, time, covariates, series_id, list(future_covariates), list(static_covariates),
                     sep=sep, notes=notes, fill=fill, wide=wide)
    check_same_covariates(series)
    return series, str(data)


def _plot_choice(series: Sequence[SeriesData], spec: str | None) -> list[SeriesData]:
    """The series to plot: names separated by commas, or a count (spread over the panel);
    default one series, or 4 of a panel."""
    if spec is None or str(spec).strip() == "":
        count = 1 if len(series) == 1 else 4
    elif str(spec).strip().isdigit():
        count = int(spec)
    else:
        names = [x.strip() for x in str(spec).split(",") if x.strip()]
        by = {s.name: s for s in series}
        unknown = [n for n in names if n not in by]
        if unknown:
            shown = ", ".join(repr(s.name) for s in series[:5])
            raise SeqlabError(f"--plot-series: no series {unknown[0]!r} in the data; the series are {shown}"
                              f"{' ...' if len(series) > 5 else ''}")
        return [by[n] for n in names]
    count = max(0, min(count, len(series)))
    idx = np.unique(np.linspace(0, len(series) - 1, count).round().astype(int)) if count else []
    return [series[i] for i in idx]


def _conformal(bt: BacktestResult | None, extra: BacktestResult | None, alpha: float) -> np.ndarray | None:
    """Per-step conformal corrections from the model forecasts of ``bt`` (and ``extra``); None
    without them, or when they are too few for the quantile (an unbounded correction: the raw
    quantiles stay, with a note from :func:`_too_few`)."""
    recs = [r for b in (bt, extra) if b is not None for r in b.forecasts]
    if not recs:
        return None
    q = calibrate(np.concatenate([_scores(r) for r in recs]), alpha)
    return q if np.all(np.isfinite(q)) else None


def _too_few(alpha: float, what: str) -> str:
    """The note for a conformal calibration that has too few scores."""
    need = math.ceil(1 / alpha - 1 - 1e-9)
    return (f"conformal interval: too few backtest values to calibrate the {100 * (1 - alpha):.0f}% interval (at "
            f"least {need} per horizon step, or pooled over the steps); {what} is the network's raw quantiles "
            "(more --folds give more)")


def _scores(rec: dict) -> np.ndarray:
    a, p = rec["actual"], rec["model"]
    s = np.full((1, p.shape[0]), np.nan)
    s[0, : len(a)] = conformal_scores(a, p[: len(a), 0], p[: len(a), -1])
    return s


def _clip_rec(r: dict, w: np.ndarray, count: list[int] | None = None) -> np.ndarray:
    """Quantile forecasts ``w`` (H, Q) of backtest record ``r`` clipped at 0 when its series was
    trained on values >= 0 (the conformal widening can push the lower bound below 0); ``count``
    [n] adds the values changed."""
    if r.get("nonneg"):
        w, n = clip_at_zero(w)
        if count is not None:
            count[0] += n
    return w


def _interval_report(bt: BacktestResult, q: np.ndarray | None, alpha: float, mid: int, panel: bool,
                     count: list[int] | None = None) -> dict:
    """Coverage, width and Winkler of the raw and (with q) calibrated intervals over ``bt`` (the
    calibrated ones clipped at 0 as the forecasts are; ``count`` [n] adds the values clipped)."""
    a = np.concatenate([r["actual"] for r in bt.forecasts])
    lo = np.concatenate([r["model"][: len(r["actual"]), 0] for r in bt.forecasts])
    hi = np.concatenate([r["model"][: len(r["actual"]), -1] for r in bt.forecasts])
    scale = np.concatenate([np.full(len(r["actual"]), r["scale"]) for r in bt.forecasts]) if panel else None
    out = {"raw": interval_stats(a, lo, hi, alpha, scale)}
    if q is not None:
        los, his = [], []
        for r in bt.forecasts:
            w = _clip_rec(r, widen(r["model"][None], q, mid)[0], count)
            los.append(w[: len(r["actual"]), 0]), his.append(w[: len(r["actual"]), -1])
        out["calibrated"] = interval_stats(a, np.concatenate(los), np.concatenate(his), alpha, scale)
    return out


def _cross_coverage(bt: BacktestResult, alpha: float, mid: int) -> float | None:
    """Coverage of the calibrated intervals on the backtest, each origin calibrated on the others."""
    origins = sorted({r["origin"] for r in bt.forecasts})
    if len(origins) < 2:
        return None
    by = [[r for r in bt.forecasts if r["origin"] == k] for k in origins]
    qs = cross_calibrated([np.concatenate([_scores(r) for r in recs]) for recs in by], alpha)
    hits = []
    for recs, q in zip(by, qs):
        if q is None or not np.all(np.isfinite(q)):  # too few scores in the other origins
            continue
        for r in recs:
            w = _clip_rec(r, widen(r["model"][None], q, mid)[0])
            a = r["actual"]
            hits.append((a >= w[: len(a), 0]) & (a <= w[: len(a), -1]))
    return float(np.concatenate(hits).mean()) if hits else None


def forecast(data: Any = None, *, target: str | None = None, time: str | None = None,
             covariates: Sequence[str] = (), series_id: str | None = None,
             future_covariates: Sequence[str] = (), static_covariates: Sequence[str] = (), folds: int = 3,
             refit: bool = True, stats: bool = True, save: str | None = None, resume: bool = False,
             plot: str | None = "forecast.png", backtest_plot: str | None = "backtest.png",
             out_csv: str | None = None, plot_series: str | None = None, interval: str = "conformal",
             methods: Sequence[str] | None = None, out: TextIO | None = None, sep: str | None = ",",
             backtest_csv: str | None = None, fill: str | None = None, wide: bool = False,
             holdout_csv: str | None = None, select: str = "network", **settings: Any) -> ForecastRun:
    """Backtest (``folds`` origins one horizon apart before the holdout; ``refit`` at each),
    score the holdout (the last horizon of each series), fit on everything and forecast; print
    the tables on ``out`` (default stdout) and write ``save`` (the final forecaster), ``plot``
    and ``backtest_plot`` (None: not written; ``plot_series`` picks the series plotted) and
    ``out_csv`` (per series: the forecast and the holdout metrics). ``stats`` adds the
    statsmodels baselines; ``methods`` names the baselines (default all). ``interval``:
    'conformal' calibrates the outer quantile interval on the backtest's forecasts (split
    conformal per horizon step), 'quantile' keeps it raw. ``backtest_csv``: the backtest's
    forecasts, one row per series, origin and step (:meth:`BacktestResult.to_frame`, times as in
    ``out_csv``). ``holdout_csv``: the holdout's forecasts in the same columns, ``origin``
    'holdout'. ``fill`` and ``wide``: see :func:`seqlab.forecast.data.prepare`. ``select``:
    'network' forecasts every series with the network; 'backtest' forecasts every series with the
    one method of lowest mean backtest MASE over the series, a baseline only when its mean is more
    than ``SELECT_MARGIN`` (10 %) below the network's, scores that choice on the holdout (the
    method ``selected``) and keeps it in ``save`` (see :mod:`seqlab.forecast.selection`).

    ``settings``: any field of :class:`seqlab.forecast.ForecastConfig` (horizon, cell, hidden,
    model, ensemble, batch_size...) or of :class:`seqlab.train.TrainConfig` (epochs, lr, patience,
    seed, minutes, threads, device, verbose...); the defaults are ``ForecastConfig()`` and
    :func:`seqlab.forecast.task.training`. ``resume`` continues an interrupted run from the
    checkpoint next to ``save``."""
    t0 = perf_counter()
    say = _printer(out)
    outputs = {"--plot": plot, "--backtest-plot": backtest_plot, "--save": save, "--out": out_csv,
               "--backtest-out": backtest_csv, "--holdout-out": holdout_csv}
    for option, path in outputs.items():
        _check_csv_output(path, option)
        check_output(path, option, PLOT_SUFFIXES if "plot" in option else ())
    check_outputs(outputs, {"--data": data if isinstance(data, (str, os.PathLike)) else None})
    _check_plotting(plot, backtest_plot)
    check_int("--folds", folds, 0)
    if backtest_csv and folds == 0:
        raise SeqlabError("--backtest-out: writes the backtest's forecasts, but --folds 0 skips the backtest; give "
                          "--folds 1 or more, or drop --backtest-out")
    if interval not in INTERVALS:
        raise SeqlabError(f"--interval: expected one of {', '.join(INTERVALS)}, got {interval!r}")
    if check_select(select) == "backtest" and folds == 0:
        raise SeqlabError("--select backtest: chooses the method on the backtest, but --folds 0 skips the "
                          "backtest; give --folds 1 or more, or --select network")
    if resume and not save:
        raise SeqlabError("--resume: needs --save PATH, the model file of the interrupted run (its checkpoint is "
                          "PATH.ckpt.safetensors)")
    data_notes: list[str] = []
    series, source = load_series(data, target, time, covariates, series_id, future_covariates, static_covariates,
                                 sep, data_notes, fill=fill, wide=wide)
    if settings.get("horizon") is None:
        settings["horizon"] = _file_horizon(data) or 12
    longest = max(len(s) for s in series)
    if settings.get("season") is not None and settings["season"] > longest:
        raise SeqlabError(f"--season: {settings['season']} steps is longer than the longest series ({longest} "
                          "values), so no season repeats in the data; give the period of the seasonality in steps "
                          "(12 for monthly data with a yearly cycle)")
    probe = Forecaster(**settings)
    ckpt = checkpoint_path(save) if save else None
    train = replace(probe.train_config, checkpoint=None if ckpt is None else str(ckpt), resume=resume)
    c = probe.config = probe.resolve(series)
    parts = probe.part_configs(series)
    H = c.horizon
    for part in parts:
        check_memory(series, part, train)
    for s in series:  # before any work: future covariates must cover the horizon after the data
        if s.n_future and s.known_ahead < H:
            raise SeqlabError(f"data: the future covariates of series {s.name!r} are known for {max(0, s.known_ahead)} "
                              f"of the {H} steps after its last value; give them for the whole horizon")
    to_plot = _plot_choice(series, plot_series) if plot or backtest_plot else []
    run_ckpt = None if ckpt is None else RunCheckpoint(ckpt, resume)  # with resume: reads it now
    need = max(2, probe.lag + 2)
    if max(len(s) for s in series) < need + H:
        s = max(series, key=len)
        least, before = _holdout_minimum(s, settings, H)
        raise SeqlabError(
            f"data: the longest series, {s.name!r}, has {len(s)} values, fewer than the {least} a holdout of {H} "
            f"steps needs ({before} before it); use a smaller --horizon or longer series")
    n_folds = min(folds, max_folds(series, probe, H, H, end_offset=H))
    panel = len(series) > 1
    freq = _freq(series)
    cal = calendar_periods(freq) if c.calendar else []
    _, why = season_choice(series)
    season = f"season {c.season}" + (f" ({why}; --season N sets it)" if why and settings.get("season") is None else "")
    kinds = [f"lookback {','.join(str(x) for x in p.lookbacks)}, {p.model} {c.cell} x{c.layers} hidden {c.hidden}, "
             f"{c.strategy}, transform {c.transform}, diff {p.diff}, scaling {p.scaling}" for p in parts]
    say(f"seqlab forecast: {source}: {len(series)} series, {sum(len(s) for s in series)} values"
        + (f" (lengths {min(len(s) for s in series)}-{max(len(s) for s in series)})" if panel else "")
        + f"; horizon {H}, {season}, "
        + (kinds[0] if len(parts) == 1 else "mix, the mean of (" + ") and (".join(kinds) + ")")
        + f", quantiles {','.join(f'{q:g}' for q in c.quantiles)}, "
        f"ensemble {sum(c.ensemble * len(p.lookbacks) for p in parts)}, seed {train.seed}")
    feats = [f"calendar {', '.join(cal)} (sin, cos)" if cal else "no calendar features"]
    for what, n in (("past", series[0].n_covariates), ("known-future", series[0].n_future),
                    ("static", len(series[0].static))):
        if n:
            feats.append(f"{n} {what} covariate(s)")
    say(f"inputs: the target, {', '.join(feats)}; intervals: {interval}"
        + ("; the network or a baseline for every series, chosen on the backtest (--select backtest)"
           if select == "backtest" else ""))
    for n in data_notes:
        say(f"note: {n}")
    if resume:
        say(f"resuming from {ckpt}: {len(run_ckpt.weights)} network(s) already trained, the others train now")
    alpha = 1 - (c.quantiles[-1] - c.quantiles[0]) if len(c.quantiles) > 1 else None
    notes: list[str] = []
    bt = None
    if n_folds:
        if n_folds < folds:
            say(f"note: the longest series allows {n_folds} backtest origin(s), not {folds}")
        bt = backtest(series, c, folds=n_folds, step=H, end_offset=H, refit=refit, include_stats=stats,
                      train=train, checkpoint=run_ckpt, methods=methods)
        notes += bt.notes
        first = max(series, key=len)
        cuts = sorted({r["cutoff"] for r in bt.forecasts if r["series"] == first.name})
        say(f"\nBacktest: {n_folds} origin(s), {H} steps each, expanding window, "
            f"{'refit at each origin' if refit else 'fit once'}; "
            + (f"origins {', '.join(_when(first, k) for k in cuts)}" if not panel else
               f"origins counted back from each series' end ({len(bt.forecasts)} series-origins)"))
        say(format_table(bt.table) if not panel else format_panel(bt.panel, len({r['series'] for r in bt.forecasts})))
    elif folds:
        say("note: the series are too short for a backtest before the holdout; skipped"
            + ("; --backtest-out has the header only" if backtest_csv else ""))
    choice = None  # --select backtest: the method of every series
    if select == "backtest":
        choice, chosen_on = _choose(bt, series, notes)
        if chosen_on is not None:
            say(describe(choice, chosen_on, panel, SELECT_MARGIN, len(series)))

    ho = backtest(series, c, folds=1, step=H, end_offset=0, include_stats=stats, train=train, checkpoint=run_ckpt,
                  methods=methods)
    notes += [n for n in (x.replace("backtest origin 1", "the holdout") for x in ho.notes) if n not in notes]
    if choice is not None:  # chosen on the backtest above: the holdout only scores the choice
        ho = with_selected(ho, choice)
    n_ho = len({r["series"] for r in ho.forecasts})
    if panel:
        say(f"\nHoldout: the last {H} steps of each series ({n_ho} of {len(series)} series long enough), model "
            "fitted on everything before")
        say(format_panel(ho.panel, n_ho))
    else:
        say(f"\nHoldout: the last {H} steps ({_when(series[0], len(series[0]) - H)} on), model fitted on everything before")
        say(format_table(ho.table))
    clip_count = [(bt.clipped if bt is not None else 0) + ho.clipped]
    q_ho = _conformal(bt, None, alpha) if interval == "conformal" and alpha and bt is not None else None
    if interval == "conformal" and alpha and q_ho is None:
        say("note: no backtest to calibrate the interval on; the holdout interval is the raw quantiles'" if bt is None
            else "note: " + _too_few(alpha, "the holdout interval"))
    if alpha:
        rep = _interval_report(ho, q_ho, alpha, probe.mid, panel, clip_count)
        lo, hi = c.quantiles[0], c.quantiles[-1]
        units = " (in MASE scales)" if panel else ""
        r = rep["raw"]
        say(f"{lo:g}-{hi:g} interval (nominal {100 * (1 - alpha):.0f}%) on the holdout{units}: quantiles cover "
            f"{100 * r['coverage']:.0f}%, width {r['width']:.3g}, Winkler {r['winkler']:.3g}")
        if "calibrated" in rep:
            r = rep["calibrated"]
            cross = _cross_coverage(bt, alpha, probe.mid)
            extra = "" if cross is None else f"; backtest coverage {100 * cross:.0f}% (each origin calibrated on the others)"
            say(f"  conformal (calibrated on the backtest): covers {100 * r['coverage']:.0f}%, width {r['width']:.3g}, "
                f"Winkler {r['winkler']:.3g}{extra}")
        if choice is not None and len(c.quantiles) > 1:
            r = _selected_interval(ho, bt, choice, q_ho, c.quantiles, probe.mid, alpha, panel)
            how = ("the network kept: the network's interval" if choice == NETWORK
                   else "a chosen baseline's interval from its backtest errors")
            say(f"  selected ({how}): covers {100 * r['coverage']:.0f}%, "
                f"width {r['width']:.3g}, Winkler {r['winkler']:.3g}")
    mase_col = ho.panel["MASE mean"] if panel else ho.table["MASE"]
    model_mase = float(mase_col.loc[ho.model_name])
    for bname in ("seasonal naive", "ETS", "AutoETS"):
        if bname in mase_col.index:
            b = float(mase_col.loc[bname])
            say(f"holdout {'mean ' if panel else ''}MASE: model {model_mase:.3f} "
                f"{'beats' if model_mase < b else 'does not beat'} {bname} {b:.3f}")
    best = best_baseline(mase_col.drop(SELECTED, errors="ignore"), ho.model_name)
    if best is not None:
        say(f"holdout {'mean ' if panel else ''}MASE: model {model_mase:.3f} "
            f"{'beats' if model_mase < best[1] else 'does not beat'} the best baseline, {best[0]} {best[1]:.3f}")
    if choice is not None:
        say(f"holdout {'mean ' if panel else ''}MASE: selected {float(mase_col.loc[SELECTED]):.3f} "
            f"({'the network' if choice == NETWORK else choice}, chosen on the backtest), model {model_mase:.3f}")

    final = Forecaster(c, train).fit(series, checkpoint=run_ckpt)
    notes += [n for n in final.notes if n not in notes]
    if interval == "conformal" and alpha:
        q = _conformal(bt, ho, alpha)
        if q is None and len(c.quantiles) > 1:
            notes.append(_too_few(alpha, "the forecast's interval"))
        final.calibrate(q)
    if choice is not None:
        final.selection = _selection(final, choice, [*(bt.forecasts if bt is not None else []), *ho.forecasts], alpha,
                                     notes)
    future = final.predict()
    clip_count[0] += final.clipped
    fc_series = list(final.tails.values())
    say(f"\nForecast: the {H} steps after the data{_forecast_what(final, fc_series, panel)}"
        + (f"; {len(fc_series)} series, the first 2 shown" if panel else ""))
    shown = future[future["series"].isin([s.name for s in fc_series[:2]])] if panel else future
    say(forecast_text(shown if not panel else shown.groupby("series", sort=False).head(3), freq))
    if panel:
        say("  ...")
    if clip_count[0]:
        say(f"note: {clip_count[0]} forecast value(s) or interval bound(s) below 0 (backtest, holdout and forecast "
            "together) were clipped at 0: every training value of their series is >= 0")
    if notes:
        say(f"\nnotes ({len(notes)}): " + "; ".join(notes[:3]) + (" ..." if len(notes) > 3 else "")
            + (" (all in --out)" if out_csv and len(notes) > 3 else ""))

    result = ForecastRun(bt, ho, final, future, notes=data_notes + notes, selection=final.selection)
    check_finite_forecast(future)
    if is_main_process():  # everything is computed: write the outputs, all or none (held_writes)
        with held_writes():
            if save:
                final.save(save)
                result.written.append(save)
            if out_csv:
                atomic_write_text(out_csv, per_series_csv(series, future, ho, notes, freq).to_csv(index=False))
                result.written.append(out_csv)
            if backtest_csv:
                empty = BacktestResult(pd.DataFrame(), pd.DataFrame(), config=c)
                atomic_write_text(backtest_csv, backtest_table(bt or empty, freq).to_csv(index=False))
                result.written.append(backtest_csv)
            if holdout_csv:
                atomic_write_text(holdout_csv, backtest_table(ho, freq, origin="holdout").to_csv(index=False))
                result.written.append(holdout_csv)
            if plot or backtest_plot:
                from .plots import plot_backtest, plot_forecast

                if plot and to_plot:
                    preds = final.predict_array(to_plot)
                    title = f"{c.model} {c.cell} forecast, holdout {'mean ' if panel else ''}MASE {model_mase:.3f}"
                    if choice is not None:  # the forecast drawn is the selection's
                        title = (f"{_plot_method(final)} forecast, holdout {'mean ' if panel else ''}MASE "
                                 f"{float(mase_col.loc[SELECTED]):.3f} (selected; the network {model_mase:.3f})")
                    plot_forecast(plot, to_plot, c.quantiles, ho.forecasts, preds, title=title)
                    result.written.append(plot)
                if backtest_plot and bt is not None:
                    plot_backtest(backtest_plot, to_plot[0] if to_plot else series[0], bt.forecasts, bt.model_name,
                                  c.quantiles, bt.table if not panel else bt.panel.rename(columns={"MASE mean": "MASE"}))
                    result.written.append(backtest_plot)
        if save:
            run_ckpt.discard()  # only once the model file is safely written
    if result.written:
        say(f"\nwrote {', '.join(result.written)}")
    say(f"done in {perf_counter() - t0:.1f} s")
    return result


def _choose(bt: BacktestResult | None, series: Sequence[SeriesData],
            notes: list[str]) -> tuple[str, pd.DataFrame | None]:
    """``--select backtest``: the method of every series, chosen on the backtest
    (:func:`seqlab.forecast.selection.choose`; the network without a backtest, with a note), and
    the backtest MASE table it was chosen from (None without a backtest)."""
    if bt is None:
        notes.append("--select backtest: the series are too short for a backtest; the network forecasts every series")
        return NETWORK, None
    table = backtest_mase(bt.folds, bt.model_name)
    method = choose(table)
    out = sum(s.name not in table.index for s in series)
    if out and method != NETWORK:
        notes.append(f"--select backtest: {out} series sat the backtest out (too short); {method}, chosen on the "
                     "others, forecasts them too")
    return method, table


def _selected_interval(ho: BacktestResult, bt: BacktestResult | None, method: str, q: np.ndarray | None,
                       quantiles: Sequence[float], mid: int, alpha: float, panel: bool) -> dict:
    """Coverage, width and Winkler on the holdout of the selection's intervals: the network's
    (calibrated with ``q`` where given) when it was kept, else the chosen baseline's from its
    absolute errors on the backtest ``bt`` (see :func:`seqlab.forecast.selection.baseline_offsets`)."""
    offsets = baseline_offsets(bt.forecasts, method, quantiles)[0] if bt is not None and method != NETWORK else None
    a, lo, hi, scale = [], [], [], []
    for r in ho.forecasts:
        H = r["model"].shape[0]
        if offsets is not None and method in r["baselines"]:
            w = quantile_forecasts(np.asarray(r["baselines"][method], dtype=np.float64)[:H], offsets, r["scale"])
        else:
            w = r["model"] if q is None else widen(r["model"][None], q, mid)[0]
        w = _clip_rec(r, w)
        n = len(r["actual"])
        a.append(r["actual"]), lo.append(w[:n, 0]), hi.append(w[:n, -1]), scale.append(np.full(n, r["scale"]))
    return interval_stats(np.concatenate(a), np.concatenate(lo), np.concatenate(hi), alpha,
                          np.concatenate(scale) if panel else None)


def _selection(final: Forecaster, method: str, records: list[dict], alpha: float | None,
               notes: list[str]) -> Selection:
    """The selection the final forecaster keeps: ``method`` and, for a baseline, its conformal
    offsets from its absolute errors in ``records`` (the backtest's and the holdout's, as the
    network's final calibration); a note where they are too few."""
    if method == NETWORK:
        return Selection(NETWORK, None, SELECT_MARGIN)
    off, too_few = baseline_offsets(records, method, final.config.quantiles)
    if too_few and alpha:
        notes.append(f"--select backtest: too few backtest and holdout values to calibrate the interval of {method} "
                     f"(the {100 * (1 - alpha):.0f}% interval needs at least {math.ceil(1 / alpha - 1 - 1e-9)}); "
                     "its bounds are its largest error (more --folds give more)")
    return Selection(method, off.tolist(), SELECT_MARGIN)


def _forecast_what(final: Forecaster, series: Sequence[SeriesData], panel: bool) -> str:
    """What the forecast header says of the values shown (and, with ``--select backtest``, of the
    method that made them)."""
    what = f" (median, then the interval{', conformal' if final.conformal is not None else ''})"
    if final.selection is None:
        return what
    method = final.selection.method
    if method == NETWORK:
        return " by the network, chosen on the backtest" + what
    return f" by {method}, chosen on the backtest (its forecast, then the interval, conformal on its backtest and " \
           "holdout errors)"


def _plot_method(final: Forecaster) -> str:
    """The method named in the forecast plot's title with ``--select backtest``."""
    m = final.selection.method if final.selection is not None else NETWORK
    return f"{final.config.model} {final.config.cell}" if m == NETWORK else m


def best_baseline(mase: pd.Series, model_name: str) -> tuple[str, float] | None:
    """The baseline of lowest MASE in ``mase`` (one value per method, the model's row
    ``model_name`` left out, NaN ignored) and its MASE; None without any."""
    b = mase.drop(model_name, errors="ignore").astype(np.float64)
    b = b[np.isfinite(b.to_numpy())]
    if b.empty:
        return None
    name = str(b.idxmin())
    return name, float(b.loc[name])


def _holdout_minimum(s: SeriesData, settings: dict, H: int) -> tuple[int, int]:
    """The fewest values a series like ``s`` needs for a holdout of ``H`` steps with ``settings``
    (and the values before the holdout): the shortest length at which the forecaster resolved on
    it (the auto model depends on the length) keeps its differencing's need before the holdout.
    One number for every too-short series, whatever its length."""
    dated = isinstance(s.time, pd.DatetimeIndex) and s.freq is not None and len(s.time)
    for n in range(H + 1, H + 10_000):
        time = pd.date_range(s.time[0], periods=n, freq=s.freq) if dated else None
        like = SeriesData(s.name, np.ones(n), np.zeros((n, s.n_covariates)), time, None, dict(s.static), s.freq)
        probe = Forecaster(**settings)
        try:
            probe.config = probe.resolve([like])
        except SeqlabError:
            break
        before = max(2, probe.lag + 2)
        if n >= before + H:
            return n, before
    return H + 2, 2


_CSV_NAMES = {"--out": "forecast.csv", "--backtest-out": "backtest.csv", "--holdout-out": "holdout.csv"}


def _check_csv_output(path: Any, option: str) -> None:
    """SeqlabError for a CSV output (``--out``, ``--backtest-out``) that is a folder, suggesting a
    CSV file in it (other outputs: :func:`seqlab.cli_args.check_output`)."""
    if option in _CSV_NAMES and path is not None and str(path) and os.path.isdir(path):
        example = os.path.join(str(path), _CSV_NAMES[option])
        raise SeqlabError(f"{option}: {str(path)!r} is a folder; give a CSV file name such as {example!r}")


def check_finite_forecast(frame: pd.DataFrame) -> None:
    """SeqlabError, before any file is written, when a forecast value is NaN or infinite (data at
    the edge of float range, a network that diverged)."""
    values = frame.select_dtypes("number")
    bad = ~np.isfinite(values.to_numpy(dtype=np.float64))
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise SeqlabError(f"forecast: the {values.columns[j]} of series {frame['series'].iloc[i]!r}, step {i}, is "
                          f"{values.iat[i, j]}; the data's scale or the training diverged (try --transform none, "
                          "rescaled data or a smaller --lr); nothing was written")


def check_memory(series: Sequence[SeriesData], c: Any, train: Any) -> None:
    """SeqlabError before any training when the networks' options cannot fit in memory."""
    n = sum(len(s) for s in series)
    width = 1 + series[0].n_covariates + series[0].n_future + len(series[0].static) + 16  # + calendar
    est = recurrent_estimate(cell=c.cell, inputs=width, hidden=c.hidden, layers=c.layers,
                             batch=min(c.batch_size or 256, max(1, n)), steps=max(c.lookbacks),
                             outputs=c.horizon * len(c.quantiles))
    check_fits(est, "--hidden/--layers/--batch-size/--lookback/--horizon", resolve_device(train.device))


def per_series_csv(series: Sequence[SeriesData], future: pd.DataFrame, ho: BacktestResult,
                   notes: Sequence[str], freq: str | None = None) -> pd.DataFrame:
    """One row per series and forecast step: the forecast and its quantiles (times at the
    resolution of ``freq``, as :func:`labelled`), the series' holdout MASE, sMAPE and MAPE for the
    model and each baseline, and its notes."""
    per = ho.folds.groupby(["series", "method"], sort=False)[["MASE", "sMAPE", "MAPE"]].mean().unstack("method")
    per.columns = [f"holdout {m} {meth}" for m, meth in per.columns]
    frame = labelled(future, freq)
    frame = frame.merge(per, left_on="series", right_index=True, how="left")
    by = {}
    for n in notes:
        if n.startswith("series '"):
            name = n.split("'")[1]
            by.setdefault(name, []).append(n.split(": ", 1)[1])
    frame["notes"] = frame["series"].map(lambda s: "; ".join(by.get(s, [])))
    return frame


def backtest_table(bt: BacktestResult, freq: str | None = None, origin: str | None = None) -> pd.DataFrame:
    """What ``--backtest-out`` writes: :meth:`BacktestResult.to_frame`, its ``cutoff`` and
    ``time`` as text at the resolution of ``freq`` (as :func:`labelled`: dates join back to the
    input's); ``origin``: a label for every row's origin (``--holdout-out``: 'holdout')."""
    frame = bt.to_frame()
    if origin is not None:
        frame["origin"] = origin
    if len(frame):
        for col in ("cutoff", "time"):
            frame[col] = time_labels(frame[col], freq, compact=False)
    return frame


def _file_horizon(data: Any) -> int | None:
    """The horizon a Monash .tsf file states, if any."""
    if isinstance(data, (str, os.PathLike)) and str(data).lower().endswith(".tsf"):
        from .tsf import read_tsf

        return read_tsf(data).horizon
    return None


def predict(model: str, data: Any = None, *, target: str | None = None, time: str | None = None,
            covariates: Sequence[str] = (), series_id: str | None = None, plot: str | None = "forecast.png",
            threads: int | None = 0, out: TextIO | None = None, future_covariates: Sequence[str] = (),
            static_covariates: Sequence[str] = (), sep: str | None = ",", out_csv: str | None = None,
            fill: str | None = None, wide: bool = False) -> pd.DataFrame:
    """Forecast with the forecaster saved at ``model`` from ``data`` (default: the history saved
    with it), without refitting, on the CPU with ``threads`` (0: automatic); print the forecast,
    write ``plot`` (None: no plot) and ``out_csv`` (the forecast table: series, time, median and
    quantiles; None: none). ``fill`` and ``wide``: see :func:`seqlab.forecast.data.prepare`.
    Returns the forecast table."""
    say = _printer(out)
    check_output(plot, "--plot", PLOT_SUFFIXES)
    _check_csv_output(out_csv, "--out")
    check_output(out_csv, "--out")
    check_outputs({"--plot": plot, "--out": out_csv},
                  {"--model": model, "--data": data if isinstance(data, (str, os.PathLike)) else None})
    _check_plotting(plot)
    f = Forecaster.load(model)
    f.train_config = replace(f.train_config, threads=threads)
    data_notes: list[str] = []
    if data is not None:
        series, source = prepare(data, target, time, list(covariates), series_id, list(future_covariates),
                                 list(static_covariates), sep=sep, notes=data_notes, fill=fill, wide=wide), str(data)
    else:
        if fill or wide:
            raise SeqlabError("--fill/--wide: read --data, but none is given (the history saved with the model is "
                              "complete); drop them or pass --data FILE.csv")
        series, source = list(f.tails.values()), "the history saved with the model"
    for n in data_notes:  # before check_dates may refuse the history for want of them
        say(f"note: {n}")
    pred = f.predict_array(series)
    frame = f.to_frame(series, pred)
    freq = _freq(series, f.freq)
    say(f"seqlab forecast: {model} ({f.config.model} {f.config.cell}, horizon {f.config.horizon}), from {source}, "
        "no refitting" + _loaded_selection(f))
    say(forecast_text(frame, freq))
    written = []
    if is_main_process():
        with held_writes():  # the table and the plot: both, or when one fails, neither
            if out_csv:
                atomic_write_text(out_csv, labelled(frame, freq).to_csv(index=False))
                written.append(out_csv)
            if plot:
                from .plots import plot_forecast

                plot_forecast(plot, series[:1], f.config.quantiles, [], pred[:1], title=f"{series[0].name}: forecast")
                written.append(plot)
    if written:
        say(f"\nwrote {', '.join(written)}")
    return frame


def _check_plotting(*plots: str | None) -> None:
    """Before any work: SeqlabError when a plot is to be drawn (the default forecast.png and
    backtest.png included) and matplotlib is not installed, naming the fix."""
    from ..plotting import require_matplotlib

    for option, path in zip(("--plot", "--backtest-plot"), plots):
        if path:
            require_matplotlib(option, "--no-plot to run without plots", path)


def _loaded_selection(f: Forecaster) -> str:
    """What the loaded forecaster's selection (``--select backtest``) does: the method that
    forecasts every series; empty without one."""
    if f.selection is None:
        return ""
    m = f.selection.method
    return "; the network, chosen on the backtest" if m == NETWORK else \
        f"; {m}, chosen on the backtest, refitted on this history"


def labelled(frame: pd.DataFrame, freq: str | None) -> pd.DataFrame:
    """A forecast table with its times as text at the resolution of ``freq``
    (:func:`seqlab.forecast.features.time_labels`): what ``--out`` writes, in a training run and
    with ``seqlab forecast predict`` alike."""
    frame = frame.copy()
    frame["time"] = time_labels(frame["time"], freq, compact=False)  # dates join back to the input's
    return frame


def forecast_text(frame: pd.DataFrame, freq: str | None = None) -> str:
    """The forecast table as text: one line per series and step, median then the other quantiles;
    times at the resolution of ``freq`` (see :func:`labelled`)."""
    lines = []
    width = max([12, *(len(t) for t in time_labels(frame["time"], freq))])
    for (_, r), t in zip(frame.iterrows(), time_labels(frame["time"], freq)):
        qs = "  ".join(f"{c}={r[c]:.1f}" for c in frame.columns if c.startswith("q") and c != "q0.5")
        lines.append(f"  {r['series']:<12} {t:<{width}} {r['forecast']:>10.1f}   {qs}")
    return "\n".join(lines)


def _when(s: SeriesData, k: int) -> str:
    """Step ``k`` of ``s`` as text at the resolution of its frequency."""
    if s.time is not None and 0 <= k < len(s.time):
        return time_labels([s.time[k]], s.freq)[0]
    return f"step {k}"
