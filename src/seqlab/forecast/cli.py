"""``seqlab forecast [train] | predict``: train, backtest, score and forecast; or forecast with a saved model.

``seqlab forecast train`` (the default sub-command: ``seqlab forecast [OPTIONS]`` is ``seqlab
forecast train [OPTIONS]``) trains a forecaster, backtests it against the baselines, scores a
holdout, forecasts past the end of the data and plots it. With no options it runs on the
embedded airline passengers series (1949-1960). With ``--data`` it forecasts a CSV (one series,
or a long table of many with ``--series-id``) or a Monash ``.tsf`` file. ``seqlab forecast
predict --model PATH`` forecasts with a saved forecaster from new history, without refitting.
The handlers only parse; the work is in :mod:`seqlab.forecast.run`.
"""

from __future__ import annotations

import argparse
import sys

from ..cli_args import (
    add_csv_options,
    add_model_options,
    add_threads_option,
    add_training_options,
    float_type,
    int_type,
)

MODELS = ("auto", "rnn", "hybrid", "mix")  # --network: forecaster.MODELS, imported without torch (test_mix checks)
DEFAULT_ACTION = "train"  # seqlab forecast [OPTIONS] is seqlab forecast train [OPTIONS]

EPILOG = """\
examples:
  seqlab forecast                                   # airline passengers, embedded, no download
  seqlab forecast --data sales.csv --target units --time date --horizon 6
  seqlab forecast --data long.csv --series-id store --time date --target units \\
      --future-covariates price,promo --static-covariates region --network hybrid --out per_series.csv
  seqlab forecast --data tourism_monthly.tsf       # Monash format; the horizon from the file
  seqlab forecast --data wide.csv --wide --time date --fill zero --backtest-out backtest.csv
  seqlab forecast --cell gru --layers 2 --quantiles 0.05,0.5,0.95 --save model.safetensors
  seqlab forecast --data sales.csv --target units --time date --select backtest --save model.safetensors
  seqlab forecast predict --model model.safetensors --data new_history.csv --target passengers --time month

'seqlab forecast [OPTIONS]' is 'seqlab forecast train [OPTIONS]' (and 'seqlab forecast --help' this help);
'seqlab forecast predict --help' lists the options of forecasting with a saved model.

Bad input (missing/empty file, unknown column, non-numeric value, NaN/inf, unparseable or
duplicated timestamps, dates or numeric time steps that follow no one frequency (--fill
inserts missing dates and fills missing values), duplicated (series, time) rows, a series id with no values, a static
covariate that varies within a series, a future covariate missing for part of the horizon,
series of different frequencies, history without the dates or at another frequency than a saved
forecaster's) prints one line on stderr and exits with code 2; nothing is
written. A series too short for the backtest, the holdout or training gets a note, not an error.
"""

PREDICT_HELP = """\
Forecast with a forecaster saved by 'seqlab forecast train --save PATH', from new history (--data,
read with the options it was trained with: --target, --time, the covariates, --series-id) or,
without --data, from the history saved with it; no refitting. The forecaster keeps its own
settings (horizon, quantiles, lookback, network...), so training options are not taken here. Prints
the forecast; --out writes it as a CSV table (series, time, forecast, quantiles), --plot draws the
first series (default forecast.png; --no-plot for none).
"""


def _quantiles(text: str) -> list[float]:
    try:
        q = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"quantiles must be comma-separated numbers like 0.1,0.5,0.9, got {text!r}") from None
    if not q or any(not 0 < x < 1 for x in q):
        raise argparse.ArgumentTypeError(f"quantiles must lie strictly between 0 and 1, got {text!r}")
    return q


def _lookbacks(text: str) -> list[int]:
    try:
        v = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers >= 1 separated by commas, like 12 or 12,24, got {text!r}") \
            from None
    if not v or any(x < 1 for x in v):
        raise argparse.ArgumentTypeError(f"expected integers >= 1 separated by commas, like 12 or 12,24, got {text!r}")
    return v


def _columns(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def _data_options(d, predict: bool = False) -> None:
    """The options that read the data, in training (``train``) and in use (``predict``) alike."""
    d.add_argument("--data", metavar="FILE", help=(
        "CSV file with the new history of the series, or a Monash .tsf file (default: the history saved with the "
        "model)" if predict else
        "CSV file with the series, or a Monash .tsf file (default: embedded airline passengers)"))
    add_csv_options(d)
    d.add_argument("--target", metavar="COL", help="column to forecast (default: the only numeric column)")
    d.add_argument("--time", metavar="COL", help="time column, parsed as dates (or numbers); rows are sorted by it")
    d.add_argument("--covariates", "--past-covariates", dest="covariates", metavar="COLS", default="",
                   help="comma-separated past covariates: model inputs known up to the forecast origin")
    d.add_argument("--future-covariates", metavar="COLS", default="",
                   help="comma-separated known-future covariates (prices, promotions, holidays): known for the "
                        "horizon too; give their future values on rows after each series' last target value, "
                        "the target left empty there")
    d.add_argument("--static-covariates", metavar="COLS", default="",
                   help="comma-separated static covariates: one value per series (a number or a category)")
    d.add_argument("--series-id", metavar="COL", help="column naming the series in a long table; one model for all")
    d.add_argument("--fill", choices=["interpolate", "ffill", "zero"],
                   help="insert the missing dates of the data's frequency (each series between its own first and "
                        "last date) and fill missing target and covariate values: interpolate (linear in time), "
                        "ffill (the last value before), zero (sales, demand); the rows after the last target value "
                        "(the horizon of known-future covariates) keep an empty target. A note says what was "
                        "filled (default: refuse missing values and dates)")
    d.add_argument("--wide", action="store_true",
                   help="a wide table: a time column (--time) and one column per series, the column names the "
                        "series ids (no --target, --series-id or covariates); each column's empty cells before its "
                        "first value and after its last are not part of its series")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "forecast", help="forecast a time series with an LSTM/GRU/RNN (the main job; runs on embedded data)",
        description="Forecasting, the main job: 'seqlab forecast train' (or 'seqlab forecast' alone, the same "
                    "command) trains a recurrent forecaster, backtests it against the baselines, scores a holdout "
                    "and forecasts past the end of the data, with no options on the embedded airline passengers; "
                    "'seqlab forecast predict --model PATH' forecasts with a saved forecaster without refitting.")
    p.default_action = DEFAULT_ACTION  # seqlab forecast [OPTIONS], and its --help, are train's
    sub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    t = sub.add_parser(
        "train", help="train, backtest, score a holdout and forecast (the default: 'seqlab forecast [OPTIONS]')",
        description=("Train a recurrent forecaster, backtest it against naive, seasonal naive, drift, ETS and "
                     "ARIMA baselines (rolling origin, expanding window), score a final holdout, forecast "
                     "past the end of the data and plot it. With no options: the embedded monthly airline "
                     "passengers 1949-1960. 'seqlab forecast [OPTIONS]' is this command; 'seqlab forecast predict "
                     "--model PATH' forecasts with a saved forecaster, without refitting."),
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _train_options(t)
    t.set_defaults(func=train_command)
    q = sub.add_parser("predict", help="forecast with a saved forecaster from new history, without refitting",
                       description=PREDICT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    q.add_argument("--model", required=True, metavar="PATH",
                   help="forecaster file saved by 'seqlab forecast train --save PATH'")
    _data_options(q.add_argument_group("data"), predict=True)
    o = q.add_argument_group("output")
    o.add_argument("--out", metavar="FILE.csv", help="the forecast table: series, time, forecast and its quantiles")
    o.add_argument("--plot", metavar="PATH", default="forecast.png",
                   help="forecast plot of the first series (default forecast.png; needs matplotlib)")
    o.add_argument("--no-plot", action="store_true", help="write no plot")
    add_threads_option(q)
    q.set_defaults(func=predict_command)


def _train_options(p) -> None:
    d = p.add_argument_group("data")
    _data_options(d)
    d.add_argument("--no-calendar", action="store_true",
                   help="no calendar features (by default the month, quarter, weekday ... of each date, as "
                        "sin/cos pairs, are known-future inputs)")
    m = p.add_argument_group("model")
    m.add_argument("--horizon", type=int_type(), help="steps to forecast (default 12, or a .tsf file's)")
    m.add_argument("--lookback", type=_lookbacks, help="input window length, or several separated by commas for an "
                   "ensemble over lookbacks (default: the hybrid three seasons where every series holds them, else "
                   "one season; twice the horizon for non-seasonal data); a shorter series gives shorter, padded "
                   "windows")
    m.add_argument("--season", type=int_type(), help="season length in steps (default: the steps in "
                   "the frequency's cycle: a day for sub-daily data (hourly 24, 2-hourly 12, 30-minute 48), a week "
                   "for daily (7), a year for weekly, monthly, quarterly (52, 12, 4; 2-monthly 6); else 1, with a "
                   "note where the steps do not divide the cycle)")
    m.add_argument("--network", choices=MODELS, default="auto",
                   help="the kind of forecasting network: rnn: a recurrent network on the differenced series (scaled per series), or on windows "
                        "scaled by their level when series are short; hybrid: ES-RNN style, per-series exponential "
                        "smoothing of the level and seasonality learned inside the network; mix: both, each with "
                        "its own settings, their forecasts averaged; auto: on seasonal data of up to 4096 training "
                        "windows the mix where every series is long enough for the rnn's differencing and lookback, "
                        "else the hybrid; on other data the rnn when every series is long and the hybrid when not "
                        "(default auto)")
    from ..nn.registry import cell_names  # the one cell table (imports no torch)
    add_model_options(m, cell_names(), "lstm", 16)
    m.add_argument("--strategy", choices=["direct", "recursive"], default="direct",
                   help="direct: one head predicts the whole horizon; recursive: one step, fed back (default direct)")
    m.add_argument("--quantiles", type=_quantiles, default=[0.1, 0.5, 0.9],
                   help="quantiles trained with the pinball loss; the 0.5 quantile is the point forecast "
                        "(added if missing); the outer two give the interval (default 0.1,0.5,0.9)")
    m.add_argument("--transform", choices=["auto", "log", "none"], default="auto",
                   help="target transform: auto = log when every value is positive (default auto)")
    m.add_argument("--diff", choices=["auto", "none", "first", "seasonal"], default="auto",
                   help="difference the (transformed) target: auto = none for the hybrid and for windows "
                        "scaled by their level, else seasonal when the season is > 1, first otherwise (default auto)")
    m.add_argument("--scaler", choices=["standard", "minmax"], default="standard",
                   help="scaler fitted on the training part only (default standard)")
    m.add_argument("--scaling", choices=["auto", "window", "series"], default="auto",
                   help="window: each window relative to its level (the mean of its last season), so series of "
                        "any magnitude train together; series: the per-series scaler only (default auto: window)")
    m.add_argument("--level-penalty", type=float_type(0, 1e6), default=0.0, metavar="W",
                   help="the hybrid: weight of a penalty on the second differences of its smoothed level (Smyl "
                        "2020); smoother levels helped long regular series and hurt short ones (docs/forecast.md; "
                        "default 0)")
    m.add_argument("--ensemble", type=int_type(1, 1000), default=3,
                   help="networks per lookback trained with seeds seed, seed+1, ...; their quantiles are averaged "
                        "(default 3)")
    t = p.add_argument_group("training (each network; with --save, --resume continues an interrupted run)")
    # a forecasting network's epochs take milliseconds: its checkpoint is written when it finishes
    # and every --checkpoint-minutes, not at epoch ends (seqlab.forecast.task.training)
    add_training_options(t, epochs=200, lr=1e-2, batch_size=32, epoch_checkpoints=False)
    t.add_argument("--windows-per-epoch", type=int_type(0), metavar="N",
                   help="draw at most N training windows per epoch, a fresh sample each epoch; 0: all (default: "
                        "all up to 8192 windows, 8192 for larger panels)")
    for action in t._group_actions:  # the forecaster's batch size adapts to the panel
        if action.dest == "batch_size":
            action.default = None
            action.help = "windows per batch (default 32, or 256 for panels of more than 4096 training windows)"
    t.add_argument("--patience", type=int_type(), default=20,
                   help="early stopping: epochs without validation improvement (default 20); the "
                        "validation slice is the last horizon steps of each training part")
    e = p.add_argument_group("evaluation and output")
    e.add_argument("--folds", type=int_type(0), default=3, help="backtest origins before the holdout, "
                   "one horizon apart (default 3; 0 skips the backtest; fewer when the series is short)")
    e.add_argument("--no-refit", action="store_true", help="backtest: fit once at the first origin instead of at every origin")
    e.add_argument("--no-stats", action="store_true", help="leave out the statistical baselines (ETS, ARIMA, Theta)")
    e.add_argument("--baselines", metavar="NAMES", help="the baselines to run, separated by commas: naive, snaive, "
                   "drift, ETS, ARIMA, Theta (statsforecast's AutoETS, AutoARIMA, AutoTheta when installed, else "
                   "statsmodels'; default all; on a large panel ARIMA takes the longest)")
    e.add_argument("--interval", choices=["conformal", "quantile"], default="conformal",
                   help="conformal: the outer quantile interval calibrated on the backtest's forecasts (split "
                        "conformal per horizon step); quantile: the raw quantiles (default conformal)")
    e.add_argument("--select", choices=["network", "backtest"], default="network",
                   help="network: the network forecasts every series; backtest: every series is forecast by the "
                        "one method of lowest mean backtest MASE over the series among the network and the "
                        "baselines, a baseline only when its mean is more than 10%% below the network's; the "
                        "holdout scores that choice (the row 'selected'), a chosen baseline's interval is conformal "
                        "on its backtest and holdout errors, and --save keeps the choice (default network)")
    e.add_argument("--out", metavar="FILE.csv", help="per-series CSV: each series' forecast with its interval, its "
                   "holdout MASE/sMAPE/MAPE for the model and every baseline, and its notes")
    e.add_argument("--backtest-out", metavar="FILE.csv", help="the backtest's forecasts: one row per series, origin "
                   "and step: series, origin, cutoff (the last time the forecast saw), step, time, actual, forecast "
                   "(the median), the quantiles and each baseline's forecast (needs --folds 1 or more)")
    e.add_argument("--holdout-out", metavar="FILE.csv", help="the holdout's forecasts, the columns of --backtest-out "
                   "with origin 'holdout': one row per series and step of the last horizon (the model fitted on "
                   "everything before it; raw quantiles, as in --backtest-out)")
    e.add_argument("--plot", metavar="PATH", default="forecast.png",
                   help="forecast plot (default forecast.png; the plots need matplotlib, or --no-plot)")
    e.add_argument("--plot-series", metavar="NAMES|N", help="series to plot: names separated by commas, or a "
                   "count spread over the panel (default: 1 series, or 4 of a panel)")
    e.add_argument("--backtest-plot", metavar="PATH", default="backtest.png", help="backtest plot (default backtest.png)")
    e.add_argument("--no-plot", action="store_true", help="write no plots")


def _data(args: argparse.Namespace) -> dict:
    """The options that read the data, as :func:`seqlab.forecast.run.forecast` and
    :func:`seqlab.forecast.run.predict` take them."""
    return {"target": args.target, "time": args.time, "covariates": _columns(args.covariates),
            "series_id": args.series_id, "future_covariates": _columns(args.future_covariates),
            "static_covariates": _columns(args.static_covariates), "fill": args.fill, "wide": args.wide,
            "sep": args.sep}


def train_command(args: argparse.Namespace) -> int:
    """``seqlab forecast [train]``: hand the options to :func:`seqlab.forecast.run.forecast`."""
    from . import run

    lookbacks = args.lookback
    run.forecast(
        args.data, **_data(args), folds=args.folds, refit=not args.no_refit, stats=not args.no_stats,
        save=args.save, resume=args.resume, plot=None if args.no_plot else args.plot,
        backtest_plot=None if args.no_plot else args.backtest_plot, out_csv=args.out, backtest_csv=args.backtest_out,
        holdout_csv=args.holdout_out, plot_series=args.plot_series, interval=args.interval, select=args.select,
        methods=_columns(args.baselines) if args.baselines else None,
        horizon=args.horizon, lookback=lookbacks[0] if lookbacks else None,
        lookbacks=lookbacks if lookbacks and len(lookbacks) > 1 else None, season=args.season, model=args.network,
        cell=args.cell, hidden=args.hidden, layers=args.layers, dropout=args.dropout, strategy=args.strategy,
        quantiles=args.quantiles, transform=args.transform, diff=args.diff, scaler=args.scaler,
        scaling=args.scaling, calendar=not args.no_calendar, ensemble=args.ensemble,
        level_penalty=args.level_penalty,
        windows_per_epoch=args.windows_per_epoch, batch_size=args.batch_size, epochs=args.epochs, lr=args.lr,
        minutes=args.minutes or None, patience=args.patience, seed=args.seed, threads=args.threads,
        checkpoint_minutes=args.checkpoint_minutes or None, checkpoint_steps=args.checkpoint_steps,
        device=args.device, verbose=0 if args.quiet else 1)
    return 0


def predict_command(args: argparse.Namespace) -> int:
    """``seqlab forecast predict``: hand the options to :func:`seqlab.forecast.run.predict`."""
    from . import run

    run.predict(args.model, args.data, **_data(args), plot=None if args.no_plot else args.plot,
                threads=args.threads, out_csv=args.out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    from ..cli import main

    sys.exit(main(["forecast", *sys.argv[1:]]))
