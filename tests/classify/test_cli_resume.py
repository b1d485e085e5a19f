"""`seqlab classify train --resume`: a run killed with SIGKILL once its checkpoint exists, then
resumed, saves the weights of an uninterrupted run; the earlier model file survives the kill."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import torch

from seqlab.classify import SequenceClassifier
from seqlab.cli import main
from seqlab.train.checkpoint import checkpoint_path

# 40 sequences, 32 kept for training at batch 32: one step per epoch, so an epoch (and its
# checkpoint) takes milliseconds and the kill lands long before the 100th epoch
# (the default LSTM-FCN with a narrow convolutional branch: its batch norm's running statistics
# must resume too)
TINY = ["--epochs", "100", "--hidden", "4", "--fcn", "4", "--batch-size", "32", "--dropout", "0.2", "--threads", "1",
        "--device", "cpu", "--quiet", "--seed", "5"]


def _npz(path):
    rng = np.random.default_rng(0)
    y = np.arange(40) % 2
    X = rng.normal(size=(40, 5, 2))
    X[:, :, 0] += np.where(y == 1, 1.0, -1.0)[:, None]
    np.savez(path, X=X, y=y, lengths=rng.integers(2, 6, 40))
    return path


def _weights(path):
    return SequenceClassifier.load(path).net.state_dict()


def test_killed_run_resumes_to_the_uninterrupted_weights(tmp_path, capsys):
    data = str(_npz(tmp_path / "d.npz"))
    model = tmp_path / "m.safetensors"
    assert main(["classify", "train", "--data", data, "--save", str(model), "--epochs", "1", "--hidden", "4",
                 "--quiet"]) == 0  # an earlier model at the same path
    earlier = model.read_bytes()
    ckpt = checkpoint_path(model)
    assert not ckpt.exists()  # removed once the model file was written

    env = dict(os.environ, SEQLAB_NO_PROGRESS="1")
    with open(tmp_path / "stderr.txt", "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "seqlab", "classify", "train", "--data", data, "--save",
                                 str(model), *TINY], stdout=subprocess.DEVNULL, stderr=err, env=env)
    try:
        # the uninterrupted run, while the child imports torch
        straight = tmp_path / "straight.safetensors"
        assert main(["classify", "train", "--data", data, "--save", str(straight), *TINY]) == 0
        deadline = time.monotonic() + 120
        while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "stderr.txt").read_text()  # killed, not finished
    assert ckpt.exists()
    assert model.read_bytes() == earlier  # the earlier model is untouched and still loads
    SequenceClassifier.load(model)

    capsys.readouterr()
    assert main(["classify", "train", "--data", data, "--save", str(model), *TINY, "--resume"]) == 0
    assert "held-out accuracy" in capsys.readouterr().out
    assert not ckpt.exists()
    want, got = _weights(straight), _weights(model)
    for k in want:
        assert torch.equal(want[k], got[k]), k
