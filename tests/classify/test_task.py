"""ClassifierTask: the batch loss is the class-weighted mean of NumPy's negative log-likelihoods, and
the shares of N processes average to the loss of the global batch (what DDP's averaged gradient
needs), even for shares of different sizes and weights."""

import numpy as np
import pytest
import torch

from seqlab.classify import ClassifierConfig, ClassifierNet, ClassifierTask
from seqlab.train.distributed import DistContext

W = np.array([0.5, 2.0, 1.25])  # class weights


def _task(n=11, batch_size=11):
    g = torch.Generator().manual_seed(0)
    net = ClassifierNet(ClassifierConfig(num_classes=3, input_size=2, hidden_size=4, bidirectional=True,
                                         pooling="mean")).double()
    x = torch.randn(n, 6, 2, generator=g, dtype=torch.float64)  # (N, T, F)
    lengths = torch.randint(1, 7, (n,), generator=g)
    target = torch.arange(n) % 3
    return ClassifierTask(net, x, lengths, target, batch_size, torch.tensor(W)), net


def _reference(net, task, idx):
    """sum_i w_i nll_i / sum_i w_i in NumPy, from the logits of each sequence alone (unpadded)."""
    with torch.no_grad():
        logits = np.stack([net(task.x[i:i + 1, :int(task.lengths[i])], task.lengths[i:i + 1])[0].numpy() for i in idx])
    m = logits.max(1, keepdims=True)  # (b, 1)
    logp = logits - m - np.log(np.exp(logits - m).sum(1, keepdims=True))  # (b, C)
    y = task.target[idx].numpy()
    w = W[y]
    return float((w * -logp[np.arange(len(y)), y]).sum() / w.sum()), float(w.sum())


def test_batch_loss_is_the_weighted_mean_nll():
    task, net = _task()
    task.on_train_begin()
    gen = torch.Generator().manual_seed(3)
    order = torch.randperm(11, generator=torch.Generator().manual_seed(3))
    (batch,) = list(task.batches(0, gen))
    assert batch[0].shape == (11, int(task.lengths.max()), 2)
    loss, weight = task.training_step(net, batch)
    want, wsum = _reference(net, task, order.tolist())
    assert loss.item() == pytest.approx(want, rel=1e-12)
    assert weight == pytest.approx(wsum, rel=1e-12)


def test_process_shares_average_to_the_global_batch_loss():
    task, net = _task(n=11, batch_size=3)  # global batches of 6: shares (3, 3), then (3, 2)
    task.on_train_begin()
    losses = {}
    for rank in range(2):
        task.ctx = DistContext(rank, 2)
        assert task.num_batches() == 2
        losses[rank] = [task.training_step(net, b) for b in task.batches(0, torch.Generator().manual_seed(4))]
    order = torch.randperm(11, generator=torch.Generator().manual_seed(4)).tolist()
    for k, chunk in enumerate([order[:6], order[6:]]):
        want, wsum = _reference(net, task, chunk)
        mean = (losses[0][k][0] + losses[1][k][0]).item() / 2  # what DDP's gradient averaging sees
        assert mean == pytest.approx(want, rel=1e-12)
        assert losses[0][k][1] + losses[1][k][1] == pytest.approx(wsum, rel=1e-12)  # the epoch loss's weights
