"""Two forked CPU processes (torchrun's variables, gloo): a time budget and a callback's stop
end every process at the same step, so none waits forever in the gradient all-reduce."""

import multiprocessing
import os
import socket
import time

import pytest
import torch
from torch import nn

from seqlab.train import Callback, Task, TrainConfig, num_shards, shard, train


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def _child(out, rank, port, mode):
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2",
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), GLOO_SOCKET_IFNAME="lo")
    import torch.distributed as dist

    torch.set_num_threads(1)
    try:
        if mode == "budget":
            cfg = TrainConfig(epochs=None, minutes=0.15 / 60, device="cpu", threads=None, verbose=0)
            h = train(Slow(), cfg)
        else:
            h = train(Slow(), TrainConfig(epochs=3, device="cpu", threads=None, verbose=0), callbacks=[StopOnRank1()])
        with open(os.path.join(out, f"{mode}-{rank}.txt"), "w") as fh:
            fh.write(f"{h.stopped}|{len(h.epoch)}|{h.params['steps']}|{h.history['loss'][-1]!r}")
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@pytest.mark.parametrize("mode", ["budget", "callback"])
def test_every_process_stops_at_the_same_step(tmp_path, mode):
    port = _free_port()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_child, args=(str(tmp_path), r, port, mode)) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    alive = [p.is_alive() for p in procs]
    for p in procs:
        if p.is_alive():
            p.kill()
    assert alive == [False, False], "a process hung: the processes did not agree when to stop"
    assert [p.exitcode for p in procs] == [0, 0]
    r0, r1 = ((tmp_path / f"{mode}-{r}.txt").read_text() for r in range(2))
    assert r0 == r1  # same reason, epochs and averaged loss: they stopped at the same step
    if mode == "budget":
        assert r0.startswith("time budget")
    else:
        assert r0.startswith("stopped by a callback|1|")
