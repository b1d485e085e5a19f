"""Model files: JSON plus safetensors, written atomically, never pickle.

A seqlab model file is one ``.safetensors`` file. Its header's metadata holds the model's
configuration as JSON under the key ``"seqlab"`` (with a ``"kind"`` naming what saved it and a
``"format"`` version); the tensors hold the weights. Loading parses JSON and raw tensors only, so
opening a file never executes code from it.

Writes go to a temporary file in the same folder, are flushed to disk, then renamed over the
target: a crash mid-save leaves the previous file intact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch

from . import files, modelfile
from .errors import ModelFileError, SeqlabError
from .modelfile import FORMAT_VERSION, META_KEY as _META_KEY


def _plain(value: Any) -> Any:
    """A NumPy scalar in a config (``lr=np.float32(0.01)``: the checks take NumPy's numbers) as the
    Python number JSON writes; anything else is not JSON-serialisable."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def model_bytes(kind: str, config: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> bytes:
    """The bytes of a model file: ``tensors`` and a JSON-serialisable ``config`` in safetensors
    form. Commands compute these (and every other output) before writing any file."""
    from safetensors.torch import save

    meta = {"kind": kind, "format": FORMAT_VERSION, "config": config}
    try:
        header = json.dumps(meta, default=_plain)
    except (TypeError, ValueError) as exc:
        raise SeqlabError(f"config for {kind!r} is not JSON-serialisable: {exc}") from exc
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    return save(flat, metadata={_META_KEY: header})


def save_file(path: str | os.PathLike, kind: str, config: Mapping[str, Any],
              tensors: Mapping[str, torch.Tensor]) -> None:
    """Save ``tensors`` and a JSON-serialisable ``config`` as one safetensors file, atomically."""
    files.atomic_write_bytes(path, model_bytes(kind, config, tensors))


def load_file(path: str | os.PathLike, kind: str | None = None,
              option: str = "--model") -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Load a file written by :func:`save_file`; returns ``(config, tensors)``.

    The file passes the read boundary (:mod:`seqlab.files`: a regular file, not a folder, FIFO
    or device, read with a size limit); its JSON header is parsed with limits on length and
    depth before the tensors are decoded. Raises :class:`ModelFileError` with a one-line message
    for a missing, truncated, corrupted or foreign file, or for a file saved by another kind of
    model than ``kind``.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    meta, data = modelfile.read(path, option)  # given as it came: Path('') would read as '.', a folder
    path = Path(path)
    if kind is not None and meta.get("kind") != kind:
        raise ModelFileError(
            f"model file {str(path)!r} holds a {meta.get('kind')!r} model, expected a {kind!r} model"
        )
    try:
        tensors = load(data)
    except (SafetensorError, ValueError, UnicodeDecodeError, OverflowError, MemoryError, RuntimeError) as exc:
        raise ModelFileError(
            f"model file {str(path)!r} is not a readable seqlab model (truncated, corrupted or another format): "
            f"{files.one_line(exc)}"
        ) from None
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise ModelFileError(modelfile.non_finite(path, name))
    return meta["config"], tensors


def build_checked(factory: Callable[[], torch.nn.Module], tensors: Mapping[str, torch.Tensor],
                  path: str | os.PathLike) -> torch.nn.Module:
    """The module ``factory`` builds from a file's config, built first on the ``meta`` device (no
    memory) to check that the config does not describe a model larger than the weights the file
    holds (a damaged or edited header must not allocate terabytes); then built for real."""
    have = sum(t.numel() for t in tensors.values())
    try:
        with torch.device("meta"):
            probe = factory()
        need = sum(p.numel() for p in probe.parameters()) + sum(b.numel() for b in probe.buffers())
    except (RuntimeError, NotImplementedError):  # a module that cannot be built on meta: no check
        need = 0
    if need > have:
        raise ModelFileError(f"model file {str(path)!r}: its config describes a model of {need:,} values, but the "
                             f"file holds {have:,}; the file is damaged or its header was edited")
    return factory()


def peek_kind(path: str | os.PathLike, option: str = "--model") -> str:
    """The ``kind`` a model file was saved as (raises ModelFileError for non-seqlab files); reads
    only the header."""
    path = Path(path)
    try:
        p = files.check_input(path, option, "model file", "model", allow_empty=True)
        with open(p, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else -1
            data = head + (fh.read(n) if 0 <= n <= files.HEADER_LIMIT else b"")
    except SeqlabError as exc:
        raise ModelFileError(str(exc)) from None
    except OSError as exc:
        raise ModelFileError(f"model file {str(path)!r} cannot be read: {exc.strerror or exc}") from None
    return modelfile.metadata(modelfile.header(data, path, size), path)["kind"]
