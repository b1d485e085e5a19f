"""The fused backend (torch's kernels) and the loop backend (stepping the cell) agree on outputs,
final states and every gradient, and 'auto' picks the documented one."""

import importlib.util

import pytest
import torch

import seqlab.nn as snn

B, T, I, H = 4, 6, 3, 5


@pytest.mark.parametrize("lengths", [None, [6, 1, 3, 6]], ids=["full", "lengths"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_fused_equals_loop(nnt, fused_cell, num_layers, bidirectional, lengths, device):
    """On CPU the fused kernels are oneDNN's, on CUDA cuDNN's; the loop is the same on both."""
    kind, opts = fused_cell
    fused = nnt.make_layer(kind, opts, I, H, num_layers=num_layers, bidirectional=bidirectional, backend="fused")
    loop = nnt.make_layer(kind, opts, I, H, num_layers=num_layers, bidirectional=bidirectional, backend="loop")
    loop.load_state_dict(fused.state_dict())
    fused, loop = fused.to(device), loop.to(device)
    assert fused.resolve_backend() == "fused" and loop.resolve_backend() == "loop"
    x = torch.randn(B, T, I, dtype=torch.float64).to(device)
    state = tuple(s.to(device) for s in nnt.as_tuple(nnt.random_state(fused, B, requires_grad=False)))
    dout = torch.randn(B, T, fused.num_directions * H, dtype=torch.float64).to(device)
    dstate = tuple(s.to(device) for s in nnt.as_tuple(nnt.random_state(fused, B, requires_grad=False)))
    a = nnt.run_layer(fused, x, state, lengths, dout, dstate)
    b = nnt.run_layer(loop, x, state, lengths, dout, dstate)
    nnt.assert_same_run(a, b, tol=1e-10)


def test_auto_picks_fused_where_it_applies(nnt, cell):
    kind, opts = cell
    layer = nnt.make_layer(kind, opts)
    has_fused = not (opts.get("peephole") or opts.get("reset") == "before")
    # without a fused kernel, 'auto' runs the cell's own whole-sequence implementation; with the
    # compiled layers (numba, CPU) the GRU's is faster than torch's GRU for sequences of 2+ steps
    compiled_gru = kind == "gru" and has_fused and importlib.util.find_spec("numba") is not None
    assert layer.resolve_backend() == ("fused" if has_fused and not compiled_gru else "sequence")
    assert layer.resolve_backend(torch.zeros(2, 1, I, dtype=torch.float64)) == ("fused" if has_fused else "sequence")
    assert (layer.fused_unavailable() is None) == has_fused


def test_cell_sequence_implementation_is_used_under_auto():
    """A cell that brings forward_sequence is run through it under 'auto' (not under 'loop')."""
    calls = []

    class SeqCell(snn.LSTMCell):
        def forward_sequence(self, x, state, lengths):
            calls.append(x.shape)
            return snn.run_loop(self, x, state, lengths)

    class SeqLSTM(snn.Recurrent):
        cell_class = SeqCell

    auto = SeqLSTM(3, 4, peephole=True, bidirectional=True).double()
    loop = SeqLSTM(3, 4, peephole=True, bidirectional=True, backend="loop").double()
    loop.load_state_dict(auto.state_dict())
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    out_a, (h_a, c_a) = auto(x, lengths=[5, 3])
    assert auto.resolve_backend() == "sequence" and len(calls) == 2
    out_l, (h_l, c_l) = loop(x, lengths=[5, 3])
    assert len(calls) == 2
    torch.testing.assert_close(out_a, out_l, rtol=0, atol=1e-12)
    torch.testing.assert_close(c_a, c_l, rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", ["fused", "loop"])
def test_dropout_between_layers(nnt, backend):
    """Dropout acts between layers in training only: eval mode equals a dropout-free layer."""
    a = nnt.make_layer("lstm", {}, I, H, num_layers=2, dropout=0.5, backend=backend)
    b = nnt.make_layer("lstm", {}, I, H, num_layers=2, dropout=0.0, backend=backend)
    b.load_state_dict(a.state_dict())
    x = torch.randn(B, T, I, dtype=torch.float64)
    a.eval()
    torch.testing.assert_close(a(x)[0], b(x)[0], rtol=0, atol=0)
    a.train()
    assert (a(x)[0] - b(x)[0]).abs().max() > 1e-3


@pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="the compiled layers need numba")
def test_auto_takes_the_faster_path_for_the_input():
    """Where both a fused kernel and the compiled layer apply, auto picks by the input (measured,
    docs/speed.md): the LSTM's compiled layer on one thread where torch's fused buffers exceed
    32 MiB in training, the GRU's for more than one step (in inference from batch x units = 1024)."""
    lstm, gru = snn.LSTM(32, 256), snn.GRU(32, 256)
    big, small = torch.zeros(64, 100, 32), torch.zeros(32, 64, 32)
    assert lstm.resolve_backend(big) == "sequence" and lstm.resolve_backend(small) == "fused"
    torch.set_num_threads(2)  # oneDNN's fused LSTM uses two cores better than two shares do
    try:
        assert lstm.resolve_backend(big) == "fused" and gru.resolve_backend(small) == "sequence"
    finally:
        torch.set_num_threads(1)
    with torch.no_grad():  # no training buffers to allocate
        assert lstm.resolve_backend(big) == "fused"
    assert gru.resolve_backend(small) == "sequence" and gru.resolve_backend(small[:, :1]) == "fused"
    tiny = snn.GRU(4, 8)
    with torch.no_grad():
        assert tiny.resolve_backend(torch.zeros(2, 50, 4)) == "fused"  # 2 x 8 units: dispatch costs more
        assert tiny.resolve_backend(torch.zeros(200, 50, 4)) == "sequence"
    assert snn.LSTM(32, 256).double().resolve_backend(big) == "sequence"  # float64 runs compiled too
    assert snn.LSTM(32, 256, batch_first=False).resolve_backend(big.transpose(0, 1)) == "sequence"
