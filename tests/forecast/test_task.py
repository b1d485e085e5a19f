"""The forecasting task on the one loop against a plain PyTorch loop, and its multi-process loss."""

import numpy as np
import pytest
import torch

from seqlab.forecast.model import ForecastNet, NetConfig
from seqlab.forecast.task import ForecastTask, fit_net, pinball_loss, training
from seqlab.train import epoch_generator
from seqlab.train.distributed import DistContext

Q = [0.1, 0.5, 0.9]


def windows(seed=0, n=45, val=8):
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(n + val, 6, 2)), rng.normal(size=(n + val, 3))
    return X[:n], Y[:n], X[n:], Y[n:]


def plain_loop(net, X, Y, Xv, Yv, epochs, lr, batch_size, patience, seed):
    """The forecaster's loop before the engine: Adam, pinball loss, clipping at 1, early stopping
    on the validation loss with the best weights, each epoch's order the next permutation of one
    generator seeded with ``seed``."""
    x, y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(Y, dtype=torch.float32)
    xv, yv = torch.as_tensor(Xv, dtype=torch.float32), torch.as_tensor(Yv, dtype=torch.float32)
    q = torch.tensor(Q)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    best, best_state, bad, vals = float("inf"), None, 0, []
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), batch_size):
            idx = perm[i:i + batch_size]
            loss = pinball_loss(net(x[idx]), y[idx], q)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
        net.eval()
        with torch.no_grad():
            v = float(pinball_loss(net(xv), yv, q))
        vals.append(v)
        if v < best - 1e-6:
            best, bad = v, 0
            best_state = {k: t.clone() for k, t in net.state_dict().items()}
        else:
            bad += 1
            if bad >= patience:
                break
    net.load_state_dict(best_state)
    return vals


def test_the_task_on_the_engine_equals_the_plain_loop_bit_for_bit():
    X, Y, Xv, Yv = windows()
    cfg = NetConfig("lstm", 2, 5, 1, 0.0, out_steps=3, n_quantiles=3)
    torch.manual_seed(3)
    a = ForecastNet(cfg)
    b = ForecastNet(cfg)
    b.load_state_dict(a.state_dict())
    # noise targets: validation stops improving, so early stopping and the best weights both act
    hist = fit_net(a, X, Y, Xv, Yv, Q, training(epochs=40, lr=3e-2, patience=3, seed=7, verbose=0), batch_size=16)
    vals = plain_loop(b, X, Y, Xv, Yv, 40, 3e-2, 16, 3, seed=7)
    assert len(vals) < 40 and hist["val_loss"] == vals
    assert hist.best_epoch == int(np.argmin(vals))
    for (name, p), r in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, r), name


@pytest.mark.parametrize("n", [5, 8])
def test_two_process_shares_average_to_the_global_batch_mean(n):
    # shares of 3 and 2 windows (uneven) or 4 and 4: DDP averages the two losses' gradients
    X, Y, Xv, Yv = windows(n=n)
    torch.manual_seed(0)
    net = ForecastNet(NetConfig("gru", 2, 4, 1, 0.0, out_steps=3, n_quantiles=3))
    grads = []
    for rank in range(2):
        task = ForecastTask(net, X, Y, Xv, Yv, Q, batch_size=4)
        task.ctx = DistContext(rank, 2)
        (batch,) = list(task.batches(0, epoch_generator(0, 0)))
        loss, weight = task.training_step(net, batch)
        assert weight == n / 2
        net.zero_grad()
        loss.backward()
        grads.append([p.grad.clone() for p in net.parameters()])
    net.zero_grad()
    pinball_loss(net(torch.as_tensor(X, dtype=torch.float32)), torch.as_tensor(Y, dtype=torch.float32),
                 torch.tensor(Q)).backward()
    for g0, g1, p in zip(*grads, net.parameters()):
        torch.testing.assert_close((g0 + g1) / 2, p.grad, rtol=1e-5, atol=1e-7)
