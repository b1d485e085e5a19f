"""``seqlab tune forecast|classify|generate``: parse arguments, call :mod:`seqlab.tune.run`."""

from __future__ import annotations


def _common(p, trials: int, minutes: float) -> None:
    from ..cli_args import add_runtime_options, add_seed_option, float_type, int_type

    p.add_argument("--trials", type=int_type(1, 100_000), default=trials,
                   help=f"trials to run now (default {trials}); a resumed study adds them to its earlier ones")
    p.add_argument("--minutes", type=float_type(0), default=minutes,
                   help=f"time budget in minutes, the final model included; 0 for no limit (default {minutes:g})")
    p.add_argument("--study", metavar="FILE.db", help="SQLite file of the study; an existing one is continued "
                                                     "(default runs/tune/JOB.db)")
    p.add_argument("--save", metavar="PATH",
                   help="the best model's file (.safetensors; default runs/tune/JOB.safetensors)")
    p.add_argument("--table", metavar="FILE.csv", help="results table, one row per trial (default runs/tune/JOB.csv; "
                                                       "'' for none)")
    p.add_argument("--plot", metavar="FILE.png", help="scores per trial and the best so far (default "
                                                      "runs/tune/JOB.png; '' for none)")
    add_seed_option(p)
    add_runtime_options(p)


def register(subparsers) -> None:
    from ..cli_args import add_csv_options, int_type
    from ..forecast.cli import MODELS as FORECAST_NETWORKS  # imports no torch

    p = subparsers.add_parser(
        "tune", help="search a job's cell, size, layers, dropout and learning rate with Optuna",
        description="An Optuna study over a job's main choices (cell, hidden size, layers, dropout, learning rate, "
                    "and lookback for forecasting), scored by the backtest MASE (forecast), the validation accuracy "
                    "on a split of the training part (classify; the held-out split is reported for the best "
                    "model only) or the validation loss (generate). Bad trials stop early (a trial whose score "
                    "so far is worse than the median of the finished trials at the same epoch or backtest "
                    "origin); no trial starts after --minutes; the study "
                    "lives in a SQLite file, so running again continues it. Writes the best model, a results table "
                    "and a plot. Needs the optuna extra.")
    sub = p.add_subparsers(dest="job", metavar="JOB", parser_class=type(p))
    f = sub.add_parser("forecast", help="tune a forecaster (default data: the embedded airline passengers)")
    f.add_argument("--data", metavar="FILE", help="CSV file with the series (default: embedded airline passengers)")
    add_csv_options(f)
    f.add_argument("--target", metavar="COL", help="column to forecast")
    f.add_argument("--time", metavar="COL", help="time column")
    f.add_argument("--horizon", type=int_type(), help="steps to forecast (default 12)")
    f.add_argument("--fill", choices=["interpolate", "ffill", "zero"],
                   help="insert missing dates and fill missing values, as 'seqlab forecast --fill' (default: refuse "
                        "them)")
    f.add_argument("--wide", action="store_true",
                   help="a wide table: a time column (--time) and one column per series, as 'seqlab forecast --wide'")
    f.add_argument("--folds", type=int_type(1, 100), default=3,
                   help="backtest origins, one horizon apart before the last horizon (default 3)")
    f.add_argument("--network", choices=FORECAST_NETWORKS, default="auto",
                   help="the kind of forecasting network, as 'seqlab forecast --network': auto searches mix, hybrid "
                        "and rnn on seasonal data (and lets the forecaster choose on other data); a kind fixes it "
                        "(default auto)")
    f.add_argument("--ensemble", type=int_type(1, 100), default=1,
                   help="networks per forecaster, in every trial and the final model (default 1)")
    f.add_argument("--epochs", type=int_type(1, 10**6), help="most epochs per network (default: the forecaster's)")
    _common(f, trials=20, minutes=10.0)
    f.set_defaults(func=_forecast)
    c = sub.add_parser("classify", help="tune a sequence classifier (default data: the 8x8 digits)")
    c.add_argument("--data", help="FILE.csv, FOLDER/<class>/<file> or FILE.npz (as 'seqlab classify train')")
    add_csv_options(c)
    c.add_argument("--text-column", default="text", help="CSV column holding the text (default: text)")
    c.add_argument("--label-column", default="label", help="CSV column holding the label (default: label)")
    c.add_argument("--epochs", type=int_type(1, 10**6), default=30, help="most epochs per trial (default 30)")
    _common(c, trials=20, minutes=10.0)
    c.set_defaults(func=_classify)
    g = sub.add_parser("generate", help="tune a language model (default text: the Python documentation)")
    g.add_argument("--data", metavar="FILE", help="UTF-8 text file (default: the Python docs)")
    g.add_argument("--level", choices=("char", "word"), default="char", help="tokens: characters (default) or words")
    g.add_argument("--epochs", type=int_type(1, 10**6), default=5, help="most epochs per trial (default 5)")
    g.add_argument("--seq-len", type=int_type(1, 10**7), default=64, help="truncated BPTT length (default 64)")
    g.add_argument("--batch-size", type=int_type(1, 10**7), default=32, help="parallel streams (default 32)")
    _common(g, trials=20, minutes=10.0)
    g.set_defaults(func=_generate)


def _files(args) -> dict:
    return dict(trials=args.trials, minutes=args.minutes, study=args.study, save=args.save, table=args.table,
                plot=args.plot, seed=args.seed, threads=args.threads)


def _forecast(args) -> int:
    from .run import forecast

    forecast(args.data, target=args.target, time=args.time, horizon=args.horizon, folds=args.folds,
             network=args.network, ensemble=args.ensemble, epochs=args.epochs, fill=args.fill, wide=args.wide,
             sep=args.sep, **_files(args))
    return 0


def _classify(args) -> int:
    from .run import classify

    classify(args.data, text_column=args.text_column, label_column=args.label_column, epochs=args.epochs,
             sep=args.sep, **_files(args))
    return 0


def _generate(args) -> int:
    from .run import generate

    generate(args.data, level=args.level, epochs=args.epochs, seq_len=args.seq_len, batch_size=args.batch_size,
             **_files(args))
    return 0
