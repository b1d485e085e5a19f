"""seqlab.layers against torch.nn and hand-written loops: outputs, masks, dropout masks, configs."""

import pytest
import torch
from torch import nn

from seqlab import SeqlabError, Sequential
from seqlab.layers import (GRU, LAYERS, LSTM, Bidirectional, Dense, Dropout, Embedding, SimpleRNN, deserialize,
                           serialize)
from seqlab.nn import to_torch


def _torch_lstm(layer, bidirectional=False):
    ref = nn.LSTM(layer.rnn.input_size, layer.units, batch_first=True, bidirectional=bidirectional)
    with torch.no_grad():
        cells = [layer.rnn.cells[0]] if not bidirectional else None
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(ref, f"{name}_l0").copy_(getattr(cells[0], name))
    return ref


@pytest.mark.parametrize("return_sequences", [True, False])
def test_lstm_layer_matches_torch(return_sequences):
    x = torch.randn(4, 7, 3)
    layer = LSTM(5, return_sequences=return_sequences)
    y = layer(x)  # lazy build infers 3 input features
    assert layer.rnn.input_size == 3
    ref_out, (h, _) = _torch_lstm(layer)(x)
    want = ref_out if return_sequences else h[0]
    torch.testing.assert_close(y, want)


def test_gru_and_simplernn_match_torch():
    x = torch.randn(3, 6, 4)
    for layer in (GRU(5, return_sequences=True), SimpleRNN(5, return_sequences=True)):
        y = layer(x)
        ref = to_torch(layer.rnn)  # torch.nn.GRU / RNN with the same equations
        torch.testing.assert_close(y, ref(x)[0])


def _gru_step(cell, x_t, h, hd, reset):
    """GRU step in plain torch, seqlab's convention; ``hd`` = h used in the recurrent product."""
    H = cell.hidden_size
    W, U, b, c = cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh
    gi = x_t @ W.T + b
    r = torch.sigmoid(gi[:, :H] + hd @ U[:H].T + c[:H])
    z = torch.sigmoid(gi[:, H:2 * H] + hd @ U[H:2 * H].T + c[H:2 * H])
    if reset == "after":
        n = torch.tanh(gi[:, 2 * H:] + r * (hd @ U[2 * H:].T + c[2 * H:]))
    else:
        n = torch.tanh(gi[:, 2 * H:] + (r * hd) @ U[2 * H:].T + c[2 * H:])
    return (1 - z) * h + z * n


@pytest.mark.parametrize("reset", ["after", "before"])
def test_gru_both_resets_match_hand_loop(reset):
    x = torch.randn(3, 5, 2)
    layer = GRU(4, reset=reset, return_sequences=True)
    layer.eval()
    y = layer(x)
    cell = layer.rnn.cells[0]
    h = torch.zeros(3, 4)
    outs = []
    for t in range(5):
        h = _gru_step(cell, x[:, t], h, h, reset)
        outs.append(h)
    torch.testing.assert_close(y, torch.stack(outs, 1))


def test_peephole_lstm_matches_hand_loop():
    x = torch.randn(2, 4, 3)
    layer = LSTM(3, peephole=True, return_sequences=True, return_state=True)
    y, h_last, c_last = layer(x)
    cell = layer.rnn.cells[0]
    H = 3
    h = c = torch.zeros(2, H)
    wci, wcf, wco = cell.weight_ch
    outs = []
    for t in range(4):
        a = x[:, t] @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
        i = torch.sigmoid(a[:, :H] + wci * c)
        f = torch.sigmoid(a[:, H:2 * H] + wcf * c)
        g = torch.tanh(a[:, 2 * H:3 * H])
        c = f * c + i * g
        h = torch.sigmoid(a[:, 3 * H:] + wco * c) * torch.tanh(c)
        outs.append(h)
    torch.testing.assert_close(y, torch.stack(outs, 1))
    torch.testing.assert_close(h_last, h)
    torch.testing.assert_close(c_last, c)


def test_recurrent_dropout_one_mask_per_sequence_lstm_and_gru():
    torch.manual_seed(3)
    x = torch.randn(3, 6, 2)
    for layer in (LSTM(4, recurrent_dropout=0.5, return_sequences=True),
                  GRU(4, recurrent_dropout=0.5, return_sequences=True, reset="before")):
        layer(x)  # build
        m = (torch.rand(3, 4) > 0.5).float() * 2.0  # a known keep mask, scaled by 1/(1-p)
        calls = []

        def fixed(batch, like, m=m):
            calls.append(batch)
            return m

        layer.rnn.recurrent_mask = fixed
        layer.train()
        y = layer(x)
        assert calls == [3]  # drawn once for the whole sequence
        cell = layer.rnn.cells[0]
        h = torch.zeros(3, 4)
        c = torch.zeros(3, 4)
        outs = []
        for t in range(6):
            if isinstance(layer, LSTM):
                ref = nn.LSTMCell(2, 4)
                with torch.no_grad():
                    for n_ in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                        getattr(ref, n_).copy_(getattr(cell, n_))
                # the mask hits h only in the recurrent product: feed h*m as the previous h
                h, c = ref(x[:, t], (h * m, c))
            else:
                h = _gru_step(cell, x[:, t], h, h * m, "before")
            outs.append(h)
        torch.testing.assert_close(y, torch.stack(outs, 1))
        # evaluation ignores the dropout
        layer.eval()
        plain = type(layer).from_config({**layer.get_config(), "recurrent_dropout": 0.0})
        plain(x)
        plain.load_state_dict(layer.state_dict())
        torch.testing.assert_close(layer(x), plain(x))


def test_input_dropout_mask_is_shared_over_time():
    torch.manual_seed(0)
    layer = SimpleRNN(3, dropout=0.5, return_sequences=True)
    x = torch.randn(8, 5, 6)
    layer(x)
    seen = []
    orig = layer.rnn.forward

    def spy(inp, *a, **k):
        seen.append(inp.detach().clone())
        return orig(inp, *a, **k)

    layer.rnn.forward = spy
    layer.train()
    layer(x)
    dropped = seen[0] == 0  # (B, T, F)
    assert dropped.any() and not dropped.all()
    # each (sequence, feature) is dropped at every step or at none
    assert torch.equal(dropped.all(1), dropped.any(1))
    kept = ~dropped
    torch.testing.assert_close(seen[0][kept], (x * 2)[kept])


def test_dense_on_sequence_applies_per_step():
    x = torch.randn(2, 5, 4)
    d = Dense(3, activation="tanh")
    y = d(x)
    for t in range(5):
        torch.testing.assert_close(y[:, t], torch.tanh(x[:, t] @ d.linear.weight.T + d.linear.bias))


def test_embedding_mask_zero_equals_unpadded_runs():
    torch.manual_seed(1)
    seqs = [[3, 1, 4, 1, 5], [9, 2, 6], [5, 3]]
    ids = torch.zeros(3, 5, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
    for top in (GRU(6), Bidirectional(LSTM(4, return_sequences=True))):
        model = Sequential([Embedding(10, 5, mask_zero=True), top])
        model.eval()
        out = model(ids)
        for i, s in enumerate(seqs):
            alone = model(torch.tensor([s]))
            if out.dim() == 2:
                torch.testing.assert_close(out[i], alone[0])
            else:
                torch.testing.assert_close(out[i, :len(s)], alone[0])
                assert torch.all(out[i, len(s):] == 0)


def test_bidirectional_matches_torch_bidirectional_lstm():
    x = torch.randn(3, 6, 2)
    bi = Bidirectional(LSTM(4, return_sequences=True))
    y = bi(x)
    ref = nn.LSTM(2, 4, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for sfx, lay in (("", bi.forward_layer), ("_reverse", bi.backward_layer)):
            for n_ in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(ref, f"{n_}_l0{sfx}").copy_(getattr(lay.rnn.cells[0], n_))
    torch.testing.assert_close(y, ref(x)[0])
    assert bi.compute_output_shape((None, 6, 2)) == (None, 6, 8)


def test_return_state_values():
    x = torch.randn(2, 5, 3)
    out, h, c = LSTM(4, return_sequences=True, return_state=True)(x)
    torch.testing.assert_close(out[:, -1], h)
    assert c.shape == (2, 4)
    out, h = GRU(4, return_state=True)(x)
    torch.testing.assert_close(out, h)


def test_every_layer_round_trips_through_config():
    x = torch.randn(2, 5, 3)
    layers = [SimpleRNN(4, nonlinearity="relu", return_sequences=True), LSTM(4, peephole=True),
              GRU(4, reset="before", recurrent_dropout=0.1), Bidirectional(GRU(3), merge_mode="sum"),
              Dense(2, activation="softmax"), Dropout(0.3)]
    for layer in layers:
        layer.eval()
        y = layer(x)
        spec = serialize(layer)
        import json

        clone = deserialize(json.loads(json.dumps(spec)))
        clone.eval()
        clone(x)
        clone.load_state_dict(layer.state_dict())
        torch.testing.assert_close(clone(x), y)
        assert clone.get_config() == layer.get_config()
    emb = Embedding(7, 3, mask_zero=True)
    assert deserialize(serialize(emb)).get_config() == {
        "input_dim": 7, "output_dim": 3, "mask_zero": True, "embeddings_regularizer": None,
        "embeddings_initializer": {"class_name": "RandomUniform", "config": {"minval": -0.05, "maxval": 0.05}}}
    assert {"SimpleRNN", "LSTM", "GRU", "Bidirectional", "Dense", "Dropout", "Embedding"} <= set(LAYERS)


def test_layers_are_plain_torch_modules():
    layer = LSTM(4, input_shape=(None, 3))
    assert isinstance(layer, nn.Module) and isinstance(layer.rnn, nn.Module)
    n = sum(p.numel() for p in layer.parameters())
    assert n == 4 * 4 * (3 + 4 + 2)  # 4 gates x H x (I + H + two biases)


def test_summary_lists_shapes_and_counts():
    model = Sequential([LSTM(50, input_shape=(20, 3), return_sequences=True), Dropout(0.2), GRU(8), Dense(1)])
    text = model.summary(print_fn=None)
    assert "(None, 20, 50)" in text and "(None, 8)" in text and "(None, 1)" in text
    lstm_params = 4 * 50 * (3 + 50 + 2)
    gru_params = 3 * 8 * (50 + 8 + 2)
    assert f"{lstm_params:,}" in text and f"{gru_params:,}" in text
    assert f"Total params: {lstm_params + gru_params + 9:,}" in text


def test_layer_errors_name_the_argument():
    with pytest.raises(SeqlabError, match="units"):
        LSTM(0)
    with pytest.raises(SeqlabError, match="recurrent_dropout"):
        GRU(3, recurrent_dropout=1.5)
    with pytest.raises(SeqlabError, match="activation.*relu"):
        Dense(3, activation="relux")
    with pytest.raises(SeqlabError, match=r"input: LSTM expects .*\(batch, timesteps, features\)"):
        LSTM(3)(torch.randn(4, 5))
    with pytest.raises(SeqlabError, match="unknown layer 'Conv9D'"):
        deserialize({"class_name": "Conv9D", "config": {}})
    model = Sequential([GRU(4, input_shape=(5, 3)), Dense(1)])
    with pytest.raises(SeqlabError, match=r"x: the model expects inputs of shape \(batch, 5, 3\), got \(2, 5, 4\)"):
        model(torch.randn(2, 5, 4))
    with pytest.raises(SeqlabError, match="integer ids"):
        Embedding(5, 2)(torch.randn(2, 3))


def test_recurrent_dropout_path_respects_the_padding_mask():
    torch.manual_seed(2)
    x = torch.randn(2, 5, 3)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)
    for layer in (LSTM(4, recurrent_dropout=0.3), GRU(4, recurrent_dropout=0.3, return_sequences=True)):
        layer(x)
        m = (torch.rand(2, 4) > 0.3).float() / 0.7
        layer.rnn.recurrent_mask = lambda batch, like, m=m: m[:batch]
        layer.train()
        out = layer(x, mask=mask)
        layer.rnn.recurrent_mask = lambda batch, like, m=m: m[1:2]
        alone = layer(x[1:, :3])
        if out.dim() == 2:
            torch.testing.assert_close(out[1], alone[0])
        else:
            torch.testing.assert_close(out[1, :3], alone[0])
            assert torch.all(out[1, 3:] == 0)


def test_bidirectional_last_state_with_mask_equals_unpadded():
    torch.manual_seed(4)
    x = torch.randn(2, 6, 3)
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2], dtype=torch.bool)
    bi = Bidirectional(GRU(5, reset="before"))
    out = bi(x, mask=mask)
    torch.testing.assert_close(out[1], bi(x[1:, :4])[0])
    assert out.shape == (2, 10)


@pytest.mark.parametrize("layer", [
    SimpleRNN(4, return_sequences=True, recurrent_dropout=0.5),
    LSTM(4, return_sequences=True, recurrent_dropout=0.5, peephole=True),
    LSTM(4, return_sequences=True, recurrent_dropout=0.5, layer_norm=True),
    GRU(4, return_sequences=True, recurrent_dropout=0.5),
    GRU(4, return_sequences=True, recurrent_dropout=0.5, reset="before"),
    GRU(4, return_sequences=True, recurrent_dropout=0.5, layer_norm=True),
    GRU(4, return_sequences=True, recurrent_dropout=0.5, reset="before", layer_norm=True),
], ids=lambda l: repr(l.get_config()))
def test_dropout_step_loop_with_a_mask_of_ones_equals_the_cells_own_path(layer):
    """Ties the layer's dropout step to seqlab.nn's cells for every option (layer norm included)."""
    x = torch.randn(3, 5, 2)
    mask = torch.tensor([[1] * 5, [1] * 3 + [0] * 2, [1] * 5], dtype=torch.bool)
    layer.eval()
    layer(x)  # build
    with torch.no_grad():
        for p in layer.parameters():
            p.uniform_(-0.5, 0.5)  # random values everywhere, layer-norm gains included
    want = layer(x, mask=mask)
    layer.rnn.recurrent_mask = lambda batch, like: torch.ones(batch, 4)
    layer.train()
    torch.testing.assert_close(layer(x, mask=mask), want)
