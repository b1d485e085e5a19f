"""The workflows behind ``seqlab tune``: one per job, callable without argparse.

Each runs a study (:func:`seqlab.tune.study.tune`), prints one line per trial and the best, and
writes the best model to ``save``, the results table to ``table`` (CSV) and a plot to ``plot``
(PNG); ``study`` is the SQLite file that keeps the study (run again with it to continue).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import sys
import time as _time
from pathlib import Path
from typing import Any, TextIO

from ..cli_args import check_output, check_outputs
from ..errors import SeqlabError, check_float, check_int
from ..files import check_sep
from ..forecast.cli import MODELS as NETWORKS  # --network's choices (imports no torch)
from .objectives import VAL_SIZE, ForecastJob, TrainJob
from .study import TuneResult, tune

DEFAULT_FOLDER = "runs/tune"
#: the --fill choices of ``seqlab forecast`` (seqlab.forecast.cli)
FILLS = ("interpolate", "ffill", "zero")


def _paths(job: str, study: str | None, save: str | None, table: str | None, plot: str | None,
           inputs: dict[str, Any] | None = None) -> dict[str, str | None]:
    """Default file names under runs/tune/ (the folder is made); each path checked before any work,
    and none may be another's or an input file's (``inputs``: option -> path)."""
    default = {"study": f"{DEFAULT_FOLDER}/{job}.db", "save": f"{DEFAULT_FOLDER}/{job}.safetensors",
               "table": f"{DEFAULT_FOLDER}/{job}.csv", "plot": f"{DEFAULT_FOLDER}/{job}.png"}
    given = {"study": study, "save": save, "table": table, "plot": plot}
    out = {}
    for key, value in given.items():
        if value is None:
            value = default[key]
            _mkdir(Path(value).parent)
        elif value == "":
            out[key] = None
            continue
        out[key] = str(check_output(value, f"--{key}"))
    if out["plot"]:  # before the trials: a run without matplotlib, or a format it cannot write, would lose them
        from ..plotting import require_matplotlib

        require_matplotlib("--plot", "--plot '' for no plot", out["plot"])
    if out["save"] and not out["save"].endswith(".safetensors"):
        raise SeqlabError(f"--save: expected a file ending in .safetensors, got {out['save']!r}")
    files = {k: v for k, v in (inputs or {}).items() if isinstance(v, (str, os.PathLike))}
    check_outputs({f"--{k}": v for k, v in out.items()}, files)
    return out


#: the folders this run made (for its default files), removed again when it fails
_made: contextvars.ContextVar[list[Path] | None] = contextvars.ContextVar("seqlab_tune_made", default=None)


def _mkdir(folder: Path) -> None:
    missing = [p for p in [folder, *folder.parents] if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    made = _made.get()
    if made is not None:
        made.extend(missing)  # deepest first


def _tidy(fn):
    """A job that fails removes the (empty) folders it made for its default files."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        made: list[Path] = []
        token = _made.set(made)
        try:
            return fn(*args, **kwargs)
        except BaseException:
            for folder in made:
                try:
                    folder.rmdir()
                except OSError:
                    pass
            raise
        finally:
            _made.reset(token)
    return wrapper


def _check(trials: int, minutes: float) -> None:
    check_int("--trials", trials, 1)
    check_float("--minutes", minutes, 0, none="no time limit")


def _say(out: TextIO | None):
    stream = out or sys.stdout

    def say(line: str) -> None:
        print(line, file=stream, flush=True)
    return say


def _finish(result: TuneResult, say) -> TuneResult:
    for path in result.written:
        say(f"wrote {path}")
    say(f"{len(result.table)} trial(s) in the study; this run took {result.seconds:.1f} s")
    return result


@_tidy
def forecast(data: Any = None, *, target: str | None = None, time: str | None = None, horizon: int | None = None,
             folds: int = 3, ensemble: int = 1, epochs: int | None = None, trials: int = 20, minutes: float = 10.0,
             study: str | None = None, save: str | None = None, table: str | None = None, plot: str | None = None,
             seed: int = 0, threads: int | None = 0, out: TextIO | None = None, fill: str | None = None,
             wide: bool = False, sep: str | None = ",", network: str = "auto") -> TuneResult:
    """Tune a forecaster on ``data`` (None: the embedded airline passengers) by its backtest MASE.
    ``network``: the kind of network, as ``seqlab forecast --network`` ('auto': on seasonal data
    mix, hybrid and rnn are searched, the trial parameter ``network``; a kind fixes it).
    ``ensemble``: networks per forecaster, in the trials and the final model alike. ``fill`` and
    ``wide`` prepare the data as ``seqlab forecast --fill/--wide`` do (a note says what they did);
    ``sep`` is the CSV file's separator, as ``seqlab forecast --sep``."""
    from ..forecast.run import _file_horizon, load_series

    start = _time.monotonic()
    _check(trials, minutes)
    check_int("--folds", folds, 1)
    if fill is not None and fill not in FILLS:
        raise SeqlabError(f"--fill: expected one of {', '.join(FILLS)}, got {fill!r}")
    if network not in NETWORKS:
        raise SeqlabError(f"--network: expected one of {', '.join(NETWORKS)}, got {network!r}")
    sep = check_sep(sep)
    paths = _paths("forecast", study, save, table, plot, {"--data": data})
    notes: list[str] = []
    series, source = load_series(data, target, time, sep=sep, notes=notes, fill=fill, wide=wide)
    settings: dict[str, Any] = dict(horizon=horizon or _file_horizon(data) or 12, ensemble=ensemble, seed=seed,
                                    threads=threads, verbose=0)
    if network != "auto":
        settings["model"] = network
    if epochs is not None:
        settings["epochs"] = epochs
    say = _say(out)
    say(f"tune forecast: {source}; {trials} trial(s), {'no time limit' if not minutes else f'{minutes:g} min'}, "
        f"scored by the backtest MASE over {folds} origin(s)")
    for note in notes:
        say(f"note: {note}")
    job = ForecastJob(series, folds, settings, save=paths["save"])
    return _finish(tune("forecast", job.objective, job.final, direction="minimize", label="backtest MASE",
                        trials=trials, minutes=minutes, study=paths["study"], seed=seed, reserve=0.1 * 60 * minutes,
                        table=paths["table"], plot=paths["plot"], say=say, start=start), say)


@_tidy
def classify(data: str | None = None, *, text_column: str = "text", label_column: str = "label", epochs: int = 30,
             trials: int = 20, minutes: float = 10.0, study: str | None = None, save: str | None = None,
             table: str | None = None, plot: str | None = None, seed: int = 0, threads: int | None = 0,
             out: TextIO | None = None, sep: str | None = ",") -> TuneResult:
    """Tune a classifier on ``data`` (None: the 8x8 digits) by its validation accuracy on a split of
    the training part; the held-out split is only reported, for the best model (no selection on it).
    ``sep`` is a CSV file's separator, as ``seqlab classify train --sep``."""
    start = _time.monotonic()
    _check(trials, minutes)
    sep = check_sep(sep)
    paths = _paths("classify", study, save, table, plot, {"--data": data})
    _check_classify_data(data, text_column, label_column, seed, sep)  # before a study file exists
    say = _say(out)
    say(f"tune classify: {data or 'the 8x8 digits'}; {trials} trial(s), "
        f"{'no time limit' if not minutes else f'{minutes:g} min'}, scored by validation accuracy "
        f"(a stratified {VAL_SIZE:g} of the training part; the held-out split is reported for the best only)")
    folder = Path(paths["study"]).parent
    job = TrainJob("classify", folder, dict(data=data, text_column=text_column, label_column=label_column,
                                            epochs=epochs, seed=seed, threads=threads, sep=sep),
                   save=paths["save"], say=say)
    with _discarding(job):
        return _finish(tune("classify", job.objective, job.final, direction="maximize", label="validation accuracy",
                            trials=trials, minutes=minutes, study=paths["study"], seed=seed, table=paths["table"],
                            plot=paths["plot"], say=say, start=start), say)


def _check_classify_data(data: str | None, text_column: str, label_column: str, seed: int,
                         sep: str | None = ",") -> None:
    """SeqlabError naming --data when it cannot give every trial a validation split and the best
    model a held-out one (what ``seqlab classify train`` would refuse with its own options)."""
    if data is None:
        return  # the digits: plenty
    from ..classify.data import as_padded, is_text
    from ..classify.run import _is_ts, _load, data_labels, split_sizes

    X, lengths, y, source = _load(data, text_column, label_column, sep)
    if not is_text(X):
        X, lengths = as_padded(X, lengths)  # its errors name the sequences of --data
    labels = data_labels(y, len(X), data, label_column)
    test = 0.0 if _is_ts(data) else 0.2  # classify train's default held-out split
    n_train, n_test, n_val = split_sizes(labels, test, VAL_SIZE, seed)
    if (test and not n_test) or not n_val:
        counts: dict[str, int] = {}
        for v in labels:
            counts[str(v)] = counts.get(str(v), 0) + 1
        need = 2 if test == 0 else 3
        split = "the held-out test split" if test and not n_test else "the validation split trials are scored on"
        how = (f"a stratified {test:g} of each class is held out for testing, and trials are scored on a stratified "
               f"{VAL_SIZE:g} of the rest" if test else f"trials are scored on a stratified {VAL_SIZE:g} of each class")
        raise SeqlabError(f"--data: {source!r} holds too few examples for tune classify ({len(labels)} in "
                          f"{len(counts)} classes, at most {max(counts.values())} of one), none left for {split} "
                          f"({how}); pass a --data file with at least {need} examples of a class, and many more for a "
                          "useful score")


@contextlib.contextmanager
def _discarding(job: TrainJob):
    """Remove the trials' model files when the run fails (the study file is restored by tune)."""
    try:
        yield
    except BaseException:
        job.discard()
        raise


@_tidy
def generate(text: str | None = None, *, level: str = "char", epochs: int = 5, seq_len: int = 64,
             batch_size: int = 32, trials: int = 20, minutes: float = 10.0, study: str | None = None,
             save: str | None = None, table: str | None = None, plot: str | None = None, seed: int = 0,
             threads: int | None = 0, out: TextIO | None = None) -> TuneResult:
    """Tune a language model on ``text`` (None: the Python docs) by its validation loss."""
    start = _time.monotonic()
    _check(trials, minutes)
    paths = _paths("generate", study, save, table, plot, {"--data": text})
    say = _say(out)
    say(f"tune generate: {text or 'the Python documentation'}; {trials} trial(s), "
        f"{'no time limit' if not minutes else f'{minutes:g} min'}, scored by validation loss (nats per token)")
    folder = Path(paths["study"]).parent
    job = TrainJob("generate", folder, dict(text=text, level=level, epochs=epochs, seq_len=seq_len,
                                            batch_size=batch_size, seed=seed, threads=threads, sample_length=0),
                   save=paths["save"])
    with _discarding(job):
        return _finish(tune("generate", job.objective, job.final, direction="minimize", label="validation loss",
                            trials=trials, minutes=minutes, study=paths["study"], seed=seed, table=paths["table"],
                            plot=paths["plot"], say=say, start=start), say)


__all__ = ["classify", "forecast", "generate"]
