"""seqlab.nn layers against the NumPy reference (seqlab.reference) in float64: outputs, final
states and every gradient (each cell's parameters, the input, the initial state) within 1e-9,
over the product of cell options, backends, layers, directions and lengths."""

import numpy as np
import pytest
import torch

from seqlab.reference import stacked_backward, stacked_forward

TOL = 1e-9
B, T, I, H = 3, 5, 4, 3


def reference_run(nnt, kind, opts, layer, x, state, lengths, dout, dstate):
    """The reference forward and backward with the layer's own weights."""
    st = None if state is None else tuple(s.detach().numpy() for s in nnt.as_tuple(state))
    st = None if st is None else (st if kind == "lstm" else st[0])
    kw = dict(num_layers=layer.num_layers, bidirectional=layer.bidirectional, **nnt.ref_options(kind, opts))
    out, final, cache = stacked_forward(kind, x.numpy(), nnt.ref_params(layer), st, lengths, **kw)
    ds = tuple(d.numpy() for d in nnt.as_tuple(dstate))
    grads, dx, dstate0 = stacked_backward(dout.numpy(), ds if kind == "lstm" else ds[0], cache)
    as_t = lambda s: s if isinstance(s, tuple) else (s,)  # noqa: E731
    return out, as_t(final), grads, dx, as_t(dstate0)


@pytest.mark.parametrize("lengths", [None, [5, 2, 4]], ids=["full", "lengths"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_layer_matches_reference(nnt, cell_backend, num_layers, bidirectional, lengths):
    (kind, opts), backend = cell_backend
    layer = nnt.make_layer(kind, opts, I, H, num_layers=num_layers, bidirectional=bidirectional, backend=backend)
    D = layer.num_directions
    x = torch.randn(B, T, I, dtype=torch.float64)
    state = nnt.random_state(layer, B, requires_grad=False)
    dout = torch.randn(B, T, D * H, dtype=torch.float64)
    dstate = nnt.random_state(layer, B, requires_grad=False)

    got = nnt.run_layer(layer, x, state, lengths, dout, dstate)
    out, final, grads, dx, dstate0 = reference_run(nnt, kind, opts, layer, x, state, lengths, dout, dstate)

    assert nnt.max_diff(got.out, out) <= TOL
    for a, b in zip(got.final, final, strict=True):
        assert nnt.max_diff(a, b) <= TOL
    assert nnt.max_diff(got.dx, dx) <= TOL
    for a, b in zip(got.dstate0, dstate0, strict=True):
        assert nnt.max_diff(a, b) <= TOL
    for k, (g_nn, g_ref) in enumerate(zip(got.grads, grads, strict=True)):
        assert g_nn.keys() == g_ref.keys(), k
        for name in g_nn:
            assert nnt.max_diff(g_nn[name], g_ref[name]) <= TOL, f"cells[{k}].{name}"
    # the check has teeth: gradients are not all zero and padding outputs are zero
    assert all(np.abs(g["weight_hh"]).max() > 1e-3 for g in got.grads)
    if lengths is not None:
        assert np.all(got.out[1, 2:] == 0)


@pytest.mark.parametrize("bias", [False])
def test_layer_matches_reference_without_bias(nnt, cell, bias):
    kind, opts = cell
    layer = nnt.make_layer(kind, opts, I, H, bias=bias)
    assert layer.cells[0].bias_ih is None
    x = torch.randn(B, T, I, dtype=torch.float64)
    dout = torch.randn(B, T, H, dtype=torch.float64)
    dstate = nnt.random_state(layer, B, requires_grad=False)
    got = nnt.run_layer(layer, x, None, None, dout, dstate)
    out, final, grads, dx, _ = reference_run(nnt, kind, opts, layer, x, None, None, dout, dstate)
    assert nnt.max_diff(got.out, out) <= TOL
    assert nnt.max_diff(got.final[0], final[0]) <= TOL
    assert nnt.max_diff(got.dx, dx) <= TOL
    assert grads[0].keys() == got.grads[0].keys()
    for name in grads[0]:
        assert nnt.max_diff(got.grads[0][name], grads[0][name]) <= TOL


def test_one_cell_step_matches_reference(nnt, cell):
    """The step API of each cell (seqlab.nn.*Cell.forward) against one reference step."""
    import seqlab.nn as snn
    from seqlab.reference import gru_forward, lstm_forward, rnn_forward

    kind, opts = cell
    cls = {"rnn": snn.RNNCell, "lstm": snn.LSTMCell, "gru": snn.GRUCell}[kind]
    c = cls(I, H, **opts).double()
    x = torch.randn(B, I, dtype=torch.float64)
    h = torch.randn(B, H, dtype=torch.float64)
    params = {n: p.detach().numpy() for n, p in c.named_parameters()}
    if kind == "lstm":
        cc = torch.randn(B, H, dtype=torch.float64)
        h1, c1 = c(x, (h, cc))
        _, (rh, rc), _ = lstm_forward(x.numpy()[:, None], params, (h.numpy(), cc.numpy()))
        assert nnt.max_diff(c1.detach().numpy(), rc) <= TOL
    else:
        h1 = c(x, h)
        fwd = rnn_forward if kind == "rnn" else gru_forward
        _, rh, _ = fwd(x.numpy()[:, None], params, h.numpy(), **nnt.ref_options(kind, opts))
    assert nnt.max_diff(h1.detach().numpy(), rh) <= TOL
