"""The vectorizable float32 exp / sigmoid / tanh of the numba kernels against NumPy in float64,
over the whole float32 range; float64 arguments get the exact functions."""

import math

import numpy as np
import pytest

numba = pytest.importorskip("numba", reason="the compiled kernels need the seqlab[fast] extra")

from seqlab.nn._fastmath import KERNEL_OPTIONS, exp, sigmoid, sigmoid_pair, tanh  # noqa: E402


@numba.njit(**KERNEL_OPTIONS)
def _apply(x, out):  # pragma: no cover - compiled
    for i in range(x.shape[0]):
        out[0, i] = exp(x[i])
        out[1, i] = sigmoid(x[i])
        out[2, i], out[3, i] = sigmoid_pair(x[i])
        out[4, i] = tanh(x[i])


def _points() -> np.ndarray:
    rng = np.random.default_rng(0)
    edges = [0.0, -0.0, 1e-30, -1e-30, 1e-7, -1e-7, 0.2499, 0.25, 0.2501, -0.25, 1.0, -1.0, 20.0, -20.0,
             50.0, -50.0, 87.0, -87.0, 88.0, -88.0, 200.0, -200.0]
    return np.concatenate([edges, rng.normal(0, 1, 3000), rng.normal(0, 10, 3000), rng.uniform(-90, 90, 3000)])


def _reference(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))  # the stable two-sided form, in float64
    sig = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    neg = np.where(x >= 0, e / (1 + e), 1 / (1 + e))
    with np.errstate(over="ignore", under="ignore"):
        return np.stack([np.exp(np.clip(x, -87.33654, 88.0)), sig, sig, neg, np.tanh(x)])


def test_float32_functions_have_float32_accuracy():
    x32 = _points().astype(np.float32)
    x = x32.astype(np.float64)
    got = np.empty((5, len(x)), np.float32)
    _apply(x32, got)
    want = _reference(x)
    rel = np.abs(got - want) / np.maximum(np.abs(want), 1e-30)
    normal = np.abs(want) > 1.2e-38  # below that float32 is denormal; exp clamps there
    assert rel[0][normal[0] & (np.abs(x) <= 87)].max() < 3e-7, "exp"
    for row, name in [(1, "sigmoid"), (2, "sigmoid_pair[0]"), (3, "sigmoid_pair[1]")]:
        ok = normal[row] & (np.abs(x) < 85)
        assert rel[row][ok].max() < 5e-7, name  # relative, so also for gates near 0 and 1
    assert rel[4].max() < 1e-6, "tanh"
    assert np.all(got[1:4] >= 0) and np.all(got[1:4] <= 1) and np.all(np.abs(got[4]) <= 1)
    assert got[4][x == 0.25][0] == pytest.approx(math.tanh(0.25), rel=1e-6)


def test_float64_functions_are_exact():
    x = _points()
    got = np.empty((5, len(x)))
    _apply(x, got)
    keep = np.abs(x) < 87
    want = _reference(x)
    want[0] = np.exp(x)
    np.testing.assert_allclose(got[:, keep], want[:, keep], rtol=1e-13, atol=1e-300)
