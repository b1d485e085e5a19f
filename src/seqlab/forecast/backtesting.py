"""Rolling-origin backtest over a panel: several forecast origins, an expanding window, optional refit.

For each origin (see :func:`seqlab.forecast.windows.cutoffs`, counted back from each series' own
end) the model and every baseline see the values before it only and forecast the next
``horizon`` steps. With ``refit=True`` the model is fitted again at every origin; with
``refit=False`` it is fitted once, at the first origin, and forecasts every later origin from
that origin's history without refitting. Every series of an origin is forecast in one batch per
network, and the baselines run in parallel over the series: on a large panel in a background
process that starts before the first fit, since every origin's histories are known then (see
:func:`beside_split`), with exactly the forecasts they give after the fits.

Series of a panel differ in length: a series too short for an origin (it needs two values before
it) sits that origin out, with a note, instead of stopping the backtest. Metrics are computed per
series and origin, MASE scaled by that training part's in-sample seasonal naive error, averaged
over a series' origins, then summarised over the series: the mean (and, for panels, the median)
of each metric, and the share of series where the model's MASE beats each baseline's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import SeqlabError
from ..train import TrainConfig
from ..train.distributed import env_world
from ..utils import limit_threads, resolve_threads, thread_policy, user_set_threads
from .baselines import _STATIC, Beside, baseline_forecasts, fallback_notes, select
from .checkpoints import RunCheckpoint
from .data import SeriesData, prepare
from .forecaster import ForecastConfig, Forecaster
from .metrics import METRICS, all_metrics, mase_scale
from .windows import cutoffs

PANEL_METRICS = ("MASE", "sMAPE", "MAPE")

# The baselines run beside the model's fits, in background processes (see
# seqlab.forecast.baselines.Beside), when a statistical one is among them and the backtest has at
# least this many histories; otherwise inline after the fits, as with fewer than two threads.
BESIDE_MIN_HISTORIES = 200


@dataclass
class BacktestResult:
    """``table``: mean metrics per method (rows); ``folds``: one row per method, series and origin;
    ``forecasts``: per series and origin, the actual values, the model's quantiles (H, Q) and each
    baseline's forecast; ``coverage``: share of actual values inside the model's outer interval;
    ``panel``: per method the mean and median over series of MASE, sMAPE and MAPE and the share of
    series where the model beats it; ``notes``: series that sat an origin out, and why;
    ``clipped``: how many of the model's forecast values were clipped at 0 (each record's
    ``nonneg``: its series' training values are all >= 0, so its forecasts are clipped)."""

    table: pd.DataFrame
    folds: pd.DataFrame
    forecasts: list[dict] = field(default_factory=list)
    coverage: float = float("nan")
    model_name: str = "model"
    config: ForecastConfig | None = None
    forecaster: Forecaster | None = None  # the last fitted one
    panel: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    clipped: int = 0  # the model's forecast values clipped at 0 (a series whose training values are all >= 0)

    def to_frame(self) -> pd.DataFrame:
        """``forecasts`` as one tidy table, a row per series, origin and horizon step: ``series``,
        ``origin`` (1 for the first, as in the notes), ``cutoff`` (the time of the last value the
        forecast saw; its position for undated series), ``step`` (1 to the horizon), ``time``,
        ``actual``, ``forecast`` (the model's median), one ``q<level>`` column per quantile, then
        one column per baseline (its name) with its forecast, and for a holdout scored with a
        selection (:func:`seqlab.forecast.selection.with_selected`) ``selected`` (the chosen
        method's forecast) and ``method`` (that method). Empty (with these columns) when no
        series was forecast."""
        quantiles = list(self.config.quantiles) if self.config is not None else []
        qcols = [f"q{q:g}" for q in quantiles]
        mid = quantiles.index(0.5) if 0.5 in quantiles else len(quantiles) // 2
        names = list(dict.fromkeys(b for r in self.forecasts for b in r["baselines"]))
        selected = bool(self.forecasts) and all("selected" in r for r in self.forecasts)  # --select backtest
        frames = []
        for r in self.forecasts:
            p = r["model"]  # (H, Q)
            H, cut, t = p.shape[0], r["cutoff"], r["time"]
            at = np.arange(cut, cut + H)  # (H,) positions of the forecast steps in the series
            if t is None:
                times, cutoff = at, cut - 1
            else:
                times = [t[i] if i < len(t) else None for i in at]
                cutoff = t[cut - 1]
            actual = np.full(H, np.nan)
            actual[: len(r["actual"])] = r["actual"]
            frame = pd.DataFrame({"series": r["series"], "origin": r["origin"] + 1, "cutoff": [cutoff] * H,
                                  "step": np.arange(1, H + 1), "time": times, "actual": actual,
                                  "forecast": p[:, mid]})
            for j, c in enumerate(qcols):
                frame[c] = p[:, j]
            for b in names:
                f = r["baselines"].get(b)
                frame[b] = np.nan if f is None else np.asarray(f, dtype=np.float64)[:H]
            if selected:
                frame["selected"] = np.asarray(r["selected"], dtype=np.float64)[:H]
                frame["method"] = r["method"]
            frames.append(frame)
        columns = ["series", "origin", "cutoff", "step", "time", "actual", "forecast", *qcols, *names,
                   *(["selected", "method"] if selected else [])]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def max_folds(series: Sequence[SeriesData], forecaster: Forecaster, horizon: int, step: int, end_offset: int = 0) -> int:
    """How many origins the longest series allows (a series shorter than an origin needs sits it
    out): each origin needs two values of history (one to difference more) before it."""
    need = max(2, forecaster.lag + 2)
    return max(0, max((len(s) - end_offset - horizon - need) // step + 1 for s in series))


def backtest(data: Any, config: ForecastConfig | None = None, folds: int = 3, step: int | None = None,
             end_offset: int = 0, refit: bool = True, include_stats: bool = True,
             model_name: str | None = None, train: TrainConfig | None = None,
             checkpoint: RunCheckpoint | None = None, fitted: Forecaster | None = None,
             methods: Sequence[str] | None = None, **data_kwargs: Any) -> BacktestResult:
    """Backtest a forecaster with ``config`` (training with ``train``, default
    :func:`seqlab.forecast.task.training`) and the baselines on ``data``.

    The last origin's test block ends ``end_offset`` steps before the end of each series (use the
    horizon to keep a final holdout out of the backtest); earlier origins are ``step`` (default
    ``horizon``) steps apart. Every refit checkpoints into ``checkpoint`` (or one file at
    ``train.checkpoint``), so an interrupted backtest resumes (see
    :mod:`seqlab.forecast.checkpoints`). ``fitted``: a forecaster to evaluate without fitting.
    ``methods``: the baselines to run (names of :func:`seqlab.forecast.baselines.select`; default all).
    """
    series = prepare(data, **data_kwargs)
    probe = Forecaster(config, train)
    t = probe.train_config
    if checkpoint is None and t.checkpoint:
        checkpoint = RunCheckpoint(t.checkpoint, t.resume)
    c = probe.resolve(series)
    probe.config = c
    H, m = c.horizon, c.season
    step = H if step is None else step
    need = max(2, probe.lag + 2)
    if max_folds(series, probe, H, step, end_offset) < folds:
        longest = max(len(s) for s in series)
        least = need + H + end_offset + (folds - 1) * step
        can = max_folds(series, probe, H, step, end_offset)
        if end_offset == 0 and folds == 1:  # the holdout: the last horizon of each series
            raise SeqlabError(f"--horizon: a holdout of the last {H} steps needs a series of at least {least} values "
                              f"({need} before it), the longest has {longest}; give --horizon "
                              f"{max(1, longest - need)} or less, or longer series" if longest > need else
                              f"--horizon: a holdout of the last {H} steps needs a series of at least {least} values "
                              f"({need} before it), the longest has {longest}; give longer series")
        raise SeqlabError(
            f"--folds: {folds} backtest origin(s) {step} steps apart (--horizon {H}) need a series of at least "
            f"{least} values, the longest has {longest}; give --folds {can}"
            + (" (no backtest)" if can == 0 else "") + " or a smaller --horizon")
    name = model_name or (f"model ({c.cell})" if c.model == "rnn" else f"model ({c.model})")
    notes: list[str] = []
    base = select(methods, include_stats, n_series=len(series), notes=notes, season=m,
                  length=max(len(s) for s in series))
    cuts = {s.name: cutoffs(len(s), H, folds, step, len(s) - end_offset) for s in series}
    # every origin's histories are known before any fit: the baselines can start on them now
    heads_at = [[s.head(cuts[s.name][k]) for s in series if cuts[s.name][k] >= need] for k in range(folds)]
    every = [h for heads in heads_at for h in heads]
    split = beside_split(t.threads) if fitted is None or refit else None
    beside, fit_t = None, t
    if split and len(every) >= BESIDE_MIN_HISTORIES and any(b not in _STATIC for b in base):
        # the same forecasts as after the fits (Beside reproduces the layout of those workers)
        fit_t = replace(t, threads=split[0])
        beside = Beside([h.target for h in every], H, m, list(base), processes=split[1],
                        workers=resolve_threads(t.threads) or 1)
    rows, forecasts, inside = [], [], []
    clipped = 0  # the model's forecast values clipped at 0 (series trained on values >= 0)
    jobs = []  # (record, history, head) for the baselines
    try:
        for k in range(folds):
            heads = heads_at[k]
            for s in series:
                if cuts[s.name][k] < need:
                    notes.append(f"series {s.name!r}: {max(0, cuts[s.name][k])} value(s) before backtest origin "
                                 f"{k + 1}, fewer than the {need} needed; sits it out")
            if not heads:
                continue
            if fitted is None or refit:
                fitted = Forecaster(c, fit_t).fit(heads, checkpoint=checkpoint)
                if fit_t is not t:  # it predicts with the threads the caller asked for
                    fitted.train_config = replace(fitted.train_config, threads=t.threads)
            known = [h for h in heads if h.name in fitted.transforms or len(fitted.transforms) == 1]
            for h in heads:
                if h not in known:
                    notes.append(f"series {h.name!r}: not in the model fitted at the first origin (too short then); "
                                 f"sits origin {k + 1} out")
            if not known:
                continue
            before = fitted.clipped
            pred = fitted.predict_array(known, calibrated=False)  # (S, H, Q): every series in one batch
            clipped += fitted.clipped - before
            for h, p in zip(known, pred):
                s = next(x for x in series if x.name == h.name)
                cut = len(h)
                actual = s.target[cut : cut + H]
                rec = {"series": s.name, "cutoff": cut, "origin": k, "time": s.time, "actual": actual, "model": p,
                       "baselines": {}, "scale": _scale(h.target, m), "nonneg": fitted.nonnegative(h.name)}
                rows.append({"method": name, "series": s.name, "cutoff": cut,
                             **all_metrics(actual, p[: len(actual), fitted.mid], h.target, m)})
                inside.append((actual >= p[: len(actual), 0]) & (actual <= p[: len(actual), -1]))
                forecasts.append(rec)
                jobs.append((rec, h.target, h))
        if not forecasts:
            raise SeqlabError(f"--folds: no series is long enough for any of the {folds} backtest origin(s) (--horizon "
                              f"{H}); give fewer --folds (0: no backtest) or a smaller --horizon")
        if beside is not None and len(jobs) == len(every) and all(j[2] is h for j, h in zip(jobs, every)):
            with limit_threads(1):  # the background processes hold the other cores
                results, failed = beside.collect()
        else:  # inline; also when some series sat an origin out (refit=False), as the histories differ then
            workers = resolve_threads(t.threads) or 1
            with thread_policy(t.threads):
                results, failed = baseline_forecasts([j[1] for j in jobs], H, m, list(base), workers,
                                                     progress=t.verbose == 1)
    finally:
        if beside is not None:
            beside.close()
    notes.extend(fallback_notes([len(j[1]) for j in jobs], failed))
    for (rec, hist, _), res in zip(jobs, results):
        actual = rec["actual"]
        for bname, f in res.items():
            rec["baselines"][bname] = f
            rows.append({"method": bname, "series": rec["series"], "cutoff": rec["cutoff"],
                         **all_metrics(actual, f[: len(actual)], hist, m)})
    folds_df = pd.DataFrame(rows)
    order = [name, *base]
    table = folds_df.groupby("method", sort=False)[list(METRICS)].mean()
    table = table.reindex([o for o in order if o in table.index])
    cov = float(np.concatenate(inside).mean()) if c.quantiles and len(c.quantiles) > 1 else float("nan")
    return BacktestResult(table, folds_df, forecasts, cov, name, c, fitted, panel_table(folds_df, name, order), notes,
                          clipped)


def beside_split(threads: int | None) -> tuple[int, int] | None:
    """How :func:`backtest` shares the CPU threads that ``threads`` gives (see
    :func:`seqlab.utils.resolve_threads`; None: torch's setting) when its baselines run beside the
    model's fits: (the model's torch threads, the baselines' processes), half each, the model the
    larger half; None to run them after the fits: with one thread, or under torchrun (its
    processes share the cores already). Automatic threads (0) count at least two on two cores or
    more: the baselines' process does not wait on the model's threads, so on a busy core it only
    shares it.

    Measured on 2 cores shared with other programs, ``seqlab forecast`` on 1,000 series of 60
    values, horizon 12, one fold, default baselines (AutoETS and AutoTheta), done in: automatic
    threads at load 1.1-1.7, 110-122 s with the baselines after the fits (the model and then the
    baselines on one thread, as the load gives) and 68-74 s beside them (three pairs, taken in
    turns); ``--threads 2``, 91 s after the fits (and once 447 s: two torch threads stall while
    another program holds a core), 69 s beside them with this split, 103 s with the model on both
    threads beside the baselines' process. With another program holding a whole core (load
    2.5-2.9) there is no spare CPU to gain: 115-128 s beside, 109-117 s after."""
    if env_world().enabled:
        return None
    n = resolve_threads(threads)
    if n is None:
        import torch

        n = torch.get_num_threads()
    if threads == 0 and not user_set_threads():
        try:
            cores = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cores = os.cpu_count() or 1
        n = max(n, min(2, cores))
    if n < 2:
        return None
    return n - n // 2, n // 2


def _scale(history: np.ndarray, season: int) -> float:
    try:
        return mase_scale(history, season)
    except SeqlabError:
        return float("nan")


def panel_table(folds: pd.DataFrame, model: str, order: Sequence[str]) -> pd.DataFrame:
    """Per method: mean and median over series (each series averaged over its origins) of MASE,
    sMAPE and MAPE, and the share of series where the model's MASE is lower (ties count half)."""
    per = folds.groupby(["method", "series"], sort=False)[list(PANEL_METRICS)].mean()
    out = {}
    model_mase = per.loc[model, "MASE"] if model in per.index.get_level_values(0) else None
    for meth in order:
        if meth not in per.index.get_level_values(0):
            continue
        p = per.loc[meth]
        row = {}
        for mt in PANEL_METRICS:
            v = p[mt].to_numpy(dtype=np.float64)
            v = v[~np.isnan(v)]  # a metric undefined for a series (MASE of a constant history) is left out
            row[f"{mt} mean"] = float(v.mean()) if len(v) else float("nan")
            row[f"{mt} median"] = float(np.median(v)) if len(v) else float("nan")
        if model_mase is not None and meth != model:
            a, b = model_mase.align(p["MASE"], join="inner")
            ok = a.notna() & b.notna()
            wins = (a[ok] < b[ok]).sum() + 0.5 * (a[ok] == b[ok]).sum()
            row["model beats"] = float(wins / ok.sum()) if ok.sum() else float("nan")
        else:
            row["model beats"] = float("nan")
        out[meth] = row
    return pd.DataFrame.from_dict(out, orient="index")


def format_table(table: pd.DataFrame) -> str:
    """The metrics table as aligned text (MAPE and sMAPE in percent)."""
    lines = [f"{'method':<16}" + "".join(f"{m:>9}" for m in METRICS)]
    for method, row in table.iterrows():
        cells = []
        for mname in METRICS:
            v = row[mname]
            cells.append(f"{v:>9.3f}" if mname == "MASE" else (f"{v:>8.2f}%" if "MAPE" in mname else f"{v:>9.2f}"))
        lines.append(f"{method:<16}" + "".join(cells))
    return "\n".join(lines)


def format_panel(panel: pd.DataFrame, n_series: int) -> str:
    """The panel summary as aligned text: MASE, sMAPE and MAPE mean and median over the
    ``n_series`` series, and the share of series where the model beats each method."""
    head = f"{'method':<16}{'MASE mean':>10}{'median':>8}{'sMAPE mean':>12}{'median':>8}{'MAPE mean':>11}" \
           f"{'median':>8}{'model beats':>13}"
    lines = [head]
    for method, r in panel.iterrows():
        beats = "" if np.isnan(r["model beats"]) else f"{100 * r['model beats']:.0f}% of series"
        lines.append(f"{method:<16}{r['MASE mean']:>10.3f}{r['MASE median']:>8.3f}{r['sMAPE mean']:>11.2f}%"
                     f"{r['sMAPE median']:>7.2f}%{r['MAPE mean']:>10.2f}%{r['MAPE median']:>7.2f}%{beats:>17}")
    return "\n".join(lines)
