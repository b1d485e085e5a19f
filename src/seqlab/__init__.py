"""seqlab: recurrent neural networks from the equations to trained models."""

from __future__ import annotations

__version__ = "0.1.0"

from ._lazy import lazy_getattr  # noqa: E402
from .errors import ModelFileError, SeqlabError  # noqa: E402

# The model API is imported on first use so that `import seqlab` (and `seqlab --help`) stay fast.
_LAZY = {"Sequential": "seqlab.model", "load_model": "seqlab.model"}

__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = ["ModelFileError", "SeqlabError", "Sequential", "__version__", "load_model"]
