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

Training in pure NumPy (docs/numpy.md; ``python -m seqlab.reference train --data FILE``):

* :class:`NetConfig`, :func:`init_params`, :func:`net_forward`, :func:`net_backward`,
  :func:`loss_and_grads`, :func:`sample` (``net.py``): input layer, stacked cells, output, loss
* :class:`SGD`, :class:`Adagrad`, :class:`Adam` (``update(params, grads)``),
  :func:`clip_grad_norm` (``optim.py``)
* :class:`TrainConfig`, :func:`train_step`, :func:`train_lm`, :func:`evaluate` (``trainer.py``):
  truncated BPTT with the state carried; :func:`model_gradient_check` for the whole network

Inference on saved models without torch (``models.py``, ``blocks.py``): :func:`load` reads any
seqlab model file (``.safetensors``, or the ``.npz`` of ``seqlab export --format numpy``) and
returns its NumPy twin: Sequential, forecaster, classifier, language model or seq2seq.
"""

from ._checks import sigmoid
from .gradcheck import gradient_check, model_gradient_check, numerical_gradient, relative_error
from .gru import gru_backward, gru_forward
from .lstm import lstm_backward, lstm_forward
from .rnn import linear_backward, linear_forward, rnn_backward, rnn_forward
from .net import NetConfig, init_params, loss_and_grads, net_backward, net_forward, sample
from .optim import SGD, Adagrad, Adam, clip_grad_norm
from .stack import CELLS, reverse_padded, stacked_backward, stacked_forward
from .trainer import TrainConfig, evaluate, train_lm, train_step

__all__ = [
    "CELLS", "SGD", "Adagrad", "Adam", "NetConfig", "TrainConfig", "clip_grad_norm", "evaluate", "init_params",
    "loss_and_grads", "model_gradient_check", "net_backward", "net_forward", "sample", "train_lm", "train_step",
    "gradient_check", "gru_backward", "gru_forward", "linear_backward", "linear_forward",
    "lstm_backward", "lstm_forward", "numerical_gradient", "relative_error", "reverse_padded",
    "rnn_backward", "rnn_forward", "sigmoid", "stacked_backward", "stacked_forward",
]

# loading and running any seqlab model file (models.py); imports no torch
from .models import KINDS, read_model_file  # noqa: E402
from .models import load  # noqa: E402

__all__ += ["KINDS", "load", "read_model_file"]
