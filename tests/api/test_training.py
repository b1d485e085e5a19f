"""compile / fit / evaluate / predict against hand-written PyTorch loops and NumPy references."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from seqlab import SeqlabError, Sequential
from seqlab.layers import GRU, LSTM, Dense, Dropout, SimpleRNN
from seqlab.train import (Callback, EarlyStopping, LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau,
                          TerminateOnNaN, get_loss, get_metric)


def _data(n=48, T=6, F_=3, out=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, T, F_)).astype(np.float32)
    y = np.stack([x[:, :, 0].mean(1), x[:, -1, 1]], 1)[:, :out].astype(np.float32)
    return x, y


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    return Sequential([GRU(5, input_shape=(6, 3), **kw), Dense(2)])


def _hand_loop(model, x, y, epochs, bs, lr, clipnorm=None, l2=0.0):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        for i in range(0, len(x), bs):
            loss = F.mse_loss(model(x[i:i + bs]), y[i:i + bs])
            if l2:
                loss = loss + l2 * sum(p.square().sum() for p in model.parameters() if p.dim() > 1)
            opt.zero_grad()
            loss.backward()
            if clipnorm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clipnorm)
            opt.step()


@pytest.mark.parametrize("opts", [{}, {"clipnorm": 0.05}, {"l2": 0.01}])
def test_fit_equals_hand_written_loop(opts):
    x, y = _data()
    a, b = _model(), _model()
    a.compile(loss="mse", optimizer="sgd", lr=0.1, momentum=0.9)
    hist = a.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0, device="cpu", **opts)
    _hand_loop(b, x, y, 2, 16, 0.1, clipnorm=opts.get("clipnorm"), l2=opts.get("l2", 0.0))
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=n)
    assert len(hist.history["loss"]) == 2 and hist.epoch == [0, 1]


def test_dataloader_and_tensors_give_the_same_training_as_arrays():
    x, y = _data()
    results = []
    for kind in ("numpy", "tensor", "loader"):
        m = _model()
        m.compile(loss="mae", optimizer="adam", lr=0.01)
        if kind == "numpy":
            m.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
        elif kind == "tensor":
            m.fit(torch.from_numpy(x), torch.from_numpy(y), epochs=2, batch_size=16, shuffle=False, verbose=0)
        else:
            dl = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=16)
            m.fit(dl, epochs=2, verbose=0)
        results.append(m.predict(x))
    np.testing.assert_allclose(results[0], results[1], rtol=0, atol=0)
    np.testing.assert_allclose(results[0], results[2], rtol=1e-6, atol=1e-7)


def test_same_seed_bit_identical_on_cpu():
    x, y = _data(n=32, T=4)
    runs = []
    for seed in (7, 7, 8):
        torch.manual_seed(seed)
        m = Sequential([LSTM(6, dropout=0.2, recurrent_dropout=0.2, return_sequences=True), Dropout(0.3),
                        SimpleRNN(4), Dense(2)])
        m.compile(loss="huber", optimizer="rmsprop")
        h = m.fit(x, y, epochs=2, batch_size=16, seed=seed, verbose=0, device="auto")
        runs.append((torch.cat([p.detach().flatten() for p in m.parameters()]), h.history["loss"]))
    assert torch.equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]
    assert not torch.equal(runs[0][0], runs[2][0])


def test_history_validation_and_evaluate_agree():
    x, y = _data(n=50)
    m = _model()
    m.compile(loss="mse", optimizer="adam", metrics=["mae", "rmse", "mse"])
    h = m.fit(x, y, epochs=3, batch_size=16, validation_split=0.2, verbose=0)
    assert set(h.history) == {"loss", "mae", "rmse", "mse", "val_loss", "val_mae", "val_rmse", "val_mse", "lr"}
    loss, mae, rmse, mse = m.evaluate(x[40:], y[40:])  # validation_split takes the last 20 %
    pred = m.predict(x[40:])
    np.testing.assert_allclose(h.history["val_loss"][-1], loss, rtol=1e-6)
    np.testing.assert_allclose(mae, np.abs(pred - y[40:]).mean(), rtol=1e-5)
    np.testing.assert_allclose(mse, ((pred - y[40:]) ** 2).mean(), rtol=1e-5)
    np.testing.assert_allclose(rmse, math.sqrt(mse), rtol=1e-6)
    np.testing.assert_allclose(loss, mse, rtol=1e-5)
    h2 = m.fit(x[:40], y[:40], epochs=1, validation_data=(x[40:], y[40:]), verbose=0)
    assert "val_loss" in h2.history


def test_losses_match_numpy():
    rng = np.random.default_rng(0)
    p = rng.standard_normal((6, 3))
    t = rng.standard_normal((6, 3))
    P, T_ = torch.tensor(p), torch.tensor(t)
    np.testing.assert_allclose(get_loss("mse")(T_, P), ((p - t) ** 2).mean())
    np.testing.assert_allclose(get_loss("mae")(T_, P), np.abs(p - t).mean())
    d = np.abs(p - t)
    np.testing.assert_allclose(get_loss("huber")(T_, P), np.where(d < 1, 0.5 * d ** 2, d - 0.5).mean())
    prob = 1 / (1 + np.exp(-p))
    lab = (t > 0).astype(float)
    bce = -(lab * np.log(prob) + (1 - lab) * np.log(1 - prob)).mean()
    np.testing.assert_allclose(get_loss("binary_crossentropy")(torch.tensor(lab), torch.tensor(prob)), bce)
    np.testing.assert_allclose(get_loss("binary_crossentropy")(torch.tensor(lab), P, from_logits=True), bce)
    sm = np.exp(p) / np.exp(p).sum(1, keepdims=True)
    ints = rng.integers(0, 3, 6)
    onehot = np.eye(3)[ints]
    cce = -np.log(sm[np.arange(6), ints]).mean()
    cce_fn = get_loss("categorical_crossentropy")
    np.testing.assert_allclose(cce_fn(torch.tensor(onehot), torch.tensor(sm)), cce)
    np.testing.assert_allclose(cce_fn(torch.tensor(ints), torch.tensor(sm)), cce)
    np.testing.assert_allclose(cce_fn(torch.tensor(ints), P, from_logits=True), cce)
    np.testing.assert_allclose(cce_fn(torch.tensor(onehot), P, from_logits=True), cce)


def test_softmax_cross_entropy_is_stable_through_logits():
    # logits far apart: softmax saturates to exactly 0/1 in float32, the fused path stays exact
    torch.manual_seed(0)
    m = Sequential([Dense(3, activation="softmax", input_shape=(2,))])
    with torch.no_grad():
        m.layers[0].linear.weight.copy_(torch.tensor([[200.0, 0], [0, 0], [-200, 0]]))
        m.layers[0].linear.bias.zero_()
    m.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    x = np.array([[1.0, 0.0]], dtype=np.float32)
    loss = m.evaluate(x, np.array([2]))[0]
    np.testing.assert_allclose(loss, 400.0, rtol=1e-6)  # -log softmax = 200 - (-200)
    assert m.evaluate(x, np.array([0]))[1] == 1.0


def test_metrics_match_numpy():
    rng = np.random.default_rng(1)
    p = rng.random((10, 4))
    ints = rng.integers(0, 4, 10)
    acc = (p.argmax(1) == ints).mean()
    s, c = get_metric("accuracy").update(torch.tensor(ints), torch.tensor(p))
    assert float(s) / c == acc
    s, c = get_metric("accuracy").update(torch.tensor(np.eye(4)[ints]), torch.tensor(p))
    assert float(s) / c == acc
    pb, lb = rng.random((10, 1)), rng.integers(0, 2, (10, 1)).astype(float)
    s, c = get_metric("accuracy").update(torch.tensor(lb), torch.tensor(pb))
    assert float(s) / c == ((pb > 0.5) == (lb > 0.5)).mean()


def test_errors_for_people():
    x, y = _data()
    m = _model()
    with pytest.raises(SeqlabError, match="not compiled.*compile"):
        m.fit(x, y)
    with pytest.raises(SeqlabError, match="loss: unknown loss 'mse2'; valid names: mse, mae, huber"):
        m.compile(loss="mse2")
    with pytest.raises(SeqlabError, match="optimizer: unknown optimizer 'adamx'; valid names: sgd, adam, adamw, rmsprop, adagrad"):
        m.compile(optimizer="adamx")
    with pytest.raises(SeqlabError, match="metrics: unknown metric 'f1'; valid names: accuracy, mae, mse, rmse"):
        m.compile(metrics=["f1"])
    m.compile(loss="mse")
    with pytest.raises(SeqlabError, match="x and y: expected the same number of samples, got 48 in x and 40 in y"):
        m.fit(x, y[:40], verbose=0)
    with pytest.raises(SeqlabError, match=r"x: the model expects inputs of shape \(batch, 6, 3\), got \(48, 6, 2\)"):
        m.fit(x[:, :, :2], y, verbose=0)
    with pytest.raises(SeqlabError, match=r"y: the mse loss needs targets shaped like the model output"):
        m.fit(x, y[:, :1].repeat(3, 1), verbose=0)
    with pytest.raises(SeqlabError, match="batch_size"):
        m.fit(x, y, batch_size=0)
    with pytest.raises(SeqlabError, match="validation_split"):
        m.fit(x, y, validation_split=1.5)
    with pytest.raises(SeqlabError, match="callbacks: expected seqlab.train.callbacks.Callback"):
        m.fit(x, y, callbacks=[print])
    if not torch.cuda.is_available():
        with pytest.raises(SeqlabError, match="mixed_precision: needs a CUDA GPU"):
            m.fit(x, y, mixed_precision=True, verbose=0)
        with pytest.raises(SeqlabError, match="device"):
            m.fit(x, y, device="cuda", verbose=0)


class _Recorder(Callback):
    def __init__(self):
        self.events, self.weights, self.grads = [], [], []

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch))
        self.weights.append({k: v.clone() for k, v in self.model.state_dict().items()})

    def on_after_backward(self, model, step):
        self.grads.append([p.grad.clone() for p in model.parameters()])


def test_callback_hooks_see_gradients_before_the_step():
    x, y = _data()
    m = _model()
    ref = _model()
    m.compile(loss="mse", optimizer="sgd", lr=0.1)
    rec = _Recorder()
    m.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0, callbacks=[rec], clipnorm=1e-3)
    loss = F.mse_loss(ref(torch.from_numpy(x[:16])), torch.from_numpy(y[:16]))
    loss.backward()
    assert len(rec.grads) == 3
    for g, p in zip(rec.grads[0], ref.parameters()):  # unclipped gradients of the first batch
        torch.testing.assert_close(g, p.grad)


def test_early_stopping_restores_best_weights():
    x, y = _data()
    m = _model()
    m.compile(loss="mse", optimizer="adam", lr=0.01)
    rec = _Recorder()
    # loss decreases every epoch, so with mode='max' the first epoch is the best one
    es = EarlyStopping(monitor="loss", mode="max", patience=1, restore_best_weights=True)
    h = m.fit(x, y, epochs=10, verbose=0, callbacks=[rec, es])
    # Keras's count: with patience 1 the first epoch without improvement is the last
    assert len(h.epoch) == 2 and es.stopped_epoch == 1 and h.best_epoch == 0
    for k, v in m.state_dict().items():
        assert torch.equal(v, rec.weights[0][k])
    assert not torch.equal(rec.weights[1]["layers.1.linear.weight"], rec.weights[0]["layers.1.linear.weight"])


def test_lr_callbacks():
    x, y = _data()
    m = _model()
    m.compile(loss="mse", optimizer="sgd", lr=0.01)
    h = m.fit(x, y, epochs=3, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: 0.1 / (e + 1))])
    np.testing.assert_allclose(h.history["lr"], [0.1, 0.05, 0.1 / 3])
    m.compile(loss="mse", optimizer="adam", lr=0.01)
    h = m.fit(x, y, epochs=5, verbose=0,
              callbacks=[ReduceLROnPlateau(monitor="loss", mode="max", factor=0.5, patience=2, min_delta=0)])
    np.testing.assert_allclose(h.history["lr"], [0.01, 0.01, 0.01, 0.005, 0.005])  # reduced after epochs 2 and 4


def test_terminate_on_nan_stops_at_the_bad_batch():
    x, y = _data()
    calls = []

    def bad_loss(y_true, y_pred):
        calls.append(1)
        v = F.mse_loss(y_pred, y_true)
        return v * float("nan") if len(calls) == 2 else v

    m = _model()
    m.compile(loss=bad_loss, optimizer="sgd")
    h = m.fit(x, y, epochs=5, batch_size=8, verbose=0, callbacks=[TerminateOnNaN()])
    assert len(calls) == 2 and len(h.epoch) == 1 and math.isnan(h.history["loss"][0])


def test_model_checkpoint_writes_each_epoch_and_best_only(tmp_path):
    x, y = _data()
    m = _model()
    m.compile(loss="mse", optimizer="adam")
    m.fit(x, y, epochs=2, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "ck-{epoch:02d}.safetensors", monitor="loss")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck-01.safetensors", "ck-02.safetensors"]
    best = tmp_path / "best.safetensors"
    m.fit(x, y, epochs=2, verbose=0, callbacks=[ModelCheckpoint(best, monitor="loss", mode="max", save_best_only=True)])
    from seqlab import load_model

    first = load_model(best)  # only the first epoch was 'best' under mode='max'
    assert not np.allclose(first.predict(x), m.predict(x))


def test_verbose_output(capsys):
    x, y = _data()
    m = _model()
    m.compile(loss="mse", metrics=["mae"])
    m.fit(x, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""
    m.fit(x, y, epochs=2, verbose=2, validation_split=0.25)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("Epoch 2/2") and "val_mae" in lines[1]
    m.fit(x, y, epochs=1, verbose=1)  # not a terminal: one line per epoch
    assert capsys.readouterr().out.startswith("Epoch 1/1")
