"""The study around every job's objective: Optuna, a time budget, pruning, SQLite, table and plot.

:func:`tune` runs ``trials`` more trials of a job's objective (:mod:`seqlab.tune.objectives`) in an
Optuna study stored in the SQLite file ``study`` (a second run with the same file continues the
study: its finished trials count and inform the sampler), with the TPE sampler (seeded) and the
median pruner at the current step (:class:`seqlab.tune.pruning.StepMedianPruner`): a trial whose
score so far (reported per epoch through :class:`Report`, or per backtest origin for forecasting)
is worse than the median of the completed trials' scores at the same step stops early. No trial
starts after the time budget, and each trial's training is
limited to the time left, so the whole run ends within ``minutes`` plus the final model's fit.
The best configuration is then written as a model file by the job's own workflow, and the
results as a table (CSV) and a plot (PNG).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import SeqlabError
from ..train.callbacks import Callback


def optuna():
    try:
        import optuna as _optuna
    except ImportError as exc:
        raise SeqlabError("seqlab tune: needs optuna; install seqlab's optuna extra: pip install 'seqlab[optuna]'") from exc
    # ERROR, not WARNING: a trial that fails logs its traceback at WARNING before the error reaches
    # the command, whose one line on stderr says what was wrong
    _optuna.logging.set_verbosity(_optuna.logging.ERROR)
    return _optuna


#: the first 16 bytes of every SQLite 3 database file
_SQLITE_MAGIC = b"SQLite format 3\x00"


def _check_study_file(study: str | Path) -> None:
    """SeqlabError unless ``study`` is missing, empty or an SQLite database (what Optuna's storage
    opens; anything else would fail deep inside SQLAlchemy)."""
    p = Path(study)
    if not p.exists():
        return
    if not p.is_file():
        raise SeqlabError(f"--study: {str(study)!r} is not a regular file; give the SQLite file of a study")
    try:
        with open(p, "rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise SeqlabError(f"--study: cannot read {str(study)!r}: {exc.strerror or exc}") from None
    if head and head != _SQLITE_MAGIC:
        raise SeqlabError(f"--study: {str(study)!r} is not an SQLite database (the file a study is kept in); "
                          "give a new file name, or the .db file of an earlier seqlab tune run")


@dataclass
class Budget:
    """The run's deadline; ``reserve`` seconds are kept for the final model after the trials."""

    minutes: float
    reserve: float = 0.0
    start: float = field(default_factory=time.monotonic)

    def left(self) -> float:
        """Seconds left for trials (inf without a budget)."""
        if not self.minutes:
            return math.inf
        return self.start + 60.0 * self.minutes - self.reserve - time.monotonic()

    def trial_minutes(self) -> float | None:
        """A training time limit that ends within the budget (None: no budget)."""
        left = self.left()
        return None if math.isinf(left) else max(left, 1.0) / 60.0


class Report(Callback):
    """Reports the trial's score so far to the trial after every epoch; when the pruner says so,
    stops the training (``stop_training``) and remembers it, so the objective raises ``TrialPruned``.

    The score so far is ``logs[monitor]`` at the best epoch so far, judged by ``by`` = (name,
    'min' or 'max'); ``by`` defaults to (``monitor``, ``mode``): the best ``monitor`` so far, as a
    trial scored by its best epoch ends. The pruner compares the value at the current step, so a
    noisy epoch must not count against a trial whose score is its best one. ``mode`` None (and no
    ``by``) reports each epoch's own value."""

    def __init__(self, trial: Any, monitor: str, mode: str | None = None, by: tuple[str, str] | None = None,
                 step0: int = 0) -> None:
        for name, m in (("mode", mode), ("by", None if by is None else by[1])):
            if m not in (None, "min", "max"):
                raise SeqlabError(f"Report {name}: expected 'min' or 'max', got {m!r}")
        self.trial, self.monitor, self.step0 = trial, monitor, step0
        self.by = by if by is not None else (None if mode is None else (monitor, mode))
        self.pruned = False
        self.last: float | None = None  # the last value reported
        self._best: float | None = None  # the best ``by`` value so far

    def _better(self, logs: dict) -> bool:
        name, mode = self.by
        key = logs.get(name)
        if key is None or not math.isfinite(float(key)):
            return False
        key = float(key)
        if self._best is None or (key < self._best if mode == "min" else key > self._best):
            self._best = key
            return True
        return False

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None or not math.isfinite(float(value)):
            return
        if self.by is None or self._better(logs) or self.last is None:
            self.last = float(value)
        self.trial.report(self.last, self.step0 + epoch)
        if self.trial.should_prune():
            self.pruned = True
            if self.model is not None:
                self.model.stop_training = True


@dataclass
class TuneResult:
    """What :func:`tune` did: the study, its best trial, the files written."""

    study: Any
    best_params: dict
    best_value: float
    direction: str
    table: Any  # pandas DataFrame, one row per trial of the study
    written: list[str] = field(default_factory=list)
    seconds: float = 0.0


def results_table(study: Any) -> Any:
    """One row per trial: number, state, value, seconds, and its parameters."""
    import pandas as pd

    rows = []
    for t in study.trials:
        secs = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else None
        rows.append({"trial": t.number, "state": t.state.name.lower(), "value": t.value,
                     "seconds": None if secs is None else round(secs, 2), **t.params})
    return pd.DataFrame(rows)


def plot_study(study: Any, path: str, label: str, direction: str) -> None:
    """Each trial's score (pruned trials at their last reported value) and the best so far."""
    from ..plotting import pyplot, save_figure

    fig, ax = pyplot().subplots(figsize=(7, 4))
    best, xs, ys, bx, by = None, [], [], [], []
    for t in study.trials:
        v = t.value
        if v is None and t.intermediate_values:
            v = t.intermediate_values[max(t.intermediate_values)]
            ax.scatter([t.number], [v], marker="x", color="gray")
            continue
        if v is None:
            continue
        xs.append(t.number), ys.append(v)
        best = v if best is None else (min(best, v) if direction == "minimize" else max(best, v))
        bx.append(t.number), by.append(best)
    ax.scatter(xs, ys, label="trial")
    ax.step(bx, by, where="post", color="C1", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(label)
    ax.set_title(f"{study.study_name}: {len(study.trials)} trials (x: pruned)")
    ax.legend()
    save_figure(fig, path, dpi=100)  # through the write boundary (held with the other outputs)


def tune(job: str, objective: Callable[[Any, Budget], float], final: Callable[[int, dict, Budget], list[str]], *,
         direction: str, label: str, trials: int, minutes: float, study: str | Path, seed: int = 0,
         reserve: float = 0.0, table: str | None = None, plot: str | None = None,
         say: Callable[[str], None] = print, start: float | None = None) -> TuneResult:
    """Run the study (see the module docstring); ``objective(trial, budget)`` scores one trial,
    ``final(best_number, best_params, budget)`` writes the model file(s) and returns their paths.

    A run that fails before a trial of its own completed leaves the study file as it was: one it
    created is removed, an earlier one keeps its bytes (a failed trial is not added to it). Failed
    or interrupted (Ctrl-C) after a trial of this run completed, the study keeps its trials for
    the next run to continue. The model,
    the table and the plot are written together at the end, or none of them."""
    opt = optuna()
    from .pruning import StepMedianPruner  # imports optuna: only once it is known to be there

    budget = Budget(minutes, reserve) if start is None else Budget(minutes, reserve, start)
    _check_study_file(study)
    kept = _StudyFile(study)  # a run that fails leaves the study file as it found it (or none)
    storage = None
    try:
        storage = opt.storages.RDBStorage(f"sqlite:///{Path(study).resolve()}")
        s = opt.create_study(study_name=job, storage=storage, load_if_exists=True, direction=direction,
                             sampler=opt.samplers.TPESampler(seed=(seed + len(_trials_in(storage, job, opt))) % 2**32),
                             pruner=StepMedianPruner(n_startup_trials=2, n_warmup_steps=1))
    except Exception as exc:  # SQLAlchemy's and Optuna's storage errors: a damaged or foreign database
        kept.restore(storage)
        if isinstance(exc, SeqlabError):
            raise
        raise SeqlabError(f"--study: cannot open {str(study)!r} as an Optuna study ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}); give a new file name") from None
    kept.trials = len(s.trials)
    try:
        return _run(s, opt, job, objective, final, budget, direction=direction, label=label, trials=trials,
                    minutes=minutes, study=study, table=table, plot=plot, say=say)
    except BaseException:  # Ctrl-C or a failure (in a trial's set-up, the final fit, the outputs)
        done = [t for t in s.trials[kept.trials:] if t.state == opt.trial.TrialState.COMPLETE]
        if not done:  # nothing worth keeping: as if the run never began
            kept.restore(storage)
        else:  # trials finished in this run are kept: running again continues the study
            _close(storage)
        raise


class _StudyFile:
    """The study file as a run found it: its bytes (or its absence), and how many trials it
    held; :meth:`restore` puts it back after a failed run (a file the run created is removed)."""

    def __init__(self, study: str | Path) -> None:
        self.path = Path(study)
        self.existed = self.path.is_file()
        self.data = self.path.read_bytes() if self.existed else None
        self.extra = [self.path.with_name(self.path.name + s) for s in ("-journal", "-wal", "-shm")]
        self.extra = [p for p in self.extra if not p.exists()]  # SQLite's side files this run may create
        self.trials = 0

    def restore(self, storage: Any) -> None:
        from ..files import atomic_write_bytes

        _close(storage)
        for p in self.extra:
            p.unlink(missing_ok=True)
        if self.data is None:
            self.path.unlink(missing_ok=True)
        elif not self.path.is_file() or self.path.read_bytes() != self.data:
            atomic_write_bytes(self.path, self.data)


def _close(storage: Any) -> None:
    """Close the database connections of an Optuna RDBStorage (its file can then be replaced)."""
    engine = getattr(storage, "engine", None)
    if engine is not None:
        try:
            storage.remove_session()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
        engine.dispose()


def _run(s: Any, opt: Any, job: str, objective: Callable[[Any, Budget], float],
         final: Callable[[int, dict, Budget], list[str]], budget: Budget, *, direction: str, label: str, trials: int,
         minutes: float, study: str | Path, table: str | None, plot: str | None,
         say: Callable[[str], None]) -> TuneResult:
    """The study ``s`` opened by :func:`tune`: its trials, the final model, the table and plot."""
    from ..files import held_writes

    if s.direction.name.lower() != direction:
        raise SeqlabError(f"--study: {str(study)!r} holds a '{job}' study that {s.direction.name.lower()}s; use another file")
    before = len(s.trials)
    if before:
        states = {}
        for t in s.trials:
            states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
        counts = ", ".join(f"{n} {state}" for state, n in states.items())
        stale = states.get("fail", 0) + states.get("running", 0) + states.get("waiting", 0)
        say(f"study {str(study)!r}: continuing after {before} trial(s) ({counts})"
            + (f"; {stale} of them failed or were interrupted in an earlier run and give no score (only complete "
               "trials inform the search; pass a new --study file to start afresh)" if stale else ""))

    def run(trial: Any) -> float:
        if budget.left() <= 0:
            raise opt.TrialPruned("time budget spent")
        t0 = time.monotonic()
        value = objective(trial, budget)
        say(f"trial {trial.number}: {label} {value:.4f} in {time.monotonic() - t0:.1f} s  {_fmt(trial.params)}")
        return value

    def on_pruned(study_: Any, trial: Any) -> None:
        if trial.state == opt.trial.TrialState.PRUNED:
            say(f"trial {trial.number}: pruned  {_fmt(trial.params)}")

    timeout = None if not minutes else max(budget.left(), 0.0)
    s.optimize(run, n_trials=trials, timeout=timeout, callbacks=[on_pruned], catch=())
    done = [t for t in s.trials if t.state == opt.trial.TrialState.COMPLETE]
    if not done:
        raise SeqlabError(f"tune {job}: no trial finished within the budget; give more --minutes or fewer epochs")
    best = s.best_trial
    say(f"best: trial {best.number}, {label} {best.value:.4f}  {_fmt(best.params)}")
    with held_writes():  # the model, the table and the plot: all of them or, when one fails, none
        written = final(best.number, dict(best.params), budget)
        tab = results_table(s)
        if table:
            from ..files import atomic_write_text

            atomic_write_text(table, tab.to_csv(index=False))
            written.append(table)
        if plot:
            plot_study(s, plot, label, direction)
            written.append(plot)
    return TuneResult(s, dict(best.params), float(best.value), direction, tab, written,
                      time.monotonic() - budget.start)


def _trials_in(storage: Any, job: str, opt: Any) -> list:
    try:
        return opt.load_study(study_name=job, storage=storage).trials
    except KeyError:
        return []


def _fmt(params: dict) -> str:
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


__all__ = ["Budget", "Report", "TuneResult", "optuna", "plot_study", "results_table", "tune"]
