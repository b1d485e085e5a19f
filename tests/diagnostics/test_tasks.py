"""Memory tasks: structure of the generated data and baselines measured on it."""

import math

import pytest
import torch

from seqlab.diagnostics.tasks import (adding_baseline, adding_constant_mse, adding_problem, baseline, copy_baseline,
                                      copy_memory, memoryless_cross_entropy)
from seqlab.errors import SeqlabError


def test_adding_problem_structure():
    T = 30
    x, y = adding_problem(500, T, torch.Generator().manual_seed(0))
    assert x.shape == (500, T, 2) and y.shape == (500, 1)
    values, markers = x[..., 0], x[..., 1]
    assert values.min() >= 0 and values.max() <= 1
    assert torch.all(markers[:, : T // 2].sum(1) == 1) and torch.all(markers[:, T // 2 :].sum(1) == 1)
    first = markers[:, : T // 2].argmax(1)
    second = T // 2 + markers[:, T // 2 :].argmax(1)
    rows = torch.arange(500)
    assert torch.allclose(y[:, 0], values[rows, first] + values[rows, second], rtol=0, atol=1e-6)


def test_adding_baseline_measured_on_generated_data():
    _, y = adding_problem(40_000, 100, torch.Generator().manual_seed(1))
    mse = adding_constant_mse(y, 1.0)
    assert mse == pytest.approx(1 / 6, abs=0.004)  # Var(u1 + u2) = 2/12
    assert adding_baseline() == pytest.approx(0.1667, abs=1e-4)
    assert float(y.mean()) == pytest.approx(1.0, abs=0.01)  # 1 is the best constant
    assert adding_constant_mse(y, 0.9) > mse and adding_constant_mse(y, 1.1) > mse


def test_copy_memory_structure():
    T = 25
    x, y = copy_memory(64, T, torch.Generator().manual_seed(0))
    N = T + 20
    assert x.shape == (64, N) and y.shape == (64, N) and x.dtype == torch.long
    assert torch.all((x[:, :10] >= 1) & (x[:, :10] <= 8))
    assert torch.all(x[:, 10 : T + 9] == 0)  # T - 1 blanks
    assert torch.all(x[:, T + 9] == 9)  # the delimiter
    assert torch.all(x[:, T + 10 :] == 0)
    assert torch.all(y[:, : T + 10] == 0)
    assert torch.equal(y[:, -10:], x[:, :10])


@pytest.mark.parametrize("T", [10, 100])
def test_copy_baseline_measured_on_generated_data(T):
    _, y = copy_memory(10_000, T, torch.Generator().manual_seed(2))
    measured = memoryless_cross_entropy(y)
    assert copy_baseline(T) == pytest.approx(10 * math.log(8) / (T + 20), rel=1e-12)
    assert measured == pytest.approx(copy_baseline(T), rel=0.01)
    assert baseline("copy", T) == copy_baseline(T) and baseline("adding", T) == adding_baseline()


@pytest.mark.parametrize("bad", [1, 0, -3, 2.5, True, "10"])
def test_bad_length(bad):
    with pytest.raises(SeqlabError, match="length: expected an integer >= 2"):
        adding_problem(4, bad)
    with pytest.raises(SeqlabError, match="length"):
        copy_memory(4, bad)


def test_bad_task():
    with pytest.raises(SeqlabError, match="task: expected one of adding, copy, got 'sum'"):
        baseline("sum", 10)
