"""Two CPU processes with torchrun's environment variables (gloo, 127.0.0.1) run the
``seqlab generate train`` workflow like one process at twice the streams; only rank 0 prints
and writes files."""

import multiprocessing
import os
import socket
import sys

import numpy as np
import torch

from seqlab.text.model import load_lm

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import text_ddp_worker  # noqa: E402

TEXT = "Whan that Aprille with his shoures soote the droghte of March hath perced to the roote.\n" * 6


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one_process_with_twice_the_streams(tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text(TEXT, encoding="utf-8")
    one, hist = text_ddp_worker.train(str(tmp_path), str(text), 4, str(tmp_path / "one.safetensors"))
    capsys.readouterr()
    single = torch.cat([p.detach().flatten() for p in one.parameters()]).numpy()
    port = _free_port()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=text_ddp_worker.child, args=(str(tmp_path), str(text), rank, port)) for rank in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    codes = [p.exitcode for p in procs]
    for p in procs:
        if p.is_alive():
            p.kill()
    assert codes == [0, 0]
    outs = [(tmp_path / f"stdout-{r}.txt").read_text() for r in range(2)]
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
