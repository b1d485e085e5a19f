"""MinGRU / MinLSTM as model-API layers: they wrap seqlab.nn.minrnn, train in Sequential, and
round-trip through save / load_model."""

import numpy as np
import pytest
import torch

from seqlab import SeqlabError, Sequential, load_model
from seqlab.layers import Dense, MinGRU, MinLSTM
from seqlab.nn.minrnn import MinGRU as NNMinGRU


@pytest.mark.parametrize("layer_cls", [MinGRU, MinLSTM])
def test_min_layers_train_and_reload_identically(tmp_path, layer_cls):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 12, 3)).astype(np.float32)
    y = x[:, :, 0].mean(1, keepdims=True).astype(np.float32)
    model = Sequential([layer_cls(8, input_shape=(12, 3)), Dense(1)])
    model.compile(loss="mse", optimizer="adam", lr=1e-2)
    hist = model.fit(x, y, epochs=20, batch_size=16, verbose=0, seed=0)
    # below the error of predicting the mean (the variance of y)
    assert hist.history["loss"][-1] < 0.75 * float(np.var(y))
    path = tmp_path / "min.safetensors"
    model.save(path)
    again = load_model(path)
    np.testing.assert_array_equal(model.predict(x), again.predict(x))


def test_min_gru_layer_equals_the_nn_module_it_wraps():
    torch.manual_seed(1)
    layer = MinGRU(5, return_sequences=True)
    x = torch.randn(3, 7, 4)
    out = layer(x)
    ref = NNMinGRU(4, 5)
    ref.load_state_dict(layer.rnn.state_dict())
    torch.testing.assert_close(out, ref(x)[0])


def test_recurrent_dropout_is_refused_with_the_reason():
    with pytest.raises(SeqlabError, match="recurrent_dropout: MinGRU has no recurrent weight"):
        MinGRU(4, recurrent_dropout=0.2)
