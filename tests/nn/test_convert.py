"""Round trips with torch.nn.RNN / LSTM / GRU: from_torch and to_torch give identical outputs,
final states and gradients, and the GRU update gate changes sign (torch's is 1 - z)."""

import pytest
import torch
from torch import nn

import seqlab.nn as snn
from seqlab.errors import SeqlabError

B, T, I, H = 3, 5, 4, 3
TORCH = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def torch_module(kind, opts, **kw):
    torch_opts = {k: v for k, v in opts.items() if k == "nonlinearity"}  # peephole=False, reset='after'
    m = TORCH[kind](I, H, **torch_opts, **kw).double()
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0.0, 0.5)
    return m


def grads_by_torch_name(module):
    return {n: p.grad.clone() for n, p in module.named_parameters()}


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, True)], ids=["1-uni", "2-bi"])
def test_from_torch_identical(nnt, fused_cell, num_layers, bidirectional, batch_first):
    kind, opts = fused_cell
    tm = torch_module(kind, opts, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    ours = snn.from_torch(tm)
    assert ours.batch_first == batch_first and ours.num_layers == num_layers
    shape = (B, T, I) if batch_first else (T, B, I)
    x = torch.randn(*shape, dtype=torch.float64)
    state = nnt.random_state(ours, B, requires_grad=False)
    D = 2 if bidirectional else 1
    dout = torch.randn(*shape[:2], D * H, dtype=torch.float64)
    dstate = nnt.random_state(ours, B, requires_grad=False)
    for backend in ("fused", "loop"):
        ours.backend = backend
        ours.zero_grad()
        tm.zero_grad()
        xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        out_t, fin_t = tm(xa, state)
        out_s, fin_s = ours(xb, state)
        torch.testing.assert_close(out_s, out_t, rtol=0, atol=1e-12)
        for a, b in zip(nnt.as_tuple(fin_s), nnt.as_tuple(fin_t), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
        for out, fin in ((out_t, fin_t), (out_s, fin_s)):
            loss = (out * dout).sum() + sum((f * d).sum() for f, d in zip(nnt.as_tuple(fin), nnt.as_tuple(dstate)))
            loss.backward()
        torch.testing.assert_close(xb.grad, xa.grad, rtol=0, atol=1e-12)
        # every parameter gradient, mapped back through to_torch's convention (GRU z rows negated)
        for k in range(num_layers):
            for d in range(D):
                cell = ours.cells[k * D + d]
                sfx = f"_l{k}" + ("_reverse" if d else "")
                sign = cell._z_sign(cell.weight_ih) if kind == "gru" else torch.ones(cell.weight_ih.shape[0], dtype=torch.float64)
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    g_ours = getattr(cell, name).grad
                    g_torch = getattr(tm, name + sfx).grad
                    s = sign if g_ours.dim() == 1 else sign[:, None]
                    torch.testing.assert_close(g_ours, g_torch * s, rtol=0, atol=1e-12)


@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, True)], ids=["1-uni", "2-bi"])
def test_to_torch_identical_and_round_trip(nnt, fused_cell, num_layers, bidirectional):
    kind, opts = fused_cell
    ours = nnt.make_layer(kind, opts, I, H, num_layers=num_layers, bidirectional=bidirectional)
    tm = ours.to_torch()
    assert isinstance(tm, TORCH[kind])
    if kind == "rnn":
        assert tm.nonlinearity == opts["nonlinearity"]
    x = torch.randn(B, T, I, dtype=torch.float64)
    state = nnt.random_state(ours, B, requires_grad=False)
    out_s, fin_s = ours(x, state)
    out_t, fin_t = tm(x, state)
    torch.testing.assert_close(out_t, out_s, rtol=0, atol=1e-12)
    for a, b in zip(nnt.as_tuple(fin_s), nnt.as_tuple(fin_t), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    back = snn.from_torch(tm)
    for (n1, p1), (n2, p2) in zip(ours.named_parameters(), back.named_parameters(), strict=True):
        assert n1 == n2
        torch.testing.assert_close(p1, p2, rtol=0, atol=0)


def test_gru_update_gate_sign():
    """Our z is torch's 1 - z: the z rows and biases are negated, the r and n rows copied."""
    tm = torch_module("gru", {})
    ours = snn.from_torch(tm)
    c = ours.cells[0]
    torch.testing.assert_close(c.weight_ih[H : 2 * H], -tm.weight_ih_l0[H : 2 * H], rtol=0, atol=0)
    torch.testing.assert_close(c.bias_hh[H : 2 * H], -tm.bias_hh_l0[H : 2 * H], rtol=0, atol=0)
    torch.testing.assert_close(c.weight_hh[: H], tm.weight_hh_l0[: H], rtol=0, atol=0)
    torch.testing.assert_close(c.weight_hh[2 * H :], tm.weight_hh_l0[2 * H :], rtol=0, atol=0)
    # one step by hand: torch's h = z' h + (1 - z') n with z' = σ(torch's z pre-activation) = 1 - z
    x, h = torch.randn(2, I, dtype=torch.float64), torch.randn(2, H, dtype=torch.float64)
    gi = x @ tm.weight_ih_l0.T + tm.bias_ih_l0
    gh = h @ tm.weight_hh_l0.T + tm.bias_hh_l0
    z_torch = torch.sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
    z_ours = torch.sigmoid((x @ c.weight_ih.T + c.bias_ih + h @ c.weight_hh.T + c.bias_hh)[:, H : 2 * H])
    torch.testing.assert_close(z_ours, 1 - z_torch, rtol=0, atol=1e-12)
    torch.testing.assert_close(c(x, h), tm(x[None], h[None])[1][0], rtol=0, atol=1e-12)  # torch.nn.GRU is time first


def test_conversion_errors(nnt):
    with pytest.raises(SeqlabError, match="peephole LSTM has no fused kernel.*torch.nn has no equal module"):
        nnt.make_layer("lstm", {"peephole": True}).to_torch()
    with pytest.raises(SeqlabError, match="reset='before' has no fused kernel"):
        nnt.make_layer("gru", {"reset": "before"}).to_torch()
    with pytest.raises(SeqlabError, match="module: expected torch.nn.RNN, LSTM or GRU, got Linear"):
        snn.from_torch(nn.Linear(2, 2))
    with pytest.raises(SeqlabError, match="proj_size > 0"):
        snn.from_torch(nn.LSTM(3, 4, proj_size=2))


def test_to_torch_refusals_name_the_argument_what_was_wanted_and_the_fix():
    """A SeqlabError, so callers that catch ValueError (the type to_torch raised before) still do."""
    assert issubclass(SeqlabError, ValueError)
    with pytest.raises(SeqlabError) as e:
        snn.to_torch(snn.LSTM(3, 4, layer_norm=True))
    assert str(e.value) == (
        "layer: expected a layer torch.nn.RNN, LSTM or GRU can compute, got a seqlab LSTM it cannot: layer-normalized "
        "LSTM has no fused kernel in torch, so torch.nn has no equal module; keep the seqlab layer, or build one "
        "without the options torch.nn lacks")
    with pytest.raises(ValueError, match="got a seqlab MinGRU it cannot: MinGRUCell has no fused kernel in torch"):
        snn.MinGRU(3, 4).to_torch()
    with pytest.raises(SeqlabError, match=r"layer: expected a seqlab.nn RNN, LSTM or GRU layer, got LSTM; "
                                          r"seqlab.nn.to_torch converts seqlab layers only"):
        snn.to_torch(nn.LSTM(3, 4))
