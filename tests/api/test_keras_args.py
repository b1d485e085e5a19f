"""Keras's defaults and arguments on seqlab.layers, checked against Keras's documented formulas by hand.

References are NumPy transcriptions of Keras's cells (keras/src/layers/rnn/lstm.py and gru.py)
with Keras's own weight layout: kernel (I, G*H), recurrent kernel (H, G*H), gates i|f|c|o and
z|r|h, GRU update ``h = z h_prev + (1 - z) h~``. They share nothing with seqlab's mapping code.
"""

import json
import math

import numpy as np
import pytest
import torch

from seqlab import Sequential, initializers, load_model, regularizers
from seqlab.errors import SeqlabError
from seqlab.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, InputLayer, SimpleRNN, deserialize, serialize


def _sig(a):
    return 1 / (1 + np.exp(-a))


def _built(layer, features=5):
    layer.build((None, 7, features))
    return layer.rnn.cells[0]


# -- default initialisation ------------------------------------------------------------------------
@pytest.mark.parametrize("cls,G", [(SimpleRNN, 1), (LSTM, 4), (GRU, 3)])
def test_default_kernel_is_glorot_uniform_and_recurrent_is_orthogonal(cls, G):
    torch.manual_seed(0)
    H, I = 24, 10
    cell = _built(cls(H), I)
    w_ih, w_hh = cell.weight_ih.detach().double(), cell.weight_hh.detach().double()
    limit = math.sqrt(6 / (I + G * H))  # Glorot: fan_in = input_dim, fan_out = G * units (Keras's kernel)
    assert w_ih.abs().max() <= limit
    assert w_ih.abs().max() > 0.95 * limit  # uniform on the whole interval, not a narrower one
    assert abs(float(w_ih.var()) - limit ** 2 / 3) < 0.15 * limit ** 2 / 3
    # Keras's recurrent kernel U = W_hh^T is (H, G*H) with orthonormal rows: U U^T = I. For G = 1
    # that is a square orthogonal matrix; for LSTM/GRU Keras draws one matrix for all G gate blocks
    # together, so each (H, H) block alone is not orthogonal (its squares sum to I over the blocks).
    U = w_hh.T
    torch.testing.assert_close(U @ U.T, torch.eye(H, dtype=torch.float64), atol=1e-6, rtol=0)
    blocks = U.reshape(H, G, H).transpose(0, 1)  # (G, H, H)
    torch.testing.assert_close(sum(b @ b.T for b in blocks), torch.eye(H, dtype=torch.float64), atol=1e-6, rtol=0)
    if G == 1:
        torch.testing.assert_close(U.T @ U, torch.eye(H, dtype=torch.float64), atol=1e-6, rtol=0)


def test_biases_start_at_zero_and_the_lstm_forget_bias_at_one():
    H = 6
    for layer in (SimpleRNN(H), GRU(H), GRU(H, reset_after=False)):
        cell = _built(layer)
        assert not cell.bias_ih.any() and not cell.bias_hh.any()
    cell = _built(LSTM(H))
    expected = torch.zeros(4 * H)
    expected[H:2 * H] = 1.0  # i | f | g | o: forget block
    assert torch.equal(cell.bias_ih.detach(), expected) and not cell.bias_hh.any()
    cell = _built(LSTM(H, unit_forget_bias=False))
    assert not cell.bias_ih.any()
    cell = _built(LSTM(H, bias_initializer="ones"))
    assert torch.equal(cell.bias_ih.detach(), torch.ones(4 * H))  # forget block 1 either way (Keras)


def test_dense_and_embedding_defaults():
    torch.manual_seed(1)
    d = Dense(30, input_shape=(20,))
    limit = math.sqrt(6 / (20 + 30))
    assert d.linear.weight.abs().max() <= limit and not d.linear.bias.any()
    e = Embedding(50, 8)
    assert e.embedding.weight.abs().max() <= 0.05 and e.embedding.weight.abs().max() > 0.04


def test_initializers_by_name_and_object_and_seed():
    a = initializers.get("glorot_normal")
    assert isinstance(a, initializers.GlorotNormal)
    o = initializers.Orthogonal(gain=2.0, seed=3)
    torch.testing.assert_close(o((5, 5)), o((5, 5)))  # a seed draws the same matrix
    q = o((5, 5)).double() / 2
    torch.testing.assert_close(q @ q.T, torch.eye(5, dtype=torch.float64), atol=1e-6, rtol=0)
    assert initializers.get(initializers.serialize(o)) == o
    # he_normal: truncated at 2 std, stddev sqrt(2 / fan_in) once the truncation is undone
    w = initializers.HeNormal(seed=0)((400, 300)).double()
    std = math.sqrt(2 / 400)
    assert float(w.abs().max()) <= 2 * std / 0.8796256610342398 + 1e-6
    assert abs(float(w.std()) - std) < 0.02 * std
    with pytest.raises(SeqlabError, match="kernel_initializer: unknown initializer 'glorot'.*glorot_uniform"):
        LSTM(3, kernel_initializer="glorot")


# -- Keras's cells computed by hand, with Keras-layout weights ----------------------------------------
def _keras_lstm(x, K, U, b):
    B, T, _ = x.shape
    H = U.shape[0]
    h = np.zeros((B, H))
    c = np.zeros((B, H))
    for t in range(T):
        z = x[:, t] @ K + h @ U + b
        i, f, g, o = _sig(z[:, :H]), _sig(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), _sig(z[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
    return h


def _keras_gru(x, K, U, b, reset_after=True):
    B, T, _ = x.shape
    H = U.shape[0]
    h = np.zeros((B, H))
    b_in, b_rec = (b[0], b[1]) if reset_after else (b, np.zeros(3 * H))
    for t in range(T):
        mx = x[:, t] @ K + b_in
        if reset_after:
            mi = h @ U + b_rec
            z = _sig(mx[:, :H] + mi[:, :H])
            r = _sig(mx[:, H:2 * H] + mi[:, H:2 * H])
            hh = np.tanh(mx[:, 2 * H:] + r * mi[:, 2 * H:])
        else:
            z = _sig(mx[:, :H] + h @ U[:, :H])
            r = _sig(mx[:, H:2 * H] + h @ U[:, H:2 * H])
            hh = np.tanh(mx[:, 2 * H:] + (r * h) @ U[:, 2 * H:])
        h = z * h + (1 - z) * hh
    return h


@pytest.mark.parametrize("kind", ["lstm", "gru_after", "gru_before"])
def test_seeded_keras_weights_give_keras_outputs(kind):
    """The same seeded initializers, drawn in Keras's layout, make the layer compute Keras's cell."""
    I, H = 3, 4
    kinit, rinit = initializers.GlorotUniform(seed=1), initializers.Orthogonal(seed=2)
    binit = initializers.RandomNormal(stddev=0.5, seed=3)  # nonzero biases, so their gate order shows
    x = np.random.default_rng(0).standard_normal((2, 6, I))
    G = 4 if kind == "lstm" else 3
    K = kinit((I, G * H), torch.float64).numpy()
    U = rinit((H, G * H), torch.float64).numpy()
    if kind == "lstm":
        layer = LSTM(H, kernel_initializer=kinit, recurrent_initializer=rinit, bias_initializer=binit)
        bi = binit((H,), torch.float64).numpy()
        b2 = binit((2 * H,), torch.float64).numpy()
        b = np.concatenate([bi, np.ones(H), b2])  # unit_forget_bias
        ref = _keras_lstm(x, K, U, b)
    else:
        after = kind == "gru_after"
        layer = GRU(H, reset_after=after, kernel_initializer=kinit, recurrent_initializer=rinit, bias_initializer=binit)
        b = binit((2, 3 * H) if after else (3 * H,), torch.float64).numpy()
        ref = _keras_gru(x, K, U, b, after)
    layer.build((None, 6, I))
    layer.double()
    layer.initialize()  # redraw in float64 (the same seeds draw the same numbers)
    out = layer(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)


# -- activations ------------------------------------------------------------------------------------
def test_simplernn_relu_activation_matches_torch():
    torch.manual_seed(0)
    layer = SimpleRNN(5, activation="relu", return_sequences=True)
    x = torch.randn(2, 4, 3)
    out = layer(x)
    ref = torch.nn.RNN(3, 5, nonlinearity="relu", batch_first=True)
    with torch.no_grad():
        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(ref, f"{n}_l0").copy_(getattr(layer.rnn.cells[0], n))
    torch.testing.assert_close(out, ref(x)[0])
    assert SimpleRNN(5, nonlinearity="relu").get_config()["activation"] == "relu"  # the older spelling


def test_activations_the_cells_cannot_compute_are_errors_with_the_fix():
    with pytest.raises(SeqlabError, match=r"activation: LSTM computes 'tanh' or 'relu'.*got 'sigmoid'; use activation='tanh'"):
        LSTM(4, activation="sigmoid")
    with pytest.raises(SeqlabError, match=r"recurrent_activation: GRU's gates compute 'sigmoid'.*'hard_sigmoid'.*"
                                          r"recurrent_activation='sigmoid'"):
        GRU(4, recurrent_activation="hard_sigmoid")
    with pytest.raises(SeqlabError, match="activation: SimpleRNN computes 'tanh' or 'relu'.*got None"):
        SimpleRNN(4, activation=None)
    with pytest.raises(SeqlabError, match="recurrent_activation: SimpleRNN has no gates"):
        SimpleRNN(4, recurrent_activation="sigmoid")


# -- unknown and unimplemented keywords --------------------------------------------------------------
def test_unknown_keywords_name_the_argument_and_the_accepted_ones():
    with pytest.raises(SeqlabError, match=r"unit_forget_bias: GRU got an unknown keyword argument "
                                          r"'unit_forget_bias'; accepted: .*kernel_initializer.*reset_after"):
        GRU(4, unit_forget_bias=True)
    with pytest.raises(SeqlabError, match=r"retrun_sequences: LSTM got an unknown keyword.*return_sequences.*unit_forget_bias"):
        LSTM(4, retrun_sequences=True)
    with pytest.raises(SeqlabError, match=r"kernel_constraint: a Keras argument that Dense does not implement"):
        Dense(3, kernel_constraint="max_norm")
    with pytest.raises(SeqlabError, match=r"noise_shape: Dropout got an unknown keyword argument.*accepted: input_shape, name, rate"):
        Dropout(0.5, noise_shape=(1, 2))
    with pytest.raises(SeqlabError, match=r"time_major: .*batch-first"):
        SimpleRNN(3, time_major=True)
    with pytest.raises(SeqlabError, match=r"backward_layer: Bidirectional got an unknown keyword.*merge_mode"):
        Bidirectional(LSTM(3), backward_layer=LSTM(3, go_backwards=True))
    with pytest.raises(SeqlabError, match=r"input_lenght: Embedding got an unknown keyword.*input_length"):
        Embedding(10, 3, input_lenght=5)


# -- go_backwards and stateful -----------------------------------------------------------------------
def test_go_backwards_reads_each_sequence_from_its_end():
    torch.manual_seed(0)
    back = GRU(4, go_backwards=True, return_sequences=True)
    x = torch.randn(2, 5, 3)
    out = back(x)
    fwd = GRU(4, return_sequences=True)
    fwd(x)
    fwd.load_state_dict(back.state_dict())
    torch.testing.assert_close(out, fwd(x.flip(1)))  # Keras: outputs in the reversed order too
    # a padded sequence is reversed within its own length: the same as the unpadded one alone
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    last = GRU(4, go_backwards=True)
    last(x)
    last.load_state_dict(back.state_dict())
    torch.testing.assert_close(last(x, mask=mask)[1], last(x[1:, :3])[0])


def test_stateful_continues_from_the_last_call():
    torch.manual_seed(0)
    layer = LSTM(4, stateful=True, input_shape=(None, 2))
    x = torch.randn(3, 8, 2)
    whole = LSTM(4, input_shape=(None, 2))
    whole.load_state_dict(layer.state_dict())
    layer(x[:, :5])
    torch.testing.assert_close(layer(x[:, 5:]), whole(x))  # two calls = one call over the whole
    layer.reset_states()
    torch.testing.assert_close(layer(x[:, :5]), whole(x[:, :5]))
    with pytest.raises(SeqlabError, match="carries the state of a batch of 3 sequences, got a batch of 2.*reset_states"):
        layer(x[:2])


# -- regularizers ------------------------------------------------------------------------------------
def test_regularizers_by_name_and_value():
    assert regularizers.get("l2") == regularizers.L2(0.01) and regularizers.get("l1") == regularizers.L1(0.01)
    w = torch.tensor([[1.0, -2.0], [0.5, 0.0]])
    assert float(regularizers.l2(1e-4)(w)) == pytest.approx(1e-4 * 5.25)
    assert float(regularizers.l1_l2(0.1, 0.2)(w)) == pytest.approx(0.1 * 3.5 + 0.2 * 5.25)
    with pytest.raises(SeqlabError, match="kernel_regularizer: expected None, 'l1', 'l2'"):
        LSTM(3, kernel_regularizer="l3")
    with pytest.raises(SeqlabError, match="l2: expected a number >= 0"):
        regularizers.l2(-1.0)


def test_regularization_enters_the_training_loss():
    """One SGD step of fit equals a hand step on mse + l2 * sum(W_ih^2) + l1 * sum|U| + l2 on Dense."""
    torch.manual_seed(0)
    model = Sequential([SimpleRNN(3, input_shape=(4, 2), kernel_regularizer=regularizers.l2(0.1),
                                  recurrent_regularizer="l1"),
                        Dense(1, kernel_regularizer=regularizers.l2(0.05))])
    model.compile(loss="mse", optimizer="sgd", lr=0.1)
    x, y = torch.randn(8, 4, 2), torch.randn(8, 1)
    ref = Sequential.from_config(model.get_config())
    ref.load_state_dict(model.state_dict())
    cell, dense = ref.layers[0].rnn.cells[0], ref.layers[1].linear
    penalty = 0.1 * cell.weight_ih.square().sum() + 0.01 * cell.weight_hh.abs().sum() + 0.05 * dense.weight.square().sum()
    torch.testing.assert_close(model.regularization_loss(), penalty)
    loss = torch.nn.functional.mse_loss(ref(x), y) + penalty
    loss.backward()
    hist = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert hist.history["loss"][0] == pytest.approx(float(loss.detach()), rel=1e-6)  # Keras reports loss + penalties
    with torch.no_grad():
        for p_fit, p_ref in zip(model.parameters(), ref.parameters()):
            torch.testing.assert_close(p_fit, p_ref - 0.1 * p_ref.grad)
    with torch.no_grad():
        assert model.evaluate(x, y) == pytest.approx(float(torch.nn.functional.mse_loss(model(x), y)), rel=1e-6)


# -- config round trips ------------------------------------------------------------------------------
def test_keras_arguments_round_trip_through_config_and_file(tmp_path):
    torch.manual_seed(0)
    layers = [LSTM(4, return_sequences=True, unit_forget_bias=False, kernel_initializer="he_uniform",
                   recurrent_initializer=initializers.Orthogonal(gain=0.9), bias_initializer="ones",
                   kernel_regularizer=regularizers.l1_l2(1e-3, 1e-4), recurrent_regularizer="l2",
                   bias_regularizer=regularizers.l1(1e-5), go_backwards=True, input_shape=(6, 3)),
              GRU(5, reset_after=False, stateful=True, return_sequences=True),
              Bidirectional(SimpleRNN(2, activation="relu", kernel_regularizer="l1")),
              Dense(1, kernel_initializer="lecun_normal", bias_regularizer="l2")]
    for layer in layers:
        spec = json.loads(json.dumps(serialize(layer)))
        assert deserialize(spec).get_config() == layer.get_config()
    cfg = layers[0].get_config()
    assert cfg["kernel_regularizer"] == {"class_name": "L1L2", "config": {"l1": 1e-3, "l2": 1e-4}}
    assert cfg["recurrent_initializer"] == {"class_name": "Orthogonal", "config": {"gain": 0.9}}
    assert cfg["unit_forget_bias"] is False and cfg["go_backwards"] is True
    model = Sequential(layers)
    model.compile(loss="mse", optimizer="adam")
    x = torch.randn(4, 6, 3)
    y = model(x)
    model.save(tmp_path / "m.safetensors")
    model.reset_states()
    clone = load_model(tmp_path / "m.safetensors")
    torch.testing.assert_close(clone(x), y)
    torch.testing.assert_close(clone.regularization_loss(), model.regularization_loss())
    assert clone.layers[1].stateful and clone.layers[0].go_backwards


def test_input_layer_sets_the_shape():
    model = Sequential([InputLayer(shape=(5, 3)), LSTM(4), Dense(2)])
    assert model.built and model.output_shapes()[-1] == (None, 2)
    assert deserialize(serialize(model.layers[0])).get_config() == {"input_shape": [5, 3]}


# -- metrics that do not fit the loss ----------------------------------------------------------------
def test_accuracy_on_a_one_output_regression_warns_once():
    model = Sequential([SimpleRNN(4, input_shape=(5, 2)), Dense(1)])
    with pytest.warns(UserWarning, match="'accuracy' with the regression loss 'mse' and one output is not a meaningful"):
        model.compile(loss="mse", optimizer="adam", metrics=["accuracy"])
    model.fit(np.zeros((8, 5, 2), np.float32), np.zeros((8, 1), np.float32), epochs=1, verbose=0)  # no second warning
    fine = Sequential([SimpleRNN(4, input_shape=(5, 2)), Dense(1, activation="sigmoid")])
    fine.compile(loss="mse", metrics=["accuracy"])  # a 0/1 target through a sigmoid: accuracy means something
    fine.compile(loss="binary_crossentropy", metrics=["accuracy"])


def test_rates_take_numpy_numbers():
    """Dropout rates go through the one check_float: NumPy scalars (np.linspace grids) are taken
    as floats, as every other float argument; the message for a bad one is unchanged."""
    rate = np.linspace(0, 0.5, 3, dtype=np.float32)[1]
    layer, drop = LSTM(3, dropout=rate, recurrent_dropout=np.float64(0.25)), Dropout(rate)
    assert layer.dropout == drop.rate == 0.25 and type(layer.dropout) is float and type(drop.rate) is float
    json.dumps(serialize(layer))
    with pytest.raises(SeqlabError, match=r"^rate: expected a number in \[0, 1\), got np.float32\(1.0\)"):
        Dropout(np.float32(1.0))
