"""The math of RNN, LSTM and GRU in float64 NumPy: one line per equation of docs/math.md.

Each cell has a forward over a whole batch-first sequence and a backward written out by hand
(backpropagation through time, no autograd). Parameter names, shapes and gate orders are those of
:mod:`seqlab.nn` (and torch.nn), so ``{n: p.detach().numpy() for n, p in cell.named_parameters()}``
maps a torch cell to the reference one to one.

* :func:`rnn_forward` / :func:`rnn_backward` (tanh or relu), :func:`linear_forward` /
  :func:`linear_backward` for the output layer ``y = V h + c``
* :func:`lstm_forward` / :func:`lstm_backward` (peephole when params have ``weight_ch``)
* :func:`gru_forward` / :func:`gru_backward` (``reset='after'`` or ``'before'``)
* :func:`stacked_forward` / :func:`stacked_backward`: layers and directions
* :func:`gradient_check`, :func:`numerical_gradient`, :func:`relative_error`
"""

from ._checks import sigmoid
from .gradcheck import gradient_check, numerical_gradient, relative_error
from .gru import gru_backward, gru_forward
from .lstm import lstm_backward, lstm_forward
from .rnn import linear_backward, linear_forward, rnn_backward, rnn_forward
from .stack import CELLS, reverse_padded, stacked_backward, stacked_forward

__all__ = [
    "CELLS", "gradient_check", "gru_backward", "gru_forward", "linear_backward", "linear_forward",
    "lstm_backward", "lstm_forward", "numerical_gradient", "relative_error", "reverse_padded",
    "rnn_backward", "rnn_forward", "sigmoid", "stacked_backward", "stacked_forward",
]
