"""A compact training loop for translators: Adam, cross-entropy, teacher forcing, a time budget.

Used by ``seqlab translate train``; independent of the model-API engine. ``train_dates`` learns
the embedded date task, ``train_pairs`` any list of (source, target) pairs (e.g. from
:func:`read_pairs`).
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from ..errors import SeqlabError, check_positive_int
from ..utils import progress, resolve_device, seed_everything
from ..vocab import Vocabulary
from . import dates
from .model import pad_batch
from .translator import Translator
from .vocab import BOS, EOS, PAD, SPECIALS

Pairs = list[tuple[str, str]]


@dataclass
class TrainConfig:
    epochs: int = 50
    minutes: float | None = 5.0  # stop after this much training time (None: no limit)
    batch_size: int = 64
    lr: float = 3e-3
    teacher_forcing: float = 1.0  # probability of feeding the true previous token
    clip: float = 1.0  # gradient norm clipping
    lr_decay: float = 0.7  # multiply the learning rate when validation stops improving
    target_accuracy: float | None = None  # stop once validation exact match reaches this
    seed: int = 0
    device: str = "auto"
    verbose: int = 1

    def __post_init__(self) -> None:
        check_positive_int("epochs", self.epochs)
        if self.minutes is not None and not (isinstance(self.minutes, (int, float)) and self.minutes > 0):
            raise SeqlabError(f"minutes: expected a positive number of minutes, got {self.minutes!r}")
        check_positive_int("batch_size", self.batch_size)
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise SeqlabError(f"lr: expected a positive learning rate, got {self.lr!r}")
        if not (isinstance(self.teacher_forcing, (int, float)) and 0 <= self.teacher_forcing <= 1):
            raise SeqlabError(f"teacher_forcing: expected a ratio in [0, 1], got {self.teacher_forcing!r}")


@dataclass
class History:
    loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    stopped: str = ""


def read_pairs(path: str | os.PathLike) -> Pairs:
    """Tab-separated ``source<TAB>target`` lines (UTF-8); blank lines are skipped."""
    if not os.path.isfile(path):
        raise SeqlabError(f"data: file {str(path)!r} does not exist; pass a tab-separated file of source<TAB>target lines")
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except UnicodeDecodeError as exc:
        raise SeqlabError(f"data: {str(path)!r} is not UTF-8 text ({exc}); save it as UTF-8") from exc
    pairs: Pairs = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise SeqlabError(
                f"data: line {n} of {str(path)!r} has {len(parts) - 1} tabs, expected exactly one between source and "
                f"target: {line[:60]!r}; separate the two sides with one tab"
            )
        src, tgt = parts[0].strip(), parts[1].strip()
        if not src or not tgt:
            side = "source" if not src else "target"
            raise SeqlabError(f"data: line {n} of {str(path)!r} has an empty {side} side: {line[:60]!r}; fill it in or remove the line")
        pairs.append((src, tgt))
    if len(pairs) < 2:
        raise SeqlabError(f"data: {str(path)!r} holds {len(pairs)} pairs, expected at least 2 source<TAB>target lines")
    return pairs


def _batches(tr: Translator, pairs: Pairs, batch_size: int, rng: random.Random, device):
    order = list(range(len(pairs)))
    rng.shuffle(order)
    for i in range(0, len(order), batch_size):
        chunk = [pairs[j] for j in order[i : i + batch_size]]
        src, lengths = pad_batch([tr.src_vocab.encode(s, "source") for s, _ in chunk], device)
        tgt, _ = pad_batch([[BOS] + tr.tgt_vocab.encode(t, "target") + [EOS] for _, t in chunk], device)
        yield src, lengths, tgt[:, :-1], tgt[:, 1:]  # (B, S), (B,), (B, T), (B, T)


def accuracy(tr: Translator, pairs: Pairs, beam: int = 1) -> float:
    """Exact-match accuracy of ``tr`` on ``pairs`` (target compared after its own tokenization)."""
    outs = tr.translate_batch([s for s, _ in pairs], beam=beam)
    want = [tr.tgt_vocab.decode(tr.tgt_vocab.encode(t, "target")) for _, t in pairs]
    return sum(o.text == w for o, w in zip(outs, want)) / max(1, len(pairs))


def fit(tr: Translator, epoch_data: Callable[[int], Pairs], val: Pairs | None, cfg: TrainConfig) -> History:
    """Train ``tr`` in place; ``epoch_data(epoch)`` gives each epoch's pairs."""
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    tr.model.to(device)
    opt = torch.optim.Adam(tr.model.parameters(), lr=cfg.lr)
    rng = random.Random(cfg.seed)
    hist = History()
    t0 = time.perf_counter()
    budget = math.inf if cfg.minutes is None else 60.0 * cfg.minutes
    best = -1.0
    for epoch in range(cfg.epochs):
        pairs = epoch_data(epoch)
        tr.model.train()
        total, count = 0.0, 0
        n_batches = math.ceil(len(pairs) / cfg.batch_size)
        bar = progress(_batches(tr, pairs, cfg.batch_size, rng, device), n_batches,
                       f"epoch {epoch + 1}/{cfg.epochs}", cfg.verbose, leave=False)
        for src, lengths, tgt_in, tgt_out in bar:
            logits, _ = tr.model(src, lengths, tgt_in, cfg.teacher_forcing)  # (B, T, V)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1),  # (B*T, V), (B*T,)
                                   ignore_index=PAD)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(tr.model.parameters(), cfg.clip)
            opt.step()
            total += float(loss.detach()) * src.shape[0]
            count += src.shape[0]
            hist.steps += 1
            if time.perf_counter() - t0 > budget:
                hist.stopped = f"time budget of {cfg.minutes} min reached"
                break
        hist.loss.append(total / max(1, count))
        msg = f"epoch {epoch + 1}: loss {hist.loss[-1]:.4f}"
        if val:
            acc = accuracy(tr, val)
            hist.val_accuracy.append(acc)
            msg += f", validation exact match {100 * acc:.1f}%"
            if acc <= best:
                for g in opt.param_groups:
                    g["lr"] *= cfg.lr_decay
            best = max(best, acc)
            if cfg.target_accuracy is not None and acc >= cfg.target_accuracy:
                hist.stopped = f"target accuracy {100 * cfg.target_accuracy:g}% reached"
        hist.seconds = time.perf_counter() - t0
        if cfg.verbose:
            print(f"{msg} ({hist.seconds:.0f}s)", flush=True)
        if hist.stopped:
            break
    hist.seconds = time.perf_counter() - t0
    tr.model.eval()
    return hist


# sizes that reach >= 99 % on held-out dates within minutes on two CPU cores
# (Luong attention without input feeding trains all target steps at once: several times faster)
DATE_MODEL = dict(embed_size=32, hidden_size=64, cell="gru", attention="luong", input_feeding=False, max_target_len=12)


def date_vocabs() -> tuple[Vocabulary, Vocabulary]:
    """Source: every character any date format can produce (lower case); target: digits and '-'."""
    src = Vocabulary.build([dates.render(d, f) for d in dates.all_dates()[:400:7] for f in dates.FORMATS]
                           + [" ".join(dates.MONTHS + dates.WEEKDAYS), "0123456789"], specials=SPECIALS,
                           lowercase=True)
    return src, Vocabulary(list("-0123456789"), specials=SPECIALS)


def train_dates(cfg: TrainConfig, epoch_size: int = 10000, n_val: int = 500, **model) -> tuple[Translator, History]:
    """Learn the embedded date task; each epoch draws ``epoch_size`` fresh pairs from training days."""
    split = dates.split_dates(n_val=n_val)
    src_vocab, tgt_vocab = date_vocabs()
    seed_everything(cfg.seed)
    tr = Translator.create(src_vocab, tgt_vocab, **{**DATE_MODEL, **model})
    val = dates.make_pairs(split.val, len(split.val), seed=1)
    hist = fit(tr, lambda e: dates.make_pairs(split.train, epoch_size, seed=cfg.seed * 1000 + e), val, cfg)
    return tr, hist


def train_pairs(pairs: Pairs, cfg: TrainConfig, level: str = "char", val_fraction: float = 0.05,
                **model) -> tuple[Translator, History]:
    """Learn user ``pairs``; a ``val_fraction`` of them (at most 1,000) is held out to watch."""
    if not pairs:
        raise SeqlabError("pairs: expected at least 2 (source, target) pairs, got none")
    rng = random.Random(cfg.seed)
    shuffled = list(pairs)
    rng.shuffle(shuffled)
    n_val = min(1000, int(len(shuffled) * val_fraction))
    val, train = shuffled[:n_val], shuffled[n_val:]
    src_vocab = Vocabulary.build([s for s, _ in pairs], level=level, specials=SPECIALS)
    tgt_vocab = Vocabulary.build([t for _, t in pairs], level=level, specials=SPECIALS)
    longest = max(len(tgt_vocab.tokenize(t)) for _, t in pairs)
    seed_everything(cfg.seed)
    tr = Translator.create(src_vocab, tgt_vocab, **{"max_target_len": 2 * longest + 2, **model})
    hist = fit(tr, lambda e: train, val or None, cfg)
    return tr, hist
