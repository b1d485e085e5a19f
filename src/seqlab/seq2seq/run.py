"""The workflows behind ``seqlab translate``: plain functions of keyword arguments, callable
without argparse. :func:`train` checks every input, trains on the one loop (with checkpoints
next to the model file, resume, and several processes under ``torchrun``), writes the model and
prints what the command prints; :func:`translate` loads a model and prints translations, and
:func:`translate_lines` translates a file (or standard input) line by line with one load.
Under ``torchrun`` only rank 0 prints and writes files.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..cli_args import check_output, check_outputs
from ..errors import SeqlabError, check_float
from ..train import Callback, History
from ..train import checkpoint as ckpt
from ..train.distributed import is_main_process
from ..utils import resolve_device, thread_policy
from .defaults import DEFAULTS as D
from .model import MAX_TARGET_LEN
from .vocab import MAX_SOURCE_LEN, source_length
from .translator import Translation, Translator

EXAMPLES = ("3rd of march 2015", "tuesday, july 4th, 1989", "12/25/49")


class EpochLine(Callback):
    """One line per epoch on rank 0, with or without a progress bar: the training loss, the
    validation exact match and the seconds since this run began."""

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if not self.is_main:
            return
        acc = f", validation exact match {100 * logs['val_accuracy']:.1f}%" if "val_accuracy" in logs else ""
        print(f"epoch {epoch + 1}: loss {logs['loss']:.4f}{acc} ({time.perf_counter() - self.t0:.0f}s)", flush=True)


@dataclass
class Trained:
    """What :func:`train` did: the translator, the per-epoch history, the model file written
    (``None`` on the processes other than rank 0), optimizer steps over the whole run (resumed
    runs included) and this call's seconds."""

    translator: Translator
    history: History
    path: Path | None
    steps: int
    seconds: float


def train(*, data: str | os.PathLike | None = None, save: str | os.PathLike | None = None, resume: bool = False,
          level: str = D["level"], cell: str = D["cell"], attention: str = D["attention"],
          input_feeding: bool = D["input_feeding"], hidden: int = D["hidden"], embed: int = D["embed"],
          layers: int = D["layers"], dropout: float = D["dropout"], epochs: int = D["epochs"],
          minutes: float = D["minutes"], lr: float = D["lr"], batch_size: int = D["batch_size"],
          teacher_forcing: float = D["teacher_forcing"], target_accuracy: float | None = D["target_accuracy"],
          seed: int = 0, threads: int | None = 0, device: str = "auto",
          quiet: bool = False, checkpoint_minutes: float | None = 5.0,
          checkpoint_steps: int | None = None) -> Trained:
    """Train a translator on the date task (``data=None``) or on a pairs file and save it.

    ``save`` defaults to dates.safetensors (seq2seq.safetensors with ``data``); the checkpoint
    goes next to it (:func:`seqlab.train.checkpoint.checkpoint_path`) at every epoch end and
    every ``checkpoint_minutes`` (and ``checkpoint_steps`` steps), ``resume`` continues from it, and it is removed once the model
    file is written. ``minutes`` 0 means no time limit. Everything is checked before training.
    Defaults: :data:`seqlab.seq2seq.defaults.DEFAULTS`.
    """
    from .train import default_config, read_pairs, train_dates, train_pairs

    save = Path(save or ("seq2seq.safetensors" if data else "dates.safetensors"))
    check_output(save, "--save")
    check_outputs({"--save": save}, {"--data": data})
    dev = resolve_device(device)
    check_float("--minutes", minutes, 0, none="no time limit")
    check_float("--teacher-forcing", teacher_forcing, 0, 1, meaning="the probability of feeding the true token")
    check_float("--target-accuracy", target_accuracy, 0, 1, low_open=True, none="no early stop")
    checkpoint = ckpt.checkpoint_path(save)
    if resume and not checkpoint.is_file():
        raise SeqlabError(f"--resume: no checkpoint at {str(checkpoint)!r} (a run with --save {str(save)!r} writes "
                          "one at each epoch end and removes it when it finishes); start without --resume")
    pairs = read_pairs(data) if data else None  # validated before any training
    check_memory(pairs, level, cell=cell, hidden=hidden, embed=embed, layers=layers, batch_size=batch_size, device=dev)
    config = default_config(epochs=epochs, minutes=minutes or None, lr=lr, seed=seed, device=device, threads=threads,
                            verbose=0 if quiet else 1, epoch_lines=False, checkpoint=str(checkpoint), resume=resume,
                            checkpoint_minutes=checkpoint_minutes, checkpoint_steps=checkpoint_steps)
    model = dict(cell=cell, attention=attention, input_feeding=input_feeding, hidden_size=hidden, embed_size=embed,
                 num_layers=layers, dropout=dropout)
    options = dict(batch_size=batch_size, teacher_forcing=teacher_forcing, target_accuracy=target_accuracy,
                   callbacks=[] if quiet else [EpochLine()])
    t0 = time.perf_counter()
    if pairs is not None:
        tr, hist = train_pairs(pairs, config, level=level, **options, **model)
    else:
        tr, hist = train_dates(config, **options, **model)
    seconds = time.perf_counter() - t0
    steps = int(hist.params.get("steps_done", 0))
    if not is_main_process():
        return Trained(tr, hist, None, steps, seconds)
    tr.save(save)
    ckpt.discard(checkpoint)  # the model file is safely written: the run is over
    if not quiet and not data:
        with thread_policy(threads):
            for text in EXAMPLES:
                print(f"  {text!r} -> {tr.translate(text).text!r}")
    accs = hist.history.get("val_accuracy")
    acc = f"; validation exact match {100 * accs[-1]:.1f}%" if accs else ""
    why = f" ({hist.stopped})" if hist.stopped else ""
    print(f"saved {save}: {steps} steps in {seconds:.0f}s{why}{acc}", flush=True)
    return Trained(tr, hist, save, steps, seconds)


def check_memory(pairs, level: str, *, cell: str, hidden: int, embed: int, layers: int, batch_size: int,
                 device) -> None:
    """SeqlabError before training when the options cannot fit in memory (encoder and decoder,
    the vocabularies bounded by the pairs' distinct tokens; the date task's are small)."""
    from ..resources import check_fits, recurrent_estimate

    if pairs:
        split = (lambda t: list(t)) if level == "char" else (lambda t: t.split())
        vocab = len({w for p in pairs for side in p for w in split(side)}) + 4
        steps = max(len(split(side)) for p in pairs for side in p) + 2
        n = len(pairs)
    else:
        vocab, steps, n = 64, 40, batch_size
    est = recurrent_estimate(cell=cell, inputs=0, hidden=hidden, layers=layers, batch=min(batch_size, n),
                             steps=steps, vocab=vocab, embed=embed, outputs=vocab, outputs_per_step=True,
                             extra_params=vocab * embed + 4 * hidden * hidden)  # the decoder's embedding, attention
    est = type(est)(2 * est.params, 2 * est.weight_bytes, 2 * est.activation_bytes)  # encoder and decoder
    check_fits(est, "--hidden/--layers/--embed/--batch-size", device)


MAX_BEAM = 1000  # a wider beam keeps beam x vocabulary scores per step for nothing
MAX_LEN = MAX_TARGET_LEN


def _check_search(beam: int, max_len: int | None) -> None:
    """SeqlabError for a beam or output length out of range, before anything is loaded."""
    from ..errors import check_int

    check_int("--beam", beam, meaning="the beam size; 1 is greedy decoding")
    if beam > MAX_BEAM:
        raise SeqlabError(f"--beam: expected at most {MAX_BEAM} (the beam size; 1 is greedy decoding), got {beam}")
    if isinstance(max_len, int) and not isinstance(max_len, bool) and max_len > MAX_LEN:
        raise SeqlabError(f"--max-len: expected at most {MAX_LEN} output tokens, got {max_len}")


def translate(*, model: str | os.PathLike, text: str, beam: int = 1, nbest: bool = False,
              length_penalty: float = 0.0, max_len: int | None = None, plot: str | os.PathLike | None = None,
              threads: int | None = 0, device: str = "auto") -> list[Translation]:
    """Translate ``text`` with the model file ``model`` and print it (with ``nbest``: one line
    per hypothesis of the beam, ``rank<TAB>score<TAB>text``); ``plot`` writes the attention
    matrix of the best output to a PNG. Returns the translations printed."""
    if not text.strip():
        raise SeqlabError("text: expected a non-empty text to translate, got an empty one")
    _check_search(beam, max_len)
    check_output(plot, "--plot", (".png",))
    check_outputs({"--plot": plot}, {"--model": model})
    if plot:
        from ..plotting import require_matplotlib

        require_matplotlib("--plot")
    dev = resolve_device(device)
    with thread_policy(threads):
        tr = Translator.load(model, device=dev)
        if nbest:
            outs = tr.nbest(text, beam, None, max_len, length_penalty)
            for k, o in enumerate(outs, 1):
                print(f"{k}\t{o.score:.4f}\t{o.text}")
        else:
            outs = [tr.translate(text, beam, max_len, length_penalty)]
            print(outs[0].text)
        if plot:
            tr.plot_attention(outs[0], plot)
    return outs


def read_lines(path: str | os.PathLike, option: str = "--input", stdin: BinaryIO | None = None) -> list[str]:
    """The lines of a UTF-8 file (``"-"``: ``stdin``, default standard input), without their line
    ends (LF or CRLF; a last line without one counts; a byte-order mark is dropped). An empty
    input, one that is not UTF-8 or holds a NUL byte is a SeqlabError naming ``option``."""
    from ..files import LIMITS, decode_utf8, read_bytes

    limit = LIMITS["text"]
    if str(path) == "-":
        name = "standard input"
        stream = stdin if stdin is not None else getattr(sys.stdin, "buffer", None)
        if stream is None:  # started with standard input closed (<&-): sys.stdin is None
            raise SeqlabError(f"{option}: {name} is closed; expected one text to translate per line (pipe them in, "
                              "or pass --input FILE)")
        try:
            data = stream.read(limit + 1)
        except (OSError, ValueError) as exc:  # a folder as stdin (EISDIR), a closed stream
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
            raise SeqlabError(f"{option}: {name} cannot be read ({why}); pipe the texts in, one per line, "
                              "or pass --input FILE") from None
        if len(data) > limit:
            raise SeqlabError(f"{option}: {name} holds more than {limit:,} bytes; translate it in parts")
        if not data:
            raise SeqlabError(f"{option}: {name} is empty; expected one text to translate per line")
    else:
        name = str(path)
        data = read_bytes(path, option, "input file", "text")
    text = decode_utf8(data, name, option, "input file")
    lines = text.split("\n")  # only LF ends a line (str.splitlines would also split at \x0b, \x1c, U+2028 ...)
    if lines[-1] == "":
        lines.pop()  # the end of the last line, not an empty line after it
    return [line[:-1] if line.endswith("\r") else line for line in lines]


@dataclass
class Translated:
    """What :func:`translate_lines` did: per input line, its n-best list (one translation
    without ``nbest``; empty for an empty line), the text written and the file (or None: stdout)."""

    lines: list[list[Translation]]
    text: str
    path: Path | None


def translate_lines(*, model: str | os.PathLike, input: str | os.PathLike, out: str | os.PathLike | None = None,
                    beam: int = 1, nbest: bool = False, length_penalty: float = 0.0, max_len: int | None = None,
                    threads: int | None = 0, device: str = "auto", stdin: BinaryIO | None = None) -> Translated:
    """Translate every line of ``input`` (a UTF-8 file, one source text per line; ``"-"`` reads
    standard input) with one load of the model, in batches (:meth:`Translator.translate_batch`),
    and print the results to stdout or write them to ``out``:

    * one translation per input line, in order; an empty (or blank) line gives an empty line, so
      output line N is the translation of input line N;
    * with ``nbest``: for each input line a block of ``rank<TAB>score<TAB>text`` lines (as for
      one text) followed by one empty line; an empty input line gives an empty block (just the
      empty line).

    Every line is checked against the model's source vocabulary before any translation: a token
    the model never saw (in a source vocabulary without ``<unk>``: character level, or a word-level
    file saved before it had one) is a SeqlabError naming the first such line (and how many there are);
    nothing is printed or written then. So is a line longer than :data:`MAX_SOURCE_LEN` tokens.
    ``out`` ``"-"`` is standard output, like no ``out``."""
    from ..files import atomic_write_bytes
    from .vocab import encode_source

    _check_search(beam, max_len)
    if out is not None and str(out) == "-":
        out = None  # standard output, as --input - is standard input
    if out is not None and Path(out).is_dir():
        raise SeqlabError(f"--out: {str(out)!r} is a folder; give a file name such as "
                          f"{str(Path(out) / 'translations.txt')!r}, or - for standard output")
    out = check_output(out, "--out")
    check_outputs({"--out": out}, {"--model": model, "--input": None if str(input) == "-" else input})
    dev = resolve_device(device)
    lines = read_lines(input, "--input", stdin)
    name = "standard input" if str(input) == "-" else repr(str(input))
    todo = [i for i, line in enumerate(lines) if line.strip()]
    with thread_policy(threads):
        tr = Translator.load(model, device=dev)
        long = [i for i in todo if source_length(tr.src_vocab, lines[i]) > MAX_SOURCE_LEN]
        if long:
            i = long[0]
            more = "" if len(long) == 1 else f" ({len(long)} lines are that long)"
            raise SeqlabError(f"--input: line {i + 1} of {name} is {source_length(tr.src_vocab, lines[i]):,} tokens "
                              f"long, more than the {MAX_SOURCE_LEN:,} a source text may have{more}; split such lines "
                              "into shorter texts")
        bad = []
        for i in todo:
            try:
                encode_source(tr.src_vocab, lines[i], f"--input: line {i + 1} of {name}")
            except SeqlabError as exc:
                bad.append((i, exc))
        if bad:
            more = "" if len(bad) == 1 else (
                f" ({len(bad)} lines have such tokens: "
                + ", ".join(str(i + 1) for i, _ in bad[:10]) + (", ..." if len(bad) > 10 else "") + ")")
            raise SeqlabError(f"{bad[0][1]}{more}")
        if nbest:
            found = [tr.nbest(lines[i], beam, None, max_len, length_penalty) for i in todo]
        else:
            found = [[t] for t in tr.translate_batch([lines[i] for i in todo], beam, max_len, length_penalty)]
    per_line: list[list[Translation]] = [[] for _ in lines]
    for i, outs in zip(todo, found):
        per_line[i] = outs
    if nbest:
        text = "".join("".join(f"{k}\t{o.score:.4f}\t{o.text}\n" for k, o in enumerate(outs, 1)) + "\n"
                       for outs in per_line)
    else:
        text = "".join((outs[0].text if outs else "") + "\n" for outs in per_line)
    if out is not None:
        atomic_write_bytes(out, text.encode("utf-8"))
        empty = len(lines) - len(todo)
        print(f"wrote translations of {len(lines)} lines{f' ({empty} empty)' if empty else ''} to {out}")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return Translated(per_line, text, out)


__all__ = ["EXAMPLES", "EpochLine", "Trained", "Translated", "read_lines", "train", "translate", "translate_lines"]
