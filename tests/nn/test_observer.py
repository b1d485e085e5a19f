"""The runner's per-step observer hook: what each Step carries, that observing changes no number,
and that it ends with its block (nothing patched, errors included)."""

import pytest
import torch
from torch import nn

import seqlab.nn as snn
from seqlab.errors import SeqlabError
from seqlab.nn.registry import cell_names, make_layer

B, T, I, H = 3, 6, 4, 5


def randomized(layer):
    layer = layer.double()
    with torch.no_grad():
        for p in layer.parameters():
            p.normal_(0.0, 0.5)
    return layer


def test_steps_carry_layer_direction_time_input_and_states():
    torch.manual_seed(0)
    layer = randomized(snn.LSTM(I, H, num_layers=2, bidirectional=True))  # fused when not observed
    x = torch.randn(B, T, I, dtype=torch.float64)
    lengths = torch.tensor([T, 4, 1])
    want_out, (want_h, want_c) = layer(x, lengths=lengths)
    steps = []
    with snn.observe(layer, steps.append) as observed:
        out, (h, c) = layer(x, lengths=lengths)
    assert observed == [layer]
    torch.testing.assert_close(out, want_out, rtol=1e-12, atol=1e-12)  # observing changes nothing
    torch.testing.assert_close(c, want_c, rtol=1e-12, atol=1e-12)
    assert len(steps) == 4 * T
    # cells in order (layer 0 forward, layer 0 backward, layer 1 ...), steps in order within each
    assert [(s.layer, s.direction, s.t) for s in steps] == [(k // 2, k % 2, t) for k in range(4) for t in range(T)]
    for k in range(4):
        run = steps[k * T : (k + 1) * T]
        assert all(s.module is layer and s.cell is layer.cells[k] and s.lengths is lengths for s in run)
        for a, b in zip(run, run[1:]):  # each step starts from the state the previous one left
            va = a.t < lengths  # (B,): a's step was inside the sequence: its new state was kept
            for p, n, q in zip(b.prev, a.new, a.prev):
                assert torch.equal(p[va], n[va]) and torch.equal(p[~va], q[~va])
    # layer 0 forward: gi is the cell's input projection of x_t; layer 1 forward: new h is the output at t
    first = steps[:T]
    for s in first:
        torch.testing.assert_close(s.gi, layer.cells[0].input_projection(x[:, s.t]), rtol=1e-12, atol=1e-12)
    fwd_l1 = steps[2 * T : 3 * T]
    hs_top = torch.stack([s.new[0] for s in fwd_l1], 1)  # (B, T, H)
    for b, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(hs_top[b, :n], out[b, :n, :H], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(hs_top[b, n - 1], h[2, b], rtol=1e-12, atol=1e-12)
    # the backward direction steps each sequence from its own last step: its step 0 reads x at n - 1
    bwd = steps[T : 2 * T]
    for b, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(bwd[0].gi[b], layer.cells[1].input_projection(x[b, n - 1]), rtol=1e-12, atol=1e-12)


def test_new_states_are_in_the_graph():
    """dL/dh_t through the observed h_t equals the step-by-step chain rule the loss implies."""
    torch.manual_seed(1)
    layer = randomized(snn.GRU(I, H))
    x = torch.randn(B, T, I, dtype=torch.float64)
    steps = []
    with layer.observe(steps.append):
        out, _ = layer(x)
    loss = out[:, -1].sum()  # depends on h_1 only through h_2 ... h_T
    (g_last,) = torch.autograd.grad(loss, steps[-1].new[0], retain_graph=True)
    torch.testing.assert_close(g_last, torch.ones(B, H, dtype=torch.float64))
    (g_first,) = torch.autograd.grad(loss, steps[0].new[0])
    assert g_first.abs().max() > 0


@pytest.mark.parametrize("name", cell_names())
def test_every_cell_can_be_observed_and_computes_the_same(name):
    torch.manual_seed(2)
    layer = randomized(make_layer(name, I, H, num_layers=2))
    x = torch.rand(B, T, I, dtype=torch.float64)
    want = layer(x)[0]
    seen = []
    with layer.observe(lambda s: seen.append(s.new[0])):
        got = layer(x)[0]
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(torch.stack(seen[T:], 1), want, rtol=1e-9, atol=1e-11)  # top layer's h


def test_observation_ends_with_the_block_even_after_an_error():
    layer = snn.GRU(I, H)
    calls = []
    with pytest.raises(RuntimeError, match="boom"):
        with layer.observe(calls.append):
            layer(torch.randn(B, T, I))
            raise RuntimeError("boom")
    n = len(calls)
    assert n == T and layer.resolve_backend() != "loop"  # fused, or the compiled GRU
    layer(torch.randn(B, T, I))
    assert len(calls) == n
    assert "recurrence" not in layer.cells[0].__dict__  # nothing was patched


def test_observe_a_whole_model_and_nested_observers():
    model = nn.Sequential()
    model.add_module("a", snn.LSTM(I, H))
    model.add_module("b", snn.MinGRU(H, H))
    first, second = [], []
    with snn.observe(model, first.append) as layers:
        assert layers == [model.a, model.b]
        with model.b.observe(second.append):
            model.b(model.a(torch.randn(B, T, I))[0])
        model.a(torch.randn(B, T, I))
    assert [s.module for s in first] == [model.a] * T + [model.b] * T + [model.a] * T
    assert [s.module for s in second] == [model.b] * T
    with pytest.raises(SeqlabError, match="model: expected a model containing seqlab.nn recurrent layers, found none in Linear"):
        with snn.observe(nn.Linear(2, 2), first.append):
            pass
    with pytest.raises(SeqlabError, match="callback: expected a function of one Step, got int"):
        with model.a.observe(3):
            pass
