"""One objective per job, on the job's own library and workflow functions, and its final model.

* **forecast**: cell, hidden size, layers, dropout, learning rate, lookback, and on seasonal data
  the network kind (``network``: mix, hybrid or rnn, as ``seqlab forecast --network``) unless the
  fixed settings name one (``model``, :class:`seqlab.forecast.ForecastConfig`'s name); the score is the
  backtest MASE (mean over the origins the ``seqlab forecast`` workflow backtests, one horizon
  apart before its holdout), reported after each origin so a bad trial stops early; the final
  model is a forecaster with the best settings fitted on all the data.
* **classify**: cell, hidden size, layers, dropout, learning rate; each trial runs
  :func:`seqlab.classify.run.train` and is scored by its validation accuracy: a stratified
  :data:`VAL_SIZE` of the training part only (the classifier's own early-stopping split), at the
  epoch of the lowest validation loss, whose weights are kept (reported after every epoch). The
  held-out split ``seqlab classify train`` tests on is never a trial's score: it is reported
  once, for the best trial's model, which is the result.
* **generate**: cell, hidden size, layers, dropout, learning rate; each trial runs
  :func:`seqlab.text.run.train`, scored by its best validation loss (nats per token, the best so
  far reported after every epoch); the best trial's model file is the result. The text has no
  test part: the best score is a selection score, not an unbiased estimate.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import SeqlabError
from .study import Budget, Report, optuna

#: the searched choices of every job (each job also tunes the learning rate and dropout)
HIDDEN = (8, 128)
LAYERS = (1, 2)
#: the fraction of the training part (never the held-out split) classify trials are scored on
VAL_SIZE = 0.2


def _common(trial: Any, cells: Sequence[str], lr: tuple[float, float]) -> dict:
    return dict(cell=trial.suggest_categorical("cell", list(cells)),
                hidden=trial.suggest_int("hidden", *HIDDEN, log=True),
                layers=trial.suggest_int("layers", *LAYERS),
                dropout=trial.suggest_float("dropout", 0.0, 0.4),
                lr=trial.suggest_float("lr", *lr, log=True))


# -- forecast ------------------------------------------------------------------------------------
@dataclass
class ForecastJob:
    """``series`` to forecast, backtest ``folds`` and fixed ``settings`` (horizon, ensemble...)."""

    series: list
    folds: int = 3
    settings: dict = field(default_factory=dict)
    cells: Sequence[str] = ("lstm", "gru", "rnn", "gru-reset-before", "mingru")
    save: str | None = None

    def __post_init__(self) -> None:
        from ..forecast import Forecaster

        probe = Forecaster(**self.settings)
        self.config = probe.resolve(self.series)
        H, m = self.config.horizon, self.config.season
        self.lookbacks = (max(2, H // 2), max(3 * m, 2 * H))

    def settings_for(self, params: dict) -> dict:
        """The forecaster's settings for a trial's ``params``: the searched network kind is
        ``network`` (``model`` in studies written before the option was renamed)."""
        p = dict(params)
        if "network" in p:
            p["model"] = p.pop("network")
        return {**self.settings, **p}

    def objective(self, trial: Any, budget: Budget) -> float:
        from ..forecast import Forecaster
        from ..forecast.backtesting import backtest

        p = _common(trial, self.cells, (1e-3, 3e-2))
        p["lookback"] = trial.suggest_int("lookback", *self.lookbacks)
        if self.settings.get("model", "auto") == "auto" and self.config.season > 1:
            p["network"] = trial.suggest_categorical("network", ["mix", "hybrid", "rnn"])  # the kinds auto picks from
        H = self.config.horizon
        scores = []
        for k in range(self.folds):  # the earliest origin first, as seqlab forecast's backtest
            minutes = budget.trial_minutes()
            nets = (self.folds - k) * max(1, int(self.settings.get("ensemble", 3)))
            probe = Forecaster(**self.settings_for(p), **({} if minutes is None else {"minutes": minutes / nets}))
            c = probe.resolve(self.series)
            bt = backtest(self.series, c, folds=1, step=H, end_offset=H * (1 + self.folds - 1 - k),
                          include_stats=False, train=probe.train_config)
            scores.append(float(bt.table.loc[bt.model_name, "MASE"]))
            trial.report(float(np.mean(scores)), k)  # the score so far; the pruner compares it at step k
            if trial.should_prune():
                raise optuna().TrialPruned(f"backtest MASE {np.mean(scores):.3f} after {k + 1} origin(s)")
        return float(np.mean(scores))

    def final(self, number: int, params: dict, budget: Budget) -> list[str]:
        from ..forecast import Forecaster

        if self.save is None:
            return []
        left = budget.left() + budget.reserve
        extra = {} if budget.minutes == 0 else {"minutes": max(left, 6.0) / 60.0 / max(1, int(self.settings.get("ensemble", 3)))}
        f = Forecaster(**self.settings_for(params), **extra).fit(self.series)
        f.save(self.save)
        return [self.save]


# -- classify ------------------------------------------------------------------------------------
@dataclass
class TrainJob:
    """A job whose trials run its ``run.train`` workflow and keep their model files in ``folder``."""

    job: str  # 'classify' or 'generate'
    folder: Path
    options: dict = field(default_factory=dict)  # data and fixed settings for run.train
    cells: Sequence[str] = ("lstm", "gru", "rnn", "lstm-peephole", "gru-reset-before", "mingru", "minlstm")
    save: str | None = None
    files: dict = field(default_factory=dict)  # trial number -> its model file
    held: dict = field(default_factory=dict)  # trial number -> held-out accuracy (classify; never a score)
    say: Callable[[str], None] | None = None

    def _options(self) -> dict:
        """``run.train``'s options for a trial or the final model. For classify, the classifier's
        own early-stopping split (a stratified ``VAL_SIZE`` of the training part) is what trials
        are scored on, so the held-out split stays out of the selection; ``patience`` as long as
        the epochs never stops a trial early, and the weights of the lowest validation loss are kept."""
        if self.job != "classify":
            return dict(self.options)
        epochs = self.options.get("epochs")
        return dict(self.options, val_size=VAL_SIZE, patience=epochs or 10**9, validate=False)

    def _has_test_split(self) -> bool:
        """Whether classify holds out a test split (not for a .ts file, whose test file is apart)."""
        from ..classify.run import _is_ts

        data = self.options.get("data")
        return data is None or not _is_ts(data)

    def objective(self, trial: Any, budget: Budget) -> float:
        p = _common(trial, self.cells, (1e-3, 1e-2))
        path = self.folder / f"{self.job}-trial{trial.number}.safetensors"
        minutes = budget.trial_minutes()
        kw = dict(self._options(), save=str(path), quiet=True, minutes=0.0 if minutes is None else minutes, **p)
        self.files[trial.number] = path  # known before it is written: discard() removes it if the run fails
        buf = io.StringIO()
        if self.job == "classify":
            from ..classify.run import train

            report = Report(trial, "val_accuracy", by=("val_loss", "min"))  # the epoch whose weights are kept
            with contextlib.redirect_stdout(buf):
                result = train(**kw, callbacks=[report])
            h = result.history
            accs = h.history.get("val_accuracy", [])
            if not accs:
                raise SeqlabError("tune classify: a trial finished no epoch to score on its validation split; "
                                  "give more --minutes")
            value = float(accs[h.best_epoch if 0 <= h.best_epoch < len(accs) else -1])
            if result.metrics is not None:  # kept for the final report only: never a trial's score
                self.held[trial.number] = float(result.metrics["accuracy"])
        else:
            from ..text.run import train

            report = Report(trial, "val_loss", mode="min")  # the score: the best validation loss so far
            with contextlib.redirect_stdout(buf):
                _, _, history = train(**kw, callbacks=[report])
            losses = [v for v in history.history.get("val_loss", []) if v is not None and np.isfinite(v)]
            if not losses:
                raise SeqlabError("tune generate: the text leaves no validation part to score; use a longer --data")
            value = float(min(losses))
        if report.pruned:
            raise optuna().TrialPruned(f"{report.monitor} {report.last:.4f}")
        return value

    def final(self, number: int, params: dict, budget: Budget) -> list[str]:
        """Copy the best trial's model file to ``save``; a best trial of an earlier run (its file
        gone) is trained again with its parameters."""
        written = []
        if self.save is not None:
            keep = self.files.get(number)
            if keep is not None and keep.is_file():
                from ..files import atomic_write_bytes

                atomic_write_bytes(self.save, keep.read_bytes())  # held with the table and plot
            else:
                kw = dict(self._options(), save=self.save, quiet=True, **params)
                with contextlib.redirect_stdout(io.StringIO()):
                    if self.job == "classify":
                        from ..classify.run import train

                        result = train(**kw)
                        if result.metrics is not None:
                            self.held[number] = float(result.metrics["accuracy"])
                    else:
                        from ..text.run import train

                        train(**kw)
            written.append(self.save)
        if self.job == "classify" and self.say is not None and number in self.held and self._has_test_split():
            self.say(f"held-out accuracy of trial {number}: {self.held[number]:.4f} (the test split, "
                     "which no trial was scored on)")
        self.discard()  # the trials' own files are not kept
        return written

    def discard(self) -> None:
        """Remove the trials' model files (and the checkpoints of trials cut short)."""
        from ..train.checkpoint import checkpoint_path

        for f in self.files.values():
            Path(f).unlink(missing_ok=True)
            checkpoint_path(f).unlink(missing_ok=True)


__all__ = ["ForecastJob", "TrainJob"]
