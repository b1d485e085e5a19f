"""Corpora and stream batching for truncated backpropagation through time (pure functions).

A corpus of N token ids is cut into B parallel streams, one row each, so that row b continues
exactly where it left off from one chunk to the next::

    ids (N,) -> streams (B, N // B)         # stream b = ids[b * n : (b + 1) * n]
    chunk k: x = streams[:, k*L : k*L + L], y = streams[:, k*L + 1 : k*L + L + 1]   # (B, L) each

Carrying the hidden state of row b from chunk k to chunk k + 1 is then the same as running the
whole stream at once; gradients stop at chunk borders (truncated BPTT).
"""

from __future__ import annotations

import os
from typing import Iterator

from torch import Tensor

from ..errors import SeqlabError, check_positive_int

DEFAULT_CORPUS = "pydoc_data.topics"


def default_corpus() -> str:
    """The Python documentation's topic pages shipped with every Python (about 465,000 characters)."""
    from pydoc_data import topics

    return "".join(topics.topics[k] for k in sorted(topics.topics))


def read_text(path: str | os.PathLike) -> str:
    """Read a UTF-8 text file (gzip-compressed too) through the read boundary
    (:func:`seqlab.files.read_text`: a regular file of at most 2 GB, not a FIFO or device); an
    empty, missing, binary or non-UTF-8 file raises :class:`SeqlabError`."""
    from ..files import read_text as read

    return read(path, "--data", "text file")


def split_train_val(ids: Tensor, val_fraction: float) -> tuple[Tensor, Tensor]:
    """The first ``1 - val_fraction`` of ``ids`` for training, the last part for validation."""
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 <= val_fraction < 1:
        raise SeqlabError(f"val_fraction: expected a number in [0, 1), got {val_fraction!r}")
    n_val = int(round(len(ids) * val_fraction))
    return ids[: len(ids) - n_val], ids[len(ids) - n_val :]


def batchify(ids: Tensor, batch_size: int) -> Tensor:
    """Cut ``ids`` (N,) into ``batch_size`` contiguous streams (B, N // B); the tail is dropped."""
    check_positive_int("batch_size", batch_size)
    n = len(ids) // batch_size
    if n < 2:
        raise SeqlabError(
            f"text: {len(ids)} tokens are too few for {batch_size} parallel streams (each needs at least 2); "
            "use a longer text or a smaller batch size"
        )
    return ids[: n * batch_size].view(batch_size, n)  # (B, n)


def num_chunks(streams: Tensor, seq_len: int) -> int:
    """How many TBPTT chunks :func:`iter_chunks` yields for ``streams`` (B, n)."""
    return -(-(streams.shape[1] - 1) // seq_len)


def iter_chunks(streams: Tensor, seq_len: int) -> Iterator[tuple[Tensor, Tensor]]:
    """Consecutive ``(x, y)`` chunks of ``streams`` (B, n): x (B, L) and targets y = x shifted by one.

    The last chunk may be shorter than ``seq_len``; every token but each stream's first is a target once.
    """
    check_positive_int("seq_len", seq_len)
    n = streams.shape[1]
    for i in range(0, n - 1, seq_len):
        L = min(seq_len, n - 1 - i)
        yield streams[:, i : i + L], streams[:, i + 1 : i + 1 + L]
