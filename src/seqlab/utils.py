"""Small shared helpers: seeding, device choice, thread limits, progress bars."""

from __future__ import annotations

import contextlib
import os
import random
import sys
from typing import Iterable, Iterator, TypeVar

import numpy as np
import torch

from .errors import SeqlabError

T = TypeVar("T")


def seed_everything(seed: int | None) -> None:
    """Seed Python, NumPy and torch so that the same seed gives the same run on CPU."""
    if seed is None:
        return
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed % (2**64))


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Seed Python, NumPy and torch for the block (:func:`seed_everything`), then put the caller's
    generator states back: a seeded fit draws its own numbers and leaves the caller's sequence
    where it was (as scikit-learn's ``random_state`` does; a bootstrap loop around ``fit`` keeps
    drawing new samples). Without a seed nothing is seeded or put back: an unseeded fit draws
    from the global generators, as torch code does."""
    if seed is None:
        yield
        return
    states = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    seed_everything(seed)
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def set_random_seed(seed: int) -> None:
    """Keras's ``keras.utils.set_random_seed``: seed Python, NumPy and torch (CPU and CUDA) so
    that everything after it, building the model's initial weights included, repeats bit for bit
    on CPU. ``fit(seed=...)`` seeds the same generators for its run."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
        raise SeqlabError(f"seed: expected an integer in [0, 2**64), got {seed!r}")
    seed_everything(seed)


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` picks CUDA when present, else CPU; anything else must be ``cpu``, ``cuda`` or
    ``cuda:N`` with a GPU N that exists (``meta``, ``mps`` and other devices that cannot hold a
    trained seqlab model are refused)."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise SeqlabError(
            f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}"
        ) from exc
    if dev.type not in ("cpu", "cuda") or (dev.type == "cpu" and dev.index not in (None, 0)):
        raise SeqlabError(f"device: {str(device)!r} cannot run seqlab models; expected 'auto', 'cpu', 'cuda' or "
                          "'cuda:N'")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SeqlabError(f"device: {device!r} was asked for but no CUDA GPU is available; use device='cpu' or 'auto'")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise SeqlabError(f"device: {device!r} was asked for but this machine has {torch.cuda.device_count()} "
                          f"CUDA GPU(s), numbered from 0")
    return dev


_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
_native_bf16: bool | None = None


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU computes bfloat16 products natively (the AVX-512 BF16 or AMX-BF16
    instructions, read from the flags of ``cpuinfo``, default /proc/cpuinfo), where oneDNN's
    bfloat16 kernels are faster than float32; elsewhere torch emulates them, slower than float32.
    False where the flags cannot be read (not Linux) or torch has no oneDNN."""
    global _native_bf16
    if cpuinfo is None and _native_bf16 is not None:
        return _native_bf16
    try:
        with open(cpuinfo or "/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        flags = []
    found = any(flag in flags for flag in _BF16_FLAGS) and torch.backends.mkldnn.is_available()
    if cpuinfo is None:
        _native_bf16 = found
    return found


def is_interactive(stream=None) -> bool:
    stream = stream or sys.stderr
    return hasattr(stream, "isatty") and stream.isatty()


def progress(iterable: Iterable[T], total: int | None = None, desc: str = "", verbose: int = 1,
             leave: bool = True) -> Iterator[T]:
    """A tqdm progress bar on a terminal; the plain iterable otherwise (or when verbose is 0).

    The bar goes to stderr so that results printed on stdout stay clean for pipes.
    """
    if verbose and is_interactive() and not os.environ.get("SEQLAB_NO_PROGRESS"):
        from tqdm.auto import tqdm

        return iter(tqdm(iterable, total=total, desc=desc, leave=leave, dynamic_ncols=True))
    return iter(iterable)


def _cpu_times() -> tuple[int, int] | None:
    """(idle, total) jiffies of all CPUs from /proc/stat (Linux), or None elsewhere."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return fields[3] + (fields[4] if len(fields) > 4 else 0), sum(fields[:8])


def busy_cores(window: float = 0.1) -> float | None:
    """How many cores other programs keep busy right now: /proc/stat sampled over ``window``
    seconds while this process sleeps (Linux; None elsewhere)."""
    import time

    a = _cpu_times()
    if a is None:
        return None
    time.sleep(window)
    b = _cpu_times()
    if b is None or b[1] <= a[1]:
        return None
    busy = 1.0 - (b[0] - a[0]) / (b[1] - a[1])
    return busy * (os.cpu_count() or 1)


def auto_threads() -> int:
    """The torch threads worth using now: the cores that other programs leave idle, at least 1
    and at most torch's current setting (and the cores this process may run on).

    torch starts one thread per core, and each parallel region ends at a barrier that waits for
    every thread. When other processes occupy the cores, a descheduled thread stalls the others
    for a scheduler slice at every barrier: on 2 busy cores (load 2 to 3) a 2x128 character LSTM
    trained at 414 chars/s with 2 threads, and at 22,700 with 1. On an idle machine this returns
    all of them (54,000 chars/s with 2 threads there).

    Two views of "busy" are combined, and the busier one wins: the 1-minute load average (slow to
    see a program that just started) and a 0.1 s sample of /proc/stat (blind to one that sleeps
    now and then). Where neither exists, torch's setting is kept.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    views = []
    try:
        views.append(os.getloadavg()[0])
    except (AttributeError, OSError):
        pass
    now = busy_cores()
    if now is not None:
        views.append(now)
    if not views:
        return torch.get_num_threads()
    idle = int(cores - max(views) + 0.5)
    return max(1, min(torch.get_num_threads(), cores, idle))


_THREADS_AT_IMPORT = torch.get_num_threads()


def user_set_threads() -> bool:
    """True when the user chose torch's thread count: ``OMP_NUM_THREADS`` is set, or
    ``torch.set_num_threads`` changed it since seqlab was imported."""
    return bool(os.environ.get("OMP_NUM_THREADS")) or torch.get_num_threads() != _THREADS_AT_IMPORT


def resolve_threads(threads: int | None) -> int | None:
    """The one thread policy of every command and of ``fit``: ``None`` leaves torch's setting,
    N >= 1 uses N, 0 (the default everywhere) uses :func:`auto_threads` unless the user set
    torch's threads themselves (:func:`user_set_threads`), which is then respected."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise SeqlabError(f"threads: expected 0 (automatic), a number of CPU threads >= 1, or None, got {threads!r}")
    if threads == 0:
        return None if user_set_threads() else auto_threads()
    return threads


def thread_policy(threads: int | None = 0):
    """A context that applies :func:`resolve_threads` (torch and BLAS pools) and restores them."""
    return limit_threads(resolve_threads(threads))


@contextlib.contextmanager
def limit_threads(n: int | None = 1) -> Iterator[None]:
    """Run the block with at most ``n`` torch and BLAS threads (``None``: leave them alone).

    Small recurrent models gain nothing from extra threads, and on a loaded machine
    oversubscribed torch or BLAS threads make them many times slower (measured on 2 busy cores: a
    forecast fit took 171 s with 2 torch threads and 8 s with 1; a statsmodels ARIMA fit 14 s with
    2 OpenBLAS threads and 1.2 s with 1). Caps torch's intra-op threads and, when threadpoolctl is
    installed, the BLAS pools; restores both on exit.
    """
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    with contextlib.ExitStack() as stack:
        try:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(n))
        except ImportError:
            pass
        if before != n:
            torch.set_num_threads(n)
        try:
            yield
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)
