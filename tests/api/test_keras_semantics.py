"""Where Keras users have expectations: padded steps out of the loss and metrics, strict target
shapes, cross-entropy on a layer without activation, integer features, initial_state as
return_state gives it, float class labels. Each checked against a hand computation in torch."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqlab import SeqlabError, Sequential
from seqlab.layers import GRU, LSTM, Dense, Embedding


def _tagger(seed=0, act="softmax"):
    torch.manual_seed(seed)
    m = Sequential([Embedding(20, 4, mask_zero=True), LSTM(6, return_sequences=True), Dense(3, activation=act)])
    m.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return m


def _tagging_data(seed=0, n=10, T=8):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, T + 1, n)
    ids = np.zeros((n, T), np.int64)
    tags = np.zeros((n, T), np.int64)
    for i, k in enumerate(lengths):
        ids[i, :k] = rng.integers(1, 20, k)
        tags[i, :k] = rng.integers(0, 3, k)
    return ids, tags, ids != 0


def test_padded_steps_stay_out_of_loss_and_metrics():
    m = _tagger()
    ids, tags, real = _tagging_data()
    probs = torch.from_numpy(m.predict(ids))
    logs = m.evaluate(ids, tags, verbose=0, return_dict=True)
    # by hand: cross-entropy and accuracy over the real tokens only
    p, t = probs[torch.from_numpy(real)], torch.from_numpy(tags[real])
    assert logs["loss"] == pytest.approx(float(F.nll_loss(p.log(), t)), rel=1e-5)
    assert logs["accuracy"] == pytest.approx(float((p.argmax(-1) == t).double().mean()), rel=1e-9)
    # targets at padded steps change nothing, in evaluation and in a training step
    junk = tags.copy()
    junk[~real] = 2
    assert m.evaluate(ids, junk, verbose=0, return_dict=True) == logs
    runs = []
    for y in (tags, junk):
        mm = _tagger(seed=1)
        mm.fit(ids, y, epochs=2, batch_size=4, shuffle=False, verbose=0, seed=3)
        runs.append(mm.state_dict())
    for k in runs[0]:
        torch.testing.assert_close(runs[0][k], runs[1][k], rtol=0, atol=0)


def test_targets_in_another_layout_are_refused():
    torch.manual_seed(0)
    m = Sequential([GRU(4, return_sequences=True, input_shape=(10, 3)), Dense(2)])
    m.compile(loss="mse", optimizer="adam", metrics=["mae"])
    x = np.random.default_rng(0).standard_normal((8, 10, 3)).astype(np.float32)
    with pytest.raises(SeqlabError, match=r"targets shaped like the model output \(8, 10, 2\), got \(8, 2, 10\)"):
        m.fit(x, np.zeros((8, 2, 10), np.float32), epochs=1, verbose=0)
    # a trailing axis of length 1 is the same layout: (B, T, 1) for an output (B, T)
    m1 = Sequential([GRU(4, return_sequences=True, input_shape=(10, 3)), Dense(1)])
    m1.compile(loss="mse", optimizer="adam", metrics=["mae"])
    y = np.random.default_rng(1).standard_normal((8, 10)).astype(np.float32)
    a = m1.evaluate(x, y, verbose=0, return_dict=True)
    b = m1.evaluate(x, y[..., None], verbose=0, return_dict=True)
    assert a == b
    with pytest.raises(SeqlabError, match="mae metric"):
        from seqlab.train import get_metric
        get_metric("mae").update(torch.zeros(4), torch.zeros(4, 3))


def test_cross_entropy_on_a_dense_layer_without_activation_takes_logits():
    torch.manual_seed(0)
    m = Sequential([LSTM(5, input_shape=(6, 2)), Dense(3)])
    m.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 6, 2)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    logits = torch.from_numpy(m.predict(x))
    logs = m.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(float(F.cross_entropy(logits, torch.from_numpy(y))), rel=1e-5)
    assert logs["accuracy"] == pytest.approx(float((logits.argmax(1).numpy() == y).mean()))
    # binary: Dense(1) without activation is a logit for binary_crossentropy
    mb = Sequential([LSTM(5, input_shape=(6, 2)), Dense(1)])
    mb.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    yb = (y > 0).astype(np.float32)
    z = torch.from_numpy(mb.predict(x))[:, 0]
    logs = mb.evaluate(x, yb, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(float(F.binary_cross_entropy_with_logits(z, torch.from_numpy(yb))), rel=1e-5)
    assert logs["accuracy"] == pytest.approx(float(((z > 0).numpy() == (yb > 0.5)).mean()))
    # a softmax over one unit is always 1: refused
    m1 = Sequential([LSTM(5, input_shape=(6, 2)), Dense(1, activation="softmax")])
    m1.compile(loss="binary_crossentropy", optimizer="adam")
    with pytest.raises(SeqlabError, match=r"Dense\(1, activation='softmax'\).*sigmoid"):
        m1.fit(x, yb, epochs=1, verbose=0)


def test_integer_features_train_as_floats():
    rng = np.random.default_rng(0)
    xi = rng.integers(0, 50, (12, 5, 1))
    y = xi.sum(1).astype(np.float32)
    states = []
    for x in (xi, xi.astype(np.float32)):
        torch.manual_seed(0)
        m = Sequential([LSTM(4, input_shape=(5, 1)), Dense(1)])
        m.compile(loss="mse", optimizer="adam")
        m.fit(x, y, epochs=2, batch_size=4, verbose=0, seed=1)
        states.append((m.state_dict(), m.predict(x)))
    for k in states[0][0]:
        assert torch.equal(states[0][0][k], states[1][0][k])
    np.testing.assert_array_equal(states[0][1], states[1][1])


def test_read_only_arrays_give_no_warning():
    from numpy.lib.stride_tricks import sliding_window_view

    series = np.sin(np.arange(40, dtype=np.float32))
    windows = sliding_window_view(series, 6)[:, :, None]  # read-only view, (35, 6, 1)
    assert not windows.flags.writeable
    torch.manual_seed(0)
    m = Sequential([GRU(3, input_shape=(5, 1)), Dense(1)])
    m.compile(loss="mse", optimizer="adam")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.fit(windows[:, :5], np.ascontiguousarray(windows[:, 5, 0]), epochs=1, verbose=0)


@pytest.mark.parametrize("layer", [LSTM, GRU])
def test_initial_state_takes_what_return_state_gives(layer):
    torch.manual_seed(0)
    lay = layer(5, return_sequences=True, return_state=True)
    x = torch.randn(3, 9, 2)
    whole, *_ = lay(x)
    first, *state = lay(x[:, :4])
    assert all(s.shape == (3, 5) for s in state)
    rest, *_ = lay(x[:, 4:], initial_state=state)  # Keras's encoder-decoder hand-over
    torch.testing.assert_close(torch.cat([first, rest], 1), whole, rtol=1e-6, atol=1e-6)
    rest3, *_ = lay(x[:, 4:], initial_state=[s[None] for s in state])  # torch.nn's (1, B, H)
    assert torch.equal(rest, rest3)
    with pytest.raises(SeqlabError, match=r"initial_state: .* each of shape \(batch, units\) = \(3, 5\)"):
        lay(x, initial_state=[torch.zeros(2, 5)] * len(state))


def test_class_labels_as_floats_and_out_of_range():
    torch.manual_seed(0)
    m = Sequential([LSTM(5, input_shape=(6, 2)), Dense(3, activation="softmax")])
    m.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 6, 2)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    want = m.evaluate(x, y, verbose=0, return_dict=True)
    for labels in (y[:, None], y.astype(np.float32), y.astype(np.float32)[:, None]):
        assert m.evaluate(x, labels, verbose=0, return_dict=True) == want
    with pytest.raises(SeqlabError, match="whole numbers.*0.5"):
        m.evaluate(x, np.full(16, 0.5, np.float32), verbose=0)
    with pytest.raises(SeqlabError, match="labels 0 to 2 .*3 outputs.*from 0 to 3"):
        m.evaluate(x, np.where(y == 2, 3, y), verbose=0)


def _label_dtypes(monkeypatch) -> list:
    """The dtypes of the labels the loss and the accuracy metric are given, recorded per call."""
    from seqlab.train import losses, metrics

    seen, real = [], losses.class_labels

    def spy(y_true, y_pred, name):
        seen.append(y_true.dtype)
        return real(y_true, y_pred, name)
    monkeypatch.setattr(losses, "class_labels", spy)
    monkeypatch.setattr(metrics, "class_labels", spy)
    return seen


def test_float_class_labels_are_checked_once_and_reach_loss_and_metrics_as_integers(monkeypatch):
    """Whole float labels become int64 where fit and evaluate take the arrays: the loss and the
    accuracy metric get integers on every batch (no fraction check, no host sync per batch), and
    training matches integer labels exactly. A fraction is refused there, before any training,
    naming the argument, what it takes and the value received."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 6, 2)).astype(np.float32)
    y = rng.integers(0, 3, 16)

    def model():
        torch.manual_seed(0)
        m = Sequential([LSTM(5, input_shape=(6, 2)), Dense(3, activation="softmax")])
        m.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        return m

    seen = _label_dtypes(monkeypatch)
    runs = []
    for labels in (y, y.astype(np.float32), y.astype(np.float64)[:, None]):
        m = model()
        h = m.fit(x, labels, epochs=2, batch_size=4, verbose=0, seed=0, validation_data=(x, labels))
        runs.append((h.history, m.evaluate(x, labels, return_dict=True), m.get_weights()))
    assert len(seen) > 20 and set(seen) == {torch.int64}, set(seen)
    for other in runs[1:]:
        assert other[:2] == runs[0][:2]
        assert all(np.array_equal(a, b) for a, b in zip(other[2], runs[0][2]))
    m = model()
    frac = y.astype(np.float32)
    frac[3] = 1.5
    msg = (r"^y: categorical_crossentropy takes class labels as whole numbers 0 to 2 \(the model has 3 outputs\), "
           r"got fractional values such as 1.5 at sample 3; round them, or pass one-hot targets \(16, 3\)")
    for call in (lambda: m.fit(x, frac, epochs=1, verbose=0), lambda: m.evaluate(x, frac)):
        with pytest.raises(SeqlabError, match=msg):
            call()
    with pytest.raises(SeqlabError, match=r"^validation_data targets: .* such as 1.5 at sample 3"):
        m.fit(x, y, epochs=1, verbose=0, validation_data=(x, frac))
    assert m.epochs_trained == 0  # refused before any training
    # per step (N, T) labels of a tagger: the step is named too; one-hot float targets stay floats
    tagger = _tagger()
    ids, tags, _ = _tagging_data()
    bad = tags.astype(np.float32)
    bad[2, 1] = 0.25
    with pytest.raises(SeqlabError, match=r"^y: .* such as 0.25 at sample 2, step 1"):
        tagger.evaluate(ids, bad)
    seen.clear()
    onehot = np.eye(3, dtype=np.float32)[y]
    m.evaluate(x, onehot)
    assert not seen or set(seen) == {torch.float32}


def test_fractional_label_is_named_at_its_index_in_the_callers_targets():
    """With validation_split the fraction is named at its index in y (sample 35 of 40), not in
    the split-off validation part (it said sample 5); the one-hot hint has y's shape.
    validation_data's targets are named as such, at their own indices."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 4, 2)).astype(np.float32)
    y = rng.integers(0, 3, 40).astype(np.float32)
    torch.manual_seed(0)
    m = Sequential([LSTM(3, input_shape=(4, 2)), Dense(3, activation="softmax")])
    m.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    bad = y.copy()
    bad[35] = 1.5
    with pytest.raises(SeqlabError, match=r"^y: .* such as 1.5 at sample 35; .* one-hot targets \(40, 3\)"):
        m.fit(x, bad, epochs=1, verbose=0, validation_split=0.25)
    bad_val = y[:8].copy()
    bad_val[6] = 0.5
    with pytest.raises(SeqlabError, match=r"^validation_data targets: .* such as 0.5 at sample 6; .* \(8, 3\)"):
        m.fit(x, y, epochs=1, verbose=0, validation_split=0.25, validation_data=(x[:8], bad_val))
    assert m.epochs_trained == 0
    h = m.fit(x, y, epochs=1, verbose=0, validation_split=0.25)  # whole float labels still train
    assert m.epochs_trained == 1 and "val_loss" in h.history


def test_parameter_count_has_torch_s_two_biases():
    """docs/api.md: LSTM(32) on one feature, 4,480 parameters (Keras counts 4,352: one bias)."""
    m = Sequential([LSTM(32, input_shape=(5, 1))])
    assert m.count_params() == 4 * 32 * (1 + 32) + 2 * 4 * 32 == 4480
    assert 4480 - 4 * 32 == 4352


def _padded_floats(seed=0, n=6, T=7, F_=2):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, T + 1, n)
    x = np.zeros((n, T, F_), np.float32)
    for i, k in enumerate(lengths):
        x[i, :k] = rng.standard_normal((k, F_)) + 0.1  # never all zero on a real step
    return x, lengths


def test_masking_skips_post_padding_in_layers_loss_and_reference(tmp_path):
    from seqlab import load_model
    from seqlab.layers import Masking
    from seqlab.reference import load as reference_load

    x, lengths = _padded_floats()
    torch.manual_seed(0)
    m = Sequential([Masking(0.0, input_shape=(7, 2)), LSTM(5, return_sequences=True), GRU(3), Dense(1)])
    m.compile(loss="mse", optimizer="adam")
    whole = m.predict(x)
    for i, k in enumerate(lengths):  # a padded batch gives what each sequence alone gives
        alone = m.predict(x[i:i + 1, :k])
        np.testing.assert_allclose(whole[i], alone[0], rtol=1e-5, atol=1e-6)
    path = tmp_path / "masking.safetensors"
    m.save(path)
    np.testing.assert_array_equal(load_model(path).predict(x), whole)
    np.testing.assert_allclose(reference_load(path)(x), whole, rtol=1e-5, atol=1e-6)  # the NumPy model too
    # a sequence model: targets at padded steps do not count
    torch.manual_seed(0)
    s = Sequential([Masking(input_shape=(7, 2)), GRU(4, return_sequences=True), Dense(1)])
    s.compile(loss="mse", optimizer="adam")
    y = np.random.default_rng(1).standard_normal((6, 7, 1)).astype(np.float32)
    junk = y.copy()
    real = np.arange(7)[None, :] < lengths[:, None]
    junk[~real] = 1e3
    out = s.predict(x)
    assert s.evaluate(x, y) == pytest.approx(float(((out - y)[real] ** 2).mean()), rel=1e-5)
    assert s.evaluate(x, junk) == s.evaluate(x, y)
    gap = x.copy()
    gap[0, 0] = 0.0  # a padded step before real ones: not post-padding
    with pytest.raises(SeqlabError, match="prefix"):
        s.predict(gap)


def test_sample_and_class_weights_weigh_the_loss_as_keras():
    torch.manual_seed(0)
    m = Sequential([LSTM(4, input_shape=(6, 2)), Dense(3, activation="softmax")])
    m.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", lr=0.1, metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 6, 2)).astype(np.float32)
    y = rng.integers(0, 3, 20)
    w = rng.uniform(0, 2, 20)
    p = torch.from_numpy(m.predict(x)).double()
    per = -p.log()[torch.arange(20), torch.from_numpy(y)]  # each sample's cross-entropy, by hand
    got = m.evaluate(x, y, batch_size=20, sample_weight=w, return_dict=True)
    assert got["loss"] == pytest.approx(float((per * torch.from_numpy(w)).sum() / 20), rel=1e-5)
    assert got["accuracy"] == m.evaluate(x, y, return_dict=True)["accuracy"]  # metrics unweighted
    # class_weight is the sample weight of each sample's class
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    runs = []
    for kw in (dict(class_weight=cw), dict(sample_weight=np.array([cw[int(c)] for c in y]))):
        torch.manual_seed(0)
        mm = Sequential([LSTM(4, input_shape=(6, 2)), Dense(3, activation="softmax")])
        mm.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", lr=0.1)
        mm.fit(x, y, epochs=2, batch_size=8, verbose=0, seed=1, **kw)
        runs.append(mm.predict(x))
    np.testing.assert_array_equal(runs[0], runs[1])
    torch.manual_seed(0)
    plain = Sequential([LSTM(4, input_shape=(6, 2)), Dense(3, activation="softmax")])
    plain.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", lr=0.1)
    plain.fit(x, y, epochs=2, batch_size=8, verbose=0, seed=1)
    assert not np.array_equal(plain.predict(x), runs[0])
    with pytest.raises(SeqlabError, match=r"class_weight: no weight for class\(es\) \[2\]"):
        m.fit(x, y, epochs=1, verbose=0, class_weight={0: 1.0, 1: 2.0})
    with pytest.raises(SeqlabError, match=r"sample_weight: expected one weight per sample \(20,\)"):
        m.fit(x, y, epochs=1, verbose=0, sample_weight=np.ones(19))
    with pytest.raises(SeqlabError, match="sample_weight: weights must be >= 0"):
        m.fit(x, y, epochs=1, verbose=0, sample_weight=-np.ones(20))


def test_masking_computes_its_mask_once_per_call(monkeypatch):
    """Masking's mask is computed once per batch (it used to be twice: for the next layers and
    again in its forward), in a model call, fit, evaluate and a streamed step alike; outputs and
    the mask the loss sees are unchanged."""
    from seqlab.layers import Masking

    calls = []
    real = Masking.compute_mask
    monkeypatch.setattr(Masking, "compute_mask", lambda self, x, mask: calls.append(1) or real(self, x, mask))
    x, lengths = _padded_floats()
    torch.manual_seed(0)
    s = Sequential([Masking(input_shape=(7, 2)), GRU(4, return_sequences=True), Dense(1)])
    s.compile(loss="mse", optimizer="adam")
    xt = torch.from_numpy(x)
    _, mask = s(xt, return_mask=True)
    assert len(calls) == 1
    assert torch.equal(mask, torch.arange(7)[None, :] < torch.from_numpy(lengths)[:, None])
    layer = s.layers[0]
    assert torch.equal(layer(xt), xt) and torch.equal(layer.call_masked(xt, None)[1], mask)  # padding is 0 already
    calls.clear()
    y = np.zeros((6, 7, 1), np.float32)
    s.fit(x, y, epochs=1, batch_size=6, verbose=0, shuffle=False)
    s.evaluate(x, y, batch_size=6)
    assert len(calls) == 2  # one training batch, one evaluation batch
    calls.clear()
    first, _ = s.step(xt[:, :3])
    assert len(calls) == 1
    torch.testing.assert_close(first, s(xt)[:, :3])


def test_masking_forward_hooks_see_one_tensor_per_call():
    """A forward hook on Masking sees its output tensor, once per call, whether the layer is called
    alone or inside the model (it saw an (output, mask) tuple there); pre-hooks run too, and the
    model's output and mask are unchanged by the hook's presence."""
    from seqlab.layers import Masking

    x, lengths = _padded_floats()
    real = np.arange(7)[None, :] < lengths[:, None]
    x[~real] = -1.0  # padded with the mask value, which the layer's output sets to 0
    xt = torch.from_numpy(x)
    torch.manual_seed(0)
    s = Sequential([Masking(-1.0, input_shape=(7, 2)), GRU(4, return_sequences=True), Dense(1)])
    s.compile(loss="mse", optimizer="adam")
    before, before_mask = s(xt, return_mask=True)
    layer = s.layers[0]
    seen, pre = [], []
    handles = [layer.register_forward_hook(lambda mod, args, out: seen.append(out)),
               layer.register_forward_pre_hook(lambda mod, args: pre.append(args[0]))]
    out, mask = s(xt, return_mask=True)
    assert len(seen) == 1 and type(seen[0]) is torch.Tensor and len(pre) == 1 and pre[0] is xt
    torch.testing.assert_close(seen[0], xt * torch.from_numpy(real)[..., None])
    assert torch.equal(out, before) and torch.equal(mask, before_mask)
    seen.clear()
    assert type(layer(xt)) is torch.Tensor and len(seen) == 1 and type(seen[0]) is torch.Tensor
    seen.clear()
    s.fit(x, np.zeros((6, 7, 1), np.float32), epochs=1, batch_size=6, verbose=0, shuffle=False)
    assert len(seen) == 1 and type(seen[0]) is torch.Tensor
    for h in handles:
        h.remove()


def test_per_step_weights_of_a_padded_sequence_model():
    from seqlab.layers import Masking

    x, lengths = _padded_floats(2)
    torch.manual_seed(0)
    s = Sequential([Masking(input_shape=(7, 2)), GRU(4, return_sequences=True), Dense(1)])
    s.compile(loss="mse", optimizer="adam")
    y = np.random.default_rng(3).standard_normal((6, 7, 1)).astype(np.float32)
    w = np.random.default_rng(4).uniform(0, 1, (6, 7))
    real = np.arange(7)[None, :] < lengths[:, None]
    err = ((s.predict(x) - y)[..., 0] ** 2)
    want = float((err * w)[real].sum() / real.sum())  # Keras: weighted sum over the real steps' count
    assert s.evaluate(x, y, batch_size=6, sample_weight=w) == pytest.approx(want, rel=1e-5)


def test_keras_spellings_of_losses_and_metrics_and_mape_by_hand():
    from seqlab.train import get_loss, get_metric

    assert get_loss("MeanSquaredError").name == "mse" and get_loss("SparseCategoricalCrossentropy").name == \
        "categorical_crossentropy"
    for name, want in (("sparse_categorical_accuracy", "accuracy"), ("MeanAbsoluteError", "mae"),
                       ("root_mean_squared_error", "rmse"), ("MAPE", "mape")):
        assert get_metric(name).name == want
    y, p = torch.tensor([[2.0], [-4.0], [0.5]]), torch.tensor([[1.0], [-5.0], [0.5]])
    s, n = get_metric("mape").update(y, p)
    assert float(s) / n == pytest.approx(100 * (0.5 + 0.25 + 0.0) / 3)


def test_weights_and_batch_methods_as_keras(tmp_path):
    from seqlab import ModelFileError

    rng = np.random.default_rng(0)
    x, y = rng.random((8, 5, 2)).astype(np.float32), rng.random((8, 1)).astype(np.float32)
    torch.manual_seed(0)
    m = Sequential([LSTM(4, input_shape=(5, 2)), Dense(1)])
    m.compile(loss="mse", optimizer="sgd", lr=0.1)
    w = m.get_weights()
    assert [a.shape for a in w] == [(16, 2), (16, 4), (16,), (16,), (1, 4), (1,)]
    before = float(F.mse_loss(torch.from_numpy(m.predict(x)), torch.from_numpy(y)))
    loss = m.train_on_batch(x, y)  # the loss of the step, before its update
    assert loss == pytest.approx(before, rel=1e-6) and m.epochs_trained == 0
    assert m.test_on_batch(x, y) < before  # one SGD step on the batch lowered its loss
    np.testing.assert_array_equal(m.predict_on_batch(x), m.predict(x))
    m.save_weights(tmp_path / "w.safetensors")
    twin = Sequential([LSTM(4, input_shape=(5, 2)), Dense(1)])
    twin.load_weights(tmp_path / "w.safetensors")
    np.testing.assert_array_equal(twin.predict(x), m.predict(x))
    twin.set_weights(w)  # back to the initial weights
    torch.manual_seed(0)
    fresh = Sequential([LSTM(4, input_shape=(5, 2)), Dense(1)])
    np.testing.assert_array_equal(twin.predict(x), fresh.predict(x))
    with pytest.raises(ModelFileError, match="does not fit this model's architecture"):
        Sequential([LSTM(5, input_shape=(5, 2)), Dense(1)]).load_weights(tmp_path / "w.safetensors")
    with pytest.raises(SeqlabError, match=r"weights: expected a list of 6 arrays"):
        twin.set_weights(w[:5])


def test_common_mistakes_get_the_fix():
    from torch.utils.data import TensorDataset

    with pytest.raises(SeqlabError, match="give that layer return_sequences=True"):
        Sequential([LSTM(4, input_shape=(5, 2)), LSTM(3), Dense(1)])
    m = Sequential([LSTM(4, input_shape=(5, 2)), Dense(1)])
    m.compile(loss="mse", optimizer="adam")
    ds = TensorDataset(torch.zeros(4, 5, 2), torch.zeros(4, 1))
    with pytest.raises(SeqlabError, match=r"x: got a torch Dataset \(TensorDataset\); wrap it in a DataLoader"):
        m.fit(ds, epochs=1, verbose=0)


def test_keras_loss_objects_with_from_logits(tmp_path):
    from seqlab import load_model
    from seqlab.keras.losses import BinaryCrossentropy, SparseCategoricalCrossentropy

    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 6, 2)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    torch.manual_seed(0)
    m = Sequential([LSTM(5, input_shape=(6, 2)), Dense(3)])
    m.compile(optimizer="adam", loss=SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    logits = torch.from_numpy(m.predict(x))
    got = m.evaluate(x, y, return_dict=True)
    assert got["loss"] == pytest.approx(float(F.cross_entropy(logits, torch.from_numpy(y))), rel=1e-5)
    m.save(tmp_path / "m.safetensors")
    back = load_model(tmp_path / "m.safetensors")
    assert back.loss_fn.from_logits is True and back.evaluate(x, y, return_dict=True) == got
    # Keras's default from_logits=False on a layer that gives logits: refused, with the fix
    m.compile(optimizer="adam", loss=SparseCategoricalCrossentropy())
    with pytest.raises(SeqlabError, match="from_logits=False takes probabilities.*pass from_logits=True"):
        m.evaluate(x, y)
    # from_logits=True on a layer whose output is not a Dense (a sequence model's LSTM): logits too
    torch.manual_seed(0)
    s = Sequential([LSTM(1, input_shape=(6, 2), return_sequences=True)])
    s.compile(optimizer="adam", loss=BinaryCrossentropy(from_logits=True))
    yb = (rng.random((16, 6, 1)) > 0.5).astype(np.float32)
    z = torch.from_numpy(s.predict(x))
    assert s.evaluate(x, yb) == pytest.approx(
        float(F.binary_cross_entropy_with_logits(z, torch.from_numpy(yb))), rel=1e-5)


def test_class_weight_on_integer_one_hot_and_loader_weights_checked():
    from torch.utils.data import DataLoader, TensorDataset

    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 4, 2)).astype(np.float32)
    y = rng.integers(0, 3, 8)
    onehot = np.eye(3, dtype=np.int64)[y]  # integer one-hot rows
    losses = []
    for targets in (y, onehot):
        torch.manual_seed(0)
        m = Sequential([GRU(3, input_shape=(4, 2)), Dense(3, activation="softmax")])
        m.compile(loss="categorical_crossentropy", optimizer="sgd", lr=0.1)
        h = m.fit(x, targets, epochs=1, batch_size=8, verbose=0, seed=0, class_weight={0: 1.0, 1: 2.0, 2: 0.5})
        losses.append(h.history["loss"][0])
    assert losses[0] == losses[1]
    lengths = torch.full((8,), 4)  # a loader whose third item is not weights
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y), lengths), batch_size=4)
    with pytest.raises(SeqlabError, match="third item is read as sample weights.*got torch.int64"):
        m.fit(loader, epochs=1, verbose=0)
