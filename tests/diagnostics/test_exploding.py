"""Exploding gradients: growth above spectral radius 1, decay below it, and clipping by norm."""

import re

import numpy as np
import pytest
import torch

from seqlab import nn as snn
from seqlab.cli import main
from seqlab.diagnostics.clipping import clipping_comparison
from seqlab.diagnostics.gradients import gradient_flow, scale_recurrent_weights
from seqlab.diagnostics.memory import MemoryModel
from seqlab.errors import SeqlabError
from seqlab.train import TrainConfig, train
from seqlab.diagnostics.clipping import _AddingSGDTask
from seqlab.diagnostics.gradnorm import GradientNormRecorder

T = 40


def _flow_at(radius: float, seed: int = 0):
    """A float64 tanh RNN (hidden 8, zero biases) at ``radius``, inputs tiny (the linear regime),
    the loss reading the last hidden state only."""
    torch.manual_seed(seed)
    layer = snn.RNN(3, 8).double()
    with torch.no_grad():
        layer.cells[0].bias_ih.zero_()
        layer.cells[0].bias_hh.zero_()
    scale_recurrent_weights(layer, radius)
    w = layer.cells[0].weight_hh.detach().numpy()
    assert np.abs(np.linalg.eigvals(w)).max() == pytest.approx(radius, rel=1e-9)  # NumPy, not torch
    x = 1e-6 * torch.randn(4, T, 3, dtype=torch.float64)
    v = torch.randn(4, 8, dtype=torch.float64)
    flow = gradient_flow(layer, x, v, loss_fn=lambda out, v: (out[0][:, -1] * v).sum())
    return next(iter(flow.hidden.values())), flow.ratio()


@pytest.mark.parametrize("seed", [0, 1])
def test_gradients_grow_with_distance_above_radius_one_and_shrink_below(seed):
    h, ratio = _flow_at(1.5, seed)
    assert ratio > 1e3  # ||dL/dh_1|| / ||dL/dh_T||: grew over T - 1 = 39 steps
    assert h[0] > h[T // 2] > h[-1]
    rate = ratio ** (1 / (T - 1))
    assert 0.8 * 1.5 < rate < 1.05 * 1.5  # about the radius per step (non-normal W: a transient)
    h, ratio = _flow_at(0.7, seed)
    assert ratio < 1e-3
    assert h[0] < h[T // 2] < h[-1]
    assert 0.8 * 0.7 < ratio ** (1 / (T - 1)) < 1.05 * 0.7


def test_scale_recurrent_weights_scales_each_gate_block_and_refuses_bad_radii():
    torch.manual_seed(0)
    lstm = snn.LSTM(2, 5)
    assert scale_recurrent_weights(lstm, 1.3) == 4
    for block in lstm.cells[0].weight_hh.detach().double().numpy().reshape(4, 5, 5):
        assert np.abs(np.linalg.eigvals(block)).max() == pytest.approx(1.3, rel=1e-5)
    for bad in (0, -1.0, float("nan"), float("inf"), True):
        with pytest.raises(SeqlabError, match="radius: expected a positive finite spectral radius"):
            scale_recurrent_weights(lstm, bad)
    with pytest.raises(SeqlabError, match="no recurrent weight matrix"):
        scale_recurrent_weights(torch.nn.Linear(2, 2), 1.0)


def test_clipping_bounds_the_norm_of_the_step():
    """Through the one loop with SGD at rate 1, the weights move by exactly the post-clip norm:
    min(||g||, clipnorm), though the gradient before clipping is far larger."""
    torch.manual_seed(0)
    model = MemoryModel("adding", "rnn", 16, keep_bias=0.0)
    scale_recurrent_weights(model, 3.0)
    before = [p.detach().clone() for p in model.parameters()]
    rec = GradientNormRecorder(0.5)
    task = _AddingSGDTask(model, 30, 16, 1)
    train(task, TrainConfig(epochs=None, max_steps=1, lr=1.0, clipnorm=0.5, device="cpu", threads=None, verbose=0,
                            checkpoint_minutes=None), callbacks=[rec])
    moved = torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    assert rec.norms[0] > 100  # exploded at radius 3
    assert float(moved) == pytest.approx(0.5, rel=1e-4)


def test_clipping_keeps_training_finite_where_plain_sgd_diverges():
    cmp = clipping_comparison(radius=2.0, clipnorm=1.0, length=50, hidden=32, steps=120, lr=0.05, seed=0)
    plain, clipped = cmp.runs
    assert plain.clipnorm is None and clipped.clipnorm == 1.0
    assert plain.diverged_at is not None and not np.isfinite(plain.eval_loss)  # measured: NaN at step 79
    assert clipped.diverged_at is None and len(clipped.losses) == 120 and np.isfinite(clipped.losses).all()
    assert clipped.eval_loss < 1.0
    s = clipped.summary()
    assert s["max_norm"] > 10 and s["max_norm_after_clipping"] <= 1.0


def test_cli_radius_and_clipnorm(capsys, tmp_path):
    png = tmp_path / "clip.png"
    code = main(["explain", "gradients", "--cells", "rnn", "--length", "30", "--hidden", "16", "--steps", "0",
                 "--radius", "2", "--clipnorm", "1", "--clip-steps", "20", "--threads", "1",
                 "--clip-plot", str(png)])
    out = capsys.readouterr().out
    assert code == 0
    assert "scaled to spectral radius 2" in out
    row = re.search(r"^rnn\s+\S+\s+(\S+)\s+\S+\s+(\S+)\s+(\S+)$", out, re.M)
    assert float(row.group(3)) > 10  # ||dL/dh_1|| / ||dL/dh_T|| grew (measured 31; hidden 8 saturates: 7e-4)
    assert re.search(r"^\s+none\s+\d+", out, re.M) and re.search(r"^\s+1\s+20\s", out, re.M)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv,pattern", [
    (["--radius", "-1"], r"argument --radius: expected a finite number > 0"),
    (["--radius", "nan"], r"argument --radius: expected a finite number > 0 and <= 1000, got 'nan'"),
    (["--clipnorm", "0"], r"argument --clipnorm: expected a finite number > 0, got '0'"),
    (["--clip-steps", "0"], r"argument --clip-steps: expected an integer in \[1, 10000000\], got '0'"),
    (["--clip-plot", "x.png"], r"--clip-plot: draws the --clipnorm comparison"),
])
def test_cli_bad_radius_and_clip_options(capsys, argv, pattern):
    code = main(["explain", "gradients", "--cells", "rnn", "--length", "5", "--steps", "0", *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and re.search(pattern, err), err


def test_the_clipping_table_keeps_its_columns_for_huge_values():
    """At --lr 100 the eval MSE was 1606.8943 in a 9-wide column, and 2.4e28 printed 33 characters:
    every value now stays under its header (report.fit_number, as report.py's tables)."""
    from seqlab.diagnostics.clipping import ClipComparison, ClipRun, clipping_report

    def run(clip, eval_loss, losses, norms, diverged=None):
        return ClipRun(clip, np.array(losses, dtype=float), np.array(norms, dtype=float), eval_loss, diverged)

    cmp = ClipComparison(2.0, 50, 32, 100.0, 10**7, [
        run(None, 1606.8943, [0.2, 3e5], [1.0, 2e30]),
        run(123456789.5, 2.4e28, [0.2, 2.4e28], [5e-9, 7.0]),
        run(1.0, float("nan"), [0.2, float("nan")], [1.0, float("nan")], diverged=1),
    ])
    table = clipping_report(cmp).splitlines()
    header, rows = table[2], table[3:6]
    names = ("clipnorm", "steps", "eval MSE", "max loss", "median ||g||", "max ||g||", "clipped")
    ends = [header.index(name) + len(name) for name in names]
    for k, row in enumerate(rows):
        for end in ends[:6] if k == 0 else ends:  # right-aligned under its header, a space after it
            assert row[end - 1] != " " and row[end] == " ", (row, end)  # (no clipped share without clipping)
    assert rows[0].split()[:3] == ["none", "2", "1606.8943"]
    assert rows[1].split()[:3] == ["1.23e+08", "2", "2.4e+28"]
    assert rows[2].split()[2] == "nan"
