"""Helpers for the seqlab.nn tests: float64 layers with random weights, the matching reference
parameters, and one forward + backward of a layer with a random linear loss."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

import seqlab.nn as snn

LAYERS = {"rnn": snn.RNN, "lstm": snn.LSTM, "gru": snn.GRU}

#: every cell option: (kind, cell kwargs, has a fused kernel)
CELL_OPTIONS = [
    ("rnn", {"nonlinearity": "tanh"}, True),
    ("rnn", {"nonlinearity": "relu"}, True),
    ("lstm", {"peephole": False}, True),
    ("lstm", {"peephole": True}, False),
    ("gru", {"reset": "after"}, True),
    ("gru", {"reset": "before"}, False),
]


def make_layer(kind: str, opts: dict, input_size: int = 4, hidden_size: int = 3, **kw) -> snn.Recurrent:
    """A float64 seqlab layer; weights drawn N(0, 0.5²) so every gate differs and none saturates."""
    layer = LAYERS[kind](input_size, hidden_size, **opts, **kw).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.normal_(0.0, 0.5)
    return layer


def ref_params(layer: snn.Recurrent) -> list[dict]:
    """The layer's weights as reference parameter dicts, one per cell (same names, same shapes)."""
    return [{n: p.detach().numpy().copy() for n, p in c.named_parameters()} for c in layer.cells]


def ref_options(kind: str, opts: dict) -> dict:
    """Cell options as the reference takes them (a peephole LSTM is told by its weight_ch)."""
    return {k: v for k, v in opts.items() if k != "peephole"}


def random_state(layer: snn.Recurrent, B: int, requires_grad: bool = True):
    """A random torch-shaped initial state (L*D, B, H), or (h, c) for an LSTM."""
    LD = layer.num_layers * layer.num_directions
    parts = [torch.randn(LD, B, layer.hidden_size, dtype=torch.float64, requires_grad=requires_grad)
             for _ in range(layer.state_size)]
    return parts[0] if layer.state_size == 1 else tuple(parts)


def as_tuple(state) -> tuple:
    return (state,) if isinstance(state, torch.Tensor) else tuple(state)


def run_layer(layer, x, state, lengths, dout, dstate, mask=None) -> types.SimpleNamespace:
    """Forward, then backward of L = Σ dout ⊙ out + Σ dstate ⊙ final. Gradients come back as
    NumPy: ``grads[k][name]`` per cell, ``dx``, ``dstate0`` (tuple)."""
    layer.zero_grad(set_to_none=True)
    x = x.detach().clone().requires_grad_(True)
    st = None if state is None else tuple(s.detach().clone().requires_grad_(True) for s in as_tuple(state))
    st_arg = None if st is None else (st[0] if len(st) == 1 else st)
    out, final = layer(x, st_arg, lengths=lengths, mask=mask)
    final = as_tuple(final)
    loss = (out * dout).sum() + sum((f * d).sum() for f, d in zip(final, as_tuple(dstate)))
    loss.backward()
    grads = [{n: p.grad.detach().cpu().numpy().copy() for n, p in c.named_parameters()} for c in layer.cells]
    return types.SimpleNamespace(
        out=out.detach().cpu().numpy(), final=tuple(f.detach().cpu().numpy() for f in final), grads=grads,
        dx=x.grad.cpu().numpy(), dstate0=None if st is None else tuple(s.grad.cpu().numpy() for s in st))


def max_diff(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).max(initial=0.0))


def assert_same_run(a: types.SimpleNamespace, b: types.SimpleNamespace, tol: float) -> None:
    """Outputs, final states and every gradient of two runs agree within ``tol``."""
    assert max_diff(a.out, b.out) <= tol
    for fa, fb in zip(a.final, b.final, strict=True):
        assert max_diff(fa, fb) <= tol
    assert max_diff(a.dx, b.dx) <= tol
    if a.dstate0 is not None:
        for sa, sb in zip(a.dstate0, b.dstate0, strict=True):
            assert max_diff(sa, sb) <= tol
    for ga, gb in zip(a.grads, b.grads, strict=True):
        assert ga.keys() == gb.keys()
        for n in ga:
            assert max_diff(ga[n], gb[n]) <= tol, n


def _id(kind: str, opts: dict) -> str:
    return kind + "".join(f"-{k}={v}" for k, v in opts.items())


#: the devices a test with a ``device`` argument runs on: the CPU always, CUDA (cuDNN's fused
#: kernels) where there is one
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"))]


def pytest_generate_tests(metafunc) -> None:
    """Parametrize over every cell option: ``cell`` = (kind, opts) for all six, ``fused_cell`` for
    the four with a fused kernel, ``cell_backend`` = ((kind, opts), backend) for each backend that
    applies to the cell: 'fused' and 'loop' where a fused kernel exists, else 'auto' (the cell's own
    whole-sequence implementation) and 'loop'; and ``device`` over :data:`DEVICES`."""
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", DEVICES)
    if "cell" in metafunc.fixturenames:
        metafunc.parametrize("cell", [(k, o) for k, o, _ in CELL_OPTIONS], ids=[_id(k, o) for k, o, _ in CELL_OPTIONS])
    if "fused_cell" in metafunc.fixturenames:
        fused = [(k, o) for k, o, f in CELL_OPTIONS if f]
        metafunc.parametrize("fused_cell", fused, ids=[_id(k, o) for k, o in fused])
    if "cell_backend" in metafunc.fixturenames:
        pairs = [((k, o), b) for k, o, f in CELL_OPTIONS for b in (("fused", "loop") if f else ("auto", "loop"))]
        metafunc.parametrize("cell_backend", pairs, ids=[f"{_id(*c)}-{b}" for c, b in pairs])


@pytest.fixture
def nnt():
    """The helpers above, as one namespace (test modules cannot import each other)."""
    return types.SimpleNamespace(
        make_layer=make_layer, ref_params=ref_params, ref_options=ref_options,
        random_state=random_state, as_tuple=as_tuple, run_layer=run_layer, max_diff=max_diff,
        assert_same_run=assert_same_run)


@pytest.fixture(autouse=True)
def _one_thread():
    """These tensors are tiny: one intra-op thread avoids OpenMP barriers on a loaded machine
    (and is faster anyway). Restored after each test."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
