"""Recurrent layers in PyTorch: cells, the one runner, its backends, and the one cell table.

Every module here is an ordinary ``torch.nn.Module``. Parameter names, gate order and state
formats follow torch.nn (except the GRU update gate, see :mod:`seqlab.nn.cells`).

Names load their module on first use, so that ``seqlab.nn.registry`` (the cell names every
``--cell`` option lists) can be imported without torch.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_LAZY = {
    "CellBase": "cells", "GRUCell": "cells", "LSTMCell": "cells", "RNNCell": "cells",
    "from_torch": "convert", "to_torch": "convert",
    "Observer": "loop", "Step": "loop", "observe": "loop", "run_loop": "loop",
    "MinGRU": "minrnn", "MinGRUCell": "minrnn", "MinLSTM": "minrnn", "MinLSTMCell": "minrnn",
    "BACKENDS": "recurrent", "GRU": "recurrent", "LSTM": "recurrent", "RNN": "recurrent", "Recurrent": "recurrent",
    "reverse_padded": "recurrent",
    "CELLS": "registry", "CellSpec": "registry", "GATE_NAMES": "registry", "cell_names": "registry",
    "gate_count": "registry", "get_cell": "registry", "make_layer": "registry",
    "linear_scan": "scan",
}

__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = sorted(_LAZY)
