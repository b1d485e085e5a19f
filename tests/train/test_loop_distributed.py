"""Two forked CPU processes (torchrun's variables, gloo): a time budget and a callback's stop
end every process at the same step, so none waits forever in the gradient all-reduce."""

import os
import time

import pytest
import torch
from torch import nn

from seqlab.train import Callback, Task, TrainConfig, num_shards, shard, train
from tests.ddp_helpers import run_two_processes


class Slow(Task):
    """Rank 1 is three times slower per step, so the processes' own clocks disagree."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.model = nn.Linear(3, 1)
        self.x, self.y = torch.randn(400, 3), torch.randn(400, 1)

    def num_batches(self):
        return num_shards(400, 4, self.ctx)

    def batches(self, epoch, generator):
        for idx in shard(400, 4, True, generator, self.ctx):
            yield self.x[idx], self.y[idx]

    def training_step(self, net, batch):
        time.sleep(0.003 if self.ctx.rank == 0 else 0.009)
        return nn.functional.mse_loss(net(batch[0]), batch[1])


class StopOnRank1(Callback):
    def on_train_batch_end(self, step, logs=None):
        if step == 7 and int(os.environ["RANK"]) == 1:
            self.model.stop_training = True


def _rank(out, rank, mode):
    """One of the two processes: train, then write why and when it stopped."""
    torch.set_num_threads(1)
    if mode == "budget":
        cfg = TrainConfig(epochs=None, minutes=0.15 / 60, device="cpu", threads=None, verbose=0)
        h = train(Slow(), cfg)
    else:
        h = train(Slow(), TrainConfig(epochs=3, device="cpu", threads=None, verbose=0), callbacks=[StopOnRank1()])
    with open(os.path.join(out, f"{mode}-{rank}.txt"), "w") as fh:
        fh.write(f"{h.stopped}|{len(h.epoch)}|{h.params['steps']}|{h.history['loss'][-1]!r}")


@pytest.mark.parametrize("mode", ["budget", "callback"])
def test_every_process_stops_at_the_same_step(tmp_path, mode):
    # a process that hangs (the processes did not agree when to stop, and one waits in the
    # all-reduce forever) is still running after 60 s: its exit code is None and the harness fails
    run_two_processes(tmp_path, lambda rank: _rank(str(tmp_path), rank, mode), timeout=60)
    r0, r1 = ((tmp_path / f"{mode}-{r}.txt").read_text() for r in range(2))
    assert r0 == r1  # same reason, epochs and averaged loss: they stopped at the same step
    if mode == "budget":
        assert r0.startswith("time budget")
    else:
        assert r0.startswith("stopped by a callback|1|")
