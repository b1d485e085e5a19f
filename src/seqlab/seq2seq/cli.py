"""``seqlab translate train|predict``: train a sequence-to-sequence model, or translate with one.

    seqlab translate train [--data pairs.tsv] [--save PATH] [--minutes 5] [--resume] ...
    seqlab translate predict --model PATH "3rd of March 2015" [--beam 5] [--nbest] [--plot attention.png]
    seqlab translate predict --model PATH --input sources.txt [--out translations.txt] [--beam 5] [--nbest]

The handlers only parse; the work is in :mod:`seqlab.seq2seq.run`.
"""

from __future__ import annotations

import argparse
import shlex

from ..errors import SeqlabError

PREDICT_HELP = """\
Translate TEXT (the words after the options are joined with spaces, or --text TEXT) and print
the result; or, with --input FILE, translate every line of FILE (UTF-8, one text per line; -
reads standard input) with one load of the model, in batches, and print one translation per
line, in order, or write them to --out (- is standard output). An empty line gives an empty
line. A line longer than 10,000 tokens (characters, or words for a word-level model) is
refused, naming it. With --nbest each text gives a block of rank<TAB>score<TAB>text lines (with
--input followed by one empty line; an empty block for an empty line). A character the model
never saw stops the command before any output, naming the first such line; a word-level model
reads a word it never saw as <unk> (model files saved before word-level sources had <unk> stop
on it as on a character).
"""

TRAIN_HELP = """\
Train. Without --data: the embedded task, human-written dates ("3rd of march 2015", "3/3/15",
"2015 mar 03", ...) to ISO "2015-03-03". With --data: your UTF-8 file of source<TAB>target
lines. The model goes to --save (default dates.safetensors, or seq2seq.safetensors with
--data); while training, a checkpoint PATH.ckpt.safetensors next to it lets --resume continue
an interrupted run. Under 'torchrun --nproc_per_node N' the N processes train data-parallel.
"""


def _old_form(words: list[str]) -> str:
    """The error for the grammar before the sub-commands: ``seqlab translate --model M "text"``."""
    model = [] if any(w == "--model" or w.startswith("--model=") for w in words) else ["--model", "PATH"]
    return f"to translate, use the predict sub-command: seqlab translate predict {shlex.join(model + words)}"


def register(subparsers) -> None:
    from ..cli_args import (
        add_model_options,
        add_runtime_options,
        add_training_options,
        float_type,
        int_type,
    )
    from ..nn.registry import cell_names  # the one cell table (imports no torch)
    from .defaults import DEFAULTS as D  # no torch there either

    p = subparsers.add_parser(
        "translate", help="sequence to sequence with attention: train, or translate a text",
        description="Sequence to sequence with attention: 'seqlab translate train' trains a model (with no "
                    "--data, on date normalisation), 'seqlab translate predict --model PATH TEXT' translates "
                    "with it.")
    p.words_hint = _old_form
    sub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))

    t = sub.add_parser("train", help="train an encoder-decoder with attention (default: the date task)",
                       description=TRAIN_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--data", metavar="TSV", help="tab-separated source<TAB>target pairs (default: the date task)")
    t.add_argument("--level", choices=("char", "word"), default=D["level"],
                   help=f"tokens of --data (default {D['level']}); word level reads unseen source words as <unk>")
    add_model_options(t, cells=cell_names(("gru", "lstm")), cell=D["cell"], hidden=D["hidden"], layers=D["layers"],
                      dropout=D["dropout"])
    t.add_argument("--attention", choices=("bahdanau", "luong"), default=D["attention"],
                   help=f"additive (Bahdanau) or multiplicative (Luong) attention (default {D['attention']})")
    t.add_argument("--input-feeding", action="store_true", default=D["input_feeding"],
                   help="feed the last attentional state to the next step")
    t.add_argument("--embed", type=int_type(1, 1_000_000), default=D["embed"],
                   help=f"embedding size (default {D['embed']})")
    add_training_options(t, epochs=D["epochs"], lr=D["lr"], batch_size=D["batch_size"], minutes=D["minutes"])
    t.add_argument("--teacher-forcing", type=float_type(0, 1), default=D["teacher_forcing"], metavar="RATIO",
                   help=f"probability of feeding the true previous token (default {D['teacher_forcing']:g})")
    t.add_argument("--target-accuracy", type=float_type(0, 1, low_open=True), default=D["target_accuracy"],
                   metavar="FRACTION",
                   help=f"stop early once validation exact match reaches this (default {D['target_accuracy']:.1f})")
    t.set_defaults(func=train_command)

    q = sub.add_parser("predict", help="translate a text, or every line of a file, with a saved model",
                       description=PREDICT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    q.add_argument("words", nargs="*", metavar="TEXT", help="the text to translate")
    q.add_argument("--text", help="the text to translate (instead of the words)")
    q.add_argument("--model", required=True, metavar="PATH", help="model file saved by 'seqlab translate train'")
    q.add_argument("--input", metavar="FILE",
                   help="translate every line of this UTF-8 file ('-': standard input), one output line per line")
    q.add_argument("--out", metavar="FILE",
                   help="with --input: write the translations to FILE instead of printing them ('-': standard output)")
    q.add_argument("--beam", type=int_type(1), default=1, help="beam size; 1 is greedy decoding (default 1)")
    q.add_argument("--nbest", action="store_true", help="print the whole n-best list of the beam with scores")
    q.add_argument("--length-penalty", type=float_type(0, 10), default=0.0, metavar="ALPHA",
                   help="GNMT length penalty exponent for beam scores, in [0, 10] (default 0: log-probability; "
                        "0.6-1 is usual)")
    q.add_argument("--max-len", type=int_type(1), default=None,
                   help="most output tokens, at most 100,000 (default: the model's)")
    q.add_argument("--plot", metavar="PNG", help="write the attention matrix of the best output to this PNG")
    add_runtime_options(q)
    q.set_defaults(func=predict_command)


def train_command(args: argparse.Namespace) -> int:
    from ..cli_args import checkpoint_options
    from .run import train

    train(data=args.data, save=args.save, resume=args.resume, level=args.level, cell=args.cell,
          attention=args.attention, input_feeding=args.input_feeding, hidden=args.hidden, embed=args.embed,
          layers=args.layers, dropout=args.dropout, epochs=args.epochs, minutes=args.minutes, lr=args.lr,
          batch_size=args.batch_size, teacher_forcing=args.teacher_forcing,
          target_accuracy=args.target_accuracy, seed=args.seed, threads=args.threads, device=args.device,
          quiet=args.quiet, **checkpoint_options(args))
    return 0


def predict_command(args: argparse.Namespace) -> int:
    """One text (the words or --text), or the lines of --input."""
    if args.text is not None and args.words:
        raise SeqlabError(f"text: pass the text either as --text or as words, not both (got {' '.join(args.words)!r})")
    text = args.text if args.text is not None else " ".join(args.words) if args.words else None
    if args.input is not None:
        if text is not None:
            raise SeqlabError(f"--input: pass the texts either in --input FILE or as one text, not both (got "
                              f"{text!r} too)")
        if args.plot:
            raise SeqlabError("--plot: draws the attention of one translation; translate that text alone "
                              "(TEXT --plot PNG), not with --input")
        from .run import translate_lines

        translate_lines(model=args.model, input=args.input, out=args.out, beam=args.beam, nbest=args.nbest,
                        length_penalty=args.length_penalty, max_len=args.max_len, threads=args.threads,
                        device=args.device)
        return 0
    if text is None:
        raise SeqlabError("text: expected the text to translate (seqlab translate predict --model PATH \"3rd of "
                          "March 2015\"), or --input FILE for a file of texts")
    if args.out is not None and args.out != "-":  # '-': standard output, where one translation goes anyway
        raise SeqlabError(f"--out: writes the translations of --input FILE; for one text, redirect the output "
                          f"instead (> {args.out})")
    from .run import translate

    translate(model=args.model, text=text, beam=args.beam, nbest=args.nbest, length_penalty=args.length_penalty,
              max_len=args.max_len, plot=args.plot, threads=args.threads, device=args.device)
    return 0
