"""The three workflows of examples/ run end to end with few epochs."""

import importlib.util
import os

import numpy as np
import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", os.path.join(EXAMPLES, f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_forecast_gru_beats_repeating_the_last_value():
    res = _load("forecast_gru").main(epochs=3, units=64, verbose=0)
    assert res["predictions"].shape == res["y_test"].shape == (236, 3)
    mse = float(np.mean((res["predictions"] - res["y_test"]) ** 2))
    np.testing.assert_allclose(mse, res["test_loss"], rtol=1e-5)
    assert res["history"]["val_loss"][-1] < res["history"]["val_loss"][0]
    assert res["test_loss"] < res["naive"]


def test_lstm_dropout_with_mae_metric():
    res = _load("lstm_dropout").main(epochs=3, n=200, verbose=0)
    h = res["history"]
    assert set(h) >= {"loss", "mae", "val_loss", "val_mae"} and len(h["loss"]) == 3
    assert h["loss"][-1] < h["loss"][0]
    np.testing.assert_allclose(res["mae"], np.abs(res["predictions"] - res["y_test"]).mean(), rtol=1e-5)


def test_simplernn_softmax_classifier_learns():
    res = _load("classify_simplernn").main(epochs=2, n=2000, verbose=0)
    probs = res["probs"]
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    acc = (probs.argmax(1) == res["y_test"].argmax(1)).mean()
    assert acc == pytest.approx(res["accuracy"]) and acc > 0.3  # chance is 0.1
