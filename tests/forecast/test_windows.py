"""Windowing, time splits and cut-offs: pure NumPy, checked against hand loops and hand values."""

import numpy as np
import pytest

from seqlab.errors import SeqlabError
from seqlab.forecast.windows import cutoffs, make_windows, n_windows, split_train_val


def test_make_windows_matches_a_hand_loop():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(20, 3))
    target = rng.normal(size=20)
    X, Y = make_windows(values, target, lookback=5, horizon=4)
    assert X.shape == (12, 5, 3) and Y.shape == (12, 4)
    for i in range(12):
        np.testing.assert_array_equal(X[i], values[i : i + 5])
        np.testing.assert_array_equal(Y[i], target[i + 5 : i + 9])


def test_targets_always_follow_inputs():
    t = np.arange(30, dtype=float)
    X, Y = make_windows(t[:, None], t, lookback=7, horizon=3)
    # values equal their time index: every target is later than every input of its window
    assert np.all(Y.min(1) > X[:, :, 0].max(1))
    assert np.all(Y[:, 0] == X[:, -1, 0] + 1)


def test_too_short_gives_no_windows_and_bad_args_raise():
    X, Y = make_windows(np.zeros((5, 1)), np.zeros(5), 4, 2)
    assert X.shape == (0, 4, 1) and Y.shape == (0, 2)
    assert n_windows(5, 4, 2) == 0 and n_windows(6, 4, 2) == 1
    with pytest.raises(SeqlabError, match="lookback and horizon"):
        make_windows(np.zeros((5, 1)), np.zeros(5), 0, 2)


def test_validation_windows_come_from_the_end():
    t = np.arange(40, dtype=float)
    X, Y = make_windows(t[:, None], t, lookback=6, horizon=4)
    Xt, Yt, Xv, Yv = split_train_val(X, Y, length=40, lookback=6, val_steps=5)
    # every training target lies before the last 5 steps; every validation window touches them
    assert Yt.max() < 35 and np.all(Yv.max(1) >= 35)
    assert len(Xt) + len(Xv) == len(X) and Yt.max() < Yv.min() + 4
    assert Xv[0, 0, 0] == len(Xt)  # the split is one cut in time, not a shuffle


def test_cutoffs_hand_values():
    assert cutoffs(144, 12, 3, end=132) == [96, 108, 120]
    assert cutoffs(144, 12, 1) == [132]
    assert cutoffs(100, 5, 3, step=2) == [91, 93, 95]
    with pytest.raises(SeqlabError):
        cutoffs(100, 5, 0)
