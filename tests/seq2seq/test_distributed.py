"""Two CPU processes with torchrun's environment variables (gloo, 127.0.0.1) run the
``seqlab translate train`` workflow like one process at twice the batch; only rank 0 prints
and writes files, and every process validates the same."""

import os

import numpy as np
import torch

from seqlab.seq2seq import Translator
from seqlab.seq2seq import run as s2s_run
from tests.ddp_helpers import run_two_processes


def _train(data: str, batch_size: int, save: str):
    """The ``seqlab translate train`` workflow."""
    return s2s_run.train(data=data, save=save, hidden=8, embed=4, epochs=2, minutes=0, batch_size=batch_size,
                         lr=0.01, threads=1, device="cpu", seed=0)


def _flat(model) -> np.ndarray:
    return torch.cat([p.detach().flatten() for p in model.parameters()]).numpy()


def _rank(out: str, data: str, rank: int) -> None:
    """One of the two processes: train at batch 4 and keep this process's weights and history."""
    done = _train(data, 4, os.path.join(out, "ddp.safetensors"))
    np.save(os.path.join(out, f"weights-{rank}.npy"), _flat(done.translator.model))  # the test's own record
    h = done.history
    np.save(os.path.join(out, f"history-{rank}.npy"), np.array([h["loss"], h["val_accuracy"]]))


def pairs_file(path):
    """84 pairs of 2 to 6 letters: 4 held out, 80 to train on (10 global batches of 8). Sources and
    targets differ in length from process to process, so the loss must weigh tokens globally."""
    g = torch.Generator().manual_seed(1)
    sizes = torch.randint(2, 7, (84,), generator=g)
    words = ["".join("abcde"[int(i)] for i in torch.randint(0, 5, (int(n),), generator=g)) for n in sizes]
    path.write_text("".join(f"{w}\t{w[::-1]}\n" for w in words), encoding="utf-8")
    return str(path)


def test_two_processes_equal_one_process_with_twice_the_batch(tmp_path, capsys):
    data = pairs_file(tmp_path / "rev.tsv")
    one = _train(data, 8, str(tmp_path / "one.safetensors"))  # first: the children inherit its imports
    capsys.readouterr()
    outs = run_two_processes(tmp_path, lambda rank: _rank(str(tmp_path), data, rank))
    assert outs[0].count("validation exact match") == 3 and "epoch 2: loss" in outs[0] and outs[1] == ""
    assert sorted(f.name for f in tmp_path.glob("*.safetensors")) == ["ddp.safetensors", "one.safetensors"]
    w0, w1 = np.load(tmp_path / "weights-0.npy"), np.load(tmp_path / "weights-1.npy")
    np.testing.assert_array_equal(w0, w1)
    np.testing.assert_allclose(w0, _flat(one.translator.model), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(_flat(Translator.load(tmp_path / "ddp.safetensors").model), w0)
    h0, h1 = np.load(tmp_path / "history-0.npy"), np.load(tmp_path / "history-1.npy")
    np.testing.assert_array_equal(h0[1], h1[1])  # every process validates the same: early stopping agrees
    np.testing.assert_allclose(h0[0], one.history["loss"], rtol=1e-5)  # the training loss over both processes
    np.testing.assert_array_equal(h0[1], one.history["val_accuracy"])
