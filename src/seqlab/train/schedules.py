"""Learning-rate schedules as a factor of the base rate, over the progress of a run in [0, 1].

The engine sets ``lr = base_lr * factor(progress) * plateau`` before every optimizer step, where
``progress`` is the larger of the share of the step budget done and the share of the time budget
spent, and ``plateau`` is the product of every cut made by ``lr_plateau_factor`` (per epoch,
when the monitored value stops improving).

* ``"constant"``: 1 throughout (the engine then leaves the rate alone, so callbacks such as
  ReduceLROnPlateau may change it).
* ``"decay"``: 1 until the last ``decay_fraction`` of the run, then a straight line down to
  ``min_lr`` (warmup-free "warmup-stable-decay"): a large step's noise is gone by the end of a
  short budget (measured on the text job: docs/generate.md, "Benchmark").
* ``"cosine"``: a half cosine from 1 down to ``min_lr`` over the whole run.
"""

from __future__ import annotations

import math

SCHEDULES = ("constant", "decay", "cosine")


def cosine_factor(progress: float, min_lr: float) -> float:
    """1 at ``progress`` 0 down to ``min_lr`` at 1 along a half cosine."""
    p = min(max(progress, 0.0), 1.0)
    return min_lr + (1.0 - min_lr) * 0.5 * (1.0 + math.cos(math.pi * p))


def decay_factor(progress: float, min_lr: float, fraction: float) -> float:
    """1 until ``progress`` reaches ``1 - fraction``, then linearly down to ``min_lr`` at 1."""
    p = min(max(progress, 0.0), 1.0)
    left = (1.0 - p) / fraction  # 1 where the decay starts, 0 at the end
    return 1.0 if left >= 1.0 else min_lr + (1.0 - min_lr) * left


def lr_factor(schedule: str, progress: float, min_lr: float = 0.05, decay_fraction: float = 0.2) -> float:
    """The factor of ``schedule`` at ``progress`` (see the module docstring)."""
    if schedule == "cosine":
        return cosine_factor(progress, min_lr)
    if schedule == "decay":
        return decay_factor(progress, min_lr, decay_fraction)
    return 1.0
