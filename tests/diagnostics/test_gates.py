"""Gate statistics against a NumPy computation from the cell parameters."""

import numpy as np
import pytest
import torch

import seqlab.nn as snn
from seqlab.diagnostics import gate_statistics
from seqlab.errors import SeqlabError


def sig(a):
    return 1 / (1 + np.exp(-a))


def relu(a):
    return np.maximum(a, 0)


def numpy_gates(cell, x, lengths, kind):
    """Step the cell in NumPy over x (B, T, I); return {gate: list of (valid values)}."""
    act = relu if cell.activation == "relu" else np.tanh
    p = {k: v.detach().double().numpy() for k, v in cell.named_parameters()}
    B, T, _ = x.shape
    H = cell.hidden_size
    h = np.zeros((B, H))
    c = np.zeros((B, H))
    out = {g: [] for g in (("i", "f", "g", "o") if kind == "lstm" else ("r", "z", "n"))}
    for t in range(T):
        xt = x[:, t]
        gi = xt @ p["weight_ih"].T + p["bias_ih"]
        if kind == "lstm":
            a = gi + h @ p["weight_hh"].T + p["bias_hh"]
            ai, af, ag, ao = np.split(a, 4, axis=1)
            if cell.peephole:
                ai = ai + p["weight_ch"][0] * c
                af = af + p["weight_ch"][1] * c
            i, f, g = sig(ai), sig(af), act(ag)
            c_new = f * c + i * g
            if cell.peephole:
                ao = ao + p["weight_ch"][2] * c_new
            o = sig(ao)
            h_new = o * act(c_new)
            vals = {"i": i, "f": f, "g": g, "o": o}
        else:
            Wr, Wz, Wn = np.split(p["weight_hh"], 3, axis=0)
            br, bz, bn = np.split(p["bias_hh"], 3)
            xr, xz, xn = np.split(gi, 3, axis=1)
            r = sig(xr + h @ Wr.T + br)
            z = sig(xz + h @ Wz.T + bz)
            if cell.reset == "after":
                n = act(xn + r * (h @ Wn.T + bn))
            else:
                n = act(xn + (r * h) @ Wn.T + bn)
            h_new = (1 - z) * h + z * n
            c_new = c
            vals = {"r": r, "z": z, "n": n}
        valid = (t < lengths)[:, None]
        for g, v in vals.items():
            out[g].append(v[valid[:, 0]])
        h = np.where(valid, h_new, h)
        c = np.where(valid, c_new, c)
    return {g: np.concatenate(v) for g, v in out.items()}


@pytest.mark.parametrize("cls,kw,kind", [
    (snn.LSTM, {}, "lstm"), (snn.LSTM, {"peephole": True}, "lstm"),
    (snn.GRU, {"reset": "after"}, "gru"), (snn.GRU, {"reset": "before"}, "gru"),
    (snn.LSTM, {"activation": "relu"}, "lstm"), (snn.GRU, {"activation": "relu"}, "gru"),
])
def test_gate_statistics_match_numpy(cls, kw, kind):
    torch.manual_seed(4)
    B, T, I, H = 5, 9, 3, 6
    m = cls(I, H, **kw).double()
    with torch.no_grad():  # larger weights so that some gates saturate
        for p in m.parameters():
            p.mul_(6.0)
    x = torch.randn(B, T, I, dtype=torch.float64)
    lengths = torch.tensor([9, 4, 7, 1, 9])
    stats = gate_statistics(m, x, lengths=lengths)
    assert list(stats) == ["l0"]
    st = stats["l0"]
    assert st.kind == kind
    ref = numpy_gates(m.cells[0], x.numpy(), lengths.numpy(), kind)
    total = 0.0
    for g, v in ref.items():
        assert st.mean[g] == pytest.approx(v.mean(), rel=1e-10)
        if g in ("g", "n") and kw.get("activation") == "relu":  # relu: no saturation; the fraction at 0
            assert st.rule[g] == "relu" and st.measure(g) == "zero"
            sat = np.mean(v == 0)
        else:
            scaled = (v + 1) / 2 if g in ("g", "n") else v
            sat = np.mean((scaled < 0.05) | (scaled > 0.95))
            assert st.measure(g) == "saturated"
        assert st.saturated[g] == pytest.approx(sat, abs=1e-12)
        np.testing.assert_allclose(st.per_unit_mean[g].numpy(), v.mean(0), rtol=1e-10)
        total += sat
    assert 0 < total  # the test exercises saturation
    assert [r[1] for r in st.rows()] == list(ref)


def test_bidirectional_stacked_labels_and_rnn_only_error():
    m = snn.GRU(2, 3, num_layers=2, bidirectional=True)
    stats = gate_statistics(m, torch.randn(2, 4, 2))
    assert list(stats) == ["l0", "l0_reverse", "l1", "l1_reverse"]
    for st in stats.values():
        assert set(st.mean) == {"r", "z", "n"}
        assert all(0 <= s <= 1 for s in st.saturated.values())
    with pytest.raises(SeqlabError, match="LSTM or GRU"):
        gate_statistics(snn.RNN(2, 3), torch.randn(2, 4, 2))


@pytest.mark.parametrize("cls,gate", [(snn.LSTM, "g"), (snn.GRU, "n")])
def test_a_relu_candidate_reports_its_dead_fraction_not_tanh_saturation(cls, gate):
    """relu has no upper saturation: |v| > 0.9 (the tanh rule) would count large, gradient-passing
    values. Its figure is the fraction at exactly 0, where it passes no gradient; the sigmoid gates
    keep their rule."""
    torch.manual_seed(1)
    m = cls(3, 8, activation="relu").double()
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(4.0)
    x = torch.randn(6, 10, 3, dtype=torch.float64)
    st = gate_statistics(m, x)["l0"]
    v = np.concatenate(numpy_gates(m.cells[0], x.numpy(), np.full(6, 10), st.kind)[gate])
    dead, big = np.mean(v == 0), np.mean(v > 0.9)
    assert 0.1 < dead < 0.9 and big > 0.05 and abs(dead - big) > 0.05  # the two rules differ here
    assert st.saturated[gate] == pytest.approx(dead, abs=1e-12)
    assert st.rule[gate] == "relu" and st.measure(gate) == "zero"
    assert all(st.rule[g] == "sigmoid" and st.measure(g) == "saturated" for g in st.mean if g != gate)
    tanh = gate_statistics(cls(3, 8).double(), x)["l0"]
    assert tanh.rule[gate] == "tanh" and tanh.measure(gate) == "saturated"
