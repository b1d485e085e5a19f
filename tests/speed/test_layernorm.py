"""Layer-normalized LSTM and GRU cells (Ba et al. 2016) against the NumPy equations
(seqlab.reference.layernorm), their gradients by finite differences, and the runner paths."""

import numpy as np
import pytest
import torch

from seqlab.nn import GRU, LSTM, GRUCell, LSTMCell
from seqlab.reference.layernorm import ln_gru_forward, ln_lstm_forward

B, T, I, H = 3, 7, 4, 5


def _randomize(cell):
    with torch.no_grad():  # gains and shifts away from their 1 / 0 initial values
        for name, p in cell.named_parameters():
            if name.startswith("ln_"):
                p.uniform_(0.5, 1.5) if "weight" in name else p.uniform_(-0.5, 0.5)
    return cell


def _params(cell):
    return {n: p.detach().numpy() for n, p in cell.named_parameters()}


@pytest.mark.parametrize("peephole", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_layer_norm_lstm_matches_numpy(peephole, bias):
    cell = _randomize(LSTMCell(I, H, bias=bias, peephole=peephole, layer_norm=True).double())
    x = torch.randn(B, T, I, dtype=torch.float64)
    h0, c0 = torch.randn(B, H, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
    out, (h, c) = cell.forward_sequence(x, (h0, c0), None)
    want, (wh, wc) = ln_lstm_forward(x.numpy(), _params(cell), h0.numpy(), c0.numpy())
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c.detach().numpy(), wc, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reset", ["after", "before"])
@pytest.mark.parametrize("bias", [True, False])
def test_layer_norm_gru_matches_numpy(reset, bias):
    cell = _randomize(GRUCell(I, H, bias=bias, reset=reset, layer_norm=True).double())
    x = torch.randn(B, T, I, dtype=torch.float64)
    h0 = torch.randn(B, H, dtype=torch.float64)
    out, (h,) = cell.forward_sequence(x, (h0,), None)
    want, wh = ln_gru_forward(x.numpy(), _params(cell), h0.numpy(), reset)
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h.detach().numpy(), wh, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make", [lambda: LSTMCell(3, 2, peephole=True, layer_norm=True),
                                  lambda: GRUCell(3, 2, reset="before", layer_norm=True),
                                  lambda: GRUCell(3, 2, reset="after", layer_norm=True)])
def test_layer_norm_cells_pass_gradcheck(make):
    cell = _randomize(make().double())
    names = [n for n, _ in cell.named_parameters()]
    x = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    h0 = tuple(torch.randn(2, 2, dtype=torch.float64) for _ in range(cell.state_size))

    def f(x, *ps):
        return _call(cell, dict(zip(names, ps)), x, h0)

    leaves = [p.detach().clone().requires_grad_() for p in cell.parameters()]
    assert torch.autograd.gradcheck(f, (x, *leaves), fast_mode=True)


def _call(cell, params, x, h0):
    class _Seq(torch.nn.Module):  # functional_call needs forward(); route it to forward_sequence
        def __init__(self, c):
            super().__init__()
            self.c = c

        def forward(self, x):
            return self.c.forward_sequence(x, h0, None)[0]

    return torch.func.functional_call(_Seq(cell), {f"c.{k}": v for k, v in params.items()}, (x,))


def test_layer_norm_layers_run_auto_equal_loop_and_refuse_fused():
    for make in (lambda b: LSTM(I, H, num_layers=2, layer_norm=True, backend=b),
                 lambda b: GRU(I, H, bidirectional=True, layer_norm=True, backend=b)):
        torch.manual_seed(3)
        auto = make("auto").double()
        torch.manual_seed(3)
        loop = make("loop").double()
        x = torch.randn(B, T, I, dtype=torch.float64)
        torch.testing.assert_close(auto(x, lengths=[7, 3, 2])[0], loop(x, lengths=[7, 3, 2])[0])
        with pytest.raises(ValueError, match="layer-normalized"):
            make("fused")
    assert LSTMCell(I, H, layer_norm=True).ln_weight_c.detach().eq(1).all()
