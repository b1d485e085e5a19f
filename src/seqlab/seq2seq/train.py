"""Training translators on the one loop: the date task, pairs files, and this job's defaults.

``train_dates`` learns the embedded date task, ``train_pairs`` any list of (source, target) pairs
(e.g. from :func:`read_pairs`); both build a :class:`~seqlab.seq2seq.task.TranslationTask` and
run it with :func:`seqlab.train.train`. :func:`default_config` is this job's
:class:`seqlab.train.TrainConfig`: Adam, clipping at 1, a time budget, and the learning rate
multiplied by 0.7 after every epoch whose validation exact match is no better than the best.
"""

from __future__ import annotations

import os
import random
from typing import Any, Callable, Sequence

import torch

from ..errors import SeqlabError
from ..train import Callback, History, TrainConfig, train
from ..utils import seed_everything
from ..vocab import Vocabulary
from . import dates
from .defaults import DEFAULTS as D
from .defaults import TRAINING
from .task import Pairs, TranslationTask, accuracy
from .translator import Translator
from .vocab import SPECIALS, source_specials

#: the date task's model: the command's defaults (seqlab.seq2seq.defaults) as Seq2SeqConfig fields;
#: an ISO date is 10 characters, with <sos> and <eos> 12
DATE_MODEL = dict(embed_size=D["embed"], hidden_size=D["hidden"], cell=D["cell"], attention=D["attention"],
                  input_feeding=D["input_feeding"], max_target_len=12)


def default_config(**fields: Any) -> TrainConfig:
    """This job's :class:`TrainConfig`; ``fields`` override any of its settings. From
    :mod:`seqlab.seq2seq.defaults`: at most 50 epochs or 5 minutes, Adam at 3e-3, the gradient
    norm clipped at 1, and the rate multiplied by 0.7 after each epoch without a better
    validation exact match (``val_accuracy``)."""
    base: dict[str, Any] = dict(epochs=D["epochs"], minutes=D["minutes"], lr=D["lr"], monitor="val_accuracy",
                                mode="max", epoch_lines=True, **TRAINING)
    base.update(fields)
    return TrainConfig(**base)


def read_pairs(path: str | os.PathLike) -> Pairs:
    """Tab-separated ``source<TAB>target`` lines (UTF-8); blank lines are skipped."""
    from ..files import read_text

    lines = read_text(path, "--data", "pairs file").splitlines()  # a regular UTF-8 file, no NUL, size-limited
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


def fit(tr: Translator, epoch_data: Callable[[int], Pairs], val: Pairs | None,
        config: TrainConfig | None = None, *,
        batch_size: int = D["batch_size"], teacher_forcing: float = D["teacher_forcing"],
        target_accuracy: float | None = None, callbacks: Sequence[Callback] = ()) -> History:
    """Train ``tr`` in place on the one loop; ``epoch_data(epoch)`` gives each epoch's pairs
    (a function of the epoch alone, so that a resumed run gets the same ones).

    ``teacher_forcing``: the probability of feeding the true previous token (else the model's own
    argmax); ``target_accuracy``: stop at the end of the epoch whose validation exact match
    reaches it. The history holds ``loss`` and, with ``val``, ``val_accuracy`` per epoch."""
    task = TranslationTask(tr, epoch_data, val, batch_size, teacher_forcing, target_accuracy)
    hist = train(task, default_config() if config is None else config, callbacks)
    hist.params["steps_done"] = task.steps
    return hist


def _seed(config: TrainConfig) -> int:
    return config.seed if config.seed is not None else int(torch.randint(0, 2**31, (1,)))


def date_vocabs() -> tuple[Vocabulary, Vocabulary]:
    """Source: every character any date format can produce (lower case); target: digits and '-'.

    Both in sorted order, the ids date models have always had, so that a seed trains the same model
    as before the shared vocabulary (another order gives each row other initial weights).
    """
    texts = [dates.render(d, f) for d in dates.all_dates()[:400:7] for f in dates.FORMATS]
    chars = sorted(set("".join(texts + [" ".join(dates.MONTHS + dates.WEEKDAYS), "0123456789"]).lower()))
    return Vocabulary(chars, specials=SPECIALS, lowercase=True), Vocabulary(list("-0123456789"), specials=SPECIALS)


def train_dates(config: TrainConfig | None = None, *, epoch_size: int = 10000, n_val: int = 500,
                batch_size: int = D["batch_size"], teacher_forcing: float = D["teacher_forcing"],
                target_accuracy: float | None = None, callbacks: Sequence[Callback] = (),
                **model: Any) -> tuple[Translator, History]:
    """Learn the embedded date task; each epoch draws ``epoch_size`` fresh pairs from training
    days. ``model``: :class:`~seqlab.seq2seq.model.Seq2SeqConfig` fields over :data:`DATE_MODEL`."""
    config = default_config() if config is None else config
    seed = _seed(config)
    split = dates.split_dates(n_val=n_val)
    src_vocab, tgt_vocab = date_vocabs()
    seed_everything(seed)
    tr = Translator.create(src_vocab, tgt_vocab, **{**DATE_MODEL, **model})
    val = dates.make_pairs(split.val, len(split.val), seed=1)
    hist = fit(tr, lambda e: dates.make_pairs(split.train, epoch_size, seed=seed * 1000 + e), val, config,
               batch_size=batch_size, teacher_forcing=teacher_forcing, target_accuracy=target_accuracy,
               callbacks=callbacks)
    return tr, hist


def train_pairs(pairs: Pairs, config: TrainConfig | None = None, *, level: str = D["level"], val_fraction: float = 0.05,
                batch_size: int = D["batch_size"], teacher_forcing: float = D["teacher_forcing"],
                target_accuracy: float | None = None, callbacks: Sequence[Callback] = (),
                **model: Any) -> tuple[Translator, History]:
    """Learn user ``pairs``; a ``val_fraction`` of them (at most 1,000) is held out to watch."""
    if not pairs:
        raise SeqlabError("pairs: expected at least 2 (source, target) pairs, got none")
    config = default_config() if config is None else config
    seed = _seed(config)
    shuffled = list(pairs)
    random.Random(seed).shuffle(shuffled)
    n_val = min(1000, int(len(shuffled) * val_fraction))
    val, rest = shuffled[:n_val], shuffled[n_val:]
    src_vocab = Vocabulary.build([s for s, _ in pairs], level=level, specials=source_specials(level))
    tgt_vocab = Vocabulary.build([t for _, t in pairs], level=level, specials=SPECIALS)
    longest = max(len(tgt_vocab.tokenize(t)) for _, t in pairs)
    seed_everything(seed)
    tr = Translator.create(src_vocab, tgt_vocab, **{"max_target_len": 2 * longest + 2, **model})
    hist = fit(tr, lambda e: rest, val or None, config, batch_size=batch_size, teacher_forcing=teacher_forcing,
               target_accuracy=target_accuracy, callbacks=callbacks)
    return tr, hist


__all__ = ["DATE_MODEL", "accuracy", "date_vocabs", "default_config", "fit", "read_pairs", "train_dates",
           "train_pairs"]
