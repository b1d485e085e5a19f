"""Checkpoint and resume: an interrupted training, backtest or command, resumed, ends with the
weights of an uninterrupted one (bit-identical on CPU with one thread)."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from seqlab.cli import main
from seqlab.errors import SeqlabError
from seqlab.forecast import Forecaster, backtest
from seqlab.forecast.model import ForecastNet, NetConfig
from seqlab.forecast.task import ForecastTask, fit_net, training
from seqlab.train import checkpoint as ckpt
from tests.train_helpers import Interrupt

Q = [0.1, 0.5, 0.9]


def same_weights(a, b):
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), name


@pytest.mark.parametrize("checkpoint_steps,saved_at", [(None, (2, 0)), (5, (2, 2))])
def test_interrupted_network_resumes_bit_identical(tmp_path, checkpoint_steps, saved_at):
    # 60 windows at batch 16: 4 steps per epoch; stopping after step 10 (epoch 2) resumes from the
    # end of epoch 1, or with a checkpoint every 5 steps from step 10, mid-epoch 2
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(68, 6, 1)), rng.normal(size=(68, 3))
    data = (X[:60], Y[:60], X[60:], Y[60:], Q)
    cfg = training(epochs=4, patience=50, seed=1, verbose=0, checkpoint_epochs=1, checkpoint_steps=checkpoint_steps)
    net_cfg = NetConfig("lstm", 1, 5, 1, 0.0, out_steps=3, n_quantiles=3)
    torch.manual_seed(0)
    ref = ForecastNet(net_cfg)
    start = {k: t.clone() for k, t in ref.state_dict().items()}
    ref_hist = fit_net(ref, *data, cfg, batch_size=16)
    path = tmp_path / "n.ckpt.safetensors"
    net = ForecastNet(net_cfg)
    net.load_state_dict(start)
    with pytest.raises(KeyboardInterrupt):
        fit_net(net, *data, replace(cfg, checkpoint=str(path)), batch_size=16, callbacks=[Interrupt(10)])
    counters = ckpt.load(path)[0]["counters"]
    assert (counters["epoch"], counters["batch"]) == saved_at
    resumed = ForecastNet(net_cfg)  # other initial weights: the checkpoint's replace them
    hist = fit_net(resumed, *data, replace(cfg, checkpoint=str(path), resume=True), batch_size=16)
    same_weights(ref, resumed)
    assert hist["loss"] == ref_hist["loss"] and hist["val_loss"] == ref_hist["val_loss"]


def seasonal(n=64):
    t = np.arange(n)
    return 50 + 0.5 * t + 8 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 1, n)


TINY = dict(horizon=4, lookback=8, hidden=5, season=12, model="hybrid", ensemble=2, epochs=6, patience=50, seed=2, verbose=0)


def counting_steps(monkeypatch, stop_after=None):
    """Patch the task's step to record which network trains, and to raise KeyboardInterrupt at
    call ``stop_after``."""
    trained = []
    step = ForecastTask.training_step

    def counted(self, net, batch):
        trained.append(self.key)
        if len(trained) == stop_after:
            raise KeyboardInterrupt
        return step(self, net, batch)

    monkeypatch.setattr(ForecastTask, "training_step", counted)
    return trained


def test_interrupted_backtest_resumes_with_the_finished_networks(tmp_path, monkeypatch):
    # two origins x two members, one checkpoint file; stopped in the third network's fourth epoch
    y = seasonal()
    probe = Forecaster(**TINY)
    path = str(tmp_path / "run.ckpt.safetensors")
    train = replace(probe.train_config, checkpoint_epochs=1)
    ref = backtest(y, probe.config, folds=2, include_stats=False, train=train)
    trained = counting_steps(monkeypatch)
    backtest(y, probe.config, folds=2, include_stats=False, train=replace(train, checkpoint=path))
    per_net = trained.count("fit1/member0") // 6  # steps per epoch of the second origin's networks
    monkeypatch.undo()
    counting_steps(monkeypatch, stop_after=trained.index("fit1/member0") + 3 * per_net + 2)
    with pytest.raises(KeyboardInterrupt):
        backtest(y, probe.config, folds=2, include_stats=False, train=replace(train, checkpoint=path))
    monkeypatch.undo()
    meta, _ = ckpt.load(path)
    assert meta["task"]["key"] == "fit1/member0" and meta["counters"]["epoch"] == 3
    trained = counting_steps(monkeypatch)
    got = backtest(y, probe.config, folds=2, include_stats=False, train=replace(train, checkpoint=path, resume=True))
    assert sorted(set(trained)) == ["fit1/member0", "fit1/member1"]  # fit 0 was loaded, not trained
    assert trained.count("fit1/member0") == 3 * per_net  # epochs 4-6 of the interrupted network
    for a, b in zip(ref.forecasts, got.forecasts):
        np.testing.assert_array_equal(a["model"], b["model"])
    for a, b in zip(ref.forecaster.nets, got.forecaster.nets):
        same_weights(a, b)
    assert [h["val_loss"] for h in got.forecaster.history] == [h["val_loss"] for h in ref.forecaster.history]


def test_resume_refuses_other_settings_and_a_missing_checkpoint(tmp_path):
    y = seasonal()
    path = str(tmp_path / "f.ckpt.safetensors")
    Forecaster(**TINY, checkpoint=path).fit(y)
    with pytest.raises(SeqlabError, match="other data or settings"):
        Forecaster(**{**TINY, "epochs": 7}, checkpoint=path, resume=True).fit(y)
    with pytest.raises(SeqlabError, match="other data or settings"):
        Forecaster(**TINY, checkpoint=path, resume=True).fit(y[:-1])
    with pytest.raises(SeqlabError, match="no checkpoint at"):
        Forecaster(**TINY, checkpoint=str(tmp_path / "none.ckpt.safetensors"), resume=True).fit(y)


def _cli(save, *extra):
    return [sys.executable, "-m", "seqlab", "forecast", "--hidden", "4", "--ensemble", "2", "--folds", "1",
            "--epochs", "30", "--patience", "1000", "--no-stats", "--no-plot", "--threads", "1", "--device", "cpu",
            "--seed", "3", "--quiet", "--save", str(save), *extra]


def test_command_killed_then_resumed_equals_uninterrupted(tmp_path, capsys):
    save = tmp_path / "m.safetensors"
    ck = ckpt.checkpoint_path(save)
    Forecaster(horizon=12, hidden=3, ensemble=1, epochs=1, verbose=0).fit(seasonal(80)).save(save)  # an earlier model
    earlier = save.read_bytes()
    env = dict(os.environ, SEQLAB_NO_PROGRESS="1", OMP_NUM_THREADS="1")
    proc = subprocess.Popen(_cli(save), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 120
        while not ck.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)  # the first network is finished: kill during the next ones
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode()
    assert ck.exists() and save.read_bytes() == earlier  # the earlier model file is untouched ...
    Forecaster.load(save)  # ... and loadable
    assert main(_cli(save, "--resume")[3:]) == 0  # resumed in this process: one start-up less
    out = capsys.readouterr().out
    assert "resuming from" in out and f"wrote {save}" in out
    assert not ck.exists()  # removed once the model file was written
    got = Forecaster.load(save)
    ref = tmp_path / "ref.safetensors"  # the uninterrupted run, in this process
    assert main(_cli(ref)[3:]) == 0
    for a, b in zip(Forecaster.load(ref).nets, got.nets, strict=True):
        same_weights(a, b)


def test_checkpoint_minutes_help_says_when_each_job_writes_its_checkpoint(capsys):
    # forecasting networks write no checkpoint at epoch ends (training()), and the help says so
    assert training().checkpoint_epochs is None
    helps = {}
    for argv in (["forecast", "--help"], ["classify", "train", "--help"]):
        try:
            assert main(argv) in (0, None)
        except SystemExit as e:  # argparse's --help
            assert e.code == 0
        helps[argv[0]] = " ".join(capsys.readouterr().out.split())
    assert "as well as when a network finishes; 0 for then only" in helps["forecast"]
    assert "epoch ends" not in helps["forecast"].split("--checkpoint-minutes M", 2)[-1].split("--checkpoint-steps")[0]
    assert "as well as at epoch ends; 0 for epoch ends only" in helps["classify"]
