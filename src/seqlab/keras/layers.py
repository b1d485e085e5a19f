"""``keras.layers`` on seqlab: the layers of :mod:`seqlab.layers`, plus ``Input`` and ``TimeDistributed``."""

from __future__ import annotations

from typing import Any, Sequence

from ..errors import SeqlabError
from ..layers import (GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, InputLayer, Layer, Masking, MinGRU,
                      MinLSTM, SimpleRNN)


def Input(shape: Sequence[int | None] | None = None, batch_size: int | None = None, name: str | None = None,
          **kwargs: Any) -> InputLayer:
    """``keras.Input(shape=(timesteps, features))``, the first entry of a Sequential's layer list."""
    return InputLayer(shape=shape, batch_size=batch_size, name=name, **kwargs)


def TimeDistributed(layer: Layer, **kwargs: Any) -> Layer:
    """``TimeDistributed(Dense(n))``: seqlab's Dense already applies at every time step of a
    sequence (B, T, F) -> (B, T, n), so this returns ``layer`` itself."""
    if kwargs:
        raise SeqlabError(f"{next(iter(kwargs))}: TimeDistributed takes only the layer to wrap")
    if not isinstance(layer, (Dense, Dropout)):
        raise SeqlabError(f"layer: TimeDistributed wraps Dense or Dropout (which apply per time step), "
                          f"got {type(layer).__name__}")
    return layer


__all__ = ["Bidirectional", "Dense", "Dropout", "Embedding", "GRU", "Input", "InputLayer", "LSTM", "Masking",
           "MinGRU", "MinLSTM", "SimpleRNN", "TimeDistributed"]
