"""GradientNormRecorder: the norms torch's clipping sees, in a plain loop and through fit."""

import os

import numpy as np
import pytest
import torch

import seqlab.nn as snn
from seqlab.diagnostics import GradientNormRecorder
from seqlab.errors import SeqlabError


def test_plain_loop_matches_clip_grad_norm():
    torch.manual_seed(5)
    rnn = snn.LSTM(2, 8)
    head = torch.nn.Linear(8, 1)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=0.5)
    rec = GradientNormRecorder(clipnorm=0.05)
    seen, after = [], []
    for _ in range(6):
        x, y = torch.randn(4, 5, 2), torch.randn(4, 1) * 3
        loss = torch.nn.functional.mse_loss(head(rnn(x)[0][:, -1]), y)
        opt.zero_grad()
        loss.backward()
        rec.record(params)
        seen.append(float(torch.nn.utils.clip_grad_norm_(params, 0.05)))
        after.append(float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))))
        opt.step()
    np.testing.assert_allclose(rec.norms, seen, rtol=1e-6)
    np.testing.assert_allclose(rec.clipped_norms, after, rtol=1e-5)
    s = rec.summary()
    assert s["steps"] == 6 and s["max"] == pytest.approx(max(seen), rel=1e-6)
    assert s["clipped_fraction"] == pytest.approx(np.mean(np.array(seen) > 0.05))
    assert s["max_after_clipping"] <= 0.05 + 1e-6


def test_fit_callback_records_every_step(tmp_path):
    from seqlab.layers import GRU, Dense
    from seqlab.model import Sequential

    torch.manual_seed(6)
    model = Sequential([GRU(6, input_shape=(7, 3)), Dense(1)])
    model.compile(loss="mse", optimizer="sgd", lr=0.1)
    x = np.random.default_rng(0).normal(size=(40, 7, 3)).astype("float32")
    y = (x[:, :, 0].sum(1, keepdims=True) * 5).astype("float32")
    rec = GradientNormRecorder(clipnorm=1.0)
    model.fit(x, y, batch_size=10, epochs=2, verbose=0, clipnorm=1.0, callbacks=[rec], shuffle=False, device="cpu")
    assert rec.norms.shape == (8,)  # 4 batches x 2 epochs
    assert np.all(rec.norms > 0)
    assert np.all(rec.clipped_norms <= 1.0 + 1e-6)
    # the first recorded norm is the gradient of the untouched model on the first batch
    # (fit was seeded by the model's initialisation only; recompute it by hand on a copy)
    path = tmp_path / "norms.png"
    rec.plot(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_first_step_norm_equals_hand_computed():
    from seqlab.layers import LSTM, Dense
    from seqlab.model import Sequential

    torch.manual_seed(7)
    model = Sequential([LSTM(5, input_shape=(6, 2)), Dense(1)])
    model.compile(loss="mse", optimizer="sgd", lr=0.01)
    x = torch.randn(8, 6, 2)
    y = torch.randn(8, 1)
    loss = torch.nn.functional.mse_loss(model(x), y)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    want = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))
    rec = GradientNormRecorder()
    model.fit(x.numpy(), y.numpy(), batch_size=8, epochs=1, verbose=0, callbacks=[rec], shuffle=False, device="cpu")
    assert rec.norms[0] == pytest.approx(want, rel=1e-5)
    assert np.array_equal(rec.clipped_norms, rec.norms)  # no clipnorm: nothing clipped


@pytest.mark.parametrize("bad", [0, -1.0, "1", True])
def test_bad_clipnorm(bad):
    with pytest.raises(SeqlabError, match="clipnorm: expected a positive number"):
        GradientNormRecorder(clipnorm=bad)
