"""MemoryModel and train_memory: keep bias, shapes, losses, budget and validation."""

import math

import pytest
import torch

from seqlab.diagnostics.memory import MemoryConfig, MemoryModel, check_cells, make_layer, train_memory
from seqlab.diagnostics.tasks import adding_problem, copy_memory
from seqlab.errors import SeqlabError


@pytest.mark.parametrize("cell,block,sign", [("lstm", 1, 1.0), ("gru", 1, -1.0)])
def test_keep_bias_moves_only_the_keep_gate(cell, block, sign):
    H = 5
    torch.manual_seed(11)
    plain = make_layer(cell, 2, H, keep_bias=0.0)
    torch.manual_seed(11)
    kept = make_layer(cell, 2, H, keep_bias=1.0)
    diff = (kept.cells[0].bias_ih - plain.cells[0].bias_ih).detach()
    want = torch.zeros_like(diff)
    want[block * H : (block + 1) * H] = sign
    assert torch.allclose(diff, want, atol=1e-6, rtol=0)
    assert torch.equal(kept.cells[0].weight_hh, plain.cells[0].weight_hh)


@torch.no_grad()
def test_memory_model_shapes_and_losses():
    x, y = adding_problem(4, 12)
    m = MemoryModel("adding", "gru", hidden_size=6)
    out = m(x)
    assert out.shape == (4, 1)
    assert float(m.loss(out, y)) == pytest.approx(float(((out - y) ** 2).mean()), rel=1e-6)
    xc, yc = copy_memory(3, 7)
    mc = MemoryModel("copy", "rnn", hidden_size=6)
    logits = mc(xc)
    assert logits.shape == (3, 27, 10)
    want = -torch.log_softmax(logits, -1).gather(-1, yc.unsqueeze(-1)).mean()
    assert float(mc.loss(logits, yc)) == pytest.approx(float(want), rel=1e-5)


def test_train_memory_runs_its_steps_and_reports_the_baseline():
    cfg = MemoryConfig(task="copy", length=6, cell="lstm", hidden_size=8, batch_size=8, max_steps=200, seed=3)
    res = train_memory(cfg)
    assert res.steps == 200 and len(res.curve) == 2
    assert res.baseline == pytest.approx(10 * math.log(8) / 26)
    assert res.grad_norms["steps"] == 200 and res.grad_norms["max_after_clipping"] <= 1.0 + 1e-6
    # 200 steps are enough to learn the blanks (loss well under log 10 = 2.30 of a uniform guess)
    assert res.final_loss < 1.0


@pytest.mark.parametrize("field,value,pattern", [
    ("length", 1, "length: expected an integer >= 2"), ("cell", "lstm2", "unknown cell 'lstm2'"),
    ("task", "recall", "task: expected one of"), ("hidden_size", 0, "hidden_size: expected a positive integer"),
    ("lr", -1.0, "lr: expected a positive number"), ("minutes", 0, "minutes: expected a positive number"),
])
def test_bad_config(field, value, pattern):
    with pytest.raises(SeqlabError, match=pattern):
        MemoryConfig(**{field: value}).validate()


def test_check_cells():
    assert check_cells("RNN, lstm,gru,lstm") == ["rnn", "lstm", "gru"]
    with pytest.raises(SeqlabError, match="expected a comma-separated list"):
        check_cells(" , ")


@pytest.mark.parametrize("cell,gates,block,sign", [("mingru", 2, 0, -1.0), ("minlstm", 3, 0, 1.0)])
def test_keep_bias_of_the_minimal_rnns_lands_on_the_keep_gate(cell, gates, block, sign):
    H = 5
    torch.manual_seed(12)
    plain = make_layer(cell, 2, H, keep_bias=0.0)
    torch.manual_seed(12)
    kept = make_layer(cell, 2, H, keep_bias=1.5)
    c = kept.cells[0]
    assert c.bias_ih.shape == (gates * H,) and not hasattr(c, "weight_hh")
    diff = (c.bias_ih - plain.cells[0].bias_ih).detach()
    want = torch.zeros_like(diff)
    want[block * H : (block + 1) * H] = 1.5 * sign
    assert torch.allclose(diff, want, atol=1e-6, rtol=0)
    assert torch.equal(c.weight_ih, plain.cells[0].weight_ih)
    # at zero input, the fraction of the state kept per step grows with the keep bias
    x = torch.zeros(1, 3, 2)
    h0 = torch.ones(1, 1, H)
    with torch.no_grad():
        kept_h, plain_h = kept(x, h0)[0], plain(x, h0)[0]
    g = kept.cells[0]._act(c.bias_ih[-H:]).detach()  # the candidate at zero input
    gp = plain.cells[0]._act(plain.cells[0].bias_ih[-H:]).detach()
    assert torch.all((kept_h[0, 0] - g).abs() > (plain_h[0, 0] - gp).abs())  # nearer h0 = 1 than to v


def test_check_cells_accepts_the_minimal_rnns():
    assert check_cells("lstm,gru,mingru,minlstm") == ["lstm", "gru", "mingru", "minlstm"]


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_minimal_rnns_train_on_the_adding_problem(cell):
    cfg = MemoryConfig(task="adding", length=20, cell=cell, hidden_size=16, batch_size=32, max_steps=300, seed=1)
    res = train_memory(cfg)
    assert res.steps == 300 and math.isfinite(res.final_loss) and res.baseline == pytest.approx(1 / 6)
    assert res.final_loss < res.baseline  # learns something beyond always predicting 1
