"""Non-finite values never poison a model (issue #18): the one loop stops when an epoch's loss
or the weights turn NaN or infinite and restores the last finite weights, saying so;
TerminateOnNaN keeps the weights of the last good step; Sequential.fit refuses NaN/inf data."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from seqlab.errors import SeqlabError
from seqlab.train import Callback, Task, TrainConfig, shard, train
from seqlab.train.callbacks import TerminateOnNaN


class Regression(Task):
    """y = x w on 64 samples in batches of 8; the loss of the calls listed in ``bad`` is NaN."""

    def __init__(self, bad=(), bad_epoch=None):
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(64, 3, generator=g)
        self.y = self.x @ torch.tensor([[1.0], [-2.0], [0.5]])
        self.model = nn.Linear(3, 1)
        self.bad, self.bad_epoch, self.calls, self.epoch = set(bad), bad_epoch, 0, 0

    def configure_optimizer(self, config):
        return torch.optim.SGD(self.model.parameters(), lr=config.lr, momentum=0.9)

    def num_batches(self):
        return 8

    def on_epoch_begin(self, epoch):
        self.epoch = epoch

    def batches(self, epoch, generator):
        for idx in shard(64, 8, True, generator, self.ctx):
            yield self.x[idx], self.y[idx]

    def training_step(self, net, batch):
        x, y = batch
        loss = nn.functional.mse_loss(net(x), y)
        poisoned = self.calls in self.bad or self.epoch == self.bad_epoch
        self.calls += 1
        return loss * float("nan") if poisoned else loss


class Weights(Callback):
    """The weights at every epoch end (the independent record of what 'the last finite' is)."""

    def __init__(self):
        self.at_end = []

    def on_epoch_end(self, epoch, logs=None):
        self.at_end.append({k: v.detach().clone() for k, v in self.model.state_dict().items()})


def _config(**kw):
    return TrainConfig(**{**dict(epochs=5, lr=0.05, seed=0, device="cpu", threads=None, verbose=0,
                                 checkpoint_minutes=None), **kw})


def _equal(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_a_nan_epoch_stops_training_and_restores_the_last_finite_weights(capsys):
    task, rec = Regression(bad_epoch=2), Weights()
    h = train(task, _config(), [rec])
    assert len(h.epoch) == 3 and math.isnan(h.history["loss"][2]) and all(np.isfinite(h.history["loss"][:2]))
    assert "the training loss became nan in epoch 3" in h.stopped and "the weights of epoch 2" in h.stopped
    assert _equal(task.model.state_dict(), rec.at_end[1])
    assert all(torch.isfinite(p).all() for p in task.model.parameters())
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "restored the weights of epoch 2" in err


def test_a_nan_first_epoch_restores_the_initial_weights():
    task = Regression(bad_epoch=0)
    torch.manual_seed(0)
    initial = {k: v.clone() for k, v in task.model.state_dict().items()}
    h = train(task, _config())
    assert "restored the initial weights" in h.stopped and _equal(task.model.state_dict(), initial)


def test_weights_that_turn_infinite_under_a_finite_loss_are_restored_too():
    class Spoil(Callback):
        def on_train_batch_end(self, step, logs=None):
            if step == 8 * 3 - 1:  # the last step of epoch 3: its losses were all finite
                with torch.no_grad():
                    self.model.weight[0, 0] = float("inf")

    task, rec = Regression(), Weights()
    h = train(task, _config(), [rec, Spoil()])
    assert "the weights became NaN or infinite in epoch 3" in h.stopped
    assert _equal(task.model.state_dict(), rec.at_end[1])


def test_terminate_on_nan_keeps_the_weights_of_the_last_good_step(capsys):
    """The run that meets a NaN loss at step 13 ends with the weights of a run stopped after 13
    steps (steps 0-12), bit for bit."""
    torch.manual_seed(0)  # the same initial weights for both runs
    bad = Regression(bad=[13])
    h = train(bad, _config(), [TerminateOnNaN()])
    torch.manual_seed(0)
    good = Regression()
    train(good, _config(max_steps=13))
    assert _equal(bad.model.state_dict(), good.model.state_dict())
    assert "the loss was not finite at step 13" in h.stopped and math.isnan(h.history["loss"][-1])
    assert "invalid loss nan" in capsys.readouterr().out


def test_restore_finite_false_trains_on_through_nan():
    task = Regression(bad_epoch=1)
    h = train(task, _config(epochs=3, restore_finite=False))
    assert h.stopped == "" and len(h.epoch) == 3
    assert not all(torch.isfinite(p).all() for p in task.model.parameters())


@pytest.mark.parametrize("where,value,msg", [("x", np.nan, "x: a NaN value at sample 5, step 2, feature 1"),
                                             ("x", np.inf, "x: an infinite value at sample 5, step 2, feature 1"),
                                             ("y", np.nan, "y: a NaN value at sample 5"),
                                             ("val", -np.inf, "validation_data: an infinite value at sample 5")])
def test_sequential_fit_refuses_non_finite_data_naming_the_first_position(where, value, msg):
    from seqlab import Sequential
    from seqlab.layers import GRU, Dense

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 4, 2)).astype("float32"), rng.standard_normal((16, 1)).astype("float32")
    xv = x.copy()
    if where == "x":
        x[5, 2, 1] = value
        x[9, 0, 0] = value
    elif where == "y":
        y[5, 0] = value
    else:
        xv[5, 2, 1] = value
    m = Sequential([GRU(3), Dense(1)])
    m.compile(loss="mse", optimizer="adam")
    with pytest.raises(SeqlabError, match=msg.replace("(", r"\(")):
        m.fit(x, y, epochs=1, verbose=0, validation_data=(xv, y))


def test_sequential_fit_that_diverges_ends_with_finite_weights_and_says_why(capsys):
    from seqlab import Sequential
    from seqlab.layers import Dense, SimpleRNN

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 5, 2)).astype("float32"), 1e3 * rng.standard_normal((64, 1)).astype("float32")
    m = Sequential([SimpleRNN(8, activation="relu"), Dense(1)])
    m.compile(loss="mse", optimizer="sgd", lr=1.0)  # diverges within a few steps
    h = m.fit(x, y, epochs=5, verbose=0, seed=0)
    assert "stopped and restored" in h.stopped
    assert all(torch.isfinite(p).all() for p in m.parameters())
    assert "seqlab: the training loss became" in capsys.readouterr().err
