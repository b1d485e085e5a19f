"""The work of ``seqlab generate train`` and ``seqlab generate sample``, callable without argparse.

:func:`train` reads a text, builds the vocabulary and model, trains on the one loop (printing a
line and a sample after each epoch), writes the model, and removes the run's checkpoint once the
model file is safely written. The checkpoint (``PATH.ckpt.safetensors`` next to ``save``) is
written at each epoch end and every ``checkpoint_minutes``; ``resume=True`` continues from it.
Under ``torchrun --nproc_per_node N`` the N processes train data-parallel (each on its share of
the streams); only rank 0 prints and writes files. :func:`sample` streams text from a saved model.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict
from typing import IO, Sequence

import torch

from ..cli_args import check_output, check_outputs
from ..errors import SeqlabError, check_float, check_int, warn_deprecated
from ..train import Callback, History
from ..train import checkpoint as ckpt
from ..train.distributed import env_world
from ..resources import check_fits, recurrent_estimate
from ..vocab import Vocabulary
from ..utils import resolve_device, resolve_threads, seed_everything, thread_policy
from .data import default_corpus, read_text, split_train_val
from .defaults import DEFAULTS as D
from .model import LMConfig, RecurrentLM, load_lm, save_lm
from .sampling import check_sampling, sample as sample_text, stream
from .task import LMTask, resolve_precision
from .train import default_config, describe_loss

DEFAULT_MODEL = "text-model.safetensors"


class EpochReport(Callback):
    """Prints each epoch's losses and speed, then a sample (rank 0 only)."""

    def __init__(self, task: LMTask, vocab: Vocabulary, level: str, sample_length: int, seed: int | None,
                 limit: str) -> None:
        self.task, self.vocab, self.level = task, vocab, level
        self.sample_length, self.seed, self.limit = sample_length, seed, limit

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not self.is_main:
            return
        logs = logs or {}
        unit = "chars" if self.level == "char" else "words"
        val = f", validation {describe_loss(logs['val_loss'], self.level)}" if "val_loss" in logs else ""
        seconds = logs.get("train_seconds", 0.0)
        rate = logs.get("tokens", 0.0) / max(seconds, 1e-9)
        note = "" if self.task.epoch_complete else f" ({self.limit} limit reached)"
        print(f"epoch {epoch + 1}: train {describe_loss(logs['loss'], self.level)}{val}; "
              f"{seconds:.0f}s, {rate:,.0f} {unit}/s{note}")
        if self.sample_length:
            text = sample_text(self.task.model, self.vocab, None, self.sample_length, temperature=0.8, seed=self.seed)
            print("\n".join("  | " + line for line in text.split("\n")))
        sys.stdout.flush()


def train(*, text: str | os.PathLike | None = None, level: str | None = None, max_vocab: int | None = None,
          cell: str | None = None, hidden: int | None = None, layers: int | None = None,
          embed: int | None = None, dropout: float | None = None, tie_weights: bool | None = None,
          init_from: str | os.PathLike | None = None, epochs: int = D.epochs,
          minutes: float = D.minutes, batch_size: int = D.batch_size, seq_len: int = D.seq_len, lr: float = D.lr,
          schedule: str = D.schedule, clipnorm: float | None = D.clipnorm, val_fraction: float = 0.1,
          sample_length: int = 200, seed: int = 0, threads: int | None = 0, device: str = "auto",
          save: str | os.PathLike | None = DEFAULT_MODEL, resume: bool = False, quiet: bool = False,
          checkpoint_minutes: float | None = 5.0, checkpoint_steps: int | None = None,
          callbacks: Sequence[Callback] = (), clock: str = "wall",
          precision: str = D.precision,
          peephole: bool | None = None) -> tuple[RecurrentLM, Vocabulary, History]:
    """Train a language model on the UTF-8 file ``text`` (None: the Python docs shipped with
    Python) and save it to ``save`` (None: no file, no checkpoint). ``minutes`` 0 or None: no
    time limit; ``clipnorm`` 0 or None: no clipping; ``threads`` 0: the one automatic thread policy.
    ``quiet``: no progress bar, epoch lines or samples. Returns the model, its vocabulary and the
    training history. Every argument is checked before any training. ``callbacks`` go to the
    training loop (they see ``val_loss`` after every epoch, as ``seqlab tune generate`` prunes on).
    ``clock`` is what ``minutes`` measures ("wall", or "cpu": this process's CPU time, which other
    people's load does not stretch). Defaults: :data:`seqlab.text.defaults.DEFAULTS`.

    ``init_from``: the file of a language model saved by this function (``seqlab generate
    train``) to start from (fine-tuning, char-rnn's ``-init_from``): its weights, its
    vocabulary (the text must hold only its symbols; at word level other words read as
    ``<unk>``) and its architecture. The architecture arguments (``level cell hidden
    layers embed tie_weights``) and ``max_vocab`` are then left as None (or given equal to
    the model's); ``dropout`` None keeps the model's, a number replaces it. Without
    ``init_from``, None means the default (``level`` 'char', ``max_vocab`` 10000, ``embed``
    None: ``hidden``).

    ``peephole``: deprecated; ``peephole=True`` is ``cell="lstm-peephole"`` (DeprecationWarning)."""
    if peephole is not None:
        warn_deprecated("train(peephole=...)", 'cell="lstm-peephole"')
        if peephole and cell not in (None, "lstm", "lstm-peephole"):
            raise SeqlabError(f"peephole: only applies to cell 'lstm', got cell {cell!r}")
        cell = "lstm-peephole" if peephole else cell
    # -- checks before the long part, so that a bad option fails at once ------------------------
    save_path = check_output(save, "--save")
    check_outputs({"--save": save_path}, {"--data": text if isinstance(text, (str, os.PathLike)) else None})
    ckpt_path = None if save_path is None else ckpt.checkpoint_path(save_path)
    if resume and ckpt_path is None:
        raise SeqlabError("--resume: needs --save PATH, the model file of the interrupted run (its checkpoint "
                          "is PATH.ckpt.safetensors)")
    if resume and not ckpt_path.exists():
        raise SeqlabError(f"--resume: no checkpoint at {str(ckpt_path)!r} (a run writes one there at each epoch "
                          "end and removes it once the model is saved); start without --resume")
    check_int("batch_size", batch_size, meaning="parallel streams per process")
    check_int("seq_len", seq_len, meaning="the truncated BPTT length")
    check_int("sample_length", sample_length, 0)
    check_float("minutes", minutes, 0, none="no time limit", meaning="0 for no limit")
    start = None
    if init_from is not None:
        check_outputs({"--save": save_path}, {"--init-from": init_from})
        start, start_vocab = load_init(init_from, level=level, max_vocab=max_vocab, cell=cell, hidden=hidden,
                                       layers=layers, embed=embed, tie_weights=tie_weights)
        c = start.config
        level, cell, hidden, layers, embed = start_vocab.config.level, _cell(c), c.hidden_size, c.num_layers, c.embed_size
        tie_weights = c.tie_weights
        dropout = c.dropout if dropout is None else dropout
    else:
        level = "char" if level is None else level
        max_vocab = 10000 if max_vocab is None else max_vocab
        cell = D.cell if cell is None else cell
        hidden = D.hidden if hidden is None else hidden
        layers = D.layers if layers is None else layers
        embed = D.embed if embed is None else embed
        dropout = D.dropout if dropout is None else dropout
        tie_weights = bool(tie_weights)
        check_int("max_vocab", max_vocab)
    if level not in ("char", "word"):
        raise SeqlabError(f"level: expected 'char' or 'word', got {level!r}")
    dev = resolve_device(device)
    n_threads = resolve_threads(threads)
    config = default_config(epochs=epochs, minutes=minutes or None, lr=lr, clipnorm=clipnorm or None,
                            schedule=schedule, seed=seed, device=device, threads=n_threads,
                            verbose=0 if quiet else 1, checkpoint=None if ckpt_path is None else str(ckpt_path),
                            resume=resume, checkpoint_minutes=checkpoint_minutes, checkpoint_steps=checkpoint_steps,
                            clock=clock)
    if text is None:
        corpus, source = default_corpus(), "pydoc_data.topics (the Python documentation)"
    else:
        corpus, source = read_text(text), str(text)
    unknown = 0
    if start is None:
        vocab = Vocabulary.build(corpus, level=level, max_size=max_vocab if level == "word" else None)
    else:
        vocab = start_vocab
        unknown = check_text_in_vocab(corpus, vocab, source, init_from)
    ids = torch.tensor(vocab.encode(corpus), dtype=torch.long)  # rare words -> <unk> (build adds it for them)
    train_ids, val_ids = split_train_val(ids, val_fraction)
    world = env_world()
    if len(train_ids) < 2 * batch_size * world.world_size:
        procs = f" on each of {world.world_size} processes" if world.enabled else ""
        raise SeqlabError(f"--data: {len(train_ids)} training tokens are too few for --batch-size {batch_size}{procs}; "
                          "use a longer text or a smaller --batch-size")
    check_fits(recurrent_estimate(cell=cell, inputs=0, hidden=hidden, layers=layers, batch=batch_size, steps=seq_len,
                                  vocab=len(vocab), embed=embed or hidden, outputs=len(vocab), outputs_per_step=True),
               "--hidden/--layers/--embed/--batch-size/--seq-len", dev)
    seed_everything(seed)
    if start is None:
        model = RecurrentLM(LMConfig(len(vocab), cell, hidden, layers, embed, dropout, tie_weights))
    else:  # the saved network with this run's dropout (no weight depends on it), and its weights
        model = RecurrentLM(LMConfig(**{**asdict(start.config), "dropout": dropout}))
        model.load_state_dict(start.state_dict())
    task = LMTask(model, train_ids, val_ids if len(val_ids) > 2 else None, batch_size, seq_len, precision=precision)

    # -- training ---------------------------------------------------------------------------------
    if world.is_main:
        unit = "chars" if level == "char" else "words"
        n_params = sum(p.numel() for p in model.parameters())
        used = n_threads or torch.get_num_threads()
        procs = f", {world.world_size} processes" if world.enabled else ""
        counts = f"{len(corpus):,} characters" + ("" if level == "char" else f", {len(ids):,} {unit}")
        print(f"text: {source}, {counts}, vocabulary {len(vocab)}; "
              f"train {len(train_ids):,}, validation {len(val_ids):,}")
        print(f"model: {layers}-layer {cell.upper()}, {hidden} units, {n_params:,} parameters, "
              f"backend {model.rnn.resolve_backend()}, device {dev}"
              + (f", {used} thread{'s' if used > 1 else ''}" if dev.type == "cpu" else "")
              + f", {resolve_precision(precision, dev)}" + procs
              + (f"; starting from the weights of {init_from}" if start is not None else "")
              + (f"; resuming from {ckpt_path}" if resume else ""))
        if unknown:
            print(f"note: {unknown:,} words of the text are not in the vocabulary of {init_from} and read as <unk>")
        sys.stdout.flush()
    report = EpochReport(task, vocab, level, 0 if quiet else sample_length, seed, "time" if minutes else "step")
    from ..train import train as run_loop

    history = run_loop(task, config, ([] if quiet else [report]) + list(callbacks))
    if save_path is not None and world.is_main:
        extra = {"source": source, "val_fraction": val_fraction}
        if start is not None:
            extra["init_from"] = str(init_from)
        save_lm(save_path, model, vocab, extra=extra)
        ckpt.discard(ckpt_path)
        why = f" ({history.stopped})" if history.stopped else ""
        print(f"saved {save_path}{why}; try: seqlab generate sample --model {save_path} --prime \"...\"")
    return model, vocab, history


def _has(option: str, value) -> str:
    """What a model with ``value`` for ``option`` has, in words (for --init-from's errors)."""
    return {"--level": lambda v: f"reads {'characters' if v == 'char' else 'words'}",
            "--cell": lambda v: f"is a {v!r} network",
            "--hidden": lambda v: f"has {v} units per layer",
            "--layers": lambda v: f"has {v} layer{'s' if v != 1 else ''}",
            "--embed": lambda v: f"has embeddings of size {v}",
            "--tie-weights": lambda v: f"{'ties' if v else 'does not tie'} its embedding and output weights",
            }[option](value)


def load_init(path: str | os.PathLike, **given) -> tuple[RecurrentLM, Vocabulary]:
    """The language model and vocabulary of the file ``path`` given as ``--init-from``, after
    checking that it is one (not a model of another job or a checkpoint) and that every
    architecture option in ``given`` that is not None agrees with it. SeqlabError naming the
    option otherwise."""
    from ..errors import ModelFileError
    from ..io import peek_kind
    from .model import KIND

    try:
        kind = peek_kind(path, "--init-from")
    except ModelFileError as exc:
        raise ModelFileError(_init_error(exc)) from None
    if kind == ckpt.KIND:
        raise SeqlabError(f"--init-from: {str(path)!r} is the checkpoint of an unfinished run, not a model; continue "
                          "that run with --resume --save PATH, or pass the model file it wrote")
    if kind != KIND:
        raise SeqlabError(f"--init-from: {str(path)!r} holds a {kind!r} model, expected a language model written by "
                          "'seqlab generate train'")
    try:
        lm, vocab, _ = load_lm(path)
    except SeqlabError as exc:
        raise type(exc)(_init_error(exc)) from None
    c = lm.config
    has = {"--level": vocab.config.level, "--cell": _cell(c), "--hidden": c.hidden_size, "--layers": c.num_layers, "--embed": c.embed_size,
           "--tie-weights": c.tie_weights}
    for name, value in given.items():
        option = "--" + name.replace("_", "-")
        if value is None:
            continue
        if option == "--max-vocab":
            raise SeqlabError(f"--max-vocab: the vocabulary is that of the model of --init-from {str(path)!r} "
                              f"({len(vocab):,} symbols), got --max-vocab {value}; leave --max-vocab out, or train a "
                              "new model without --init-from")
        if value != has[option]:
            shown = value if not isinstance(value, bool) else ("on" if value else "off")
            raise SeqlabError(f"{option}: the model of --init-from {str(path)!r} {_has(option, has[option])}, got "
                              f"{option} {shown}; leave {option} out to keep the model's, or train a new model "
                              "without --init-from")
    return lm, vocab


def _cell(config: LMConfig) -> str:
    """The ``--cell`` of a saved model: 'lstm-peephole' for an 'lstm' that files from before the
    registry saved with ``cell_options={"peephole": True}``."""
    return "lstm-peephole" if config.cell == "lstm" and config.cell_options.get("peephole") else config.cell


def _init_error(exc: BaseException) -> str:
    """A model-file error worded for --init-from (the loaders name --model)."""
    msg = str(exc)
    for prefix in ("--model: ", "--init-from: "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    return f"--init-from: {msg}"


def check_text_in_vocab(corpus: str, vocab: Vocabulary, source: str, init_from: str | os.PathLike) -> int:
    """How many tokens of ``corpus`` the vocabulary of the ``--init-from`` model reads as
    ``<unk>`` (0 for none); SeqlabError when it has no ``<unk>`` (character level) and the text
    holds symbols outside it: a model cannot learn symbols it has no rows for."""
    known = set(vocab.tokens)
    tokens = vocab.config.tokenize(corpus)
    missing = [t for t in dict.fromkeys(tokens) if t not in known]
    if not missing:
        return 0
    if vocab.unk_id is not None:
        gone = set(missing)
        return sum(t in gone for t in tokens)
    what = "character" if vocab.config.level == "char" else "word"
    shown = ", ".join(repr(t) for t in missing[:10]) + (", ..." if len(missing) > 10 else "")
    raise SeqlabError(f"--data: {len(missing)} {what}{'s' if len(missing) > 1 else ''} of {source} "
                      f"{'are' if len(missing) > 1 else 'is'} not in the vocabulary of the model of --init-from "
                      f"{str(init_from)!r}: {shown}; a model can only learn the symbols it was built with: remove "
                      "them from the text, or train a new model without --init-from")


def sample(*, model: str | os.PathLike = DEFAULT_MODEL, prime: str | None = None, length: int = 500,
           temperature: float = 0.8, top_k: int | None = None, top_p: float | None = None, greedy: bool = False,
           seed: int | None = None, unknown: str = "error", threads: int | None = 0, device: str = "auto",
           out: IO[str] | None = None) -> str:
    """Write ``prime`` and then ``length`` sampled symbols to ``out`` (default stdout) as they are
    produced, and return the sampled text (without the prime). Generation steps single-threaded
    on CPU (a batch-1 step gains nothing from threads); ``threads`` applies the one thread policy
    to everything else."""
    check_sampling(length, temperature, top_k, top_p)  # before loading anything
    dev = resolve_device(device)
    out = sys.stdout if out is None else out
    pieces: list[str] = []
    with thread_policy(threads):
        lm, vocab, _ = load_lm(model, device=dev)
        gen = stream(lm, vocab, prime, length, temperature, top_k, top_p, greedy, seed, unknown)
        if prime:
            out.write(prime)
        for piece in gen:
            pieces.append(piece)
            out.write(piece)
            out.flush()
    out.write("\n")
    return "".join(pieces)


__all__ = ["DEFAULT_MODEL", "EpochReport", "check_text_in_vocab", "load_init", "sample", "train"]
