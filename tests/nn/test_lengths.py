"""A padded batch with lengths (or a mask) gives the same outputs, final states and gradients as
each sequence run alone, on every cell option and backend, one or two directions and layers."""

import numpy as np
import pytest
import torch

B, T, I, H = 3, 6, 3, 4
LENGTHS = [4, 6, 1]


@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, True)], ids=["1-uni", "2-bi"])
def test_padded_batch_equals_sequences_alone(nnt, cell_backend, bidirectional, num_layers):
    (kind, opts), backend = cell_backend
    layer = nnt.make_layer(kind, opts, I, H, num_layers=num_layers, bidirectional=bidirectional, backend=backend)
    D = layer.num_directions
    x = torch.randn(B, T, I, dtype=torch.float64)  # padding holds random values: they must not leak
    state = nnt.random_state(layer, B, requires_grad=False)
    dout = torch.randn(B, T, D * H, dtype=torch.float64)  # gradients on padding must be ignored
    dstate = nnt.random_state(layer, B, requires_grad=False)
    batch = nnt.run_layer(layer, x, state, LENGTHS, dout, dstate)

    sum_grads = [{n: np.zeros_like(g) for n, g in gs.items()} for gs in batch.grads]
    for b, n in enumerate(LENGTHS):
        st_b = tuple(s[:, b : b + 1] for s in nnt.as_tuple(state))
        ds_b = tuple(s[:, b : b + 1] for s in nnt.as_tuple(dstate))
        alone = nnt.run_layer(layer, x[b : b + 1, :n], st_b, None, dout[b : b + 1, :n], ds_b)
        assert nnt.max_diff(batch.out[b, :n], alone.out[0]) <= 1e-12
        assert np.all(batch.out[b, n:] == 0)
        for fb, fa in zip(batch.final, alone.final, strict=True):
            assert nnt.max_diff(fb[:, b], fa[:, 0]) <= 1e-12
        assert nnt.max_diff(batch.dx[b, :n], alone.dx[0]) <= 1e-12
        assert np.all(batch.dx[b, n:] == 0)
        for sb, sa in zip(batch.dstate0, alone.dstate0, strict=True):
            assert nnt.max_diff(sb[:, b], sa[:, 0]) <= 1e-12
        for acc, g in zip(sum_grads, alone.grads):
            for name in acc:
                acc[name] += g[name]
    for gb, ga in zip(batch.grads, sum_grads, strict=True):
        for name in gb:
            assert nnt.max_diff(gb[name], ga[name]) <= 1e-11, name


def test_mask_equals_lengths(nnt, cell_backend):
    (kind, opts), backend = cell_backend
    layer = nnt.make_layer(kind, opts, I, H, bidirectional=True, backend=backend)
    x = torch.randn(B, T, I, dtype=torch.float64)
    mask = torch.arange(T)[None, :] < torch.tensor(LENGTHS)[:, None]  # (B, T) prefix mask
    dout = torch.randn(B, T, 2 * H, dtype=torch.float64)
    dstate = nnt.random_state(layer, B, requires_grad=False)
    a = nnt.run_layer(layer, x, None, LENGTHS, dout, dstate)
    b = nnt.run_layer(layer, x, None, None, dout, dstate, mask=mask)
    nnt.assert_same_run(a, b, tol=0.0)


def test_backward_direction_starts_at_each_sequence_end(nnt):
    """The backward direction's output at step 0 of a short sequence equals the backward run of
    that sequence alone, i.e. it started at the sequence's own last step, not at T - 1."""
    layer = nnt.make_layer("gru", {}, I, H, bidirectional=True)
    x = torch.randn(2, T, I, dtype=torch.float64)
    out, h = layer(x, lengths=[T, 2])
    alone, h_alone = layer(x[1:, :2])
    torch.testing.assert_close(out[1, :2], alone[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(h[1, 1], h_alone[1, 0], rtol=0, atol=1e-12)  # backward final = its state at t = 0
    torch.testing.assert_close(h[1, 1], out[1, 0, H:], rtol=0, atol=0)
