"""Long-range memory tasks from the literature, generated on the fly, with their baselines.

* Adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015; Arjovsky et al. 2016): the input
  has two channels of length T. Channel 0 holds values uniform on [0, 1]; channel 1 is zero except
  for one marker (1.0) somewhere in the first half and one in the second half. The target is the
  sum of the two marked values. Always answering 1 (the mean of the target) scores
  MSE = Var(u1 + u2) = 2/12 ≈ 0.167: a model below that remembered something.
* Copy memory (Arjovsky, Shah & Bengio 2016): ten symbols drawn from {1..8}, then T - 1 blanks (0),
  a delimiter (9), then ten more blanks; the target is T + 10 blanks then the ten symbols. A model
  with no memory predicts blanks, then a uniform guess over the eight symbols: cross-entropy
  10 log 8 / (T + 20) per step.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import SeqlabError, check_int, check_positive_int

TASKS = ("adding", "copy")
COPY_SYMBOLS = 8  # symbols 1..8
COPY_LENGTH = 10  # symbols to remember
COPY_CLASSES = 10  # 0 blank, 1..8 symbols, 9 delimiter
BLANK, DELIMITER = 0, 9


def _check_length(length: int, minimum: int = 2) -> int:
    return check_int("length", length, minimum, meaning="the time span to remember")


def _check_batch(batch_size: int) -> int:
    return check_positive_int("batch_size", batch_size)


def adding_problem(batch_size: int, length: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """A batch of the adding problem. Returns ``x`` (B, T, 2) float32 and ``y`` (B, 1)."""
    B, T = _check_batch(batch_size), _check_length(length)
    values = torch.rand(B, T, generator=generator)  # (B, T)
    first = torch.randint(0, T // 2, (B,), generator=generator)  # one marker in [0, T/2)
    second = torch.randint(T // 2, T, (B,), generator=generator)  # one in [T/2, T)
    markers = torch.zeros(B, T)
    rows = torch.arange(B)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = torch.stack([values, markers], dim=-1)  # (B, T, 2)
    y = (values * markers).sum(1, keepdim=True)  # (B, 1)
    return x, y


def adding_baseline() -> float:
    """MSE of always answering 1 (the target's mean): Var(u1 + u2) = 2 * 1/12."""
    return 2.0 / 12.0


def adding_constant_mse(y: Tensor, guess: float = 1.0) -> float:
    """MSE of answering ``guess`` to every example of targets ``y`` (measured, not the formula)."""
    return float(((y - guess) ** 2).mean())


def copy_memory(batch_size: int, length: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """A batch of the copy-memory task with a blank stretch of ``length``.

    Returns ``x`` (B, T + 20) and ``y`` (B, T + 20), both int64 class indices in [0, 10).
    """
    B, T = _check_batch(batch_size), _check_length(length)
    N = T + 2 * COPY_LENGTH
    symbols = torch.randint(1, COPY_SYMBOLS + 1, (B, COPY_LENGTH), generator=generator)  # (B, 10)
    x = torch.full((B, N), BLANK, dtype=torch.long)
    x[:, :COPY_LENGTH] = symbols
    x[:, T + COPY_LENGTH - 1] = DELIMITER  # after T - 1 blanks
    y = torch.full((B, N), BLANK, dtype=torch.long)
    y[:, -COPY_LENGTH:] = symbols
    return x, y


def copy_baseline(length: int) -> float:
    """Cross-entropy per step of the memoryless strategy: 10 log 8 / (T + 20)."""
    T = _check_length(length)
    return COPY_LENGTH * math.log(COPY_SYMBOLS) / (T + 2 * COPY_LENGTH)


def memoryless_cross_entropy(y: Tensor) -> float:
    """Cross-entropy per step of the best predictor that knows only the position.

    It predicts at each position the empirical distribution of the targets ``y`` (B, N) at that
    position; on copy-memory data this measures :func:`copy_baseline` from the data itself.
    """
    B, N = y.shape
    counts = torch.zeros(N, COPY_CLASSES, dtype=torch.float64)
    counts.scatter_add_(1, y.t(), torch.ones(N, B, dtype=torch.float64))  # (N, C)
    probs = counts / B
    nll = -torch.log(probs.gather(1, y.t()))  # (N, B)
    return float(nll.mean())


def baseline(task: str, length: int) -> float:
    """The memoryless baseline loss of ``task`` ('adding': MSE, 'copy': cross-entropy)."""
    task = check_task(task)
    return adding_baseline() if task == "adding" else copy_baseline(length)


def check_task(task: str) -> str:
    if task not in TASKS:
        raise SeqlabError(f"task: expected one of {', '.join(TASKS)}, got {task!r}")
    return task


def make_batch(task: str, batch_size: int, length: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """A batch of ``task`` ('adding' or 'copy')."""
    task = check_task(task)
    return (adding_problem if task == "adding" else copy_memory)(batch_size, length, generator)
