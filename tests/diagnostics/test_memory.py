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
