"""Metric values against numbers computed by hand, and the baselines on small series."""

import math

import numpy as np
import pytest

from seqlab.forecast import baselines
from seqlab.forecast.metrics import all_metrics, mae, mape, mase, mase_scale, pinball, rmse, smape

A = [1.0, 2.0, 3.0, 4.0]
F = [2.0, 2.0, 2.0, 5.0]


def test_metrics_hand_computed():
    assert mae(A, F) == pytest.approx(0.75)  # (1 + 0 + 1 + 1) / 4
    assert rmse(A, F) == pytest.approx(math.sqrt(0.75))  # sqrt(3 / 4)
    assert mape(A, F) == pytest.approx(39.58333333)  # 100 (1 + 0 + 1/3 + 1/4) / 4
    assert smape(A, F) == pytest.approx(32.22222222)  # 100 (2/3 + 0 + 2/5 + 2/9) / 4
    # in-sample seasonal naive errors at m = 2: |2-1|, |6-3|, |4-2| -> scale 2
    assert mase_scale([1, 3, 2, 6, 4], 2) == pytest.approx(2.0)
    assert mase(A, F, [1, 3, 2, 6, 4], 2) == pytest.approx(0.375)
    assert mase(A, F, [1, 3, 2, 6, 4], 1) == pytest.approx(0.75 / 2.25)  # naive scale (2 + 1 + 4 + 2) / 4
    m = all_metrics(A, F, [1, 3, 2, 6, 4], 2)
    assert list(m) == ["MAE", "RMSE", "MAPE", "sMAPE", "MASE"] and m["MASE"] == pytest.approx(0.375)


def test_mape_with_zero_actual_is_nan_and_smape_of_zeros_is_zero():
    assert math.isnan(mape([0.0, 1.0], [1.0, 1.0]))
    assert smape([0.0, 2.0], [0.0, 2.0]) == 0.0


def test_pinball_hand_computed():
    # actual 3; quantile 0.1 forecast 4 -> (0.1 - 1)(3 - 4) = 0.9; quantile 0.9 forecast 1 -> 0.9 * 2 = 1.8
    assert pinball([3.0], [[4.0, 1.0]], [0.1, 0.9]) == pytest.approx((0.9 + 1.8) / 2)


def test_naive_baselines_hand_values():
    y = np.array([1.0, 4.0, 2.0, 5.0, 3.0, 6.0])
    np.testing.assert_allclose(baselines.naive(y, 3), [6, 6, 6])
    np.testing.assert_allclose(baselines.seasonal_naive(y, 5, 2), [3, 6, 3, 6, 3])
    np.testing.assert_allclose(baselines.seasonal_naive(y, 4, 3), [5, 3, 6, 5])
    np.testing.assert_allclose(baselines.drift(y, 2), [7, 8])  # slope (6 - 1) / 5 = 1


def test_statsmodels_baselines_follow_a_seasonal_trend():
    t = np.arange(60)
    y = 100 + 2 * t + 10 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 0.5, 60)
    truth = 100 + 2 * np.arange(60, 72) + 10 * np.sin(2 * np.pi * np.arange(60, 72) / 12)
    snaive = np.abs(baselines.seasonal_naive(y, 12, 12) - truth).mean()  # misses a year of trend: ~24
    for fn in (baselines.ets, baselines.arima):
        f = fn(y, 12, 12)
        assert f.shape == (12,) and np.abs(f - truth).mean() < snaive / 4
    f = baselines.theta(y, 12, 12)  # Theta extrapolates half the linear trend: beats, less by far
    assert f.shape == (12,) and np.abs(f - truth).mean() < snaive / 1.5
    for fn in (baselines.ets, baselines.arima, baselines.theta):  # too short for a model: a simpler one
        for n in (1, 3, 7):
            assert np.all(np.isfinite(fn(y[:n], 12, 12)))
    stats = {"AutoETS", "AutoARIMA", "AutoTheta"} if baselines.statsforecast_available() else {"ETS", "ARIMA", "Theta"}
    assert set(baselines.baselines()) == {"naive", "seasonal naive", "drift", *stats}
    assert set(baselines.baselines(include_stats=False)) == {"naive", "seasonal naive", "drift"}


def test_baselines_in_parallel_processes_equal_one_process():
    from seqlab.forecast.baselines import run_baselines

    rng = np.random.default_rng(0)
    hist = [100 + np.arange(n) + rng.normal(0, 1, n) for n in rng.integers(3, 40, 40)]
    names = ["naive", "seasonal naive", "Theta"]
    one, two = run_baselines(hist, 6, 12, names, workers=1), run_baselines(hist, 6, 12, names, workers=2)
    for a, b in zip(one, two, strict=True):
        for n in names:
            np.testing.assert_array_equal(a[n], b[n])
