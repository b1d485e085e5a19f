"""Training checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint is one seqlab file (JSON plus safetensors, kind ``"checkpoint"``, written atomically)
next to the model file a command writes: ``model.safetensors`` gets ``model.ckpt.safetensors``.
It holds the weights, the optimizer state, the engine's counters (epoch, batches done in that
epoch, optimizer steps, training seconds, the running epoch sums), the schedule and
early-stopping state with the best weights, the task's own state (for example the state a
language model carries from chunk to chunk) and the random-number generators of Python, NumPy
and torch. The data order needs no saving: the engine draws each epoch's order from a generator
seeded by ``(seed, epoch)``, so a resumed run draws the same order and skips the batches it did.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .. import io
from ..errors import ModelFileError, SeqlabError

KIND = "checkpoint"
SUFFIX = ".ckpt.safetensors"


def checkpoint_path(model_path: str | os.PathLike) -> Path:
    """Where the checkpoint of a run that writes ``model_path`` lives (same folder)."""
    p = Path(model_path)
    stem = p.name[: -len(".safetensors")] if p.name.endswith(".safetensors") else p.name
    return p.with_name(stem + SUFFIX)


def capture_rng() -> tuple[dict[str, Any], dict[str, Tensor]]:
    """The states of Python's, NumPy's and torch's global generators (JSON part, tensor part)."""
    version, mt, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    meta = {"python": [version, gauss], "numpy": [name, int(pos), int(has_gauss), float(cached)]}
    tensors = {"rng/python": torch.tensor(mt, dtype=torch.int64),
               "rng/numpy": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
               "rng/torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = s
    return meta, tensors


def restore_rng(meta: dict[str, Any], tensors: dict[str, Tensor]) -> None:
    """Put back what :func:`capture_rng` saved."""
    version, gauss = meta["python"]
    random.setstate((version, tuple(int(v) for v in tensors["rng/python"].tolist()), gauss))
    name, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((name, tensors["rng/numpy"].numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(tensors["rng/torch"])
    cuda = sorted(k for k in tensors if k.startswith("rng/cuda/"))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda][: torch.cuda.device_count()])


def save(path: str | os.PathLike, meta: dict[str, Any], tensors: dict[str, Tensor]) -> None:
    """Write a checkpoint atomically (a crash mid-write leaves the previous one whole)."""
    io.save_file(path, KIND, meta, tensors)


def load(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Read a checkpoint; a missing or foreign file is a SeqlabError naming the fix."""
    p = Path(path)
    if not p.exists():
        raise SeqlabError(f"--resume: no checkpoint at {str(p)!r} (a run given this checkpoint path writes one there while it trains); "
                          "start without --resume")
    try:
        return io.load_file(p, KIND)
    except ModelFileError as exc:
        raise SeqlabError(f"--resume: {exc}") from exc


def discard(path: str | os.PathLike) -> None:
    """Remove a checkpoint once the run's result is safely written (missing is fine)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
