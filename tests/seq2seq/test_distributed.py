"""Two CPU processes with torchrun's environment variables (gloo, 127.0.0.1) run the
``seqlab translate train`` workflow like one process at twice the batch; only rank 0 prints
and writes files, and every process validates the same."""

import multiprocessing
import os
import socket
import sys

import numpy as np
import torch

from seqlab.seq2seq import Translator

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import seq2seq_ddp_worker as worker  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    one = worker.train(data, 8, str(tmp_path / "one.safetensors"))  # first: the children inherit its imports
    capsys.readouterr()
    port = _free_port()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=worker.child, args=(str(tmp_path), data, rank, port)) for rank in range(2)]
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
    assert outs[0].count("validation exact match") == 3 and "epoch 2: loss" in outs[0] and outs[1] == ""
    assert sorted(f.name for f in tmp_path.glob("*.safetensors")) == ["ddp.safetensors", "one.safetensors"]
    w0, w1 = np.load(tmp_path / "weights-0.npy"), np.load(tmp_path / "weights-1.npy")
    np.testing.assert_array_equal(w0, w1)
    np.testing.assert_allclose(w0, worker.flat(one.translator.model), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(worker.flat(Translator.load(tmp_path / "ddp.safetensors").model), w0)
    h0, h1 = np.load(tmp_path / "history-0.npy"), np.load(tmp_path / "history-1.npy")
    np.testing.assert_array_equal(h0[1], h1[1])  # every process validates the same: early stopping agrees
    np.testing.assert_allclose(h0[0], one.history["loss"], rtol=1e-5)  # the training loss over both processes
    np.testing.assert_array_equal(h0[1], one.history["val_accuracy"])
