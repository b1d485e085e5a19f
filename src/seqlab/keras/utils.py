"""``keras.utils`` on seqlab: ``to_categorical``, ``set_random_seed``."""

from __future__ import annotations

import numpy as np

from ..errors import SeqlabError
from ..utils import set_random_seed


def to_categorical(y, num_classes: int | None = None, dtype: str = "float32") -> np.ndarray:
    """One-hot rows for integer class labels ``y`` (any shape): shape ``y.shape + (num_classes,)``
    (a trailing axis of 1 is dropped first, as Keras does)."""
    y = np.asarray(y)
    if y.size and (not np.issubdtype(y.dtype, np.number) or np.any(y != np.round(y)) or y.min() < 0):
        raise SeqlabError(f"y: expected non-negative integer class labels, got {y.dtype} values such as {y.flat[0]!r}")
    y = y.astype(np.int64)
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y[..., 0]
    n = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.size and y.max() >= n:
        raise SeqlabError(f"num_classes: {n} is too few for the label {int(y.max())}; pass num_classes > {int(y.max())}")
    return np.eye(n, dtype=dtype)[y]


__all__ = ["set_random_seed", "to_categorical"]
