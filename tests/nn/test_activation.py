"""LSTM and GRU with activation='relu' (Keras's ``activation``): seqlab.nn against the NumPy
reference (outputs and every gradient, float64), the reference against finite differences, the
backend choice (the loop), and the Keras-style layer saved, loaded and run by seqlab.reference."""

import numpy as np
import pytest
import torch

from seqlab import SeqlabError, Sequential, load_model
from seqlab.layers import GRU as KGRU
from seqlab.layers import LSTM as KLSTM
from seqlab.layers import Dense
from seqlab.nn import GRU, LSTM
from seqlab.reference import load as reference_load
from seqlab.reference.gradcheck import gradient_check
from seqlab.reference.gru import gru_backward, gru_forward
from seqlab.reference.lstm import lstm_backward, lstm_forward

CASES = [(LSTM, lstm_forward, lstm_backward, {}), (LSTM, lstm_forward, lstm_backward, {"peephole": True}),
         (GRU, gru_forward, gru_backward, {"reset": "after"}), (GRU, gru_forward, gru_backward, {"reset": "before"})]


@pytest.mark.parametrize("module, forward, backward, options", CASES)
def test_relu_cells_equal_the_reference_with_every_gradient(module, forward, backward, options):
    torch.manual_seed(0)
    m = module(3, 5, activation="relu", **options).double()
    x = torch.randn(4, 6, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([6, 2, 5, 6])
    assert m.resolve_backend(x) == "loop"  # the fused and compiled kernels compute tanh
    out, _ = m(x, lengths=lengths)
    dout = torch.randn_like(out)
    out.backward(dout)
    params = {k.split(".", 2)[-1]: v.detach().numpy() for k, v in m.named_parameters()}
    extra = {k: v for k, v in options.items() if k == "reset"}
    ref_out, _, cache = forward(x.detach().numpy(), params, None, lengths.numpy(), activation="relu", **extra)
    np.testing.assert_allclose(ref_out, out.detach().numpy(), rtol=0, atol=1e-12)
    grads, dx, _ = backward(dout.numpy(), None, cache)
    np.testing.assert_allclose(dx, x.grad.numpy(), rtol=0, atol=1e-12)
    for name, p in m.named_parameters():
        np.testing.assert_allclose(grads[name.split(".", 2)[-1]], p.grad.numpy(), rtol=0, atol=1e-12, err_msg=name)
    assert (ref_out == 0).any() and (ref_out > 0).any()  # relu active and inactive: both branches checked
    # the reference's hand-derived backward against finite differences
    report = gradient_check(forward, backward, x.detach().numpy(), params, lengths=lengths.numpy(),
                            activation="relu", **extra)
    assert max(report.values()) < 1e-6, report


def test_relu_refusals_say_why():
    with pytest.raises(SeqlabError, match="activation='relu' has no fused kernel"):
        LSTM(3, 4, activation="relu", backend="fused")(torch.randn(2, 3, 3))
    with pytest.raises(SeqlabError, match="runs as the runner's loop"):
        GRU(3, 4, activation="relu", backend="sequence")(torch.randn(2, 3, 3))
    with pytest.raises(SeqlabError, match="layer-normalized LSTM computes 'tanh'"):
        LSTM(3, 4, activation="relu", layer_norm=True)
    with pytest.raises(SeqlabError, match="activation: expected 'tanh' or 'relu'"):
        GRU(3, 4, activation="sigmoid")


@pytest.mark.parametrize("layer", [KLSTM, KGRU])
def test_keras_relu_layer_trains_saves_and_runs_in_numpy(tmp_path, layer):
    """The tutorial model ``Sequential([LSTM(50, activation='relu', input_shape=(3, 1)), Dense(1)])``."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (32, 3, 1)).astype(np.float32)
    y = x.sum(1)
    torch.manual_seed(0)
    m = Sequential([layer(8, activation="relu", input_shape=(3, 1)), Dense(1)])
    m.compile(loss="mse", optimizer="adam", lr=0.01)
    h = m.fit(x, y, epochs=30, batch_size=8, verbose=0, seed=0)
    assert h.history["loss"][-1] < 0.5 * h.history["loss"][0]
    path = tmp_path / "relu.safetensors"
    m.save(path)
    np.testing.assert_array_equal(load_model(path).predict(x), m.predict(x))
    np.testing.assert_allclose(reference_load(path)(x), m.predict(x), rtol=1e-5, atol=1e-6)
