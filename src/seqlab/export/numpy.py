"""``--format numpy``: a model file as one ``.npz`` (the weights as arrays, the config as JSON), for
machines with NumPy and nothing else; :func:`seqlab.reference.load` reads it like the
``.safetensors`` file it came from."""

from __future__ import annotations

import io as _io
import json
import os
from pathlib import Path

import numpy as np

from ..modelfile import FORMAT_VERSION
from ..reference.models import NPZ_META, build, read_model_file


def export_numpy(model: str | os.PathLike, out: str | os.PathLike) -> list[Path]:
    """Write the model file ``model`` as an ``.npz`` at ``out``; returns ``[out]``."""
    from ..files import atomic_write_bytes

    kind, config, tensors = read_model_file(model)
    build(kind, config, tensors, model)  # what seqlab.reference.load will run: refused now if it cannot
    meta = json.dumps({"kind": kind, "format": FORMAT_VERSION, "config": config})
    buf = _io.BytesIO()
    np.savez(buf, **{NPZ_META: np.array(meta)}, **tensors)
    atomic_write_bytes(out, buf.getvalue())
    return [Path(out)]


__all__ = ["export_numpy"]
