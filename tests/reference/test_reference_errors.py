"""Bad input to the reference raises SeqlabError naming the argument, expected and received."""

import re

import numpy as np
import pytest

from seqlab.errors import SeqlabError
from seqlab.reference import (gru_forward, linear_forward, lstm_backward, lstm_forward, numerical_gradient,
                              rnn_forward, stacked_forward)

rng = np.random.default_rng(0)
P1 = {"weight_ih": rng.normal(size=(3, 2)), "weight_hh": rng.normal(size=(3, 3))}
P4 = {"weight_ih": rng.normal(size=(12, 2)), "weight_hh": rng.normal(size=(12, 3))}
X = rng.normal(size=(2, 4, 2))


@pytest.mark.parametrize("call, message", [
    (lambda: rnn_forward(X, P1, nonlinearity="sigmoid"), "nonlinearity: expected 'tanh' or 'relu', got 'sigmoid'"),
    (lambda: gru_forward(X, {**P1}, reset="middle"), "reset: expected 'after' (cuDNN form) or 'before' (Cho et al. 2014), got 'middle'"),
    (lambda: rnn_forward(X[0], P1), "x: expected 3 dimensions, got shape (4, 2)"),
    (lambda: rnn_forward(rng.normal(size=(2, 4, 5)), P1), "x: expected shape (batch, time >= 1, 2), got (2, 4, 5)"),
    (lambda: rnn_forward(rng.normal(size=(2, 0, 2)), P1), "x: expected shape (batch, time >= 1, 2), got (2, 0, 2)"),
    (lambda: rnn_forward(X, "weights"), "params: expected a dict of arrays (weight_ih, weight_hh, ...), got str"),
    (lambda: rnn_forward(X, {"weight_ih": P1["weight_ih"]}), "params: expected key 'weight_hh', got keys ['weight_ih']"),
    (lambda: rnn_forward(X, {**P1, "weight_hh": np.zeros((3, 4))}), "params['weight_hh']: expected shape (3, 3), got (3, 4)"),
    (lambda: rnn_forward(X, {**P1, "bias_ih": np.zeros(3)}), "params: expected both bias_ih and bias_hh or neither"),
    (lambda: rnn_forward(X, {**P1, "bias_ih": np.zeros(2), "bias_hh": np.zeros(3)}), "params['bias_ih']: expected shape (3,), got (2,)"),
    (lambda: gru_forward(X, {"weight_ih": np.zeros((4, 2)), "weight_hh": np.zeros((4, 1))}), "params['weight_ih']: expected 3*hidden_size rows, got 4"),
    (lambda: lstm_forward(X, {**P4, "weight_ch": np.zeros((3, 2))}), "params['weight_ch']: expected shape (3, 3), got (3, 2)"),
    (lambda: rnn_forward(X, P1, np.zeros((2, 4))), "state: expected shape (batch, hidden) = (2, 3), got (2, 4)"),
    (lambda: lstm_forward(X, P4, np.zeros((2, 3))), "state: expected a pair (h0, c0) of arrays (batch, hidden), got ndarray"),
    (lambda: lstm_forward(X, P4, (np.zeros((2, 3)), np.zeros((3, 3)))), "state[1] (c0): expected shape (batch, hidden) = (2, 3), got (3, 3)"),
    (lambda: rnn_forward(X, P1, lengths=[4]), "lengths: expected 2 lengths (one per sequence), got shape (1,)"),
    (lambda: rnn_forward(X, P1, lengths=[4, 5]), "lengths: expected values in [1, 4] (the time dimension), got min 4, max 5"),
    (lambda: rnn_forward(X, P1, lengths=[4.0, 2.0]), "lengths: expected integers, got dtype float64"),
    (lambda: rnn_forward([["a"]], P1), "x: expected a real-valued array, got list"),
    (lambda: stacked_forward("mlp", X, [P1]), "cell: expected one of ('lstm', 'gru', 'rnn'), got 'mlp'"),
    (lambda: stacked_forward("rnn", X, [P1], num_layers=0), "num_layers: expected a positive integer, got 0"),
    (lambda: stacked_forward("rnn", X, [P1], num_layers=2), "params: expected a list of num_layers*directions = 2 parameter dicts, got 1"),
    (lambda: stacked_forward("rnn", X, [P1], np.zeros((2, 3))), "state: expected 3 dimensions, got shape (2, 3)"),
    (lambda: stacked_forward("rnn", X, [P1], np.zeros((2, 2, 3))), "state: expected shape (layers*directions, batch, hidden) = (1, 2, 3), got (2, 2, 3)"),
    (lambda: stacked_forward("lstm", X, [P4], np.zeros((1, 2, 3))), "state: expected (h, c) (2 array(s)), got 1"),
    (lambda: linear_forward(np.zeros((2, 4, 3)), np.zeros((5, 2))), "V: expected shape (outputs, 3) for h of shape (2, 4, 3), got (5, 2)"),
    (lambda: linear_forward(np.zeros((2, 4, 3)), np.zeros((5, 3)), np.zeros(4)), "c: expected shape (5,), got (4,)"),
    (lambda: numerical_gradient(lambda: 0.0, [1.0]), "a: expected a float64 numpy array (perturbed in place), got list"),
])
def test_bad_input(call, message):
    with pytest.raises(SeqlabError, match=re.escape(message)):
        call()


def test_bad_backward_gradients():
    _, _, cache = lstm_forward(X, P4)
    with pytest.raises(SeqlabError, match=re.escape("dout: expected shape (2, 4, 3), got (2, 4, 2)")):
        lstm_backward(np.zeros((2, 4, 2)), None, cache)
    with pytest.raises(SeqlabError, match=re.escape("dstate[0] (dh_T): expected shape (2, 3), got (1, 3)")):
        lstm_backward(np.zeros((2, 4, 3)), (np.zeros((1, 3)), np.zeros((2, 3))), cache)
