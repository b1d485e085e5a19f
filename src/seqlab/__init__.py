"""seqlab: recurrent neural networks from the equations to trained models."""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import ModelFileError, SeqlabError  # noqa: E402

# The model API is imported on first use so that `import seqlab` (and `seqlab --help`) stay fast.
_LAZY = {"Sequential": "seqlab.model", "load_model": "seqlab.model"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'seqlab' has no attribute {name!r}")


__all__ = ["ModelFileError", "SeqlabError", "Sequential", "__version__", "load_model"]
