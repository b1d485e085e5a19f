"""minGRU / minLSTM: parallel mode (every scan) against step mode, chunked streaming against the
whole sequence, and both against the paper's equations in NumPy (seqlab.reference.minrnn)."""

import numpy as np
import pytest
import torch

from seqlab.errors import SeqlabError
from seqlab.nn.minrnn import MinGRU, MinGRUCell, MinLSTM, MinLSTMCell
from seqlab.reference.minrnn import min_forward

B, T, I, H = 3, 11, 4, 5
CASES = [(cls, scan, act) for cls in (MinGRU, MinLSTM) for scan in ("numba", "torch", "log")
         for act in ("g", "identity") if not (scan == "log" and act != "g")]


@pytest.mark.parametrize("cls,scan,activation", CASES)
def test_parallel_equals_step_mode_with_lengths_layers_directions(cls, scan, activation):
    layer = cls(I, H, num_layers=2, bidirectional=True, activation=activation, scan=scan,
                norm=True, residual=True).double()
    x = torch.randn(B, T, I, dtype=torch.float64)
    h0 = torch.rand(4, B, H, dtype=torch.float64)  # positive, as the log-space scan needs
    lengths = torch.tensor([T, 5, 1])
    res = []
    for backend in ("auto", "loop"):
        layer.backend = backend
        assert layer.resolve_backend() == ("sequence" if backend == "auto" else "loop")
        out, hT = layer(x, h0, lengths=lengths)
        grads = torch.autograd.grad((out * torch.arange(out.numel()).view_as(out).sin()).sum() + hT.square().sum(),
                                    list(layer.parameters()))
        res.append((out, hT, grads))
    torch.testing.assert_close(res[0][0], res[1][0], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(res[0][1], res[1][1], rtol=1e-10, atol=1e-12)
    for a, b in zip(res[0][2], res[1][2]):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)
    assert float(res[0][0].detach()[1, 5:].abs().max()) == 0.0  # padding outputs are zero


@pytest.mark.parametrize("cls", [MinGRU, MinLSTM])
@pytest.mark.parametrize("scan", ["numba", "torch", "log"])
def test_chunks_with_carried_state_equal_the_whole_sequence(cls, scan):
    layer = cls(I, H, num_layers=2, scan=scan, residual=True).double()
    x = torch.randn(2, 40, I, dtype=torch.float64)
    h0 = torch.rand(2, 2, H, dtype=torch.float64)
    whole, h_whole = layer(x, h0)
    outs, h = [], h0
    for lo, hi in [(0, 7), (7, 8), (8, 29), (29, 40)]:
        o, h = layer(x[:, lo:hi], h)
        outs.append(o)
    torch.testing.assert_close(torch.cat(outs, 1), whole, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h, h_whole, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell_cls,name", [(MinGRUCell, "mingru"), (MinLSTMCell, "minlstm")])
@pytest.mark.parametrize("activation", ["g", "identity"])
def test_cells_match_the_paper_equations_in_numpy(cell_cls, name, activation):
    cell = cell_cls(I, H, activation=activation).double()
    x = torch.randn(B, T, I, dtype=torch.float64)
    h0 = torch.randn(B, H, dtype=torch.float64)
    params = {n: p.detach().numpy() for n, p in cell.named_parameters()}
    want, want_h = min_forward(name, x.numpy(), params, h0.numpy(), activation)
    out, (hT,) = cell.forward_sequence(x, (h0,), None)
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(hT.detach().numpy(), want_h, rtol=1e-12, atol=1e-12)
    # step mode through the one-step forward, as for generation
    h = h0
    for t in range(T):
        h = cell(x[:, t], h)
    np.testing.assert_allclose(h.detach().numpy(), want_h, rtol=1e-12, atol=1e-12)


def test_g_activation_keeps_states_positive_and_extreme_gates_stay_exact():
    cell = MinGRUCell(I, H).double()
    with torch.no_grad():
        cell.bias_ih[:H] = torch.tensor([40.0, -40.0, 0.0, 20.0, -20.0])  # z ~ 1, ~ 0, 0.5, ...
    x = torch.randn(2, 200, I, dtype=torch.float64)
    h0 = torch.rand(2, H, dtype=torch.float64)
    out, _ = cell.forward_sequence(x, (h0,), None)
    assert bool((out > 0).all())
    params = {n: p.detach().numpy() for n, p in cell.named_parameters()}
    want, _ = min_forward("mingru", x.numpy(), params, h0.numpy())
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-12, atol=1e-13)


def test_bad_arguments_name_the_fix():
    with pytest.raises(SeqlabError, match="activation: expected one of"):
        MinGRU(I, H, activation="relu")
    with pytest.raises(SeqlabError, match="scan='log' needs positive states"):
        MinLSTM(I, H, activation="identity", scan="log")
    with pytest.raises(SeqlabError, match="scan: expected one of"):
        MinGRU(I, H, scan="fft")
    with pytest.raises(ValueError, match="backend='fused' is not available"):
        MinGRU(I, H, backend="fused")
    with pytest.raises(ValueError, match="has no fused kernel"):
        MinGRU(I, H).to_torch()
