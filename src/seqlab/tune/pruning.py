"""The pruner of every ``seqlab tune`` study: the median at the current step.

Optuna's ``MedianPruner`` compares a trial's BEST intermediate value over all its steps so far with
the median of the completed trials at the current step. Our objectives report a score so far
(the running mean of the backtest MASE, the best validation score of the epochs so far), whose
early steps are easy: a trial good at step 0 kept that best value and was never pruned however
bad it became later. :class:`StepMedianPruner` compares the value AT the current step instead,
so "worse than the median of the earlier trials at the same point" is what stops a trial.
Imported only once optuna is known to be installed (:func:`seqlab.tune.study.optuna`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import optuna

from ..errors import check_int


class StepMedianPruner(optuna.pruners.BasePruner):
    """Prune a trial whose intermediate value at its latest step is worse than the median of the
    completed trials' values at that step. Nothing is pruned before ``n_startup_trials`` trials
    have completed, at steps below ``n_warmup_steps``, or at a step fewer than ``n_min_trials``
    completed trials reported; a NaN value is pruned (as Optuna's ``MedianPruner`` does)."""

    def __init__(self, n_startup_trials: int = 2, n_warmup_steps: int = 1, n_min_trials: int = 1) -> None:
        self.n_startup_trials = check_int("n_startup_trials", n_startup_trials, 0)
        self.n_warmup_steps = check_int("n_warmup_steps", n_warmup_steps, 0)
        self.n_min_trials = check_int("n_min_trials", n_min_trials, 1)

    def prune(self, study: Any, trial: Any) -> bool:
        step = trial.last_step
        if step is None or step < self.n_warmup_steps:
            return False
        done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if not done or len(done) < self.n_startup_trials:
            return False
        value = float(trial.intermediate_values[step])
        if math.isnan(value):
            return True
        others = [float(t.intermediate_values[step]) for t in done if step in t.intermediate_values]
        others = [v for v in others if not math.isnan(v)]
        if len(others) < self.n_min_trials:
            return False
        median = float(np.median(others))
        if study.direction == optuna.study.StudyDirection.MAXIMIZE:
            return value < median
        return value > median


__all__ = ["StepMedianPruner"]
