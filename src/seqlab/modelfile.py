"""A seqlab model file's header, read without torch: the one parser behind :mod:`seqlab.io`
(the torch models) and :mod:`seqlab.reference` (the NumPy models, and ``seqlab export``).

A model file is a safetensors file: 8 bytes of little-endian header length, a JSON header, the
raw tensors. The header's ``__metadata__`` holds, under :data:`META_KEY`, a JSON string with the
model's ``kind``, the file ``format`` and its ``config``. Both are parsed here with limits on
length and nesting (:func:`seqlab.files.loads_json`) and checked for type before anything else
reads them, so a damaged or hand-edited header gives a :class:`ModelFileError` of one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import files
from .errors import ModelFileError, SeqlabError

#: the newest file format this seqlab reads and the one it writes
FORMAT_VERSION = 1
#: the key of the seqlab metadata in a safetensors header
META_KEY = "seqlab"


def read(path: str | Path, option: str = "--model") -> tuple[dict[str, Any], bytes]:
    """``(metadata, the file's bytes)`` of a seqlab model file that passed the read boundary of
    :mod:`seqlab.files` (a regular file, not a folder, FIFO or device, read with a size limit)."""
    try:  # the path as given: Path('') is '.', which would be refused as a folder, not as no name
        data = files.read_bytes(path, option, "model file", "model", allow_empty=True)
    except SeqlabError as exc:
        raise ModelFileError(str(exc)) from None
    path = Path(path)
    return metadata(header(data, path), path), data


def header(data: bytes, path: str | Path, size: int | None = None) -> dict[str, Any]:
    """A safetensors header: 8 bytes of little-endian length, then that much JSON (limited).
    ``data`` is the file or its beginning; ``size`` the whole file's bytes (default len(data))."""
    bad = f"model file {str(path)!r} is not a readable seqlab model (truncated, corrupted or another format)"
    size = len(data) if size is None else size
    if size < 8:
        raise ModelFileError(f"{bad}: {size} bytes, shorter than a safetensors header")
    n = int.from_bytes(data[:8], "little")
    if n > files.HEADER_LIMIT or 8 + n > min(len(data), size):
        raise ModelFileError(f"{bad}: its header claims {n} bytes, the file holds {size - 8} after the length")
    try:
        head = files.loads_json(bytes(data[8: 8 + n]), "header")
    except SeqlabError as exc:
        raise ModelFileError(f"{bad}: {exc}") from None
    if not isinstance(head, dict):
        raise ModelFileError(f"{bad}: its header is not a JSON object")
    return head


def metadata(head: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """The seqlab metadata of a parsed header: a dict with a string ``kind``, an int ``format``
    no newer than :data:`FORMAT_VERSION` and a dict ``config``."""
    raw = head.get("__metadata__")
    return parse_meta(raw.get(META_KEY) if isinstance(raw, dict) else None, path)


def parse_meta(raw: Any, path: str | Path) -> dict[str, Any]:
    """The seqlab metadata from its JSON string ``raw`` (None: the file has none), checked."""
    if raw is None:
        raise ModelFileError(f"model file {str(path)!r} is a safetensors file but was not saved by seqlab "
                             "(no 'seqlab' metadata)")
    if not isinstance(raw, str):
        raise ModelFileError(f"model file {str(path)!r} has corrupted seqlab metadata (not a JSON string)")
    try:
        meta = files.loads_json(raw, f"model file {str(path)!r}: seqlab metadata")
    except SeqlabError as exc:
        raise ModelFileError(str(exc)) from None
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise ModelFileError(f"model file {str(path)!r} has seqlab metadata without a config")
    if not isinstance(meta.get("kind"), str):
        raise ModelFileError(f"model file {str(path)!r} has corrupted seqlab metadata: its kind is "
                             f"{meta.get('kind')!r}, not a name")
    fmt = meta.get("format", 0)
    if not isinstance(fmt, int) or isinstance(fmt, bool):
        raise ModelFileError(f"model file {str(path)!r} has seqlab metadata with an invalid format {fmt!r}")
    if fmt > FORMAT_VERSION:
        raise ModelFileError(
            f"model file {str(path)!r} has format {fmt}, newer than this seqlab reads ({FORMAT_VERSION}); upgrade seqlab"
        )
    return meta


def non_finite(path: str | Path, name: str) -> str:
    """The message for a model file whose tensor ``name`` holds NaN or an infinity: a model that
    diverged or a damaged file, whose every output would be NaN."""
    return (f"model file {str(path)!r} holds non-finite values (NaN or inf) in {name!r}: the model diverged in "
            "training or the file is damaged; use an earlier model file or train again")


__all__ = ["FORMAT_VERSION", "META_KEY", "header", "metadata", "non_finite", "parse_meta", "read"]
