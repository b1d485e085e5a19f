"""Keras's import paths on seqlab: run Keras code by changing its imports.

    from seqlab.keras.models import Sequential            # was: from keras.models import Sequential
    from seqlab.keras.layers import Dense, LSTM, GRU, SimpleRNN, Dropout
    from seqlab.keras.optimizers import Adam               # Adam(learning_rate=1e-3, clipnorm=1.0)
    from seqlab.keras.callbacks import EarlyStopping
    from seqlab.keras.losses import SparseCategoricalCrossentropy   # (from_logits=True)
    from seqlab.keras.utils import to_categorical

or ``from seqlab import keras`` for ``keras.layers.LSTM(...)``-style code. The classes are
seqlab's own (:mod:`seqlab.layers`, :mod:`seqlab.model`, :mod:`seqlab.train.callbacks`) with
Keras's signatures, positional orders and defaults where those differ (``compile``'s first
argument is the optimizer, its default 'rmsprop'; ``fit``'s ``batch_size=None`` means 32;
``learning_rate``, ``beta_1``, ``rho``). Where seqlab computes something differently from Keras,
the function's docstring says so. See docs/api.md.
"""

from __future__ import annotations

from .. import initializers, regularizers
from . import callbacks, layers, losses, models, optimizers, utils
from .layers import Input
from .models import Sequential

__all__ = ["Input", "Sequential", "callbacks", "initializers", "layers", "losses", "models", "optimizers",
           "regularizers", "utils"]
