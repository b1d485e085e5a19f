"""Multi-process data-parallel training under ``torchrun``, detected from its environment.

``torchrun --nproc_per_node N script.py`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT``. When ``WORLD_SIZE > 1`` fit initialises the process group
(gloo on CPU, nccl on GPU, one GPU per local rank), wraps the model in DistributedDataParallel,
gives each process its share of the data through a DistributedSampler, and averages the logged
values over processes. ``batch_size`` is per process: the global batch is ``N * batch_size``.
Only rank 0 prints and writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_sum(self, t: torch.Tensor) -> torch.Tensor:
        """Sum ``t`` over processes (identity on one process)."""
        if self.enabled:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t


def env_world() -> DistContext:
    """Rank and world size from torchrun's environment variables (1 process when absent)."""
    try:
        ws = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        return DistContext()
    return DistContext(rank, ws, local) if ws > 1 else DistContext()


def setup(device: torch.device) -> tuple[DistContext, torch.device]:
    """Initialise the process group if the environment asks for one; returns the context and
    the device this process trains on (``cuda:LOCAL_RANK`` on GPU)."""
    ctx = env_world()
    if not ctx.enabled:
        return ctx, device
    if device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistContext(dist.get_rank(), dist.get_world_size(), ctx.local_rank), device


def is_main_process() -> bool:
    """True on rank 0 or when not distributed (what save and print check)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return env_world().is_main
