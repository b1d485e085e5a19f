"""The network, the recursive rollout, and training through the one loop."""

import numpy as np
import pytest
import torch

from seqlab.forecast.metrics import pinball
from seqlab.forecast.model import ForecastNet, NetConfig, rollout
from seqlab.forecast.task import fit_net, pinball_loss, training
from seqlab.forecast.windows import make_windows


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_shapes_for_every_cell_stacked(cell):
    net = ForecastNet(NetConfig(cell, input_size=3, hidden_size=8, num_layers=2, out_steps=5, n_quantiles=3))
    assert net(torch.randn(4, 10, 3)).shape == (4, 5, 3)


def test_rollout_feeds_the_median_back():
    net = ForecastNet(NetConfig("gru", 1, 6, 1, 0.0, out_steps=1, n_quantiles=3))
    x = torch.randn(2, 7, 1)
    out = rollout(net, x, 3, mid=1)
    with torch.no_grad():
        s1 = net(x)
        x2 = torch.cat([x[:, 1:], s1[:, :, 1:2]], 1)
        s2 = net(x2)
        x3 = torch.cat([x2[:, 1:], s2[:, :, 1:2]], 1)
        s3 = net(x3)
    torch.testing.assert_close(out, torch.cat([s1, s2, s3], 1))


def test_pinball_loss_matches_numpy():
    pred, target = torch.randn(5, 4, 3), torch.randn(5, 4)
    q = [0.1, 0.5, 0.9]
    got = float(pinball_loss(pred, target, torch.tensor(q)))
    assert got == pytest.approx(pinball(target.numpy(), pred.numpy(), q), rel=1e-5)


def test_training_learns_and_keeps_the_best_validation_weights():
    t = np.arange(200)
    y = np.sin(2 * np.pi * t / 16)
    X, Y = make_windows(y[:, None], y, 16, 4)
    net = ForecastNet(NetConfig("lstm", 1, 16, 1, 0.0, out_steps=4, n_quantiles=1))
    xv = torch.as_tensor(X[-20:], dtype=torch.float32)
    yv = torch.as_tensor(Y[-20:], dtype=torch.float32)
    with torch.no_grad():
        before = float(pinball_loss(net(xv), yv, torch.tensor([0.5])))
    hist = fit_net(net, X[:-20], Y[:-20], X[-20:], Y[-20:], [0.5], training(epochs=40, patience=100, verbose=0))
    with torch.no_grad():
        after = float(pinball_loss(net(xv), yv, torch.tensor([0.5])))
    assert after < before / 3
    assert after == pytest.approx(min(hist["val_loss"]), rel=1e-5)  # the best epoch's weights are restored
    assert hist.best_epoch == int(np.argmin(hist["val_loss"]))


def test_early_stopping_stops():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(40, 5, 1)), rng.normal(size=(40, 2))  # noise: validation soon stops improving
    net = ForecastNet(NetConfig("rnn", 1, 4, 1, 0.0, out_steps=2, n_quantiles=1))
    hist = fit_net(net, X[:30], Y[:30], X[30:], Y[30:], [0.5], training(epochs=500, lr=5e-2, patience=3, verbose=0))
    assert len(hist["loss"]) < 500 and len(hist["loss"]) == hist.best_epoch + 4
