"""seqlab: recurrent neural networks from the equations to trained models."""

__version__ = "0.1.0"

from .errors import ModelFileError, SeqlabError  # noqa: E402

__all__ = ["ModelFileError", "SeqlabError", "__version__"]
