"""Two CPU processes with torchrun's environment variables (gloo, 127.0.0.1) run the
``seqlab generate train`` workflow like one process at twice the streams; only rank 0 prints
and writes files."""

import os

import numpy as np
import torch

from seqlab.text import run as text_run
from seqlab.text.model import load_lm
from tests.ddp_helpers import run_two_processes

TEXT = "Whan that Aprille with his shoures soote the droghte of March hath perced to the roote.\n" * 6


def _train(text: str, batch_size: int, save: str):
    """The ``seqlab generate train`` workflow: the model and its history."""
    model, _, hist = text_run.train(text=text, hidden=8, layers=2, epochs=2, minutes=0, batch_size=batch_size,
                                    seq_len=16, sample_length=5, threads=1, device="cpu", seed=0, save=save,
                                    precision="float32", dropout=0.0)  # bfloat16 products round differently in two
    # processes, and each process draws its own dropout masks
    return model, hist


def _rank(out: str, text: str, rank: int) -> None:
    """One of the two processes: train at batch 2 and keep this process's weights and history."""
    model, hist = _train(text, 2, os.path.join(out, "ddp.safetensors"))
    weights = torch.cat([p.detach().flatten() for p in model.parameters()]).numpy()
    np.save(os.path.join(out, f"weights-{rank}.npy"), weights)  # the test's own record
    np.save(os.path.join(out, f"history-{rank}.npy"), np.array([hist["loss"], hist["val_loss"]]))


def test_two_processes_equal_one_process_with_twice_the_streams(tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text(TEXT, encoding="utf-8")
    one, hist = _train(str(text), 4, str(tmp_path / "one.safetensors"))
    capsys.readouterr()
    single = torch.cat([p.detach().flatten() for p in one.parameters()]).numpy()
    outs = run_two_processes(tmp_path, lambda rank: _rank(str(tmp_path), str(text), rank))
    assert "2 processes" in outs[0] and "epoch 2: train" in outs[0] and "saved" in outs[0] and outs[1] == ""
    assert sorted(f.name for f in tmp_path.glob("*.safetensors")) == ["ddp.safetensors", "one.safetensors"]
    w0, w1 = np.load(tmp_path / "weights-0.npy"), np.load(tmp_path / "weights-1.npy")
    np.testing.assert_array_equal(w0, w1)
    np.testing.assert_allclose(w0, single, rtol=1e-5, atol=1e-6)
    saved, _, _ = load_lm(tmp_path / "ddp.safetensors")
    np.testing.assert_array_equal(torch.cat([p.detach().flatten() for p in saved.parameters()]).numpy(), w0)
    h0, h1 = np.load(tmp_path / "history-0.npy"), np.load(tmp_path / "history-1.npy")
    np.testing.assert_array_equal(h0[1], h1[1])  # every process validates the same: early stopping agrees
    np.testing.assert_allclose(h0[0], hist["loss"], rtol=1e-5)  # the training loss over both processes
    np.testing.assert_allclose(h0[1], hist["val_loss"], rtol=1e-5)
