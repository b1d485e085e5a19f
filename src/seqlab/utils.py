"""Small shared helpers: seeding, device choice, progress bars."""

from __future__ import annotations

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
    torch.manual_seed(seed)


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` picks CUDA when present, else CPU; anything else must be a valid torch device."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise SeqlabError(
            f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SeqlabError(f"device: {device!r} was asked for but no CUDA GPU is available; use device='cpu' or 'auto'")
    return dev


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
