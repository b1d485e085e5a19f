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
import tempfile
from pathlib import Path
from typing import Any, Mapping

import torch

from .errors import ModelFileError, SeqlabError

FORMAT_VERSION = 1
_META_KEY = "seqlab"


def _file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file: 0666 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same folder, fsync, rename."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        raise SeqlabError(f"path: folder {str(folder)!r} does not exist; create it first or choose another path")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, _file_mode())  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def save_file(path: str | os.PathLike, kind: str, config: Mapping[str, Any],
              tensors: Mapping[str, torch.Tensor]) -> None:
    """Save ``tensors`` and a JSON-serialisable ``config`` as one safetensors file, atomically."""
    from safetensors.torch import save

    meta = {"kind": kind, "format": FORMAT_VERSION, "config": config}
    try:
        header = json.dumps(meta)
    except TypeError as exc:
        raise SeqlabError(f"config for {kind!r} is not JSON-serialisable: {exc}") from exc
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    atomic_write_bytes(path, save(flat, metadata={_META_KEY: header}))


def load_file(path: str | os.PathLike, kind: str | None = None) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Load a file written by :func:`save_file`; returns ``(config, tensors)``.

    Raises :class:`ModelFileError` with a readable message for a missing, truncated, corrupted
    or foreign file, or for a file saved by another kind of model than ``kind``.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"model file {str(path)!r} does not exist")
    if path.is_dir():
        raise ModelFileError(f"model file {str(path)!r} is a folder; pass the .safetensors file saved by seqlab")
    data = path.read_bytes()
    try:
        tensors = load(data)
        # the metadata is in the header: 8 bytes of little-endian length, then JSON
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + n])
    except (SafetensorError, ValueError, UnicodeDecodeError, OverflowError, MemoryError) as exc:
        raise ModelFileError(
            f"model file {str(path)!r} is not a readable seqlab model (truncated, corrupted or another format): {exc}"
        ) from exc
    raw = (header.get("__metadata__") or {}).get(_META_KEY)
    if raw is None:
        raise ModelFileError(f"model file {str(path)!r} is a safetensors file but was not saved by seqlab (no 'seqlab' metadata)")
    try:
        meta = json.loads(raw)
    except ValueError as exc:
        raise ModelFileError(f"model file {str(path)!r} has corrupted seqlab metadata: {exc}") from exc
    if not isinstance(meta, dict) or "config" not in meta:
        raise ModelFileError(f"model file {str(path)!r} has seqlab metadata without a config")
    if meta.get("format", 0) > FORMAT_VERSION:
        raise ModelFileError(
            f"model file {str(path)!r} has format {meta.get('format')}, newer than this seqlab reads ({FORMAT_VERSION}); upgrade seqlab"
        )
    if kind is not None and meta.get("kind") != kind:
        raise ModelFileError(
            f"model file {str(path)!r} holds a {meta.get('kind')!r} model, expected a {kind!r} model"
        )
    return meta["config"], tensors


def peek_kind(path: str | os.PathLike) -> str:
    """The ``kind`` a model file was saved as (raises ModelFileError for non-seqlab files)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {str(path)!r} does not exist")
    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = (fh.metadata() or {}).get(_META_KEY)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"model file {str(path)!r} is not a readable seqlab model: {exc}") from exc
    if raw is None:
        raise ModelFileError(f"model file {str(path)!r} was not saved by seqlab")
    try:
        return json.loads(raw)["kind"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"model file {str(path)!r} has corrupted seqlab metadata") from exc
