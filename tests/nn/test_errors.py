"""Bad arguments and badly shaped input, state or lengths raise SeqlabError whose message names the
argument, the expected and the received values; backend='fused' where it cannot apply raises a
ValueError saying why."""

import re

import pytest
import torch

import seqlab.nn as snn
from seqlab.errors import SeqlabError


def raises(message: str, exc=SeqlabError):
    return pytest.raises(exc, match=re.escape(message))


@pytest.mark.parametrize("kind, opts, why", [
    ("lstm", {"peephole": True}, "peephole LSTM has no fused kernel in torch"),
    ("gru", {"reset": "before"}, "GRU with reset='before' has no fused kernel"),
])
def test_fused_backend_unavailable_says_why(kind, opts, why):
    cls = {"lstm": snn.LSTM, "gru": snn.GRU}[kind]
    with pytest.raises(ValueError, match=re.escape(why)) as info:
        cls(3, 4, backend="fused", **opts)
    assert "backend='fused' is not available" in str(info.value)
    assert "use backend='auto' or 'loop'" in str(info.value)
    # switched to fused after construction: the forward call says why too
    layer = cls(3, 4, **opts)
    layer.backend = "fused"
    with pytest.raises(ValueError, match=re.escape(why)):
        layer(torch.randn(2, 5, 3))


@pytest.mark.parametrize("make, message", [
    (lambda: snn.LSTM(0, 4), "input_size: expected a positive integer, got 0"),
    (lambda: snn.GRU(3, -1), "hidden_size: expected a positive integer, got -1"),
    (lambda: snn.RNN(3, 4.5), "hidden_size: expected a positive integer, got 4.5"),
    (lambda: snn.LSTM(3, 4, num_layers=0), "num_layers: expected a positive integer, got 0"),
    (lambda: snn.LSTM(3, 4, num_layers=True), "num_layers: expected a positive integer, got True"),
    (lambda: snn.GRU(3, 4, dropout=1.0), "dropout: expected a number in [0, 1), got 1.0"),
    (lambda: snn.GRU(3, 4, dropout="0.1"), "dropout: expected a number in [0, 1), got '0.1'"),
    (lambda: snn.RNN(3, 4, backend="cudnn"), "backend: expected one of ('auto', 'fused', 'sequence', 'loop'), got 'cudnn'"),
    (lambda: snn.RNN(3, 4, nonlinearity="sigmoid"), "nonlinearity: expected 'tanh' or 'relu', got 'sigmoid'"),
    (lambda: snn.GRU(3, 4, reset="middle"), "reset: expected 'after' (cuDNN form) or 'before' (Cho et al. 2014), got 'middle'"),
    (lambda: snn.GRUCell(3, 4, reset="x"), "reset: expected 'after'"),
    (lambda: snn.RNNCell(3, 0), "hidden_size: expected a positive integer, got 0"),
])
def test_bad_arguments(make, message):
    with raises(message):
        make()


@pytest.mark.parametrize("call, message", [
    (lambda m: m([[1.0]]), "input: expected a torch.Tensor, got list"),
    (lambda m: m(torch.randn(2, 5, 4)), "input: expected shape (batch, time, 3) or (time, 3), got (2, 5, 4)"),
    (lambda m: m(torch.randn(5)), "input: expected shape (batch, time, 3) or (time, 3), got (5,)"),
    (lambda m: m(torch.randn(2, 0, 3)), "input: the time dimension is empty (0 steps)"),
    (lambda m: m(torch.randn(2, 5, 3), torch.randn(2, 2, 4)), "state: expected (h, c) (2 tensor(s)), got 1"),
    (lambda m: m(torch.randn(2, 5, 3), (torch.randn(2, 2, 4), torch.randn(1, 2, 4))),
     "state: expected hidden size (2, 2, 4) (layers*directions, batch, hidden), got (1, 2, 4)"),
    (lambda m: m(torch.randn(2, 5, 3), lengths=[5]), "lengths: expected 2 lengths (one per sequence), got shape (1,)"),
    (lambda m: m(torch.randn(2, 5, 3), lengths=[5, 6]), "lengths: expected values in [1, 5] (the time dimension), got min 5, max 6"),
    (lambda m: m(torch.randn(2, 5, 3), lengths=[0, 5]), "lengths: expected values in [1, 5] (the time dimension), got min 0, max 5"),
    (lambda m: m(torch.randn(2, 5, 3), lengths=[2.0, 5.0]), "lengths: expected integers, got dtype torch.float32"),
    (lambda m: m(torch.randn(2, 5, 3), mask=torch.ones(2, 4)), "mask: expected shape (batch, time) = (2, 5), got (2, 4)"),
    (lambda m: m(torch.randn(2, 5, 3), mask=torch.tensor([[1, 0, 1, 0, 0]] * 2)),
     "mask: expected True on a prefix of each sequence (padding at the end only)"),
    (lambda m: m(torch.randn(2, 5, 3), lengths=[5, 5], mask=torch.ones(2, 5)), "lengths and mask: pass one of them, not both"),
])
def test_bad_layer_input(call, message):
    layer = snn.LSTM(3, 4, bidirectional=True)
    with raises(message):
        call(layer)


def test_bad_state_for_gru_and_time_first_layout():
    layer = snn.GRU(3, 4, num_layers=2, batch_first=False)
    with raises("input: expected shape (time, batch, 3) or (time, 3), got (5, 2, 2)"):
        layer(torch.randn(5, 2, 2))
    with raises("state: expected hidden size (2, 2, 4) (layers*directions, batch, hidden), got (2, 4)"):
        layer(torch.randn(5, 2, 3), torch.randn(2, 4))


@pytest.mark.parametrize("call, message", [
    (lambda c: c(torch.randn(2, 5)), "input: expected shape (batch, 3) or (3,), got (2, 5)"),
    (lambda c: c("x"), "input: expected a torch.Tensor, got str"),
    (lambda c: c(torch.randn(2, 3), torch.randn(2, 4)), "state: expected 2 tensor(s), got 1"),
    (lambda c: c(torch.randn(2, 3), (torch.randn(2, 4), torch.randn(3, 4))), "state: expected hidden size (2, 4), got (3, 4)"),
])
def test_bad_cell_input(call, message):
    with raises(message):
        call(snn.LSTMCell(3, 4))


@pytest.mark.parametrize("call, message", [
    (lambda: snn.GRU(3, 4)(torch.randn(5, 3), [[0.0] * 4]), "state: expected torch.Tensor(s) for h, got list"),
    (lambda: snn.GRU(3, 4)(torch.randn(5, 3), 5), "state: expected h (1 tensor(s)), got int"),
    (lambda: snn.GRU(3, 4)(torch.randn(5, 3), torch.zeros(2, 4)),
     "state: expected hidden size (1, 4) (layers*directions, hidden) for unbatched input, got (2, 4)"),
    (lambda: snn.LSTM(3, 4)(torch.randn(5, 3), (torch.zeros(1, 4),)), "state: expected (h, c) (2 tensor(s)), got 1 item(s)"),
    (lambda: snn.LSTM(3, 4)(torch.randn(2, 5, 3, dtype=torch.float64)),
     "input: expected dtype torch.float32 (the layer's parameters), got torch.float64; use x.to(torch.float32)"),
    (lambda: snn.GRU(3, 4)(torch.randint(0, 3, (2, 5, 3))), "input: expected dtype torch.float32 (the layer's parameters), got torch.int64"),
    (lambda: snn.GRU(3, 4)(torch.randn(2, 5, 3), torch.zeros(1, 2, 4, dtype=torch.float64)),
     "state: expected dtype torch.float32 (the input's), got torch.float64"),
])
def test_state_and_dtype_errors_name_the_argument(call, message):
    with raises(message):
        call()


def test_unbatched_state_round_trip_matches_batched():
    layer = snn.LSTM(3, 4, num_layers=2)
    x, h0, c0 = torch.randn(5, 3), torch.randn(2, 4), torch.randn(2, 4)
    out, (h, c) = layer(x, (h0, c0))
    out_b, (h_b, c_b) = layer(x.unsqueeze(0), (h0.unsqueeze(1), c0.unsqueeze(1)))
    assert out.shape == (5, 4) and h.shape == (2, 4) and c.shape == (2, 4)
    torch.testing.assert_close(out, out_b.squeeze(0))
    torch.testing.assert_close(h, h_b.squeeze(1))
    torch.testing.assert_close(c, c_b.squeeze(1))
