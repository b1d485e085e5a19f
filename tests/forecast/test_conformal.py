"""Split conformal calibration: coverage on a generated series with known noise, the scores,
the per-step and pooled quantiles, and the Winkler score against a hand computation."""

import math

import numpy as np
import pytest

from seqlab.forecast.conformal import calibrate, cross_calibrated, interval_stats, scores, widen


def test_calibrated_intervals_cover_the_nominal_share_of_new_values_with_known_noise():
    # y_t = sin(t / 5) + N(0, sigma^2 h) at horizon step h; a "model" that knows the mean but
    # gives a too narrow 80% interval (half the true width) and one too wide (twice)
    rng = np.random.default_rng(0)
    H, sigma = 4, 0.3
    z = 1.2815515655446004  # the standard normal's 0.9 quantile

    def draw(n):
        t = rng.uniform(0, 100, (n, 1))
        mean = np.sin(t / 5) * np.ones((1, H))
        sd = sigma * np.sqrt(np.arange(1, H + 1))[None, :]
        return mean, sd, mean + sd * rng.standard_normal((n, H))

    for factor in (0.5, 2.0):
        mean, sd, y = draw(1000)  # calibration: the backtest's forecasts
        lo, hi = mean - factor * z * sd, mean + factor * z * sd
        q = calibrate(scores(y, lo, hi), alpha=0.2)
        mean2, sd2, y2 = draw(4000)  # new values
        pred = np.stack([mean2 - factor * z * sd2, mean2, mean2 + factor * z * sd2], -1)  # (N, H, 3)
        raw = interval_stats(y2, pred[..., 0], pred[..., 2], 0.2)["coverage"]
        cal = widen(pred, q, mid=1)
        got = interval_stats(y2, cal[..., 0], cal[..., 2], 0.2)
        assert abs(raw - 0.8) > 0.15  # raw: 47% or 99%
        assert 0.77 <= got["coverage"] <= 0.83, (factor, got)
        for h in range(H):  # per step too, where the noise grows with h
            inside = (y2[:, h] >= cal[:, h, 0]) & (y2[:, h] <= cal[:, h, 2])
            assert 0.76 <= inside.mean() <= 0.84
        # the calibrated width is the true interval's, 2 z sigma sqrt(h), within sampling error
        np.testing.assert_allclose((cal[0, :, 2] - cal[0, :, 0]) / (2 * z * sd2[0]), 1.0, atol=0.1)


def test_scores_quantile_level_and_pooling():
    a = np.array([[0.0, 5.0], [2.0, 1.0]])
    s = scores(a, np.zeros((2, 2)), np.full((2, 2), 2.0))  # interval [0, 2], width 2
    np.testing.assert_allclose(s, [[0.0, 1.5], [0.0, -0.5]])
    # n = 9 scores 1..9 at alpha 0.2: the ceil(10 * 0.8) = 8th smallest
    col = np.arange(1, 10, dtype=float)[:, None]
    assert calibrate(col, 0.2)[0] == 8.0
    # 3 scores per step are too few for alpha 0.2: both steps use the pool of 6
    few = np.array([[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]])
    np.testing.assert_array_equal(calibrate(few, 0.2), [6.0, 6.0])
    assert calibrate(np.array([[1.0]]), 0.2)[0] == math.inf
    # missing values (steps past the end of a short series) are left out
    with_nan = np.vstack([col.repeat(2, 1), [[np.nan, 100.0]]])
    q = calibrate(with_nan, 0.2)
    assert q[0] == 8.0 and q[1] == 9.0
    assert cross_calibrated([few, few], 0.2)[0].tolist() == [6.0, 6.0]


def test_widen_never_crosses_the_median_and_winkler_by_hand():
    pred = np.array([[[0.0, 1.0, 2.0]]])
    np.testing.assert_allclose(widen(pred, np.array([0.5]), 1), [[[-1.0, 1.0, 3.0]]])
    np.testing.assert_allclose(widen(pred, np.array([-0.9]), 1), [[[1.0, 1.0, 1.0]]])
    # interval [0, 2] at alpha 0.2: inside -> width 2; 1 below -> 2 + 10 * 1; 3 above -> 2 + 10 * 3
    st = interval_stats(np.array([1.0, -1.0, 5.0]), np.zeros(3), np.full(3, 2.0), 0.2)
    assert st["coverage"] == pytest.approx(1 / 3) and st["width"] == 2.0
    assert st["winkler"] == pytest.approx((2 + 12 + 32) / 3)
    scaled = interval_stats(np.array([[1.0]]), np.zeros((1, 1)), np.full((1, 1), 2.0), 0.2, scale=np.array([4.0]))
    assert scaled["width"] == 0.5


def test_too_few_scores_keep_the_raw_quantiles_with_a_note_not_unbounded_intervals(tmp_path, capsys):
    # --folds 0: only the holdout's 3 values per step, fewer than the 4 an 80 % interval needs
    from seqlab.cli import main

    out = tmp_path / "fc.csv"
    assert main(["forecast", "--epochs", "1", "--ensemble", "1", "--folds", "0", "--no-stats", "--no-plot",
                 "--hidden", "4", "--quiet", "--threads", "1", "--horizon", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "too few backtest values to calibrate the 80% interval" in printed
    assert "the forecast's interval is the network's raw quantiles" in printed
    import pandas as pd

    fc = pd.read_csv(out)
    lo, hi = fc["q0.1"], fc["q0.9"]
    assert (lo > 0).all() and (hi < 2 * fc["forecast"]).all()  # airline passengers: no absurd bounds
