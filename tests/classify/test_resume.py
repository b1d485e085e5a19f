"""Checkpoint and resume: an interrupted run, resumed, ends with the weights of an uninterrupted one
(bit-identical on CPU with one thread), at an epoch boundary and mid-epoch."""

import numpy as np
import pytest
import torch

from seqlab.classify import SequenceClassifier
from seqlab.errors import SeqlabError
from seqlab.train import Callback
from tests.train_helpers import Interrupt

# 48 sequences at batch 16: 3 steps per epoch, 9 in all
KW = dict(cell="gru", hidden_size=6, bidirectional=True, pooling="mean", dropout=0.3, epochs=3, batch_size=16,
          lr=1e-2, seed=3, device="cpu", threads=1, verbose=0)


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    seqs = [rng.normal(size=(int(t), 2)) for t in rng.integers(2, 7, n)]
    y = [int(s[:, 0].sum() > 0) + int(s[:, 1].sum() > 1) for s in seqs]  # 3 classes
    return seqs, y


class Steps(Callback):
    def __init__(self):
        self.seen = []

    def on_train_batch_end(self, step, logs=None):
        self.seen.append(step)


@pytest.mark.parametrize("stop_at, checkpoint_steps, resumes_at", [
    (3, None, 3),  # first step of epoch 1: resumes from the end of epoch 0
    (5, 2, 4),  # last step of epoch 1: resumes after step 4, one batch into epoch 1
])
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, stop_at, checkpoint_steps, resumes_at):
    X, y = _data()
    Xv, yv = _data(12, seed=1)
    straight = SequenceClassifier(**KW).fit(X, y, validation_data=(Xv, yv))

    path = tmp_path / "run.ckpt.safetensors"
    with pytest.raises(KeyboardInterrupt):
        SequenceClassifier(**KW).fit(X, y, validation_data=(Xv, yv), checkpoint=path,
                                     checkpoint_steps=checkpoint_steps, callbacks=[Interrupt(stop_at)])
    assert path.is_file()
    steps = Steps()
    resumed = SequenceClassifier(**KW).fit(X, y, validation_data=(Xv, yv), checkpoint=path, resume=True,
                                           checkpoint_steps=checkpoint_steps, callbacks=[steps])
    assert steps.seen == list(range(resumes_at, 9))  # it went on from the checkpoint, not from the start
    want, got = straight.net.state_dict(), resumed.net.state_dict()
    assert list(want) == list(got)
    for k in want:
        assert torch.equal(want[k], got[k]), k
    assert resumed.history.history == straight.history.history  # losses and validation of every epoch


def test_resume_without_a_checkpoint_is_a_clear_error(tmp_path):
    X, y = _data(8)
    with pytest.raises(SeqlabError, match="no checkpoint at"):
        SequenceClassifier(**KW).fit(X, y, checkpoint=tmp_path / "none.ckpt.safetensors", resume=True)
    with pytest.raises(SeqlabError, match="resume: needs the checkpoint path"):
        SequenceClassifier(**KW).fit(X, y, resume=True)
