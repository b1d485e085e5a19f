"""Checkpoint and resume: an interrupted then resumed run ends with the weights of an
uninterrupted one, bit for bit (CPU, one thread), in the library and on the command line."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from seqlab.cli import main
from seqlab.seq2seq import Translator, default_config, fit
from seqlab.seq2seq import dates
from seqlab.seq2seq.train import date_vocabs
from seqlab.train.checkpoint import checkpoint_path
from tests.train_helpers import Interrupt


SPLIT = dates.split_dates()
VAL = dates.make_pairs(SPLIT.val, 12, seed=1)


def epoch_data(epoch):
    return dates.make_pairs(SPLIT.train, 40, seed=epoch)  # fresh pairs each epoch: 5 batches of 8


def translator():
    torch.manual_seed(0)
    # dropout and teacher forcing < 1 draw from torch's generator inside the model at every step
    return Translator.create(*date_vocabs(), embed_size=6, hidden_size=10, dropout=0.2, max_target_len=12)


def run(path, callbacks=(), resume=False, checkpoint_steps=None):
    tr = translator()
    cfg = default_config(epochs=3, minutes=None, seed=5, verbose=0, threads=1, device="cpu", checkpoint=str(path),
                         resume=resume, checkpoint_steps=checkpoint_steps)
    hist = fit(tr, epoch_data, VAL, cfg, batch_size=8, teacher_forcing=0.5, target_accuracy=None, callbacks=callbacks)
    return tr, hist


@pytest.mark.parametrize("at,checkpoint_steps", [(5, None), (7, 3)], ids=["epoch-boundary", "mid-epoch"])
def test_interrupted_then_resumed_equals_uninterrupted(tmp_path, at, checkpoint_steps):
    whole, hist = run(tmp_path / "whole.ckpt.safetensors")
    path = tmp_path / "cut.ckpt.safetensors"
    with pytest.raises(KeyboardInterrupt):
        run(path, [Interrupt(at)], checkpoint_steps=checkpoint_steps)
    assert path.exists()
    resumed, hist2 = run(path, resume=True, checkpoint_steps=checkpoint_steps)
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
    assert hist2.history == hist.history and hist2.params["steps_done"] == hist.params["steps_done"] == 15
    assert hist["lr"][-1] < hist["lr"][0]  # the plateau cut ran (and was restored)
    assert not torch.equal(translator().model.decoder.out.weight, resumed.model.decoder.out.weight)  # it trained


def pairs_file(path):
    g = torch.Generator().manual_seed(0)
    words = ["".join("abcdef"[int(i)] for i in torch.randint(0, 6, (6,), generator=g)) for _ in range(80)]
    path.write_text("".join(f"{w}\t{w[::-1]}\n" for w in words), encoding="utf-8")
    return path


def argv(data, save, *extra):
    return ["translate", "train", "--data", str(data), "--save", str(save), "--epochs", "5", "--batch-size", "8",
            "--hidden", "8", "--embed", "4", "--threads", "1", "--device", "cpu", "--minutes", "0", "--quiet", *extra]


def weights(path):
    return Translator.load(path).model.state_dict()


def test_command_killed_then_resumed_equals_uninterrupted(tmp_path, capsys):
    data = pairs_file(tmp_path / "rev.tsv")
    save = tmp_path / "m.safetensors"
    translator().save(save)  # an earlier model at the path: it must survive the kill
    before = save.read_bytes()
    ckpt = checkpoint_path(save)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "seqlab", *argv(data, save)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, err.decode())
    assert ckpt.exists() and save.read_bytes() == before
    Translator.load(save)  # still loadable

    assert main(argv(data, save, "--resume")) == 0
    assert not ckpt.exists()  # removed once the model file is written
    whole = tmp_path / "whole.safetensors"
    assert main(argv(data, whole)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"saved {save}: ") and out[1].startswith(f"saved {whole}: ")
    assert out[0].split(":")[1].split(" in ")[0] == out[1].split(":")[1].split(" in ")[0]  # same step count
    a, b = weights(save), weights(whole)
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
    assert not torch.equal(a["decoder.out.weight"], translator().model.state_dict()["decoder.out.weight"])
