"""``seqlab translate``: train a sequence-to-sequence model, or translate with one.

Two forms share the sub-command; ``train`` as the first word selects training:

    seqlab translate train [--data pairs.tsv] [--save PATH] [--minutes 5] ...
    seqlab translate --model PATH "3rd of March 2015" [--beam 5] [--nbest] [--plot attention.png]
"""

from __future__ import annotations

import argparse
import os

from ..errors import SeqlabError

HELP = """\
Sequence to sequence with attention. Two forms:

  seqlab translate train [--data pairs.tsv] [--save PATH] [--minutes M] ...
      Train. Without --data: the embedded task, human-written dates ("3rd of march 2015",
      "3/3/15", "2015 mar 03", ...) to ISO "2015-03-03". With --data: your UTF-8 file of
      source<TAB>target lines.

  seqlab translate --model PATH TEXT [--beam K] [--nbest] [--plot attention.png]
      Translate TEXT (the words after the options are joined with spaces) and print the result.

'train' as the first word selects training; to translate the word "train", use --text train.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "translate", help="sequence to sequence with attention: train, or translate a text",
        description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("words", nargs="*", metavar="train | TEXT", help="'train', or the text to translate")
    p.add_argument("--text", help="the text to translate (instead of the positional words)")
    g = p.add_argument_group("translating")
    g.add_argument("--model", metavar="PATH", help="model file saved by 'seqlab translate train'")
    g.add_argument("--beam", type=int, default=1, help="beam size; 1 is greedy decoding (default 1)")
    g.add_argument("--nbest", action="store_true", help="print the whole n-best list of the beam with scores")
    g.add_argument("--length-penalty", type=float, default=0.0, metavar="ALPHA",
                   help="GNMT length penalty exponent for beam scores (default 0: log-probability)")
    g.add_argument("--max-len", type=int, default=None, help="most output tokens (default: the model's)")
    g.add_argument("--plot", metavar="PNG", help="write the attention matrix of the best output to this PNG")
    t = p.add_argument_group("training")
    t.add_argument("--data", metavar="TSV", help="tab-separated source<TAB>target pairs (default: the date task)")
    t.add_argument("--save", metavar="PATH", default=None,
                   help="where to save the model (default dates.safetensors, or seq2seq.safetensors with --data)")
    t.add_argument("--minutes", type=float, default=5.0, help="training time budget (default 5)")
    t.add_argument("--epochs", type=int, default=50, help="most epochs (default 50)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--teacher-forcing", type=float, default=1.0, metavar="RATIO",
                   help="probability of feeding the true previous token (default 1)")
    t.add_argument("--target-accuracy", type=float, default=1.0, metavar="FRACTION",
                   help="stop early once validation exact match reaches this (default 1.0)")
    t.add_argument("--level", choices=("char", "word"), default="char", help="tokens of --data (default char)")
    from ..nn.registry import cell_names  # the one cell table (imports no torch)
    t.add_argument("--cell", choices=cell_names(("gru", "lstm")), default="gru")
    t.add_argument("--attention", choices=("bahdanau", "luong"), default="luong")
    t.add_argument("--input-feeding", action="store_true", help="feed the last attentional state to the next step")
    t.add_argument("--hidden", type=int, default=64, help="hidden units per direction (default 64)")
    t.add_argument("--embed", type=int, default=32, help="embedding size (default 32)")
    t.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: these small models gain little from more, and "
                        "lose much when other programs share the cores)")
    t.add_argument("--quiet", action="store_true", help="print only the final line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.threads < 1:
        raise SeqlabError(f"--threads: expected 1 or more CPU threads, got {args.threads}")
    from ..utils import limit_threads

    with limit_threads(args.threads):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    if args.words and args.words[0] == "train" and args.text is None:
        if len(args.words) > 1:
            raise SeqlabError(f"train: unexpected words after 'train': {' '.join(args.words[1:])!r}; "
                              "training takes options only (see 'seqlab translate --help')")
        return _train(args)
    return _translate(args)


def _check_save(path: str) -> None:
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise SeqlabError(f"--save: folder {folder!r} does not exist; create it first or choose another path")
    if os.path.isdir(path):
        raise SeqlabError(f"--save: {path!r} is a folder; pass a file path such as {os.path.join(path, 'model.safetensors')!r}")


def _train(args: argparse.Namespace) -> int:
    if args.model:
        raise SeqlabError("--model: training starts a new model; use --save PATH to choose where it goes")
    save = args.save or ("seq2seq.safetensors" if args.data else "dates.safetensors")
    _check_save(save)
    from .train import TrainConfig, train_dates, train_pairs, read_pairs

    cfg = TrainConfig(epochs=args.epochs, minutes=args.minutes, batch_size=args.batch_size, lr=args.lr,
                      teacher_forcing=args.teacher_forcing, target_accuracy=args.target_accuracy,
                      seed=args.seed, device=args.device, verbose=0 if args.quiet else 1)
    model = dict(cell=args.cell, attention=args.attention, input_feeding=args.input_feeding,
                 hidden_size=args.hidden, embed_size=args.embed)
    if args.data:
        pairs = read_pairs(args.data)  # validated before any training
        tr, hist = train_pairs(pairs, cfg, level=args.level, **model)
    else:
        tr, hist = train_dates(cfg, **model)
    tr.save(save)
    if not args.quiet and not args.data:
        for text in ("3rd of march 2015", "tuesday, july 4th, 1989", "12/25/49"):
            print(f"  {text!r} -> {tr.translate(text).text!r}")
    acc = f"; validation exact match {100 * hist.val_accuracy[-1]:.1f}%" if hist.val_accuracy else ""
    why = f" ({hist.stopped})" if hist.stopped else ""
    print(f"saved {save}: {hist.steps} steps in {hist.seconds:.0f}s{why}{acc}")
    return 0


def _translate(args: argparse.Namespace) -> int:
    if args.data:
        raise SeqlabError("--data: pairs are for training; run 'seqlab translate train --data PATH'")
    if args.text is not None and args.words:
        raise SeqlabError(f"text: pass the text either as --text or as words, not both (got {' '.join(args.words)!r})")
    text = args.text if args.text is not None else " ".join(args.words)
    if not args.model:
        raise SeqlabError("--model: expected the model file to translate with (or 'train' to train one); "
                          "e.g. seqlab translate --model dates.safetensors \"3rd of March 2015\"")
    if not text.strip():
        raise SeqlabError("text: expected a non-empty text to translate, got an empty one")
    from .search import check_beam

    check_beam(args.beam)
    if args.plot and not args.plot.lower().endswith(".png"):
        raise SeqlabError(f"--plot: expected a path ending in .png, got {args.plot!r}")
    if args.plot:
        _check_save(args.plot)
    from .translator import Translator

    tr = Translator.load(args.model)
    if args.nbest:
        outs = tr.nbest(text, args.beam, None, args.max_len, args.length_penalty)
        for k, o in enumerate(outs, 1):
            print(f"{k}\t{o.score:.4f}\t{o.text}")
    else:
        outs = [tr.translate(text, args.beam, args.max_len, args.length_penalty)]
        print(outs[0].text)
    if args.plot:
        tr.plot_attention(outs[0], args.plot)
    return 0
