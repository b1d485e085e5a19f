"""Will it fit? The memory a recurrent model's options ask for, estimated before anything is
allocated, against the memory the machine has.

Every command that builds a network (the NumPy reference's ``python -m seqlab.reference train``
too: this module imports no torch) calls :func:`check_fits` with :func:`recurrent_estimate`
once its options and data sizes are known, so ``--hidden 1000000`` or ``--batch-size 10000000``
is one line on stderr naming the estimate and the machine's memory, not an allocation failure
(or a machine swapping for an hour) deep inside torch.

The estimate is a lower bound of what training takes (float32 weights, or float64 ones for the
NumPy reference, their gradients and the optimizer's state, two Adam moments by default; the
activations autograd keeps per step: the gates, the cell state and the output of every layer;
the output layer's logits): a refused run could not have run, and an accepted one may still
need more.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import SeqlabError, warn_deprecated

FLOAT = 4  # bytes per float32


@dataclass(frozen=True)
class Estimate:
    """Parameters, and the bytes of weights (with gradients and optimizer state when training)
    and of activations."""

    params: int
    weight_bytes: int
    activation_bytes: int

    @property
    def total(self) -> int:
        return self.weight_bytes + self.activation_bytes


def __getattr__(name: str):
    """``GATES`` (deprecated): gate blocks per cell family, derived from the registry's one table."""
    if name == "GATES":
        from .nn.registry import GATE_NAMES, gate_count

        warn_deprecated("seqlab.resources.GATES", "seqlab.nn.registry.gate_count(family) or GATE_NAMES")
        return {family: gate_count(family) for family in GATE_NAMES}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def gates(cell: str) -> int:
    """Gate blocks of a cell name of the one cell table (the most any family has for an unknown name)."""
    from .nn.registry import GATE_NAMES, get_cell

    try:
        return get_cell(cell).gates
    except SeqlabError:
        return max(len(names) for names in GATE_NAMES.values())


def recurrent_estimate(*, cell: str, inputs: int, hidden: int, layers: int = 1, directions: int = 1,
                       batch: int = 1, steps: int = 1, vocab: int = 0, embed: int = 0, outputs: int = 0,
                       outputs_per_step: bool = False, extra_params: int = 0, training: bool = True,
                       float_bytes: int = FLOAT, moments: int = 2) -> Estimate:
    """The memory of a stack of ``layers`` recurrent layers of ``hidden`` units (``directions``
    1 or 2) over ``batch`` sequences of ``steps`` steps of ``inputs`` features, with an optional
    embedding (``vocab`` x ``embed``, which then gives the inputs) and an output layer of
    ``outputs`` units (at every step with ``outputs_per_step``, as a language model).

    ``float_bytes``: bytes per number (4, float32, for torch; 8 for the float64 NumPy reference);
    ``moments``: the optimizer's arrays per parameter when training (2 for Adam, 1 for Adagrad or
    momentum, 0 for plain SGD)."""
    g = gates(cell)
    width = embed if vocab and embed else inputs
    params = extra_params + vocab * embed
    for k in range(layers):
        fan_in = width if k == 0 else hidden * directions
        params += directions * g * hidden * (fan_in + hidden + 2)
    params += (hidden * directions + 1) * outputs
    weight = params * float_bytes * (2 + moments if training else 1)  # weights, gradients, optimizer state
    per_step = layers * directions * hidden * ((g + 3) if training else 2) + width
    logits = outputs * (steps if outputs_per_step else 1) * (3 if training else 1)
    act = batch * (steps * per_step + logits) * float_bytes
    return Estimate(int(params), int(weight), int(act))


def _read_int(path: str) -> int | None:
    try:
        with open(path) as fh:
            text = fh.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_memory(device=None) -> int | None:
    """Bytes free for a new allocation: on a CUDA device the free memory torch reports; on the
    CPU the kernel's MemAvailable, within this process's cgroup limit when there is one. None
    where it cannot be told."""
    if device is not None and getattr(device, "type", str(device)).startswith("cuda"):
        try:
            import torch

            free, _ = torch.cuda.mem_get_info(device)
            return int(free)
        except Exception:  # noqa: BLE001 - no CUDA runtime: nothing to say
            return None
    free = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if free is None:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            free = None
    limit, used = _read_int("/sys/fs/cgroup/memory.max"), _read_int("/sys/fs/cgroup/memory.current")
    if limit is not None and used is not None:
        free = limit - used if free is None else min(free, limit - used)
    return free


def size_text(n: float) -> str:
    if n >= 1e15:
        return f"{n:.1e} bytes"
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


def check_fits(estimate: Estimate, options: str, device=None, available: int | None = None) -> Estimate:
    """SeqlabError when ``estimate`` needs more memory than is available (on ``device``), naming
    the estimate, the machine's memory and ``options`` (the options that set the size)."""
    free = available_memory(device) if available is None else available
    if free is not None and estimate.total > free:
        where = "the GPU has" if device is not None and str(device).startswith("cuda") else "this machine has"
        raise SeqlabError(
            f"{options}: these sizes need about {size_text(estimate.total)} of memory ({estimate.params:.3g} "
            f"parameters: {size_text(estimate.weight_bytes)} with gradients and optimizer state; activations "
            f"{size_text(estimate.activation_bytes)}), more than the {size_text(free)} {where} available; "
            "use smaller values")
    return estimate


__all__ = ["Estimate", "available_memory", "check_fits", "gates", "recurrent_estimate", "size_text"]
