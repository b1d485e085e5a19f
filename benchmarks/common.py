"""Shared helpers for benchmark scripts: the machine they ran on and a careful timer."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from typing import Callable

import torch


#: glibc told to keep freed memory for reuse (``--malloc keep``): no allocation above the default
#: threshold is mapped afresh from the kernel and faulted in page by page on each call
MALLOC_KEEP = {"MALLOC_MMAP_THRESHOLD_": str(2**30), "MALLOC_TRIM_THRESHOLD_": str(2**31)}


def malloc_mode(mode: str) -> None:
    """Run this script in glibc's malloc ``mode``: 'default' as it is, 'keep' re-executes it with
    :data:`MALLOC_KEEP` in its environment (glibc reads it at start-up only).

    torch.nn.LSTM's training step depends on it: measured on the 2-core AMD EPYC of docs/speed.md
    (batch 64, 100 steps, 256 units) 81-87 ms on one thread and 52 on two in a fresh process,
    58-62 and 31-35 with freed memory kept; a process can also switch by itself (torch.nn.LSTM
    took 33 ms on two threads once the layer-norm LSTM had run). 'keep' is torch at its fastest."""
    if mode not in ("default", "keep"):
        raise SystemExit(f"--malloc: expected 'default' or 'keep', got {mode!r}")
    if mode == "keep" and any(os.environ.get(k) != v for k, v in MALLOC_KEEP.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC_KEEP})


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
    keep = all(os.environ.get(k) == v for k, v in MALLOC_KEEP.items())
    return (f"{cpu}; {os.cpu_count()} cores; torch {torch.__version__} with {torch.get_num_threads()} threads; "
            f"{gpu}; Python {platform.python_version()}; malloc {'keep' if keep else 'default'}")


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
