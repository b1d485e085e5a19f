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
