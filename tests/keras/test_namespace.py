"""seqlab.keras: Keras's signatures and defaults on seqlab's classes."""

import numpy as np
import pytest
import torch

from seqlab import keras
from seqlab.errors import SeqlabError
from seqlab.keras.layers import LSTM, Dense, Input, TimeDistributed
from seqlab.keras.models import Sequential, load_model
from seqlab.keras.optimizers import SGD, Adagrad, Adam, RMSprop
from seqlab.keras.utils import to_categorical


def test_optimizers_take_keras_arguments():
    model = Sequential([LSTM(3, input_shape=(4, 2)), Dense(1)])
    model.compile(optimizer=Adam(learning_rate=0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-6, clipnorm=1.0), loss="mse")
    opt = model.ensure_optimizer()
    assert isinstance(opt, torch.optim.Adam)
    g = opt.param_groups[0]
    assert g["lr"] == 0.02 and tuple(g["betas"]) == (0.8, 0.99) and g["eps"] == 1e-6
    assert model.clipnorm == 1.0
    assert isinstance(RMSprop(rho=0.8).build(model.parameters()), torch.optim.RMSprop)
    assert RMSprop(rho=0.8).kwargs["alpha"] == 0.8
    assert SGD(lr=0.5, momentum=0.9).lr == 0.5  # Keras 2's lr= spelling
    assert Adagrad().lr == 1e-3 and Adagrad().kwargs["initial_accumulator_value"] == 0.1
    with pytest.raises(SeqlabError, match="clipvalue: .*use clipnorm"):
        Adam(clipvalue=0.5)
    with pytest.raises(SeqlabError, match="learning_rate: expected a number > 0"):
        Adam(learning_rate=-1)
    with pytest.raises(SeqlabError, match="decay: unknown argument of keras.optimizers.Adam"):
        Adam(decay=0.1)


def test_compile_takes_keras_positional_order_and_names():
    model = Sequential([keras.Input(shape=(5, 2)), LSTM(3), Dense(1)])
    model.compile("adagrad", "mse")  # Keras's order: optimizer first
    assert model.loss_fn.name == "mse" and model._opt_spec.lr == 1e-3  # Keras's Adagrad rate
    with pytest.raises(SeqlabError, match="loss: compile needs a loss"):
        model.compile(optimizer="adam")
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(SeqlabError, match="sample_weight: fit's sample_weight is not implemented"):
        model.fit(np.zeros((4, 5, 2)), np.zeros((4, 1)), sample_weight=np.ones(4))


def test_save_and_load_keep_the_keras_class_and_clipnorm(tmp_path):
    torch.manual_seed(0)
    model = Sequential([Input(shape=(5, 2)), LSTM(3, return_sequences=True), TimeDistributed(Dense(2))])
    model.compile(optimizer=Adam(learning_rate=0.01, clipnorm=0.5), loss="mse", metrics=["mae"])
    x = np.random.default_rng(0).normal(size=(16, 5, 2)).astype("float32")
    model.fit(x, x, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    clone = load_model(path)
    assert type(clone) is Sequential and clone.clipnorm == 0.5
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert clone.evaluate(x, x, verbose=0) == pytest.approx(model.evaluate(x, x, verbose=0))


def test_clipnorm_of_the_optimizer_clips_in_fit():
    """SGD(clipnorm=c) makes fit clip the global gradient norm: one plain SGD step at rate 1 from a
    huge gradient moves the weights by exactly c."""
    torch.manual_seed(0)
    x = np.random.default_rng(1).normal(size=(8, 4, 2)).astype("float32") * 50
    y = np.full((8, 1), 100.0, dtype="float32")
    model = Sequential([LSTM(3, input_shape=(4, 2)), Dense(1)])
    before = [p.detach().clone() for p in model.parameters()]
    model.compile(optimizer=SGD(learning_rate=1.0, clipnorm=0.25), loss="mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    step = torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    assert float(step) == pytest.approx(0.25, rel=1e-4)  # lr 1 times the clipped norm


def test_to_categorical():
    y = to_categorical([0, 2, 1, 2])
    np.testing.assert_array_equal(y, np.eye(3, dtype="float32")[[0, 2, 1, 2]])
    assert to_categorical(np.array([[1], [0]]), num_classes=4).shape == (2, 4)
    with pytest.raises(SeqlabError, match="num_classes: 2 is too few for the label 2"):
        to_categorical([0, 2], num_classes=2)
    with pytest.raises(SeqlabError, match="y: expected non-negative integer class labels"):
        to_categorical([0.5, 1])
