"""Shared helpers for benchmark scripts: the machine they ran on and a careful timer."""

from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Callable

import torch


def machine_info() -> str:
    """One line naming the machine: CPU, cores, torch, threads, GPU if any."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu}; {os.cpu_count()} cores; torch {torch.__version__} with {torch.get_num_threads()} threads; "
            f"{gpu}; Python {platform.python_version()}")


def timeit(fn: Callable[[], object], repeat: int = 10, warmup: int = 2) -> float:
    """Median seconds of ``fn()`` over ``repeat`` runs after ``warmup`` runs (syncs CUDA)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved(fns: dict[str, Callable[[], object]], rounds: int = 10, warmup: int = 2) -> dict[str, float]:
    """Median seconds per function, timed in alternation so machine load hits all alike."""
    for _ in range(warmup):
        for f in fns.values():
            f()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def layer_train_step(module: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """A closure doing one training step of a recurrent layer: forward, then ``out.backward(dout)``
    with a fixed random upstream gradient ``dout`` (what a loss on top would send back).

    No loss is computed, so the time is the layer's alone: on (32, 1024, 256) outputs even
    ``mean(out**2)`` and its backward cost ~45 ms on 2 cores, a fixed cost that blurs ratios.
    """
    with torch.no_grad():
        dout = torch.randn_like(module(x)[0])

    def run() -> None:
        module.zero_grad(set_to_none=True)
        out, _ = module(x)
        out.backward(dout)
    return run
