"""The language model's thread shares (seqlab.nn.sharded): a batch cut into shares, each run
forward and backward by its own worker thread, computes what the whole batch computes (float64,
every cell kind), and a sharded training run interrupted and resumed ends bit-identical to an
uninterrupted one."""

import pytest
import torch
import torch.nn.functional as F

from seqlab.nn import sharded
from seqlab.text.model import LMConfig, RecurrentLM
from seqlab.text.train import default_config, train_lm
from seqlab.vocab import Vocabulary
from tests.train_helpers import Interrupt


@pytest.fixture
def three_shares(monkeypatch):
    monkeypatch.setattr(sharded, "shares", lambda batch, min_rows=8: min(3, batch))


def _loss_and_grads(model, x, y, state):
    logits, new = model(x, state)
    parts = (new,) if isinstance(new, torch.Tensor) else tuple(new)
    loss = F.cross_entropy(logits.flatten(0, 1), y.flatten()) + sum((p * p).sum() for p in parts)
    wrt = [*(p for p in (state if isinstance(state, tuple) else (state,)) if p is not None), *model.parameters()]
    return [logits.detach(), *(p.detach() for p in parts), *torch.autograd.grad(loss, wrt)]


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "lstm-peephole", "mingru", "minlstm"])
@pytest.mark.parametrize("with_state", [False, True])
def test_shares_equal_the_whole_batch(monkeypatch, cell, with_state):
    torch.manual_seed(0)
    model = RecurrentLM(LMConfig(13, cell, 10, 2)).double()
    x, y = torch.randint(0, 13, (7, 9)), torch.randint(0, 13, (7, 9))
    state = None
    if with_state:
        parts = tuple(torch.randn(2, 7, 10, dtype=torch.float64, requires_grad=True)
                      for _ in range(model.rnn.state_size))
        state = parts[0] if len(parts) == 1 else parts
    monkeypatch.setattr(sharded, "shares", lambda batch, min_rows=8: 1)
    whole = _loss_and_grads(model, x, y, state)
    calls = []
    real = sharded.sharded
    monkeypatch.setattr(sharded, "shares", lambda batch, min_rows=8: 3)
    monkeypatch.setattr(sharded, "sharded", lambda *a, **k: calls.append(a[-1]) or real(*a, **k))
    split = _loss_and_grads(model, x, y, state)
    assert calls == [3]
    for k, (a, b) in enumerate(zip(split, whole, strict=True)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12, msg=f"result {k}")


def test_shares_off_on_request_or_for_small_batches():
    model = RecurrentLM(LMConfig(5, "lstm", 4, 1))
    ids = torch.zeros(6, 3, dtype=torch.long)
    model.shard = False
    assert model._shares(ids) == 1
    model.shard = True
    assert sharded.shares(6) == 1  # fewer than 8 rows per share on any thread count


@pytest.mark.parametrize("cell", ["lstm", "gru", "mingru"])
def test_dropout_masks_drawn_before_the_shares_equal_the_same_masks_unsharded(monkeypatch, cell):
    """In training with dropout the masks come from the calling thread; the shares apply exactly
    those: the same numbers as the whole batch with the same masks (embedding, between layers,
    output)."""
    torch.manual_seed(0)
    model = RecurrentLM(LMConfig(13, cell, 10, 3, dropout=0.3)).double().train()
    x, y = torch.randint(0, 13, (7, 9)), torch.randint(0, 13, (7, 9))
    monkeypatch.setattr(sharded, "shares", lambda batch, min_rows=8: 3)
    torch.manual_seed(5)
    split = _loss_and_grads(model, x, y, None)
    torch.manual_seed(5)  # the same draws, in the same order
    masks = model._dropout_masks(7, 9, model.embedding.weight)
    assert len(masks) == 2 + 2  # embedding, output, two boundaries between three layers
    monkeypatch.setattr(RecurrentLM, "forward", lambda self, ids, state=None: self._forward(ids, state, masks))
    whole = _loss_and_grads(model, x, y, None)
    for k, (a, b) in enumerate(zip(split, whole, strict=True)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12, msg=f"result {k}")
    dropped = (masks[0] == 0).double().mean()
    assert 0.15 < float(dropped) < 0.45  # p = 0.3 of the embedding's units dropped


TEXT = "It was the best of times, it was the worst of times; it was the age of wisdom.\n" * 8


def _train(ck, callbacks=(), resume=False):
    vocab = Vocabulary.build(TEXT)
    ids = torch.tensor(vocab.encode(TEXT))
    torch.manual_seed(0)
    # dropout: its masks come from torch's RNG in the calling thread, whose state the checkpoint keeps
    model = RecurrentLM(LMConfig(len(vocab), "lstm", hidden_size=8, num_layers=2, dropout=0.1))
    cfg = default_config(epochs=3, lr=1e-2, seed=5, device="cpu", threads=1, verbose=0, checkpoint=str(ck),
                         resume=resume, checkpoint_minutes=None, checkpoint_steps=3)
    train_lm(model, ids[:-80], ids[-80:], cfg, batch_size=3, seq_len=30, callbacks=callbacks)
    return model


def test_sharded_run_interrupted_and_resumed_equals_uninterrupted(tmp_path, three_shares):
    ref = _train(tmp_path / "ref.ckpt.safetensors")
    ck = tmp_path / "run.ckpt.safetensors"
    with pytest.raises(KeyboardInterrupt):
        _train(ck, [Interrupt(11)])
    resumed = _train(ck, resume=True)
    for (name, a), b in zip(ref.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_bfloat16_training_steps_under_autocast_in_every_share(monkeypatch):
    """precision='bfloat16': the steps run under autocast (in the worker threads too, where it is
    off by default), the carried state and the loss stay float32, the weights float32."""
    from seqlab.text.task import LMTask

    vocab = Vocabulary.build(TEXT)
    ids = torch.tensor(vocab.encode(TEXT))
    torch.manual_seed(0)
    model = RecurrentLM(LMConfig(len(vocab), "lstm", hidden_size=16, num_layers=2))
    task = LMTask(model, ids, None, batch_size=4, seq_len=20, precision="bfloat16")
    seen = []
    real = model._forward
    monkeypatch.setattr(model, "_forward", lambda *a, **k: seen.append(torch.is_autocast_enabled("cpu")) or real(*a, **k))
    monkeypatch.setattr(sharded, "shares", lambda batch, min_rows=8: 2)
    batch = next(iter(task.batches(0, torch.Generator())))
    loss, n = task.training_step(model, batch)
    assert seen == [True, True]  # both shares under autocast
    assert loss.dtype == torch.float32 and all(s.dtype == torch.float32 for s in task.state)
    loss.backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in model.parameters())
    with pytest.raises(Exception, match="precision: expected one of"):
        LMTask(model, ids, None, batch_size=4, seq_len=20, precision="half")
