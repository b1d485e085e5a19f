"""Stateful TBPTT on the one loop: it learns, it equals a hand-written loop, it stops on time,
and the engine's schedules run over the task's chunks."""

import math

import pytest
import torch
import torch.nn.functional as F

from seqlab.errors import SeqlabError
from seqlab.text.data import batchify, num_chunks
from seqlab.text.model import LMConfig, RecurrentLM
from seqlab.text.task import LMTask
from seqlab.text.train import default_config, evaluate, train_lm
from seqlab.vocab import Vocabulary


def _ids(text):
    vocab = Vocabulary.build(text)
    return vocab, torch.tensor(vocab.encode(text))


def test_training_learns_a_periodic_text():
    vocab, ids = _ids("abcdefg" * 120)
    model = RecurrentLM(LMConfig(len(vocab), "lstm", hidden_size=16, num_layers=1))
    before = evaluate(model, ids[-100:], batch_size=2)
    cfg = default_config(epochs=6, lr=1e-2, verbose=0, device="cpu")
    hist = train_lm(model, ids[:-100], ids[-100:], cfg, batch_size=4, seq_len=16)
    assert hist.epoch == list(range(6)) and not hist.stopped
    assert before > math.log(7) * 0.9  # untrained: near uniform over 7 symbols
    assert hist["val_loss"][-1] < 0.3 * before and hist["loss"][-1] < hist["loss"][0]
    assert hist["tokens"][-1] == 6 * 4 * (len(ids[:-100]) // 4 - 1)
    assert hist["val_loss"][-1] == pytest.approx(evaluate(model, ids[-100:], 16), rel=1e-12)


def test_training_equals_a_hand_written_tbptt_loop():
    """The task carries the detached state across chunks and resets it each epoch; the loop
    clips and steps Adam: the same numbers as a plain PyTorch loop."""
    torch.manual_seed(3)
    vocab, ids = _ids("hello world, hello there. " * 12)
    cfg = LMConfig(len(vocab), "gru", hidden_size=8, num_layers=2)
    a = RecurrentLM(cfg)
    b = RecurrentLM(cfg)
    b.load_state_dict(a.state_dict())
    hist = train_lm(a, ids, None, default_config(epochs=2, lr=1e-2, clipnorm=1.0, schedule="constant", verbose=0,
                                                 device="cpu"), batch_size=3, seq_len=7)
    opt = torch.optim.Adam(b.parameters(), lr=1e-2)
    streams = batchify(ids, 3)  # (3, n)
    losses = []
    for _ in range(2):
        state, total, count = None, 0.0, 0
        for i in range(0, streams.shape[1] - 1, 7):
            x, y = streams[:, i : i + 7], streams[:, i + 1 : i + 8]
            x = x[:, : y.shape[1]]
            logits, state = b(x, None if state is None else state.detach())
            loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))  # (B*L, V)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(b.parameters(), 1.0)
            opt.step()
            total, count = total + float(loss.detach()) * y.numel(), count + y.numel()
        losses.append(total / count)
    for k, v in a.state_dict().items():
        torch.testing.assert_close(v, b.state_dict()[k], rtol=1e-4, atol=1e-5)
    assert hist["loss"] == pytest.approx(losses, rel=1e-5)  # token-weighted mean (the last chunk is short)


@pytest.mark.parametrize("clock", ["wall", "cpu"])
def test_time_budget_stops_mid_epoch(clock):
    vocab, ids = _ids("xyz " * 400)
    model = RecurrentLM(LMConfig(len(vocab), "rnn", hidden_size=4, num_layers=1))
    task = LMTask(model, ids, ids[:50], batch_size=2, seq_len=4)
    from seqlab.train import train

    hist = train(task, default_config(epochs=50, minutes=1e-6, clock=clock, verbose=0, device="cpu"))
    assert len(hist.epoch) == 1 and "time budget" in hist.stopped
    assert hist["tokens"] == [2 * 4] and not task.epoch_complete  # one chunk, then the budget ran out
    assert len(hist["val_loss"]) == 1


def test_bad_task_arguments():
    vocab, ids = _ids("abc " * 20)
    model = RecurrentLM(LMConfig(len(vocab), "rnn", hidden_size=4, num_layers=1))
    with pytest.raises(SeqlabError, match="batch_size: expected a positive integer"):
        LMTask(model, ids, batch_size=0)
    with pytest.raises(SeqlabError, match="seq_len: expected a positive integer"):
        LMTask(model, ids, seq_len=-1)
    with pytest.raises(SeqlabError, match=r"train_ids: expected a 1-D tensor of token ids \(torch.long\), got torch.float32"):
        LMTask(model, ids.float())
    with pytest.raises(SeqlabError, match="too few for 50 parallel streams"):
        LMTask(model, ids, batch_size=50)
    with pytest.raises(SeqlabError, match="model: expected a seqlab.text.RecurrentLM"):
        LMTask("model", ids)


@pytest.mark.parametrize("schedule", ["decay", "cosine"])
def test_schedules_run_over_the_chunks_of_all_epochs(schedule):
    """Without a time budget the engine's schedule runs over epochs x chunks steps; each epoch
    logs the rate of its last update (hand-computed here)."""
    vocab, ids = _ids("abcabcabd " * 30)
    model = RecurrentLM(LMConfig(len(vocab), "lstm", hidden_size=6, num_layers=1))
    cfg = default_config(epochs=5, lr=0.02, min_lr=0.1, decay_fraction=0.4, schedule=schedule, verbose=0, device="cpu")
    hist = train_lm(model, ids, None, cfg, batch_size=2, seq_len=10)
    per_epoch = num_chunks(batchify(ids, 2), 10)
    total = 5 * per_epoch
    for e in range(5):
        p = ((e + 1) * per_epoch - 1) / total  # progress at the epoch's last update
        if schedule == "decay":
            want = 0.02 if p <= 0.6 else 0.02 * (0.1 + 0.9 * (1 - p) / 0.4)
        else:
            want = 0.02 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))
        assert hist["lr"][e] == pytest.approx(want, rel=1e-12)
    assert default_config().schedule == "decay" and default_config().clipnorm == 5.0
