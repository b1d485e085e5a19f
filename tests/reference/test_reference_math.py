"""The reference's forward semantics against independent computations: hand-written single
steps, each sequence run alone vs a padded batch, the reversal used by the backward direction."""

import numpy as np
import pytest

from seqlab.reference import (gru_backward, gru_forward, lstm_backward, lstm_forward, reverse_padded,
                              rnn_forward, sigmoid, stacked_backward, stacked_forward)

rng = np.random.default_rng(11)


def params(G, I, H, peephole=False):
    p = {"weight_ih": rng.normal(0, 0.7, (G * H, I)), "weight_hh": rng.normal(0, 0.7, (G * H, H)),
         "bias_ih": rng.normal(0, 0.7, G * H), "bias_hh": rng.normal(0, 0.7, G * H)}
    if peephole:
        p["weight_ch"] = rng.normal(0, 0.7, (3, H))
    return p


def test_sigmoid_is_stable_and_correct():
    a = np.array([-1000.0, -3.0, 0.0, 2.5, 1000.0])
    with np.errstate(over="raise", invalid="raise"):
        s = sigmoid(a)
    np.testing.assert_allclose(s, [0.0, 1 / (1 + np.exp(3.0)), 0.5, 1 / (1 + np.exp(-2.5)), 1.0], rtol=1e-15)


def test_peephole_lstm_one_step_by_hand():
    """Graves 2013 with scalars: i and f look at c_{t-1}, o at c_t."""
    p = params(4, 1, 1, peephole=True)
    x, h0, c0 = 0.3, -0.4, 0.8
    W, U = p["weight_ih"][:, 0], p["weight_hh"][:, 0]
    b = p["bias_ih"] + p["bias_hh"]
    wci, wcf, wco = p["weight_ch"][:, 0]
    s = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    i = s(W[0] * x + U[0] * h0 + b[0] + wci * c0)
    f = s(W[1] * x + U[1] * h0 + b[1] + wcf * c0)
    g = np.tanh(W[2] * x + U[2] * h0 + b[2])
    c1 = f * c0 + i * g
    o = s(W[3] * x + U[3] * h0 + b[3] + wco * c1)
    h1 = o * np.tanh(c1)
    out, (h, c), _ = lstm_forward(np.full((1, 1, 1), x), p, (np.full((1, 1), h0), np.full((1, 1), c0)))
    assert out[0, 0, 0] == pytest.approx(h1, abs=1e-15) and h[0, 0] == pytest.approx(h1, abs=1e-15)
    assert c[0, 0] == pytest.approx(c1, abs=1e-15)


@pytest.mark.parametrize("reset", ["after", "before"])
def test_gru_one_step_by_hand(reset):
    """h = (1 - z) h_prev + z n; the reset gate inside (after) or before W_hn."""
    p = params(3, 2, 2)
    x, h0 = rng.normal(size=2), rng.normal(size=2)
    Wr, Wz, Wn = np.split(p["weight_ih"], 3)
    Ur, Uz, Un = np.split(p["weight_hh"], 3)
    br, bz, bn = np.split(p["bias_ih"], 3)
    cr, cz, cn = np.split(p["bias_hh"], 3)
    s = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    r, z = s(Wr @ x + br + Ur @ h0 + cr), s(Wz @ x + bz + Uz @ h0 + cz)
    n = np.tanh(Wn @ x + bn + (r * (Un @ h0 + cn) if reset == "after" else Un @ (r * h0) + cn))
    h1 = (1 - z) * h0 + z * n
    _, h, _ = gru_forward(x[None, None], p, h0[None], reset=reset)
    np.testing.assert_allclose(h[0], h1, rtol=0, atol=1e-14)


def test_reset_conventions_differ():
    p = params(3, 2, 3)
    x, h0 = rng.normal(size=(2, 4, 2)), rng.normal(size=(2, 3))
    a, _, _ = gru_forward(x, p, h0, reset="after")
    b, _, _ = gru_forward(x, p, h0, reset="before")
    assert np.abs(a - b).max() > 1e-3


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_by_hand(nonlinearity):
    p = params(1, 2, 3)
    x, h0 = rng.normal(size=(1, 3, 2)), rng.normal(size=3)
    f = np.tanh if nonlinearity == "tanh" else (lambda v: np.maximum(v, 0))
    h, outs = h0, []
    for t in range(3):
        h = f(p["weight_ih"] @ x[0, t] + p["bias_ih"] + p["weight_hh"] @ h + p["bias_hh"])
        outs.append(h)
    out, hT, _ = rnn_forward(x, p, h0[None], nonlinearity=nonlinearity)
    np.testing.assert_allclose(out[0], np.stack(outs), rtol=0, atol=1e-14)
    np.testing.assert_allclose(hT[0], h, rtol=0, atol=1e-14)


def test_reverse_padded():
    x = np.arange(2 * 4).reshape(2, 4, 1).astype(float)  # (B, T, 1)
    r = reverse_padded(x, np.array([4, 2]))
    np.testing.assert_array_equal(r[:, :, 0], [[3, 2, 1, 0], [5, 4, 6, 7]])
    np.testing.assert_array_equal(reverse_padded(r, np.array([4, 2])), x)


@pytest.mark.parametrize("cell, opts", [("rnn", {"nonlinearity": "relu"}), ("lstm", {}), ("gru", {"reset": "before"})])
def test_padded_batch_equals_sequences_alone(cell, opts):
    """Reference masking: outputs past the end are zero, the final state is the state at the last
    valid step, gradients on padding are ignored, for a 2-layer bidirectional stack."""
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    H, I, T = 3, 2, 5
    ps = [params(G, I if k < 2 else 2 * H, H, peephole=cell == "lstm") for k in range(4)]
    lengths = [5, 2, 4]
    x = rng.normal(size=(3, T, I))
    dout = rng.normal(size=(3, T, 2 * H))
    S = 2 if cell == "lstm" else 1
    dstate = [rng.normal(size=(4, 3, H)) for _ in range(S)]
    pack = (lambda a: tuple(a)) if S == 2 else (lambda a: a[0])  # noqa: E731
    kw = dict(num_layers=2, bidirectional=True, **opts)
    out, fin, cache = stacked_forward(cell, x, ps, None, lengths, **kw)
    grads, dx, _ = stacked_backward(dout, pack(dstate), cache)
    total = [{n: np.zeros_like(g) for n, g in gs.items()} for gs in grads]
    fin = fin if S == 2 else (fin,)
    for b, n in enumerate(lengths):
        o1, f1, c1 = stacked_forward(cell, x[b : b + 1, :n], ps, None, None, **kw)
        g1, dx1, _ = stacked_backward(dout[b : b + 1, :n], pack([d[:, b : b + 1] for d in dstate]), c1)
        np.testing.assert_allclose(out[b, :n], o1[0], rtol=0, atol=1e-13)
        assert np.all(out[b, n:] == 0) and np.all(dx[b, n:] == 0)
        for fa, fb in zip(fin, f1 if S == 2 else (f1,)):
            np.testing.assert_allclose(fa[:, b], fb[:, 0], rtol=0, atol=1e-13)
        np.testing.assert_allclose(dx[b, :n], dx1[0], rtol=0, atol=1e-13)
        for acc, g in zip(total, g1):
            for name in acc:
                acc[name] += g[name]
    for ga, gb in zip(grads, total):
        for name in ga:
            np.testing.assert_allclose(ga[name], gb[name], rtol=0, atol=1e-12)


def test_backward_of_lstm_and_gru_use_their_caches():
    """Backward twice from one cache gives the same result (the cache is not mutated)."""
    p = params(3, 2, 3)
    x = rng.normal(size=(2, 3, 2))
    _, _, cache = gru_forward(x, p)
    dout = rng.normal(size=(2, 3, 3))
    a, b = gru_backward(dout, None, cache), gru_backward(dout, None, cache)
    np.testing.assert_array_equal(a[1], b[1])
    p = params(4, 2, 3)
    _, _, cache = lstm_forward(x, p)
    a, b = lstm_backward(dout, None, cache), lstm_backward(dout, None, cache)
    np.testing.assert_array_equal(a[0]["weight_hh"], b[0]["weight_hh"])
