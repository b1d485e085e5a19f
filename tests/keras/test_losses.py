"""seqlab.keras.losses.Huber against torch.nn.HuberLoss and Keras's formula written out by hand:
every delta, the none / mean / sum reductions, Keras's per-sample weights, and the config that a
saved model keeps (it was referenced nowhere and refused every delta but 1)."""

import numpy as np
import pytest
import torch

from seqlab.errors import SeqlabError
from seqlab.keras.losses import Huber
from seqlab.train.losses import get_loss


def keras_huber(y_true: np.ndarray, y_pred: np.ndarray, delta: float) -> np.ndarray:
    """Keras's Huber per value: 0.5 x² where |x| <= delta, else delta |x| - 0.5 delta² (x = y_pred - y_true)."""
    x = np.abs(y_pred - y_true)
    return np.where(x <= delta, 0.5 * x**2, delta * x - 0.5 * delta**2)


@pytest.mark.parametrize("delta", [1.0, 0.3, 2.5, 1e-3, 50])
def test_huber_is_torchs_huber_loss_and_keras_formula(delta):
    g = torch.Generator().manual_seed(0)
    y_true = torch.randn(6, 4, generator=g, dtype=torch.float64)
    y_pred = y_true + 3 * torch.randn(6, 4, generator=g, dtype=torch.float64)  # errors on both sides of delta
    x = (y_pred - y_true).abs()
    assert bool((x <= delta).any()) or delta < 0.01
    assert bool((x > delta).any()) or delta == 50
    loss = Huber(delta=delta)
    want = keras_huber(y_true.numpy(), y_pred.numpy(), delta)
    for reduction, ours in (("none", loss.elements(y_true, y_pred)), ("mean", loss(y_true, y_pred)),
                            ("sum", loss.elements(y_true, y_pred).sum())):
        torch.testing.assert_close(ours, torch.nn.HuberLoss(reduction=reduction, delta=delta)(y_pred, y_true),
                                   rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(loss.elements(y_true, y_pred).numpy(), want, rtol=1e-12)
    # Keras's default reduction: each sample's mean over its last axis, weighted, summed over the batch size
    w = torch.rand(6, generator=g, dtype=torch.float64)
    keras = (want.mean(-1) * w.numpy()).sum() / 6
    assert float(loss(y_true, y_pred, w=w)) == pytest.approx(keras, rel=1e-12)


def test_huber_config_round_trips_and_delta_1_keeps_the_old_name():
    assert Huber().config() == "huber" and get_loss("huber").delta == 1.0  # model files saved before delta
    for delta in (0.5, 3):
        loss = Huber(delta)
        again = get_loss(loss.config())
        assert loss.config() == {"name": "huber", "delta": float(delta)} and again.delta == float(delta)
        y, p = torch.zeros(5), torch.linspace(-4, 4, 5)
        assert torch.equal(again(y, p), loss(y, p))


def test_a_saved_model_keeps_its_huber_delta(tmp_path):
    from seqlab.keras.layers import LSTM, Dense
    from seqlab.keras.models import Sequential, load_model

    torch.manual_seed(0)
    x = np.random.default_rng(0).normal(size=(16, 5, 2)).astype("float32")
    y = 10 * np.random.default_rng(1).normal(size=(16, 1)).astype("float32")
    model = Sequential([LSTM(3, input_shape=(5, 2)), Dense(1)])
    model.compile(optimizer="adam", loss=Huber(delta=0.25))
    path = tmp_path / "m.keras"
    model.save(path)
    clone = load_model(path)
    assert clone.loss_fn.delta == 0.25
    assert clone.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))
    pred = torch.from_numpy(model.predict(x, verbose=0)).double()
    want = torch.nn.HuberLoss(delta=0.25)(pred, torch.from_numpy(y).double())
    assert model.evaluate(x, y, verbose=0) == pytest.approx(float(want), rel=1e-5)


@pytest.mark.parametrize("delta", [0, -1.0, float("nan"), float("inf"), True, "1", None, np.bool_(True),
                                   np.float32("nan"), np.float32(-2.0)])
def test_huber_refuses_a_bad_delta(delta):
    with pytest.raises(SeqlabError, match=r"^delta: expected a number > 0 \(where the Huber loss turns from "
                                          r"quadratic to linear\), got "):
        Huber(delta=delta)


def test_huber_takes_a_numpy_delta():
    """Huber(np.float32(2.0)) was refused ("expected a number > 0 ..., got np.float32(2.0)")."""
    import json

    for delta in (np.float32(2.0), np.int64(2), np.float64(2.0)):
        loss = Huber(delta)
        assert loss.delta == 2.0 and type(loss.delta) is float
        assert json.loads(json.dumps(loss.config())) == {"name": "huber", "delta": 2.0}  # saved with the model
        y, p = torch.zeros(5), torch.linspace(-4, 4, 5)
        assert torch.equal(loss(y, p), Huber(2.0)(y, p))


def test_delta_applies_to_the_huber_loss_only():
    with pytest.raises(SeqlabError, match="loss: delta applies to the huber loss, not to 'mse'"):
        get_loss({"name": "mse", "delta": 2.0})
