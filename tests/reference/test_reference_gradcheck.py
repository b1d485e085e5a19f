"""The hand-derived backward passes of seqlab.reference against central finite differences, for
every cell option, with and without lengths, and through the stacked bidirectional driver."""

import functools

import numpy as np
import pytest

from seqlab.reference import (gradient_check, gru_backward, gru_forward, linear_backward, linear_forward,
                              lstm_backward, lstm_forward, numerical_gradient, relative_error, rnn_backward,
                              rnn_forward, stacked_backward, stacked_forward)

B, T, I, H = 3, 4, 3, 2
TOL = 1e-6  # central differences with eps = 1e-6 agree to about 1e-9 here

CELLS = {
    "rnn-tanh": (rnn_forward, rnn_backward, 1, {"nonlinearity": "tanh"}),
    "rnn-relu": (rnn_forward, rnn_backward, 1, {"nonlinearity": "relu"}),
    "lstm": (lstm_forward, lstm_backward, 4, {}),
    "lstm-peephole": (lstm_forward, lstm_backward, 4, {}),
    "gru-after": (gru_forward, gru_backward, 3, {"reset": "after"}),
    "gru-before": (gru_forward, gru_backward, 3, {"reset": "before"}),
}


def random_params(rng, G, in_size=I, peephole=False, bias=True):
    p = {"weight_ih": rng.normal(0, 0.6, (G * H, in_size)), "weight_hh": rng.normal(0, 0.6, (G * H, H))}
    if bias:
        p["bias_ih"], p["bias_hh"] = rng.normal(0, 0.6, G * H), rng.normal(0, 0.6, G * H)
    if peephole:
        p["weight_ch"] = rng.normal(0, 0.6, (3, H))
    return p


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("lengths", [None, [4, 1, 3]], ids=["full", "lengths"])
@pytest.mark.parametrize("name", list(CELLS))
def test_cell_backward_matches_finite_differences(name, lengths, bias):
    rng = np.random.default_rng(7)
    fwd, bwd, G, opts = CELLS[name]
    params = random_params(rng, G, peephole=name == "lstm-peephole", bias=bias)
    x = rng.normal(size=(B, T, I))
    state = (rng.normal(size=(B, H)), rng.normal(size=(B, H))) if G == 4 else rng.normal(size=(B, H))
    report = gradient_check(fwd, bwd, x, params, state, lengths, **opts)
    expected = {"x", *params, *(["state[0]", "state[1]"] if G == 4 else ["state"])}
    assert set(report) == expected
    assert max(report.values()) < TOL, report


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_stacked_bidirectional_backward_matches_finite_differences(cell):
    rng = np.random.default_rng(3)
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    params = [random_params(rng, G, I if k < 2 else 2 * H, peephole=cell == "lstm") for k in range(4)]
    x = rng.normal(size=(2, 3, I))  # (B, T, I), smaller: 4 cells, every entry perturbed
    state = rng.normal(size=(4, 2, H))
    state = (state, rng.normal(size=(4, 2, H))) if cell == "lstm" else state
    opts = {"gru": {"reset": "before"}, "rnn": {"nonlinearity": "tanh"}, "lstm": {}}[cell]
    report = gradient_check(functools.partial(stacked_forward, cell), stacked_backward, x, params, state,
                            [3, 2], num_layers=2, bidirectional=True, **opts)
    assert len([k for k in report if k.startswith("cells[3].")]) == len(params[3])
    assert max(report.values()) < TOL, report


def test_linear_output_layer_backward():
    rng = np.random.default_rng(0)
    h, V, c = rng.normal(size=(2, 3, 4)), rng.normal(size=(5, 4)), rng.normal(size=5)
    dy = rng.normal(size=(2, 3, 5))
    dh, dV, dc = linear_backward(dy, h, V)
    for a, g in ((h, dh), (V, dV), (c, dc)):
        num = numerical_gradient(lambda: float((dy * linear_forward(h, V, c)).sum()), a)
        assert relative_error(g, num) < 1e-8
    # y_t = V h_t + c for one step written out
    np.testing.assert_allclose(linear_forward(h, V, c)[1, 2], V @ h[1, 2] + c, rtol=0, atol=1e-14)


def test_relative_error_and_numerical_gradient():
    a = np.array([1.0, -2.0, 3.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(np.zeros(2), np.zeros(2)) == 0.0
    assert relative_error([1.0, 2.0], [1.0, 2.2]) == pytest.approx(0.2 / 2.2)
    g = numerical_gradient(lambda: float(np.sin(a).sum() + (a**3).sum()), a)
    np.testing.assert_allclose(g, np.cos(a) + 3 * a**2, rtol=1e-8)
    assert np.all(a == [1.0, -2.0, 3.0])  # restored after the perturbations


def test_gradient_check_catches_a_wrong_backward():
    """A backward with a deliberate bug (the forget-gate derivative dropped) is reported."""
    rng = np.random.default_rng(1)
    params = random_params(rng, 4)
    x = rng.normal(size=(B, T, I))

    def broken(dout, dstate, cache):
        grads, dx, ds = lstm_backward(dout, dstate, cache)
        grads["weight_hh"] = grads["weight_hh"].copy()
        grads["weight_hh"][H : 2 * H] = 0.0  # forget-gate rows
        return grads, dx, ds

    report = gradient_check(lstm_forward, broken, x, params)
    assert report["weight_hh"] > 0.01
    assert report["weight_ih"] < TOL


def test_command_prints_the_table(capsys):
    from seqlab.reference.__main__ import main

    assert main() == 0
    out = capsys.readouterr().out
    for name in ("RNN tanh", "RNN relu", "LSTM peephole", "GRU reset=after", "GRU reset=before", "GRU 2 layers bidirectional"):
        assert name in out
    errors = [float(line.split()[-1]) for line in out.splitlines()[2:-1]]
    assert len(errors) == 7 and max(errors) < 1e-6
