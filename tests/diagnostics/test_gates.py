"""Gate statistics against a NumPy computation from the cell parameters."""

import numpy as np
import pytest
import torch

import seqlab.nn as snn
from seqlab.diagnostics import gate_statistics
from seqlab.errors import SeqlabError


def sig(a):
    return 1 / (1 + np.exp(-a))


def numpy_gates(cell, x, lengths, kind):
    """Step the cell in NumPy over x (B, T, I); return {gate: list of (valid values)}."""
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
            i, f, g = sig(ai), sig(af), np.tanh(ag)
            c_new = f * c + i * g
            if cell.peephole:
                ao = ao + p["weight_ch"][2] * c_new
            o = sig(ao)
            h_new = o * np.tanh(c_new)
            vals = {"i": i, "f": f, "g": g, "o": o}
        else:
            Wr, Wz, Wn = np.split(p["weight_hh"], 3, axis=0)
            br, bz, bn = np.split(p["bias_hh"], 3)
            xr, xz, xn = np.split(gi, 3, axis=1)
            r = sig(xr + h @ Wr.T + br)
            z = sig(xz + h @ Wz.T + bz)
            if cell.reset == "after":
                n = np.tanh(xn + r * (h @ Wn.T + bn))
            else:
                n = np.tanh(xn + (r * h) @ Wn.T + bn)
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
        scaled = (v + 1) / 2 if g in ("g", "n") else v
        sat = np.mean((scaled < 0.05) | (scaled > 0.95))
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
