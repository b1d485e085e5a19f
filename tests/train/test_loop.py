"""The one training loop: exact resume, sharding, schedules, early stopping, limits, threads."""


import numpy as np
import pytest
import torch
from torch import nn

from seqlab.errors import SeqlabError
from seqlab.train import Callback, Task, TrainConfig, epoch_generator, num_shards, shard, train
from seqlab.train import checkpoint as ckpt
from seqlab.train.distributed import DistContext
from seqlab.train.schedules import cosine_factor, decay_factor, lr_factor
from tests.train_helpers import Interrupt


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.GRU(3, 6, batch_first=True)
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(6, 1)

    def forward(self, x, h=None):
        out, h = self.rnn(x, h)  # (B, T, 6)
        return self.head(self.drop(out[:, -1])), h  # (B, 1)


class Regression(Task):
    """Shuffled batches, dropout (global RNG), and a state carried across batches (task state)."""

    def __init__(self, n: int = 40, batch_size: int = 8, carry: bool = True) -> None:
        torch.manual_seed(0)
        self.model = Net()
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(n, 5, 3, generator=g)
        self.y = self.x.sum((1, 2)).unsqueeze(1) / 5  # (n, 1)
        self.batch_size, self.carry = batch_size, carry
        self.h = None
        self.epochs_seen: list[int] = []
        self.val_script: list[float] | None = None
        self.snapshots: dict[int, dict] = {}

    def num_batches(self):
        return num_shards(len(self.x), self.batch_size, self.ctx)

    def batches(self, epoch, generator):
        for idx in shard(len(self.x), self.batch_size, True, generator, self.ctx):
            yield self.x[idx], self.y[idx]

    def training_step(self, net, batch):
        x, y = batch
        h = None
        if self.carry and self.h is not None and self.h.shape[1] == x.shape[0]:
            h = self.h
        out, h = net(x, h)
        self.h = h.detach()
        return nn.functional.mse_loss(out, y), x.shape[0]

    def validate(self):
        if self.val_script is None:
            return {}
        return {"val_loss": self.val_script[len(self.snapshots) - 1]}

    def on_epoch_end(self, epoch, logs):
        self.epochs_seen.append(epoch)

    def on_epoch_begin(self, epoch):
        self.snapshots[epoch] = {k: v.clone() for k, v in self.model.state_dict().items()}

    def state_dict(self):
        return {}, ({} if self.h is None else {"h": self.h})

    def load_state_dict(self, meta, tensors):
        self.h = tensors.get("h")


def _weights(task):
    return [p.detach().clone() for p in task.model.parameters()]


def _config(**kw):
    base = dict(epochs=4, lr=1e-2, clipnorm=1.0, seed=5, device="cpu", threads=None, verbose=0,
                schedule="cosine", min_lr=0.1)
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("at,steps", [(9, None), (12, 3), (17, 1)])
def test_interrupted_and_resumed_run_is_bit_identical(tmp_path, at, steps):
    ref = Regression()
    h_ref = train(ref, _config())
    path = str(tmp_path / "run.ckpt.safetensors")
    first = Regression()
    with pytest.raises(KeyboardInterrupt):
        train(first, _config(checkpoint=path, checkpoint_steps=steps), callbacks=[Interrupt(at)])
    torch.manual_seed(123)  # the resumed process starts from other generator states
    np.random.seed(7)
    resumed = Regression()
    h = train(resumed, _config(checkpoint=path, checkpoint_steps=steps, resume=True))
    for a, b in zip(_weights(ref), _weights(resumed)):
        assert torch.equal(a, b)
    assert h.history["loss"] == h_ref.history["loss"]
    assert h.epoch == [0, 1, 2, 3]


def test_a_run_without_the_checkpoint_differs_so_the_resume_test_can_fail(tmp_path):
    ref = Regression()
    train(ref, _config())
    other = Regression()
    train(other, _config(seed=6))
    assert not all(torch.equal(a, b) for a, b in zip(_weights(ref), _weights(other)))


def test_resume_of_a_finished_run_keeps_its_weights_and_history(tmp_path):
    path = str(tmp_path / "c.ckpt.safetensors")
    done = Regression()
    h1 = train(done, _config(checkpoint=path))
    again = Regression()
    h2 = train(again, _config(checkpoint=path, resume=True))
    assert all(torch.equal(a, b) for a, b in zip(_weights(done), _weights(again)))
    assert h2.history["loss"] == h1.history["loss"] and again.epochs_seen == []


def test_resume_errors_name_the_fix(tmp_path):
    with pytest.raises(SeqlabError, match="no checkpoint at .*start without --resume"):
        train(Regression(), _config(checkpoint=str(tmp_path / "none.ckpt.safetensors"), resume=True))
    path = str(tmp_path / "c.ckpt.safetensors")
    train(Regression(), _config(checkpoint=path, epochs=1))

    class Other(Regression):
        def __init__(self):
            super().__init__()
            self.model = nn.Sequential(nn.Linear(3, 2))

    with pytest.raises(SeqlabError, match="does not fit this run") as info:
        train(Other(), _config(checkpoint=path, resume=True, epochs=1))
    assert "\n" not in str(info.value) and len(str(info.value)) < 600  # not torch's whole state_dict report
    # other settings or other data: refused, naming what differs, rather than silently continued
    with pytest.raises(SeqlabError, match=r"another run \(epochs=1 there, 4 here\).*delete the checkpoint"):
        train(Regression(), _config(checkpoint=path, resume=True))
    fresh = Regression()
    before = {k: v.clone() for k, v in fresh.model.state_dict().items()}
    with pytest.raises(SeqlabError, match=r"lr=0.01 there, 0.03 here"):
        train(fresh, _config(checkpoint=path, resume=True, epochs=1, lr=0.03))
    for k, v in fresh.model.state_dict().items():  # the refused checkpoint's weights were not left in
        assert torch.equal(v, before[k]), k
    with pytest.raises(SeqlabError, match=r"5 batches per epoch there, 4 here"):
        train(Regression(n=32), _config(checkpoint=path, resume=True, epochs=1))
    with pytest.raises(SeqlabError, match="resume: needs the checkpoint path"):
        TrainConfig(resume=True)


def test_checkpoint_path_sits_next_to_the_model_file(tmp_path):
    assert ckpt.checkpoint_path(tmp_path / "m.safetensors") == tmp_path / "m.ckpt.safetensors"
    assert ckpt.checkpoint_path("out/model") == ckpt.checkpoint_path("out/model.safetensors")


def test_epoch_generator_depends_on_seed_and_epoch_only():
    a = torch.randperm(10, generator=epoch_generator(3, 1))
    torch.manual_seed(99)
    assert torch.equal(a, torch.randperm(10, generator=epoch_generator(3, 1)))
    assert not torch.equal(a, torch.randperm(10, generator=epoch_generator(3, 2)))
    assert not torch.equal(a, torch.randperm(10, generator=epoch_generator(4, 1)))


def test_shards_of_two_processes_make_the_global_batches_of_one():
    one = shard(23, 8, True, epoch_generator(0, 0), DistContext())
    r0 = shard(23, 4, True, epoch_generator(0, 0), DistContext(0, 2, 0))
    r1 = shard(23, 4, True, epoch_generator(0, 0), DistContext(1, 2, 1))
    assert [len(b) for b in one] == [8, 8, 7]
    assert len(r0) == len(r1) == num_shards(23, 4, DistContext(0, 2, 0)) == 3
    for g, a, b in zip(one, r0, r1):
        assert sorted(g.tolist()) == sorted(a.tolist() + b.tolist())
    # a last global batch of 1 sample cannot feed 2 processes: dropped on both
    assert len(shard(17, 4, False, None, DistContext(1, 2, 1))) == num_shards(17, 4, DistContext(1, 2, 1)) == 2
    assert num_shards(17, 8, DistContext()) == 3


def test_schedule_factors_match_hand_computed_values():
    assert cosine_factor(0.0, 0.1) == 1.0
    assert cosine_factor(0.5, 0.1) == pytest.approx(0.55)
    assert cosine_factor(1.0, 0.1) == pytest.approx(0.1)
    assert decay_factor(0.7, 0.05, 0.2) == 1.0
    assert decay_factor(0.9, 0.05, 0.2) == pytest.approx(0.05 + 0.95 * 0.5)
    assert decay_factor(1.0, 0.05, 0.2) == pytest.approx(0.05)
    assert lr_factor("constant", 0.9) == 1.0


def test_the_loop_applies_the_schedule_per_step():
    seen = []

    class LR(Callback):
        def on_train_batch_begin(self, step, logs=None):
            pass

        def on_after_backward(self, model, step):
            seen.append(opt_lr[0]())

    task = Regression()
    opt_lr = []
    orig = task.configure_optimizer

    def configure(config):
        opt = orig(config)
        opt_lr.append(lambda: opt.param_groups[0]["lr"])
        return opt

    task.configure_optimizer = configure
    train(task, _config(epochs=2, schedule="decay", decay_fraction=0.5, min_lr=0.0), callbacks=[LR()])
    total = 10  # 2 epochs x 5 batches
    want = [1e-2 * decay_factor(k / total, 0.0, 0.5) for k in range(total)]
    np.testing.assert_allclose(seen, want, rtol=1e-12)


def test_early_stopping_restores_the_best_epoch_and_cuts_the_rate():
    task = Regression()
    task.val_script = [3.0, 2.0, 2.5, 2.6, 1.0, 0.5]
    h = train(task, _config(epochs=6, schedule="constant", monitor="val_loss", patience=2, restore_best=True,
                            lr_plateau_factor=0.5))
    assert h.epoch == [0, 1, 2, 3] and "val_loss for 2 epochs" in h.stopped
    assert h.best_epoch == 1
    best = task.snapshots[2]  # the weights at the end of epoch 1 = at the start of epoch 2
    for k, v in task.model.state_dict().items():
        assert torch.equal(v, best[k])
    assert h.history["lr"] == [1e-2, 1e-2, 1e-2, 5e-3]  # cut after epoch 2 (no improvement)


def test_step_limit_and_time_budget_stop_mid_epoch():
    task = Regression()
    h = train(task, _config(epochs=None, max_steps=7))
    assert h.epoch == [0, 1] and h.stopped == "step limit of 7 reached" and h.steps == 7
    task = Regression()
    h = train(task, _config(epochs=None, minutes=1e-9))
    assert h.epoch == [0] and h.stopped.startswith("time budget")


def test_config_refuses_nonsense_with_the_argument_named():
    for kw, msg in [({"lr": float("nan")}, "lr: expected a number > 0"),
                    ({"lr": float("inf")}, "lr: expected"),
                    ({"clipnorm": -1.0}, "clipnorm: expected a number > 0"),
                    ({"minutes": float("nan")}, "minutes: expected"),
                    ({"epochs": None}, "set at least one limit"),
                    ({"schedule": "step"}, "schedule: expected one of constant, decay, cosine"),
                    ({"seed": 2**64}, r"seed: expected an integer in \[0, 2\*\*63\)"),
                    ({"threads": -1}, "threads: expected a non-negative integer")]:
        with pytest.raises(SeqlabError, match=msg):
            TrainConfig(**kw)


def test_config_takes_numpy_numbers_as_python_floats():
    """check_float takes NumPy scalars; the rates a checkpoint writes in JSON are kept as floats."""
    import json
    from dataclasses import asdict

    import numpy as np

    cfg = TrainConfig(lr=np.float32(0.5), weight_decay=np.int64(0), clipnorm=np.float32(1.0))
    assert type(cfg.lr) is float and cfg.lr == 0.5 and type(cfg.weight_decay) is float
    json.dumps({k: asdict(cfg)[k] for k in ("lr", "weight_decay")})


def test_resume_in_a_fresh_process_is_bit_identical(tmp_path):
    import subprocess
    import sys

    ref = Regression()
    train(ref, _config())
    path = str(tmp_path / "run.ckpt.safetensors")
    with pytest.raises(KeyboardInterrupt):
        train(Regression(), _config(checkpoint=path, checkpoint_steps=2), callbacks=[Interrupt(11)])
    out = tmp_path / "w.npy"
    code = (
        "import runpy, sys, torch, numpy as np\n"
        "torch.set_num_threads(1)\n"
        f"m = runpy.run_path({__file__!r})\n"
        "t = m['Regression']()\n"
        f"m['train'](t, m['_config'](checkpoint={path!r}, checkpoint_steps=2, resume=True))\n"
        f"np.save({str(out)!r}, torch.cat([p.detach().flatten() for p in t.model.parameters()]).numpy())\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    want = torch.cat([p.flatten() for p in _weights(ref)]).numpy()
    np.testing.assert_array_equal(np.load(out), want)
