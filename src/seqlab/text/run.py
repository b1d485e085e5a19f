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
from typing import IO, Sequence

import torch

from ..cli_args import check_output, check_outputs
from ..errors import SeqlabError, check_float, check_int
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


def train(*, text: str | os.PathLike | None = None, level: str = "char", max_vocab: int = 10000,
          cell: str = D.cell, peephole: bool = False, hidden: int = D.hidden, layers: int = D.layers,
          embed: int | None = D.embed, dropout: float = D.dropout, tie_weights: bool = False, epochs: int = D.epochs,
          minutes: float = D.minutes, batch_size: int = D.batch_size, seq_len: int = D.seq_len, lr: float = D.lr,
          schedule: str = D.schedule, clipnorm: float | None = D.clipnorm, val_fraction: float = 0.1,
          sample_length: int = 200, seed: int = 0, threads: int | None = 0, device: str = "auto",
          save: str | os.PathLike | None = DEFAULT_MODEL, resume: bool = False, quiet: bool = False,
          checkpoint_minutes: float | None = 5.0, checkpoint_steps: int | None = None,
          callbacks: Sequence[Callback] = (), clock: str = "wall",
          precision: str = D.precision) -> tuple[RecurrentLM, Vocabulary, History]:
    """Train a language model on the UTF-8 file ``text`` (None: the Python docs shipped with
    Python) and save it to ``save`` (None: no file, no checkpoint). ``minutes`` 0 or None: no
    time limit; ``clipnorm`` 0 or None: no clipping; ``threads`` 0: the one automatic thread policy.
    ``quiet``: no progress bar, epoch lines or samples. Returns the model, its vocabulary and the
    training history. Every argument is checked before any training. ``callbacks`` go to the
    training loop (they see ``val_loss`` after every epoch, as ``seqlab tune generate`` prunes on).
    ``clock`` is what ``minutes`` measures ("wall", or "cpu": this process's CPU time, which other
    people's load does not stretch). Defaults: :data:`seqlab.text.defaults.DEFAULTS`."""
    # -- checks before the long part, so that a bad option fails at once ------------------------
    save_path = check_output(save, "--save")
    check_outputs({"--save": save_path}, {"--text": text if isinstance(text, (str, os.PathLike)) else None})
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
    check_int("max_vocab", max_vocab)
    check_float("minutes", minutes, 0, none="no time limit", meaning="0 for no limit")
    if peephole and cell != "lstm":
        raise SeqlabError(f"--peephole: only applies to --cell lstm, got --cell {cell}")
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
    vocab = Vocabulary.build(corpus, level=level, max_size=max_vocab if level == "word" else None)
    ids = torch.tensor(vocab.encode(corpus), dtype=torch.long)  # rare words -> <unk> (build adds it for them)
    train_ids, val_ids = split_train_val(ids, val_fraction)
    world = env_world()
    if len(train_ids) < 2 * batch_size * world.world_size:
        procs = f" on each of {world.world_size} processes" if world.enabled else ""
        raise SeqlabError(f"--text: {len(train_ids)} training tokens are too few for --batch-size {batch_size}{procs}; "
                          "use a longer text or a smaller --batch-size")
    check_fits(recurrent_estimate(cell=cell, inputs=0, hidden=hidden, layers=layers, batch=batch_size, steps=seq_len,
                                  vocab=len(vocab), embed=embed or hidden, outputs=len(vocab), outputs_per_step=True),
               "--hidden/--layers/--embed/--batch-size/--seq-len", dev)
    seed_everything(seed)
    model = RecurrentLM(LMConfig(len(vocab), cell, hidden, layers, embed, dropout, tie_weights,
                                 cell_options={"peephole": True} if peephole else {}))
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
              + (f"; resuming from {ckpt_path}" if resume else ""))
        sys.stdout.flush()
    report = EpochReport(task, vocab, level, 0 if quiet else sample_length, seed, "time" if minutes else "step")
    from ..train import train as run_loop

    history = run_loop(task, config, ([] if quiet else [report]) + list(callbacks))
    if save_path is not None and world.is_main:
        save_lm(save_path, model, vocab, extra={"source": source, "val_fraction": val_fraction})
        ckpt.discard(ckpt_path)
        why = f" ({history.stopped})" if history.stopped else ""
        print(f"saved {save_path}{why}; try: seqlab generate sample --model {save_path} --prime \"...\"")
    return model, vocab, history


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


__all__ = ["DEFAULT_MODEL", "EpochReport", "sample", "train"]
