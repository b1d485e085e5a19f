"""Recurrent layers in PyTorch: cells, the one runner, and its backends.

Every module here is an ordinary ``torch.nn.Module``. Parameter names, gate order and state
formats follow torch.nn (except the GRU update gate, see :mod:`seqlab.nn.cells`).
"""

from .cells import CellBase, GRUCell, LSTMCell, RNNCell
from .convert import from_torch, to_torch
from .minrnn import MinGRU, MinGRUCell, MinLSTM, MinLSTMCell
from .recurrent import BACKENDS, GRU, LSTM, RNN, Recurrent, reverse_padded, run_loop
from .scan import linear_scan

__all__ = [
    "BACKENDS", "CellBase", "GRU", "GRUCell", "LSTM", "LSTMCell", "MinGRU", "MinGRUCell",
    "MinLSTM", "MinLSTMCell", "RNN", "RNNCell", "Recurrent", "from_torch", "linear_scan", "reverse_padded",
    "run_loop", "to_torch",
]
