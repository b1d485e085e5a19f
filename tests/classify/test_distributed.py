"""Two CPU processes with torchrun's environment variables (gloo, 127.0.0.1), forked from this one,
run `seqlab classify train` unchanged: they train like one process with the same global batch,
only rank 0 prints and writes files, and validation gives the same values on every rank."""

import os

import numpy as np
import torch

from seqlab.classify import SequenceClassifier
from seqlab.cli import main
from tests.ddp_helpers import run_two_processes

ARGS = ["--epochs", "3", "--hidden", "6", "--dropout", "0", "--threads", "1", "--device", "cpu", "--quiet",
        "--lr", "1e-2", "--class-weight", "balanced"]


def _data(n, seed):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, 6, 2))
    X[:, :, 0] += (y - 1.0)[:, None]
    return X, y, rng.integers(2, 7, n)


def _library_fit(batch_size):
    """A fit with validation data: its history and weights."""
    X, y, lengths = _data(30, 1)  # global batches of 8: the last is 6, shares of 3 and 3
    Xv, yv, lv = _data(12, 2)
    clf = SequenceClassifier(hidden_size=5, epochs=2, batch_size=batch_size, lr=1e-2, seed=1, device="cpu",
                             threads=1, verbose=0, class_weight={0: 2.0}).fit(X, y, lengths, validation_data=(Xv, yv, lv))
    return clf.history.history, torch.cat([p.detach().flatten() for p in clf.net.parameters()]).numpy()


def _rank(folder, rank):
    """One of the two processes: the command at a share of 8, then the library fit at 4."""
    code = main(["classify", "train", "--data", os.path.join(folder, "d.npz"), "--save",
                 os.path.join(folder, "ddp.safetensors"), "--batch-size", "8", *ARGS])
    hist, w = _library_fit(batch_size=4)
    np.save(os.path.join(folder, f"val-{rank}.npy"), np.array([hist["val_loss"], hist["val_accuracy"]]))
    np.save(os.path.join(folder, f"w-{rank}.npy"), w)
    return code


def test_two_processes_train_like_one_with_the_global_batch(tmp_path, capsys):
    # 31 train (9 held out) at a global batch of 16: shares of 8 and 8, then 8 and 7; with class
    # weights the shares' normalisers differ too
    X, y, lengths = _data(40, 0)
    np.savez(tmp_path / "d.npz", X=X, y=y, lengths=lengths)
    one = tmp_path / "one" / "m.safetensors"
    one.parent.mkdir()
    assert main(["classify", "train", "--data", str(tmp_path / "d.npz"), "--save", str(one), "--batch-size", "16",
                 *ARGS]) == 0
    single_hist, single_w = _library_fit(batch_size=8)
    capsys.readouterr()

    out0, out1 = run_two_processes(tmp_path, lambda rank: _rank(str(tmp_path), rank))
    assert "held-out accuracy" in out0 and "saved:" in out0 and out1 == ""
    assert sorted(f.name for f in tmp_path.glob("*.safetensors")) == ["ddp.safetensors"]  # no checkpoint left

    want = SequenceClassifier.load(one).net.state_dict()
    got = SequenceClassifier.load(tmp_path / "ddp.safetensors").net.state_dict()
    # float32 sums in another order, which Adam's division by sqrt(v) enlarges where a gradient is
    # near 0: the default LSTM-FCN's ~60 k weights agree within 5e-5 (2 beyond 1e-5); batch
    # statistics per process instead of the global batch's differ by 8e-3
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=1e-4, atol=1e-4)

    # validation on the full validation data: the same on both ranks, and as on one process
    v0, v1 = np.load(tmp_path / "val-0.npy"), np.load(tmp_path / "val-1.npy")
    np.testing.assert_array_equal(v0, v1)
    np.testing.assert_allclose(v0, [single_hist["val_loss"], single_hist["val_accuracy"]], rtol=1e-5)
    np.testing.assert_array_equal(np.load(tmp_path / "w-0.npy"), np.load(tmp_path / "w-1.npy"))
    np.testing.assert_allclose(np.load(tmp_path / "w-0.npy"), single_w, rtol=1e-5, atol=1e-6)
