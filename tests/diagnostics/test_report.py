"""The printed tables of ``seqlab explain gradients`` and the number formatting they share."""

import re

import numpy as np
import pytest

from seqlab.diagnostics import report
from seqlab.diagnostics.gradients import GradientFlow
from seqlab.diagnostics.report import fit_number, gradient_report, name_width


@pytest.mark.parametrize("value,width,decimals,text", [
    (0.1692, 8, 4, "  0.1692"), (2.4e28, 8, 4, " 2.4e+28"), (-2.4e28, 9, 4, " -2.4e+28"),
    (12345.678, 8, 4, "1.23e+04"), (1.5, 9, 2, "     1.50"), (float("nan"), 8, 4, "     nan"),
    (float("inf"), 9, 2, "      inf"), (-1.5e-300, 7, 4, "-0.0000"), (-1e300, 7, 4, "-1e+300"),
])
def test_fit_number_keeps_the_width(value, width, decimals, text):
    assert fit_number(value, width, decimals) == text


def test_name_width_is_the_longest_name_at_least_seven():
    assert name_width(["rnn", "lstm", "gru"]) == 7
    assert name_width(["rnn", "gru-reset-before"]) == len("gru-reset-before")


def test_gradient_table_columns_t_half_and_long_names(monkeypatch):
    """t = T/2 is ||dL/dh_{T/2}||, h[T/2 - 1] as t = 1 is h[0] (it printed h[T/2], step T/2 + 1);
    the cell column fits names longer than 7 characters and a huge loss keeps its width."""
    T = 10
    norms = {"rnn": 1.0, "lstm-peephole": 2.0, "gru-reset-before": 3.0}
    losses = {"rnn": 0.25, "lstm-peephole": 2.4e28, "gru-reset-before": 1.5}

    def fake_flow(model, x, y):
        cell = model.cell_name
        return GradientFlow(losses[cell], {"l0": norms[cell] * np.arange(1, T + 1, dtype=float)})  # h[t-1] = k t

    real_model = report.MemoryModel

    def model(task, cell, hidden):
        m = real_model(task, cell, hidden)
        m.cell_name = cell
        return m

    monkeypatch.setattr(report, "measure_flow", fake_flow)
    monkeypatch.setattr(report, "MemoryModel", model)
    text = gradient_report(list(norms), T, hidden=2, batch_size=2, train_steps=0)
    lines = text.splitlines()
    header = lines[lines.index("at initialization:") + 1]
    rows = lines[lines.index(header) + 1:]
    assert [r.split()[0] for r in rows] == list(norms)
    ends = [header.index(name) + len(name) for name in ("loss", "t = T", "t = T/2", "t = 1", "1 / T")]
    for row in rows:
        for end in ends:  # right-aligned under its header
            assert row[end - 1] != " " and (end == len(row) or row[end] == " "), (row, end)
    for row, (cell, k) in zip(rows, norms.items()):
        _loss, at_T, at_half, at_1, ratio = row.split()[1:]
        assert float(at_T) == k * T and float(at_half) == k * (T // 2) and float(at_1) == k
        assert float(ratio) == pytest.approx(1 / T, rel=1e-3)
    assert rows[1].split()[1] == "2.4e+28" and re.fullmatch(r"rnn +0\.2500 .*", rows[0])
