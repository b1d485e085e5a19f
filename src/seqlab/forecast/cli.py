"""``seqlab forecast``: backtest, holdout evaluation, forecast and plots, on embedded or user data.

With no arguments it runs on the embedded airline passengers series (1949-1960): a rolling-origin
backtest over three years, a 12-month holdout against the baselines, a forecast of the 12 months
after the data, and the plots forecast.png and backtest.png.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import SeqlabError

EPILOG = """\
examples:
  seqlab forecast                                   # airline passengers, embedded, no download
  seqlab forecast --data sales.csv --target units --time date --horizon 6
  seqlab forecast --data long.csv --target y --time t --series-id store --covariates price,promo
  seqlab forecast --cell gru --layers 2 --quantiles 0.05,0.5,0.95 --save model.safetensors
  seqlab forecast --model model.safetensors --data new_history.csv --target passengers --time month

Bad input (missing/empty file, unknown column, non-numeric value, NaN/inf, unparseable or
duplicated timestamps, a series too short) prints one line on stderr and exits with code 2.
"""


def _positive(name: str):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a positive integer, got {text!r}") from None
        if v < 1:
            raise argparse.ArgumentTypeError(f"{name} must be a positive integer, got {text!r}")
        return v
    return parse


def _quantiles(text: str) -> list[float]:
    try:
        q = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"quantiles must be comma-separated numbers like 0.1,0.5,0.9, got {text!r}") from None
    if not q or any(not 0 < x < 1 for x in q):
        raise argparse.ArgumentTypeError(f"quantiles must lie strictly between 0 and 1, got {text!r}")
    return q


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "forecast", help="forecast a time series with an LSTM/GRU/RNN (the main job; runs on embedded data)",
        description=("Train a recurrent forecaster, backtest it against naive, seasonal naive, drift, ETS and "
                     "ARIMA baselines (rolling origin, expanding window), score a final holdout, forecast "
                     "past the end of the data and plot it. With no arguments: the embedded monthly airline "
                     "passengers 1949-1960."),
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = p.add_argument_group("data")
    d.add_argument("--data", metavar="FILE.csv", help="CSV file with the series (default: embedded airline passengers)")
    d.add_argument("--target", metavar="COL", help="column to forecast (default: the only numeric column)")
    d.add_argument("--time", metavar="COL", help="time column, parsed as dates (or numbers); rows are sorted by it")
    d.add_argument("--covariates", metavar="COLS", default="",
                   help="comma-separated past covariates: model inputs known up to the forecast origin")
    d.add_argument("--series-id", metavar="COL", help="column naming the series in a long table; one model for all")
    m = p.add_argument_group("model")
    m.add_argument("--horizon", type=_positive("--horizon"), default=12, help="steps to forecast (default 12)")
    m.add_argument("--lookback", type=_positive("--lookback"), help="input window length (default: one season, "
                   "or twice the horizon for non-seasonal data)")
    m.add_argument("--season", type=_positive("--season"), help="season length in steps (default: from the "
                   "time frequency: monthly 12, quarterly 4, daily 7, hourly 24; else 1)")
    from ..nn.registry import cell_names  # the one cell table (imports no torch)
    m.add_argument("--cell", choices=cell_names(), default="lstm", help="recurrent cell (default lstm)")
    m.add_argument("--hidden", type=_positive("--hidden"), default=16, help="hidden units per layer (default 16)")
    m.add_argument("--layers", type=_positive("--layers"), default=1, help="stacked recurrent layers (default 1)")
    m.add_argument("--dropout", type=float, default=0.0, help="dropout between stacked layers (default 0)")
    m.add_argument("--strategy", choices=["direct", "recursive"], default="direct",
                   help="direct: one head predicts the whole horizon; recursive: one step, fed back (default direct)")
    m.add_argument("--quantiles", type=_quantiles, default=[0.1, 0.5, 0.9],
                   help="quantiles trained with the pinball loss; the 0.5 quantile is the point forecast "
                        "(added if missing); the outer two give the interval (default 0.1,0.5,0.9)")
    m.add_argument("--transform", choices=["auto", "log", "none"], default="auto",
                   help="target transform: auto = log when every value is positive (default auto)")
    m.add_argument("--diff", choices=["auto", "none", "first", "seasonal"], default="auto",
                   help="difference the (transformed) target: auto = seasonal when the season is > 1, "
                        "else first (default auto)")
    m.add_argument("--scaler", choices=["standard", "minmax"], default="standard",
                   help="scaler fitted on the training part only (default standard)")
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=_positive("--epochs"), default=200, help="maximum epochs (default 200)")
    t.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate (default 0.01)")
    t.add_argument("--batch-size", type=_positive("--batch-size"), default=32, help="windows per batch (default 32)")
    t.add_argument("--patience", type=_positive("--patience"), default=20,
                   help="early stopping: epochs without validation improvement (default 20); the "
                        "validation slice is the last horizon steps of each training part")
    t.add_argument("--ensemble", type=_positive("--ensemble"), default=3,
                   help="networks trained with seeds seed, seed+1, ...; their quantiles are averaged (default 3)")
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    e = p.add_argument_group("evaluation and output")
    e.add_argument("--folds", type=int, default=3, help="backtest origins before the holdout, one horizon "
                   "apart (default 3; 0 skips the backtest; fewer when the series is short)")
    e.add_argument("--no-refit", action="store_true", help="backtest: fit once at the first origin instead of at every origin")
    e.add_argument("--no-stats", action="store_true", help="leave out the statsmodels ETS and ARIMA baselines")
    e.add_argument("--save", metavar="PATH", help="save the forecaster fitted on all the data (.safetensors)")
    e.add_argument("--model", metavar="PATH", help="load a saved forecaster and forecast from --data (or its "
                   "saved history) without refitting")
    e.add_argument("--plot", metavar="PATH", default="forecast.png", help="forecast plot (default forecast.png)")
    e.add_argument("--backtest-plot", metavar="PATH", default="backtest.png", help="backtest plot (default backtest.png)")
    e.add_argument("--no-plot", action="store_true", help="write no plots")
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _check_out(path: str | None, what: str) -> None:
    if path is None:
        return
    folder = Path(path).parent
    if str(folder) and not folder.is_dir():
        raise SeqlabError(f"{what}: folder {str(folder)!r} does not exist; create it or choose another path")
    if Path(path).is_dir():
        raise SeqlabError(f"{what}: {path!r} is a folder; give a file name")


def _config(args):
    from .forecaster import ForecastConfig

    return ForecastConfig(
        horizon=args.horizon, lookback=args.lookback, season=args.season, cell=args.cell, hidden=args.hidden,
        layers=args.layers, dropout=args.dropout, strategy=args.strategy, quantiles=args.quantiles,
        transform=args.transform, diff=args.diff, scaler=args.scaler, epochs=args.epochs, lr=args.lr,
        batch_size=args.batch_size, patience=args.patience, ensemble=args.ensemble, seed=args.seed,
        verbose=0 if args.quiet else 1)


def _load_series(args):
    from .data import prepare

    covs = [c.strip() for c in args.covariates.split(",") if c.strip()]
    if args.data is None:
        if args.target or args.time or covs or args.series_id:
            raise SeqlabError("--target/--time/--covariates/--series-id need --data FILE.csv")
        from ..data import load_airline

        return prepare(load_airline()), "embedded airline passengers, monthly 1949-1960"
    series = prepare(args.data, args.target, args.time, covs, args.series_id)
    return series, f"{args.data}"


def _forecast_text(frame) -> str:
    lines = []
    for _, r in frame.iterrows():
        t = r["time"]
        t = t.strftime("%Y-%m-%d") if hasattr(t, "strftime") else str(t)
        qs = "  ".join(f"{c}={r[c]:.1f}" for c in frame.columns if c.startswith("q") and c != "q0.5")
        lines.append(f"  {r['series']:<12} {t:<12} {r['forecast']:>10.1f}   {qs}")
    return "\n".join(lines)


def run(args) -> int:
    from .backtesting import backtest, format_table, max_folds
    from .forecaster import Forecaster

    t0 = time.perf_counter()
    out = sys.stdout
    plots = not args.no_plot
    for path, what in [(args.plot if plots else None, "--plot"), (args.backtest_plot if plots else None, "--backtest-plot"),
                       (args.save, "--save")]:
        _check_out(path, what)
    if args.folds < 0:
        raise SeqlabError(f"--folds: expected an integer >= 0, got {args.folds}")

    if args.model:
        return _run_saved(args, plots)

    cfg = _config(args)
    series, source = _load_series(args)
    probe = Forecaster(cfg)
    c = probe.resolve(series)
    probe.config = c
    H = c.horizon
    need = probe.min_length() + H
    short = [s for s in series if len(s) < need]
    if short:
        s = short[0]
        raise SeqlabError(
            f"data: series {s.name!r} has {len(s)} values, fewer than the {need} needed (holdout {H} + "
            f"differencing {probe.lag} + lookback {c.lookback} + horizon {H if c.strategy == 'direct' else 1} + "
            f"validation {c.val_steps}); use a smaller --lookback/--horizon or a longer series")
    folds = min(args.folds, max_folds(series, probe, H, H, end_offset=H))
    print(f"seqlab forecast: {source}: {len(series)} series, {sum(len(s) for s in series)} values; "
          f"horizon {H}, season {c.season}, lookback {c.lookback}, {c.cell} x{c.layers} hidden {c.hidden}, "
          f"{c.strategy}, transform {c.transform}, diff {c.diff}, quantiles {','.join(f'{q:g}' for q in c.quantiles)}, "
          f"ensemble {c.ensemble}, seed {c.seed}", file=out)
    bt = None
    if folds:
        if folds < args.folds:
            print(f"note: the series allows {folds} backtest origin(s), not {args.folds}", file=out)
        bt = backtest(series, c, folds=folds, step=H, end_offset=H, refit=not args.no_refit,
                      include_stats=not args.no_stats)
        cuts = sorted({r["cutoff"] for r in bt.forecasts if r["series"] == series[0].name})
        print(f"\nBacktest: {folds} origin(s), {H} steps each, expanding window, "
              f"{'fit once' if args.no_refit else 'refit at each origin'}; "
              f"origins {', '.join(_when(series[0], k) for k in cuts)}", file=out)
        print(format_table(bt.table), file=out)
    elif args.folds:
        print("note: the series is too short for a backtest before the holdout; skipped", file=out)

    ho = backtest(series, c, folds=1, step=H, end_offset=0, include_stats=not args.no_stats)
    print(f"\nHoldout: the last {H} steps ({_when(series[0], len(series[0]) - H)} on), model fitted on everything before",
          file=out)
    print(format_table(ho.table), file=out)
    lo, hi = c.quantiles[0], c.quantiles[-1]
    if len(c.quantiles) > 1:
        print(f"{c.cell} {lo:g}-{hi:g} interval covers {100 * ho.coverage:.0f}% of the holdout values "
              f"(nominal {100 * (hi - lo):.0f}%)", file=out)
    model_mase = ho.table.loc[ho.model_name, "MASE"]
    if "seasonal naive" in ho.table.index:
        snaive = ho.table.loc["seasonal naive", "MASE"]
        verdict = "beats" if model_mase < snaive else "does not beat"
        print(f"holdout MASE: model {model_mase:.3f} {verdict} seasonal naive {snaive:.3f}", file=out)

    final = Forecaster(c).fit(series)
    future = final.predict()
    print(f"\nForecast: the {H} steps after the data (median, then the interval)", file=out)
    print(_forecast_text(future), file=out)

    # everything is computed: write the outputs
    written = []
    if args.save:
        final.save(args.save)
        written.append(args.save)
    if plots:
        from .plots import plot_backtest, plot_forecast

        s0 = series[0]
        hrec = [r for r in ho.forecasts if r["series"] == s0.name][0]
        fut = final.predict_array([s0])[0]
        plot_forecast(args.plot, s0, c.quantiles, hrec["model"], hrec["cutoff"], fut,
                      title=f"{s0.name}: {c.cell} forecast, holdout MASE {model_mase:.3f}")
        written.append(args.plot)
        if bt is not None:
            plot_backtest(args.backtest_plot, s0, bt.forecasts, bt.model_name, c.quantiles, bt.table)
            written.append(args.backtest_plot)
    if written:
        print(f"\nwrote {', '.join(written)}", file=out)
    print(f"done in {time.perf_counter() - t0:.1f} s", file=out)
    return 0


def _when(s, k: int) -> str:
    if s.time is not None and 0 <= k < len(s.time):
        t = s.time[k]
        return t.strftime("%Y-%m") if hasattr(t, "strftime") else str(t)
    return f"step {k}"


def _run_saved(args, plots: bool) -> int:
    from .data import prepare
    from .forecaster import Forecaster

    if args.save:
        raise SeqlabError("--save: a loaded forecaster is already saved; drop --save when using --model")
    f = Forecaster.load(args.model)
    if args.data:
        covs = [c.strip() for c in args.covariates.split(",") if c.strip()]
        series = prepare(args.data, args.target, args.time, covs, args.series_id)
        source = args.data
    else:
        series = list(f.tails.values())
        source = "the history saved with the model"
    pred = f.predict_array(series)
    frame = f.to_frame(series, pred)
    print(f"seqlab forecast: {args.model} ({f.config.cell}, horizon {f.config.horizon}), from {source}, no refitting")
    print(_forecast_text(frame))
    if plots:
        from .plots import plot_forecast

        plot_forecast(args.plot, series[0], f.config.quantiles, future=pred[0], title=f"{series[0].name}: forecast")
        print(f"\nwrote {args.plot}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    from ..cli import main

    sys.exit(main(["forecast", *sys.argv[1:]]))
