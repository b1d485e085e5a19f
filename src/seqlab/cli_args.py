"""One command-line language for every job: the shared options, their parsing and checks.

Every training command adds its options with :func:`add_model_options` and
:func:`add_training_options`, giving only its own defaults, so the same option has the same name,
type, meaning and error in every job: ``--cell --hidden --layers --dropout --epochs --minutes
--lr --batch-size --seed --threads --device --save --resume --quiet``. Every other command takes
``--seed`` (:func:`add_seed_option`) and ``--threads`` / ``--device`` (:func:`add_runtime_options`)
from here too. ``--save`` is always the model file written, ``--out`` always a results file, and
``--text`` always literal text (a training file is ``--data``). An old spelling of a renamed
option is refused with a pointer to the new one (:data:`RENAMED`, checked by the parser of
:mod:`seqlab.cli`), and an option is only its whole name: that parser reads no abbreviation.
``--minutes 0`` means "no time limit" everywhere. Numbers are checked by argparse types
(:func:`int_type`, :func:`float_type`) that refuse NaN, infinities and values out of range with
one line on stderr and exit code 2. :func:`check_output` checks an output path
before any work starts; :func:`train_config` turns the parsed options into a
:class:`seqlab.train.TrainConfig`.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Sequence

from .errors import SeqlabError
from .nn.registry import MAX_LAYERS

MAX_SEED = 2**63 - 1  # torch and NumPy take seeds below 2**64; the loop derives others from it


#: Old spellings of renamed options -> the spelling that replaced them. A key is an option
#: (refused in every command that has its new spelling and not the old one) or, where the old
#: spelling still means something elsewhere, "COMMAND OPTION" (refused in that command and its
#: sub-commands only). A new spelling is an option of the same command or, quoted, another
#: command that does what the old option did (its key needs a COMMAND: it applies wherever that
#: scope does). The parser of :mod:`seqlab.cli` refuses one with "OLD was renamed NEW" (or, for
#: a command, "OLD is gone: use NEW").
RENAMED: dict[str, str] = {
    "--hidden-size": "--hidden",
    "--embedding-dim": "--embed",
    "--val-size": "--val-fraction",
    "--tokenizer": "--level",
    "--sample-len": "--sample-length",
    "--train-steps": "--steps",
    "--png": "--plot",
    "--clip": "--clipnorm",
    "--peephole": "--cell lstm-peephole",
    "generate sample --length": "--sample-length",
    "generate train --text": "--data",  # --text is literal text everywhere; a training file is --data
    "tune generate --text": "--data",
    "seqlab.reference train --text": "--data",
    "classify train --out": "--save",  # --save is the model file; --out a results file
    "generate train --out": "--save",
    "translate train --out": "--save",
    "tune --out": "--save",
    # forecast: --model is the model file read (predict), never the network kind; --load was predict's
    "forecast train --model": "--network (to forecast with a saved model: seqlab forecast predict --model PATH)",
    "forecast train --load": "'seqlab forecast predict --model PATH'",
    "forecast predict --load": "--model",
}


def renamed(option: str, command: str, known: Sequence[str]) -> str | None:
    """The new spelling of ``option``, an option that the parser of ``command`` (its prog, such as
    "seqlab generate train") does not know (``known``: the options it does), when :data:`RENAMED`
    lists it for that command and the command has the new spelling (or the new spelling is another
    command); else None."""
    if option in known:
        return None
    for key, new in RENAMED.items():
        *scope, old = key.split()
        if old != option or (new.startswith("-") and new.split()[0] not in known):
            continue
        if not scope or f" {' '.join(scope)} " in f" {command} ":
            return new
    return None


def int_type(minimum: int = 1, maximum: int | None = None):
    """An argparse type: an integer in ``[minimum, maximum]`` (argparse names the option in its
    one-line error: "argument --epochs: expected an integer >= 1, got '0'")."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if v < minimum or (maximum is not None and v > maximum):
            rng = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
            raise argparse.ArgumentTypeError(f"expected an integer {rng}, got {text!r}")
        return v
    return parse


def float_type(low: float | None = None, high: float | None = None, *, low_open: bool = False,
               high_open: bool = False):
    """An argparse type: a finite number in the range (NaN and infinities are refused)."""
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        ok = math.isfinite(v)
        if ok and low is not None:
            ok = v > low if low_open else v >= low
        if ok and high is not None:
            ok = v < high if high_open else v <= high
        if not ok:
            lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
            hi = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
            rng = " and ".join(filter(None, [lo, hi]))
            raise argparse.ArgumentTypeError(f"expected a finite number{' ' + rng if rng else ''}, got {text!r}")
        return v
    return parse


def add_model_options(p: argparse.ArgumentParser | Any, cells: Sequence[str], cell: str, hidden: int,
                      layers: int = 1, dropout: float = 0.0) -> None:
    """``--cell --hidden --layers --dropout`` with this job's defaults."""
    p.add_argument("--cell", choices=list(cells), default=cell, help=f"recurrent cell (default {cell})")
    p.add_argument("--hidden", type=int_type(1, 1_000_000), default=hidden,
                   help=f"hidden units per layer (default {hidden})")
    p.add_argument("--layers", type=int_type(1, MAX_LAYERS), default=layers,
                   help=f"stacked recurrent layers (default {layers})")
    p.add_argument("--dropout", type=float_type(0, 1, high_open=True), default=dropout,
                   help=f"dropout rate in [0, 1) (default {dropout:g})")


def add_training_options(p: argparse.ArgumentParser | Any, *, epochs: int | None, lr: float, batch_size: int,
                         minutes: float = 0.0, save: str | None = None, threads_default: int = 0,
                         epoch_checkpoints: bool = True) -> None:
    """The training options every job shares, with this job's defaults (``epoch_checkpoints=False``:
    a job whose training writes no checkpoint at epoch ends, only when a network finishes)."""
    p.add_argument("--epochs", type=int_type(1, 10**9), default=epochs,
                   help=f"most passes over the data (default {'no limit' if epochs is None else epochs})")
    p.add_argument("--minutes", type=float_type(0), default=minutes,
                   help=f"training time budget in minutes; 0 for no limit (default {minutes:g})")
    p.add_argument("--lr", type=float_type(0, 10, low_open=True), default=lr,
                   help=f"learning rate (default {lr:g})")
    p.add_argument("--batch-size", type=int_type(1, 10**7), default=batch_size,
                   help=f"batch size (default {batch_size})")
    add_seed_option(p)
    add_runtime_options(p, threads_default)
    p.add_argument("--save", metavar="PATH", default=save,
                   help=f"model file to write (.safetensors){f' (default {save})' if save else ''}")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from the checkpoint next to --save (PATH.ckpt.safetensors)")
    also = ("as well as at epoch ends; 0 for epoch ends only" if epoch_checkpoints
            else "as well as when a network finishes; 0 for then only")
    p.add_argument("--checkpoint-minutes", type=float_type(0), default=5.0, metavar="M",
                   help=f"write the checkpoint every M minutes of training {also} (default 5)")
    p.add_argument("--checkpoint-steps", type=int_type(1), default=None, metavar="N",
                   help="also write the checkpoint every N optimizer steps (default: off)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")


def add_seed_option(p: argparse.ArgumentParser | Any, default: int | None = 0,
                    help: str = "random seed (default 0)") -> None:
    """``--seed``: an integer in [0, MAX_SEED]."""
    p.add_argument("--seed", type=int_type(0, MAX_SEED), default=default, help=help)


def add_threads_option(p: argparse.ArgumentParser | Any, default: int = 0) -> None:
    """``--threads``: the one thread policy (:func:`seqlab.utils.resolve_threads`)."""
    p.add_argument("--threads", type=int_type(0, 4096), default=default,
                   help="CPU threads; 0 picks the cores the machine's load leaves idle (default "
                        f"{default or '0, automatic'})")


def add_runtime_options(p: argparse.ArgumentParser | Any, threads_default: int = 0) -> None:
    """``--threads`` and ``--device``, for training and inference commands alike."""
    add_threads_option(p, threads_default)
    p.add_argument("--device", type=device_type, default="auto", help="auto, cpu, cuda or cuda:N (default auto)")


def device_type(text: str) -> str:
    """An argparse type: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (whether that GPU exists is
    checked by :func:`seqlab.utils.resolve_device`, which needs torch)."""
    if not re.fullmatch(r"auto|cpu|cuda(:\d{1,4})?", text):
        raise argparse.ArgumentTypeError(f"expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {text!r}")
    return text


def sep_type(text: str) -> str:
    """An argparse type: a CSV separator, one character (``\\t`` for a tab)."""
    from .files import check_sep

    try:
        return check_sep(text)
    except SeqlabError as exc:
        raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[-1]) from None


def add_csv_options(p: argparse.ArgumentParser | Any) -> None:
    """``--sep``: the separator of CSV files read by the command (default ',')."""
    p.add_argument("--sep", type=sep_type, default=",", metavar="CHAR",
                   help="field separator of the CSV file: ',' (default), ';', '|' or '\\t' for a tab")


def check_output(path: str | os.PathLike | None, option: str, suffixes: Sequence[str] = ()) -> Path | None:
    """Check an output path before any work: not a folder, its folder exists, is a folder and
    can be written in, and (when ``suffixes`` is given) a supported extension. Returns it as a
    Path. The write itself happens once the work has succeeded (:func:`seqlab.files.held_writes`)."""
    if path is None:
        return None
    p = Path(path)
    if str(path) == "" or p.name in ("", ".", ".."):
        raise SeqlabError(f"{option}: expected a file name, got {str(path)!r}")
    if "\x00" in str(path):
        raise SeqlabError(f"{option}: a file name cannot hold a NUL character, got {str(path)!r}")
    if p.is_dir():
        example = p / ("model" + (suffixes[0] if suffixes else ".safetensors"))
        raise SeqlabError(f"{option}: {str(path)!r} is a folder; give a file name such as {str(example)!r}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise SeqlabError(f"{option}: folder {str(parent)!r} does not exist; create it first or choose another path")
    if not parent.is_dir():
        raise SeqlabError(f"{option}: {str(parent)!r} is a file, not a folder; choose another path")
    if p.exists() and not p.is_file():
        raise SeqlabError(f"{option}: {str(path)!r} exists and is not a regular file; choose another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SeqlabError(f"{option}: cannot write in folder {str(parent)!r} (permission denied)")
    try:  # a file made and removed at once: what os.access cannot tell (root, /proc, a read-only mount)
        fd, probe = tempfile.mkstemp(dir=parent, prefix=".seqlab-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise SeqlabError(f"{option}: cannot write in folder {str(parent)!r} ({exc.strerror or exc}); "
                          "choose another path") from None
    if suffixes and p.suffix.lower() not in suffixes:
        raise SeqlabError(f"{option}: expected a file ending in {' or '.join(suffixes)}, got {str(path)!r}")
    return p


def check_outputs(outputs: dict[str, Any], inputs: dict[str, Any] | None = None) -> None:
    """Outputs (option -> path or None) that name the same file as each other or as an input
    (option -> path) would overwrite it: SeqlabError naming both options."""
    seen: dict[str, str] = {}
    for option, path in list((inputs or {}).items()) + list(outputs.items()):
        if path is None or str(path) == "":
            continue
        key = os.path.realpath(path)
        if key in seen:
            raise SeqlabError(f"{option}: {str(path)!r} is also {seen[key]}; give each output its own file")
        seen[key] = f"the file of {option}"


#: image formats matplotlib writes without extra packages
PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".svgz", ".eps", ".ps", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")


def checkpoint_options(args: argparse.Namespace) -> dict[str, Any]:
    """``checkpoint_minutes`` and ``checkpoint_steps`` for a job's workflow, from the shared options."""
    return {"checkpoint_minutes": args.checkpoint_minutes or None, "checkpoint_steps": args.checkpoint_steps}


def train_config(args: argparse.Namespace, **fields: Any):
    """A :class:`seqlab.train.TrainConfig` from the shared options, plus this job's ``fields``.

    The checkpoint goes next to ``--save`` (see :func:`seqlab.train.checkpoint.checkpoint_path`);
    without ``--save`` there is nowhere to keep one, and ``--resume`` is refused."""
    from .train import TrainConfig
    from .train.checkpoint import checkpoint_path

    save = getattr(args, "save", None)
    if getattr(args, "resume", False) and not save:
        raise SeqlabError("--resume: needs --save PATH, the model file of the interrupted run (its checkpoint "
                          "is PATH.ckpt.safetensors)")
    base = dict(epochs=args.epochs, minutes=args.minutes or None, lr=args.lr, seed=args.seed,
                device=args.device, threads=args.threads, verbose=0 if getattr(args, "quiet", False) else 1,
                checkpoint=str(checkpoint_path(save)) if save else None, resume=bool(getattr(args, "resume", False)),
                **checkpoint_options(args))
    base.update(fields)
    return TrainConfig(**base)
