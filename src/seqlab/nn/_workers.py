"""Worker threads for the compiled CPU layers: each runs one share of a batch with ONE thread.

A compiled layer's work splits over the batch into independent shares (a recurrence per
sequence; minGRU chunks per row), so n shares need no synchronisation until they are all done.
Run with torch's own n intra-op threads instead, every small product and every kernel call is
a parallel region: the threads meet at a barrier after each (a few microseconds each time, and
a whole scheduler slice whenever another process holds a core, as on a shared machine), and
between regions they spin, taking the core from the numba kernels that run next. Here each of n
persistent worker threads sets its own OpenMP thread count to one (OpenMP keeps it per thread)
and runs a share start to end: products, kernels, bookkeeping; the calling thread waits for all
of them. When there are as many workers as CPUs, each is pinned to a CPU of its own
(:func:`_pinned_cpus`).

The calling thread's own OpenMP team is put to sleep first (``omp_pause_resource_all``): after
a parallel region, libgomp's threads spin for some milliseconds waiting for the next one, and
with as many workers as cores a spinning thread takes a core from a worker. The next torch
operation of the calling thread starts its team again, once per layer. The measurements of both
effects: docs/speed.md, "Custom cells at fused speed".

:func:`shares` decides how many: torch's intra-op thread count of the caller, at most one share
per item, and one (no workers) where torch does not run on OpenMP or the work is small.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator, TypeVar

import torch

R = TypeVar("R")


def _find_openmp():
    """torch's OpenMP runtime (``omp_set_num_threads``), or None when torch does not use one."""
    if "parallel backend: OpenMP" not in torch.__config__.parallel_info():
        return None  # pragma: no cover - depends on the torch build
    try:
        lib = ctypes.CDLL("libgomp.so.1")  # the copy torch loaded (same soname)
        lib.omp_set_num_threads.argtypes = [ctypes.c_int]
        return lib
    except (OSError, AttributeError):  # pragma: no cover - other OpenMP runtimes (Intel's, LLVM's)
        return None


_OMP = _find_openmp()
_PAUSE = getattr(_OMP, "omp_pause_resource_all", None)  # OpenMP 5.0 (libgomp of GCC 9 and later)
if _PAUSE is not None:
    _PAUSE.argtypes = [ctypes.c_int]
_PAUSE_SOFT = 1  # omp_pause_soft
_POOL: ThreadPoolExecutor | None = None
_LOCK = threading.Lock()
_LOCAL = threading.local()


def _after_fork() -> None:
    """A forked child (torchrun's workers, DataLoader's) has none of the parent's threads: start a
    new pool when it needs one rather than queue work for threads that do not exist."""
    global _POOL, _LOCK
    _POOL, _LOCK = None, threading.Lock()


os.register_at_fork(after_in_child=_after_fork)


def _init_worker(cpus: list[int], order: Iterator[int]) -> None:
    torch.get_num_threads()  # torch sets a thread's OpenMP count once, lazily: let it happen now...
    _OMP.omp_set_num_threads(1)  # ...then one thread for everything this worker runs
    _LOCAL.worker = True
    if cpus:
        os.sched_setaffinity(0, {cpus[next(order) % len(cpus)]})  # 0: this thread (Linux)


def _pinned_cpus(n: int) -> list[int]:
    """The CPUs to pin ``n`` workers to, one each: all the CPUs this process may run on when there
    are exactly ``n`` of them, else none (the workers float).

    Unpinned, the scheduler often wakes both workers onto the core of the thread that woke them
    and moves one away only some milliseconds later (measured: docs/speed.md, "Benchmarks", the
    minGRU bullet). With fewer workers than CPUs (another process may use the rest) they are
    left free."""
    if not hasattr(os, "sched_getaffinity"):
        return []  # pragma: no cover - not Linux
    cpus = sorted(os.sched_getaffinity(0))
    return cpus if len(cpus) == n else []


def shares(items: int, work: float = float("inf"), min_work: float = 0.0) -> int:
    """How many parallel shares to cut ``items`` independent items into: torch's intra-op
    threads of the calling thread, at most ``items``; 1 without OpenMP, inside a worker, or when
    ``work`` (any measure of the whole job) is below ``min_work``."""
    if _OMP is None or getattr(_LOCAL, "worker", False) or work < min_work:
        return 1
    return max(1, min(torch.get_num_threads(), items))


def _call(fn: Callable[[int, int], R], lo: int, hi: int, grad: bool) -> R:
    with torch.set_grad_enabled(grad):  # grad mode is per thread: a worker's starts on
        return fn(lo, hi)


def run(fn: Callable[[int, int], R], items: int, n: int, grad: bool = False) -> list[R]:
    """``[fn(lo, hi) for each of n contiguous shares of range(items)]``, in parallel on the
    worker threads (n > 1) or here (n == 1); torch records the graph of what ``fn`` does only
    with ``grad=True``."""
    if n <= 1:
        return [_call(fn, 0, items, grad)]
    global _POOL
    with _LOCK:
        if _POOL is None or _POOL._max_workers < n:
            old, _POOL = _POOL, ThreadPoolExecutor(max_workers=n, thread_name_prefix="seqlab",
                                                   initializer=_init_worker,
                                                   initargs=(_pinned_cpus(n), itertools.count()))
            if old is not None:
                old.shutdown(wait=False)
        pool = _POOL
    if _PAUSE is not None:
        _PAUSE(_PAUSE_SOFT)  # no spinning thread of this one's team competes with the workers
    bounds = [items * k // n for k in range(n + 1)]
    futures = [pool.submit(_call, fn, lo, hi, grad) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
    return [f.result() for f in futures]
