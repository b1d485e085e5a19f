"""Stateful TBPTT training: it learns, it carries the state, it stops on time."""

import math

import pytest
import torch
import torch.nn.functional as F

from seqlab.errors import SeqlabError
from seqlab.text.data import batchify
from seqlab.text.model import LMConfig, RecurrentLM
from seqlab.text.train import TrainConfig, evaluate, train_lm
from seqlab.vocab import Vocabulary


def test_training_learns_a_periodic_text():
    text = "abcdefg" * 120
    vocab = Vocabulary.build(text)
    ids = torch.tensor(vocab.encode(text))
    model = RecurrentLM(LMConfig(len(vocab), "lstm", hidden_size=16, num_layers=1))
    before = evaluate(model, ids[-100:], batch_size=2)
    seen = []
    hist = train_lm(model, ids[:-100], ids[-100:], TrainConfig(epochs=6, batch_size=4, seq_len=16, lr=1e-2),
                    on_epoch=seen.append, verbose=0)
    assert seen == hist and [h["epoch"] for h in hist] == list(range(1, 7))
    assert before > math.log(7) * 0.9  # untrained: near uniform over 7 symbols
    assert hist[-1]["val_loss"] < 0.3 * before and hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert hist[-1]["tokens"] == 6 * 4 * (len(ids[:-100]) // 4 - 1)


def test_one_epoch_equals_a_hand_written_tbptt_loop():
    """The trainer carries the detached state across chunks and resets it each epoch."""
    torch.manual_seed(3)
    text = "hello world, hello there. " * 12
    vocab = Vocabulary.build(text)
    ids = torch.tensor(vocab.encode(text))
    cfg = LMConfig(len(vocab), "gru", hidden_size=8, num_layers=2)
    a = RecurrentLM(cfg)
    b = RecurrentLM(cfg)
    b.load_state_dict(a.state_dict())
    train_lm(a, ids, None, TrainConfig(epochs=2, batch_size=3, seq_len=7, lr=1e-2, clip=1.0, schedule="constant"),
             verbose=0)
    opt = torch.optim.Adam(b.parameters(), lr=1e-2)
    streams = batchify(ids, 3)  # (3, n)
    for _ in range(2):
        state = None
        for i in range(0, streams.shape[1] - 1, 7):
            x, y = streams[:, i : i + 7], streams[:, i + 1 : i + 8]
            x = x[:, : y.shape[1]]
            logits, state = b(x, None if state is None else state.detach())
            loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(b.parameters(), 1.0)
            opt.step()
    for k, v in a.state_dict().items():
        torch.testing.assert_close(v, b.state_dict()[k], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("clock", ["wall", "cpu"])
def test_time_budget_stops_mid_epoch(clock):
    text = "xyz " * 400
    vocab = Vocabulary.build(text)
    ids = torch.tensor(vocab.encode(text))
    model = RecurrentLM(LMConfig(len(vocab), "rnn", hidden_size=4, num_layers=1))
    hist = train_lm(model, ids, ids[:50], TrainConfig(epochs=50, batch_size=2, seq_len=4, max_minutes=1e-6, clock=clock), verbose=0)
    assert len(hist) == 1 and hist[0]["stopped"] and hist[0]["tokens"] == 2 * 4  # one chunk, then the budget ran out
    assert hist[0]["val_loss"] is not None


def test_bad_train_config():
    with pytest.raises(SeqlabError, match="batch_size: expected a positive integer"):
        TrainConfig(batch_size=0)
    with pytest.raises(SeqlabError, match="clip"):
        TrainConfig(clip=-1.0)
    with pytest.raises(SeqlabError, match="clock: expected one of"):
        TrainConfig(clock="gpu")


def test_cosine_schedule_matches_hand_computed_learning_rates():
    """Without a time budget the learning rate follows the half cosine over all steps."""
    import math

    from seqlab.text.data import num_chunks
    from seqlab.text.train import cosine_lr

    assert cosine_lr(0.1, 0.0, 0.05) == pytest.approx(0.1)
    assert cosine_lr(0.1, 0.5, 0.05) == pytest.approx(0.1 * (0.05 + 0.95 * 0.5))
    assert cosine_lr(0.1, 1.0, 0.05) == pytest.approx(0.005)
    text = "abcabcabd " * 30
    vocab = Vocabulary.build(text)
    ids = torch.tensor(vocab.encode(text))
    model = RecurrentLM(LMConfig(len(vocab), "lstm", hidden_size=6, num_layers=1))
    cfg = TrainConfig(epochs=3, batch_size=2, seq_len=10, lr=0.02, min_lr=0.1, schedule="cosine")
    hist = train_lm(model, ids, None, cfg, verbose=0)
    per_epoch = num_chunks(batchify(ids, 2), 10)
    total = 3 * per_epoch
    for e, rec in enumerate(hist, start=1):
        last_step = e * per_epoch - 1  # the step index of the epoch's last update
        want = 0.02 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * last_step / total)))
        assert rec["lr"] == pytest.approx(want, rel=1e-12)
    assert hist[0]["lr"] > hist[1]["lr"] > hist[2]["lr"]
    with pytest.raises(SeqlabError, match="schedule: expected one of"):
        TrainConfig(schedule="linear")


def test_decay_schedule_matches_hand_computed_learning_rates():
    """The default schedule: constant, then linear down to min_lr * lr over the last fraction."""
    from seqlab.text.data import num_chunks
    from seqlab.text.train import decay_lr

    assert decay_lr(0.1, 0.5, 0.05, 0.2) == pytest.approx(0.1)
    assert decay_lr(0.1, 0.8, 0.05, 0.2) == pytest.approx(0.1)
    assert decay_lr(0.1, 0.9, 0.05, 0.2) == pytest.approx(0.1 * (0.05 + 0.95 * 0.5))
    assert decay_lr(0.1, 1.0, 0.05, 0.2) == pytest.approx(0.005)
    assert TrainConfig().schedule == "decay"
    text = "abcabcabd " * 30
    vocab = Vocabulary.build(text)
    ids = torch.tensor(vocab.encode(text))
    model = RecurrentLM(LMConfig(len(vocab), "lstm", hidden_size=6, num_layers=1))
    cfg = TrainConfig(epochs=5, batch_size=2, seq_len=10, lr=0.02, min_lr=0.1, decay_fraction=0.4)
    hist = train_lm(model, ids, None, cfg, verbose=0)
    per_epoch = num_chunks(batchify(ids, 2), 10)
    total = 5 * per_epoch
    for e, rec in enumerate(hist, start=1):
        p = (e * per_epoch - 1) / total  # progress at the epoch's last update
        want = 0.02 if p <= 0.6 else 0.02 * (0.1 + 0.9 * (1 - p) / 0.4)
        assert rec["lr"] == pytest.approx(want, rel=1e-12)
    assert hist[0]["lr"] == hist[1]["lr"] == 0.02 > hist[3]["lr"] > hist[4]["lr"]
    for bad in (0, 1.5, True):
        with pytest.raises(SeqlabError, match="decay_fraction: expected a fraction"):
            TrainConfig(decay_fraction=bad)
