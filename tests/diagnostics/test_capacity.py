"""`seqlab explain capacity`: the job, the grid and the Optuna search, the table, the command."""

import re

import numpy as np
import pytest

from seqlab.cli import main
from seqlab.diagnostics import capacity
from seqlab.diagnostics.capacity import CapacityConfig, capacity_experiment, capacity_table, noisy_sine
from seqlab.errors import SeqlabError

TINY = dict(epochs=2, train_samples=32, val_samples=64, length=8, batch_size=16)


def test_noisy_sine_continues_each_wave():
    """Without noise every window is a sampled sinusoid, so x_{t+1} = 2 cos(w) x_t - x_{t-1}: the
    target is the next sample of the same wave (checked with cos(w) read off the first steps)."""
    x, y = noisy_sine(50, 12, 0.0, np.random.default_rng(0))
    assert x.shape == (50, 12, 1) and y.shape == (50, 1) and x.dtype == np.float32
    s = x[:, :, 0].astype(np.float64)
    ok = np.abs(s[:, 1]) > 0.2
    c = (s[ok, 2] + s[ok, 0]) / (2 * s[ok, 1])  # cos(w)
    np.testing.assert_allclose(y[ok, 0], 2 * c * s[ok, -1] - s[ok, -2], atol=1e-4)
    _, y_noisy = noisy_sine(4000, 12, 0.5, np.random.default_rng(0))
    assert np.var(y_noisy) == pytest.approx(0.5 + 0.25, rel=0.06)  # sine power 1/2 plus noise 0.5^2


def test_a_large_model_fits_the_training_set_and_overfits():
    cfg = CapacityConfig(hidden=(2, 48), epochs=60, train_samples=64, val_samples=400, length=12, lr=2e-2)
    results, search = capacity_experiment(cfg)
    small, large = results
    assert search == "grid" and len(small.train) == len(large.val) == 60
    assert large.params > 10 * small.params
    assert large.train[-1] < 0.5 * small.train[-1]  # more capacity fits the training set better
    assert large.train[-1] < cfg.noise ** 2  # ... below the noise floor: memorised noise
    assert large.val[-1] / large.train[-1] > 3 * small.val[-1] / small.train[-1]  # and generalises worse
    table = capacity_table(cfg, results, search)
    assert "noise floor" in table and re.search(r"^\s+48\s+0\s+0\s+\d+", table, re.M)


def test_the_grid_is_every_combination(monkeypatch):
    monkeypatch.setattr(capacity, "optuna_available", lambda: False)  # --search optuna without optuna: the grid
    cfg = CapacityConfig(hidden=(3,), dropout=(0.0, 0.3), l2=(0.0, 1e-3), search="optuna", **TINY)
    results, search = capacity_experiment(cfg)
    assert search == "grid"
    assert [(r.hidden, r.dropout, r.l2) for r in results] == [(3, 0.0, 0.0), (3, 0.0, 1e-3), (3, 0.3, 0.0), (3, 0.3, 1e-3)]


def test_optuna_search_stays_in_the_ranges_and_is_seeded():
    cfg = CapacityConfig(hidden=(2, 16), dropout=(0.0, 0.4), l2=(0.0, 1e-3), search="optuna", trials=3, **TINY)
    results, search = capacity_experiment(cfg)
    if not capacity.optuna_available():  # the optuna extra is not installed: the grid ran
        assert search == "grid" and len(results) == 8
        return
    assert search == "optuna" and len(results) == 3
    for r in results:
        assert 2 <= r.hidden <= 16 and 0 <= r.dropout <= 0.4 and (r.l2 == 0 or 1e-6 <= r.l2 <= 1e-3)
    again, _ = capacity_experiment(cfg)
    assert [(r.hidden, r.dropout, r.l2) for r in again] == [(r.hidden, r.dropout, r.l2) for r in results]


def test_config_errors_name_the_field():
    with pytest.raises(SeqlabError, match="dropout: expected a number in"):
        CapacityConfig(dropout=(1.0,)).validate()
    with pytest.raises(SeqlabError, match="search: expected 'grid' or 'optuna'"):
        CapacityConfig(search="random").validate()


def test_command_prints_the_table_and_plots(capsys, tmp_path):
    png = tmp_path / "curves.png"
    code = main(["explain", "capacity", "--hidden", "2,4", "--epochs", "2", "--samples", "32", "--val-samples", "32",
                 "--length", "6", "--threads", "1", "--plot", str(png)])
    out = capsys.readouterr().out
    assert code == 0
    assert "hidden 2: train MSE" in out and "lowest validation MSE: hidden" in out
    assert len(re.findall(r"^\s+[24]\s+0\s+0\s+\d+\s+\d\.\d{4}\s+\d\.\d{4}", out, re.M)) == 2
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv,pattern", [
    (["--hidden", "4,x"], r"argument --hidden: expected an integer, got 'x' \(in the list '4,x'\)"),
    (["--hidden", ","], r"argument --hidden: expected a comma-separated list"),
    (["--dropout", "0,1"], r"argument --dropout: expected a finite number >= 0 and < 1, got '1'"),
    (["--l2=-1e-3"], r"argument --l2: expected a finite number >= 0"),
    (["--epochs", "0"], r"argument --epochs: expected an integer in \[1, 1000000\], got '0'"),
    (["--noise", "nan"], r"argument --noise: expected a finite number >= 0 and <= 1000, got 'nan'"),
    (["--search", "random"], r"argument --search: invalid choice"),
    (["--threads", "-2"], r"argument --threads: expected an integer in \[0, 4096\]"),
])
def test_command_bad_input_is_one_line_and_exit_2(capsys, argv, pattern):
    code = main(["explain", "capacity", *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err and re.search(pattern, err), err


def test_plot_folder_missing_fails_before_work(capsys, tmp_path):
    code = main(["explain", "capacity", "--plot", str(tmp_path / "no" / "c.png")])
    err = capsys.readouterr().err
    assert code == 2 and "--plot: folder" in err


def test_a_diverged_setting_is_marked_in_the_table_and_plotted(tmp_path):
    """An L2 factor of 1e300 makes the loss NaN in epoch 1: the loop stops and puts back the
    initial weights. The plot drew cfg.epochs points against the one that ran (a ValueError), and
    the table showed the row as an ordinary one."""
    cfg = CapacityConfig(hidden=(3,), l2=(0.0, 1e300), **{**TINY, "epochs": 3})
    results, search = capacity_experiment(cfg)
    ok, bad = results
    assert ok.stopped == "" and ok.epochs == 3 and ok.best_epoch >= 0
    assert "not finite" in bad.stopped or "nan" in bad.stopped
    assert bad.epochs == 1 and bad.finite_epochs == 0 and bad.best_epoch == -1 and bad.best_val == float("inf")
    table = capacity_table(cfg, results, search)
    rows = table.splitlines()
    assert not rows[1].rstrip().endswith("diverged in epoch 1")
    # train and val MSE of the initial weights put back; no best epoch
    assert re.fullmatch(r"\s+3\s+0\s+1e\+300\s+\d+\s+\d\.\d{4}\s+\d\.\d{4}\s+\d\.\d\d\s+-\s+-\s+\d+\.\d"
                        r"  diverged in epoch 1", rows[2]), rows[2]
    assert re.search(r"^diverged: 1 of 2 settings \(training loss or weights not finite\): training stopped", table,
                     re.MULTILINE)
    assert f"lowest validation MSE: hidden 3 ({ok.best_val:.4f} at epoch {ok.best_epoch + 1})" in table
    png = tmp_path / "curves.png"
    capacity.plot_curves(cfg, results, str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _result(hidden, train, val, stopped="", l2=0.0):
    return capacity.CapacityResult(hidden, 0.0, l2, 10 * hidden, list(train), list(val), 1.5, stopped)


def test_the_table_keeps_its_columns_for_huge_values_and_a_later_divergence():
    """A diverged last epoch measures the weights put back: the best counts the epochs before it.
    Numbers too wide for a column (an MSE of 2.4e28) are written in e-notation, keeping every
    column where the header puts it."""
    cfg = CapacityConfig(epochs=5)
    results = [_result(4, [0.2, 0.15, 0.1], [0.3, 0.25, 0.2]),
               _result(16, [0.2, 3e5, 0.2], [0.3, 2.4e28, 0.3], stopped="the weights became NaN or infinite"),
               _result(64, [1234567.0, 2.4e28], [0.5, 1e300])]
    table = capacity_table(cfg, results, "grid").splitlines()
    header, rows = table[0], table[1:4]
    names = ("hidden", "dropout", "l2", "params", "train MSE", "val MSE", "val/train", "best val", "at epoch",
             "seconds")
    ends = [header.index(name) + len(name) for name in names]
    for row in rows:
        for end in ends:  # every column right-aligned under its header: a space (or the line's end) after it
            assert row[end - 1] != " " and (end == len(row) or row[end] == " "), (row, end)
    assert rows[1].endswith("  diverged in epoch 3") and not rows[0].endswith("epoch 3")
    assert rows[1].split()[4:9] == ["0.2000", "0.3000", "1.50", "0.3000", "1"]  # best over epochs 1-2
    assert rows[2].split()[4:6] == ["2.4e+28", "1e+300"]
    assert "lowest validation MSE: hidden 4 (0.2000 at epoch 3)" in table


def test_the_command_refuses_an_absurd_l2_factor(capsys):
    """--l2 1e300 ran, overflowed and diverged in epoch 1; a factor above 1 outweighs the MSE and
    drives every weight to 0, so the command refuses it (the library still marks a divergence)."""
    for value in ("1e300", "1.5", "inf"):
        code = main(["explain", "capacity", "--hidden", "4", "--l2", f"0,{value}", "--epochs", "1"])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1, err
        assert f"argument --l2: expected a finite number >= 0 and <= 1, got '{value}' (in the list '0,{value}')" in err
    assert main(["explain", "capacity", "--trials", str(10**20)]) == 2
    assert "argument --trials: expected an integer in [1, 100000]" in capsys.readouterr().err


def test_the_command_marks_a_diverged_setting_and_plots_it(capsys, tmp_path, monkeypatch):
    """The command's bounds keep an L2 factor from diverging; the library's 1e300 still does, and
    the command prints and plots the diverged setting as the library marks it."""
    import dataclasses

    experiment = capacity.capacity_experiment
    monkeypatch.setattr(capacity, "capacity_experiment",
                        lambda cfg, log=None: experiment(dataclasses.replace(cfg, l2=(1e300,)), log=log))
    png = tmp_path / "p.png"
    code = main(["explain", "capacity", "--hidden", "4", "--l2", "1", "--epochs", "3", "--samples", "20",
                 "--val-samples", "20", "--length", "6", "--threads", "1", "--quiet", "--plot", str(png)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert re.search(r"^\s+4\s+0\s+1e\+300 .*  diverged in epoch 1$", out, re.MULTILINE), out
    assert "lowest validation MSE: none, every setting diverged in its first epoch" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
