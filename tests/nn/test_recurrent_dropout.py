"""Recurrent dropout in the runner (Gal & Ghahramani 2016, Keras's DropoutRNNCell): one mask per
sequence and cell for all steps, on h_{t-1} where it enters the recurrent product only; the GRU
carries the undropped h_{t-1}. Checked against a hand-written loop drawing the same masks."""

import pytest
import torch

import seqlab.nn as snn
from seqlab.nn.recurrent import reverse_padded
from seqlab.nn.registry import cell_names, make_layer

B, T, I, H = 4, 6, 3, 5
RATE = 0.4
DROPPABLE = cell_names(("lstm", "gru", "rnn"))


def randomized(layer):
    layer = layer.double()
    with torch.no_grad():
        for p in layer.parameters():
            p.normal_(0.0, 0.5)
    return layer


def hand_step(cell, gi, state, m):
    """One step with the mask written out: the cell's undropped equations fed ``h * m`` where h
    enters the recurrent product. RNN and LSTM use h_{t-1} nowhere else; the GRU's carry
    ``(1 - z) h_{t-1}`` keeps the undropped h, so its new state is assembled here from its gates."""
    h = state[0]
    if isinstance(cell, snn.GRUCell):
        g = cell.gate_values(gi, (h * m,))
        return ((1 - g["z"]) * h + g["z"] * g["n"],)
    return cell.recurrence(gi, (h * m,) + tuple(state[1:]))


def hand_forward(layer, x, lengths, generator):
    """The whole stack written as plain loops, masks drawn in cell order from ``generator``."""
    D = layer.num_directions
    layer_in, finals = x, []
    valid = torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
    for lay in range(layer.num_layers):
        outs = []
        for d in range(D):
            cell = layer.cells[lay * D + d]
            keep = torch.empty(B, H, dtype=x.dtype).bernoulli_(1 - RATE, generator=generator) / (1 - RATE)
            xin = reverse_padded(layer_in, lengths) if d else layer_in
            gi = cell.input_projection(xin)  # (B, T, G*H)
            state = tuple(torch.zeros(B, H, dtype=x.dtype) for _ in range(cell.state_size))
            hs = []
            for t in range(T):
                new = hand_step(cell, gi[:, t], state, keep)
                v = valid[:, t : t + 1]  # (B, 1)
                state = tuple(torch.where(v, n, s) for n, s in zip(new, state))
                hs.append(new[0] * v)
            o = torch.stack(hs, 1)  # (B, T, H)
            outs.append(reverse_padded(o, lengths) if d else o)
            finals.append(state)
        layer_in = torch.cat(outs, -1)  # (B, T, D*H)
    return layer_in, finals


@pytest.mark.parametrize("name", DROPPABLE)
def test_runner_equals_a_hand_loop_with_the_same_masks(name):
    torch.manual_seed(11)
    layer = randomized(make_layer(name, I, H, num_layers=2, bidirectional=True, recurrent_dropout=RATE)).train()
    x = torch.randn(B, T, I, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([T, 3, 1, 5])
    layer.generator = torch.Generator().manual_seed(5)
    out, state = layer(x, lengths=lengths)
    want, finals = hand_forward(layer, x, lengths, torch.Generator().manual_seed(5))
    torch.testing.assert_close(out, want, rtol=1e-12, atol=1e-12)
    state = state if isinstance(state, tuple) else (state,)
    for j, s in enumerate(state):
        torch.testing.assert_close(s, torch.stack([f[j] for f in finals]), rtol=1e-12, atol=1e-12)
    # and the same gradients
    w = torch.randn_like(out)
    got = torch.autograd.grad((out * w).sum(), [x, *layer.parameters()])
    ref = torch.autograd.grad((want * w).sum(), [x, *layer.parameters()])
    for a, b in zip(got, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    # the masks did something: without them the output differs
    plain = layer.eval()(x, lengths=lengths)[0]
    assert (plain - out).abs().max() > 1e-3


@pytest.mark.parametrize("name", DROPPABLE)
def test_evaluation_equals_no_dropout_on_the_fast_path(name):
    torch.manual_seed(2)
    dropped = randomized(make_layer(name, I, H, num_layers=2, recurrent_dropout=RATE)).eval()
    plain = make_layer(name, I, H, num_layers=2).double().eval()
    plain.load_state_dict(dropped.state_dict())
    assert dropped.resolve_backend() == plain.resolve_backend()  # eval: the fused / sequence path again
    x = torch.randn(B, T, I, dtype=torch.float64)
    torch.testing.assert_close(dropped(x)[0], plain(x)[0], rtol=0, atol=0)
    assert dropped.train().resolve_backend() == "loop"


def test_the_gru_carry_keeps_the_undropped_state():
    """With a mask of zeros the recurrent products see h = 0, but h_t = (1 - z) h_{t-1} + z n still
    carries h_{t-1}: written out with torch.nn.GRUCell (torch's update gate is 1 - z)."""
    torch.manual_seed(3)
    layer = randomized(snn.GRU(I, H, recurrent_dropout=0.5)).train()
    layer.recurrent_mask = lambda batch, like: torch.zeros(batch, H, dtype=like.dtype)
    h0 = torch.randn(1, B, H, dtype=torch.float64)
    x = torch.randn(B, 2, I, dtype=torch.float64)
    out, _ = layer(x, h0)
    ref = torch.nn.GRUCell(I, H).double()
    cell = layer.cells[0]
    sign = torch.ones(3 * H, dtype=torch.float64)
    sign[H : 2 * H] = -1  # torch's update gate is seqlab's 1 - z
    with torch.no_grad():
        ref.weight_ih.copy_(cell.weight_ih * sign[:, None])
        ref.weight_hh.copy_(cell.weight_hh * sign[:, None])
        ref.bias_ih.copy_(cell.bias_ih * sign)
        ref.bias_hh.copy_(cell.bias_hh * sign)
    h = h0[0]
    for t in range(2):
        zero = ref(x[:, t], torch.zeros_like(h))  # the gates of a zero state: (1 - u) n with u = torch's z
        u = torch.sigmoid(x[:, t] @ ref.weight_ih[H : 2 * H].T + ref.bias_ih[H : 2 * H] + ref.bias_hh[H : 2 * H])
        h = zero + u * h  # torch: h' = (1 - u) n + u h
        torch.testing.assert_close(out[:, t], h, rtol=1e-12, atol=1e-12)


def test_one_mask_per_cell_and_call_from_the_generator_or_the_global_rng():
    layer = snn.LSTM(I, H, num_layers=2, bidirectional=True, recurrent_dropout=RATE)
    calls = []
    draw = layer.recurrent_mask
    layer.recurrent_mask = lambda batch, like: calls.append(batch) or draw(batch, like)
    x = torch.randn(B, T, I)
    layer(x)
    assert calls == [B] * 4  # once per (layer, direction) for all T steps
    layer.recurrent_mask = draw
    # a generator: same seed, same output; the global RNG untouched
    layer.generator = torch.Generator().manual_seed(1)
    before = torch.get_rng_state()
    a = layer(x)[0]
    assert torch.equal(torch.get_rng_state(), before)
    layer.generator.manual_seed(1)
    torch.testing.assert_close(layer(x)[0], a, rtol=0, atol=0)
    layer.generator.manual_seed(2)
    assert not torch.equal(layer(x)[0], a)
    # no generator: torch's global RNG, reproducible under torch.manual_seed
    layer.generator = None
    torch.manual_seed(9)
    b = layer(x)[0]
    torch.manual_seed(9)
    torch.testing.assert_close(layer(x)[0], b, rtol=0, atol=0)
    assert not torch.equal(torch.get_rng_state(), before)


def test_masks_are_scaled_keep_masks():
    layer = snn.RNN(I, 1000, recurrent_dropout=0.3)
    layer.generator = torch.Generator().manual_seed(0)
    m = layer.recurrent_mask(50, torch.empty(0, dtype=torch.float64))
    assert m.shape == (50, 1000) and m.dtype == torch.float64
    assert m.unique().tolist() == pytest.approx([0.0, 1 / 0.7], abs=1e-12)
    assert abs(float((m == 0).double().mean()) - 0.3) < 0.01


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_given_dropout_masks_between_layers_on_every_path(kind):
    """``dropout_masks``: the fused kernel run layer by layer and the loop apply the caller's
    masks between layers, as a hand-made stack of one-layer layers does (float64, all gradients)."""
    from seqlab.errors import SeqlabError

    cls = {"lstm": snn.LSTM, "gru": snn.GRU, "rnn": snn.RNN}[kind]
    torch.manual_seed(0)
    B, T, I, H = 3, 5, 4, 6
    layers = {b: cls(I, H, num_layers=3, bidirectional=True, dropout=0.4, backend=b).double().train()
              for b in ("fused", "loop")}
    layers["loop"].load_state_dict(layers["fused"].state_dict())
    x = torch.randn(B, T, I, dtype=torch.float64, requires_grad=True)
    masks = [torch.bernoulli(torch.full((B, T, 2 * H), 0.6, dtype=torch.float64)) / 0.6 for _ in range(2)]
    res = {}
    for b, layer in layers.items():
        out, st = layer(x, dropout_masks=masks)
        st = st if isinstance(st, tuple) else (st,)
        loss = (out * out.detach().sin()).sum() + sum((s * s).sum() for s in st)
        res[b] = [out, *st, *torch.autograd.grad(loss, [x, *layer.parameters()])]
    for a, b in zip(res["fused"], res["loop"], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    # by hand: three one-layer layers with the masks between them
    one = [cls(I if k == 0 else 2 * H, H, bidirectional=True).double() for k in range(3)]
    for k, lay in enumerate(one):
        for d in range(2):
            lay.cells[d].load_state_dict(layers["fused"].cells[2 * k + d].state_dict())
    h = x
    for k, lay in enumerate(one):
        h = lay(h if k == 0 else h * masks[k - 1])[0]
    torch.testing.assert_close(res["fused"][0], h, rtol=1e-10, atol=1e-10)
    with pytest.raises(SeqlabError, match=r"dropout_masks: expected 2 mask\(s\) of shape \(3, 5, 12\)"):
        layers["fused"](x, dropout_masks=masks[:1])
