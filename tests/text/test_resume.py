"""Checkpoint and resume: an interrupted run continued from its checkpoint ends with weights
bit-identical to an uninterrupted one (seed, CPU, one thread), in the library and on the
command line (a process killed with SIGKILL)."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from seqlab.cli import main
from seqlab.text import run
from seqlab.text.model import LMConfig, RecurrentLM, load_lm, save_lm
from seqlab.text.train import default_config, train_lm
from seqlab.train.checkpoint import checkpoint_path
from seqlab.vocab import Vocabulary
from tests.train_helpers import Interrupt

TEXT = "It was the best of times, it was the worst of times; it was the age of wisdom.\n" * 8


def _setup(seed):
    vocab = Vocabulary.build(TEXT)
    ids = torch.tensor(vocab.encode(TEXT))
    torch.manual_seed(seed)
    # two LSTM layers with dropout: a tuple state is carried, and dropout draws from torch's RNG
    return RecurrentLM(LMConfig(len(vocab), "lstm", hidden_size=8, num_layers=2, dropout=0.1)), ids


def _train(model, ids, ck, callbacks=(), resume=False, **kw):
    cfg = default_config(epochs=3, lr=1e-2, seed=5, device="cpu", threads=1, verbose=0, checkpoint=str(ck),
                         resume=resume, **kw)
    return train_lm(model, ids[:-80], ids[-80:], cfg, batch_size=3, seq_len=30, callbacks=callbacks)


@pytest.mark.parametrize("where", ["epoch_end", "mid_epoch"])
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, where):
    # 200 tokens per stream: 7 chunks of 30 per epoch, 21 steps in all
    kw = dict(checkpoint_minutes=None, checkpoint_steps=3) if where == "mid_epoch" else dict(checkpoint_minutes=None)
    at = 11 if where == "mid_epoch" else 8  # last checkpoint: after step 9 (epoch 2, chunk 3) / epoch 1's end
    ref, ids = _setup(0)
    h_ref = _train(ref, ids, tmp_path / "ref.ckpt.safetensors", **kw)
    ck = tmp_path / "run.ckpt.safetensors"
    first, _ = _setup(0)
    with pytest.raises(KeyboardInterrupt):
        _train(first, ids, ck, [Interrupt(at)], **kw)
    assert ck.exists()
    resumed, _ = _setup(1)  # other initial weights: the checkpoint's must win
    h = _train(resumed, ids, ck, resume=True, **kw)
    for (name, a), b in zip(ref.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    assert h["loss"] == h_ref["loss"] and h["val_loss"] == h_ref["val_loss"] and h["tokens"] == h_ref["tokens"]


def test_resume_refuses_another_stream_layout(tmp_path):
    model, ids = _setup(0)
    ck = tmp_path / "run.ckpt.safetensors"
    with pytest.raises(KeyboardInterrupt):
        _train(model, ids, ck, [Interrupt(8)], checkpoint_minutes=None)
    cfg = default_config(epochs=3, device="cpu", threads=1, verbose=0, checkpoint=str(ck), resume=True)
    with pytest.raises(ValueError, match="made with 3 streams .* of chunks of 30, this run has 2 of 30"):
        train_lm(model, ids[:-80], ids[-80:], cfg, batch_size=2, seq_len=30)


def _cli(text, save, *extra):
    return [sys.executable, "-m", "seqlab", "generate", "train", "--data", str(text), "--hidden", "24", "--layers",
            "1", "--epochs", "8", "--minutes", "0", "--batch-size", "4", "--seq-len", "32", "--sample-length", "0",
            "--threads", "1", "--device", "cpu", "--seed", "3", "--save", str(save), *extra]


def test_command_killed_then_resumed_equals_uninterrupted(tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text(TEXT * 6, encoding="utf-8")  # ~3,800 chars: 30 chunks per epoch
    save = tmp_path / "m.safetensors"
    ck = checkpoint_path(save)
    vocab = Vocabulary.build(TEXT)
    save_lm(save, RecurrentLM(LMConfig(len(vocab), "rnn", hidden_size=4, num_layers=1)), vocab)  # an earlier model
    earlier = save.read_bytes()
    env = dict(os.environ, SEQLAB_NO_PROGRESS="1", OMP_NUM_THREADS="1")
    proc = subprocess.Popen(_cli(text, save), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 120
        while not ck.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)  # the first epoch's checkpoint exists: kill during epoch 2
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode()
    assert ck.exists() and save.read_bytes() == earlier  # the earlier model file is untouched ...
    load_lm(save)  # ... and loadable
    assert main(_cli(text, save, "--resume")[3:]) == 0  # resumed in this process: one start-up less
    out = capsys.readouterr().out
    assert "resuming from" in out and "epoch 8:" in out and "epoch 1:" not in out
    assert not ck.exists()  # removed once the model file was written
    # the uninterrupted run, in this process (the same seed, one thread)
    ref, _, _ = run.train(text=text, hidden=24, layers=1, epochs=8, minutes=0, batch_size=4, seq_len=32,
                          sample_length=0, threads=1, device="cpu", seed=3, save=None, quiet=True)
    got, _, _ = load_lm(save)
    for (name, a), b in zip(ref.state_dict().items(), got.state_dict().values()):
        assert torch.equal(a, b), name
