"""``seqlab translate``: train a sequence-to-sequence model, or translate with one.

Two forms share the sub-command; ``train`` as the first word selects training:

    seqlab translate train [--data pairs.tsv] [--save PATH] [--minutes 5] [--resume] ...
    seqlab translate --model PATH "3rd of March 2015" [--beam 5] [--nbest] [--plot attention.png]
    seqlab translate --model PATH --input sources.txt [--out translations.txt] [--beam 5] [--nbest]

The handler only parses; the work is in :mod:`seqlab.seq2seq.run`.
"""

from __future__ import annotations

import argparse

from ..errors import SeqlabError

HELP = """\
Sequence to sequence with attention. Two forms:

  seqlab translate train [--data pairs.tsv] [--save PATH] [--minutes M] [--resume] ...
      Train. Without --data: the embedded task, human-written dates ("3rd of march 2015",
      "3/3/15", "2015 mar 03", ...) to ISO "2015-03-03". With --data: your UTF-8 file of
      source<TAB>target lines. The model goes to --save (default dates.safetensors, or
      seq2seq.safetensors with --data); while training, a checkpoint PATH.ckpt.safetensors
      next to it lets --resume continue an interrupted run. Under
      'torchrun --nproc_per_node N' the N processes train data-parallel.

  seqlab translate --model PATH TEXT [--beam K] [--nbest] [--plot attention.png] [--threads N]
      Translate TEXT (the words after the options are joined with spaces) and print the result.

  seqlab translate --model PATH --input FILE [--out FILE] [--beam K] [--nbest] ...
      Translate every line of FILE (UTF-8, one text per line; - reads standard input) with one
      load of the model, in batches, and print one translation per line, in order, or write
      them to --out (- is standard output). An empty line gives an empty line. A line longer
      than 10,000 tokens (characters, or words with --level word) is refused, naming it. With --nbest each line gives a block of
      rank<TAB>score<TAB>text lines followed by one empty line (an empty block for an empty
      line). A character the model never saw stops the command before any output, naming the
      first such line; a word-level model reads a word it never saw as <unk> (model files saved
      before word-level sources had <unk> stop on it as on a character).

'train' as the first word selects training; to translate the word "train", use --text train.
In the training form --out is still accepted as the old spelling of --save.
"""


def register(subparsers) -> None:
    from ..cli_args import add_model_options, add_training_options, float_type, int_type

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
    g.add_argument("--length-penalty", type=float_type("--length-penalty", 0, 10), default=0.0, metavar="ALPHA",
                   help="GNMT length penalty exponent for beam scores, in [0, 10] (default 0: log-probability; "
                        "0.6-1 is usual)")
    g.add_argument("--max-len", type=int_type("--max-len", 1), default=None,
                   help="most output tokens, at most 100,000 (default: the model's)")
    g.add_argument("--plot", metavar="PNG", help="write the attention matrix of the best output to this PNG")
    g.add_argument("--input", metavar="FILE",
                   help="translate every line of this UTF-8 file ('-': standard input), one output line per line")
    g.add_argument("--out", metavar="FILE",
                   help="with --input: write the translations to FILE instead of printing them ('-': standard "
                        "output; in the training form: the old spelling of --save)")
    t = p.add_argument_group("training (--threads and --device apply to translating too)")
    t.add_argument("--data", metavar="TSV", help="tab-separated source<TAB>target pairs (default: the date task)")
    add_training_options(t, epochs=50, lr=3e-3, batch_size=64, minutes=5.0, out_alias=False)  # --out: above
    t.add_argument("--teacher-forcing", type=float_type("--teacher-forcing", 0, 1), default=1.0, metavar="RATIO",
                   help="probability of feeding the true previous token (default 1)")
    t.add_argument("--target-accuracy", type=float_type("--target-accuracy", 0, 1, low_open=True), default=1.0,
                   metavar="FRACTION", help="stop early once validation exact match reaches this (default 1.0)")
    t.add_argument("--level", choices=("char", "word"), default="char", help="tokens of --data (default char); word level reads unseen source words as <unk>")
    from ..nn.registry import cell_names  # the one cell table (imports no torch)
    add_model_options(t, cells=cell_names(("gru", "lstm")), cell="gru", hidden=64)
    t.add_argument("--attention", choices=("bahdanau", "luong"), default="luong")
    t.add_argument("--input-feeding", action="store_true", help="feed the last attentional state to the next step")
    t.add_argument("--embed", type=int_type("--embed", 1, 1_000_000), default=32, help="embedding size (default 32)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Parse the two forms and call :func:`seqlab.seq2seq.run.train` or ``translate``."""
    if args.words and args.words[0] == "train" and args.text is None:
        if len(args.words) > 1:
            raise SeqlabError(f"train: unexpected words after 'train': {' '.join(args.words[1:])!r}; "
                              "training takes options only (see 'seqlab translate --help')")
        if args.model:
            raise SeqlabError("--model: training starts a new model; use --save PATH to choose where it goes")
        if args.input is not None:
            raise SeqlabError("--input: the texts to translate are for 'seqlab translate --model PATH --input FILE'; "
                              "training reads --data PAIRS.tsv")
        for option, value in (("--save", args.save), ("--out", args.out)):
            if value == "-":
                raise SeqlabError(f"{option}: '-' (standard output) is for translations; training writes a model "
                                  "file: pass --save PATH.safetensors")
        if args.out is not None and args.save is not None:
            raise SeqlabError(f"--out: in training, --out is the old spelling of --save; pass one of them, not both "
                              f"(got --save {args.save!r} and --out {args.out!r})")
        from ..cli_args import checkpoint_options
        from .run import train

        train(data=args.data, save=args.save if args.out is None else args.out, resume=args.resume, level=args.level, cell=args.cell,
              attention=args.attention, input_feeding=args.input_feeding, hidden=args.hidden, embed=args.embed,
              layers=args.layers, dropout=args.dropout, epochs=args.epochs, minutes=args.minutes, lr=args.lr,
              batch_size=args.batch_size, teacher_forcing=args.teacher_forcing,
              target_accuracy=args.target_accuracy, seed=args.seed, threads=args.threads, device=args.device,
              quiet=args.quiet, **checkpoint_options(args))
        return 0
    if args.data:
        raise SeqlabError("--data: pairs are for training; run 'seqlab translate train --data PATH'")
    if args.resume:
        raise SeqlabError("--resume: continues an interrupted training; "
                          "run 'seqlab translate train --resume --save PATH'")
    if args.text is not None and args.words:
        raise SeqlabError(f"text: pass the text either as --text or as words, not both (got {' '.join(args.words)!r})")
    if not args.model:
        raise SeqlabError("--model: expected the model file to translate with (or 'train' to train one); "
                          "e.g. seqlab translate --model dates.safetensors \"3rd of March 2015\"")
    if args.input is not None:
        if args.text is not None or args.words:
            given = args.text if args.text is not None else " ".join(args.words)
            raise SeqlabError(f"--input: pass the texts either in --input FILE or as one text, not both (got "
                              f"{given!r} too)")
        if args.plot:
            raise SeqlabError("--plot: draws the attention of one translation; translate that text alone "
                              "(--text TEXT --plot PNG), not with --input")
        from .run import translate_lines

        translate_lines(model=args.model, input=args.input, out=args.out, beam=args.beam, nbest=args.nbest,
                        length_penalty=args.length_penalty, max_len=args.max_len, threads=args.threads,
                        device=args.device)
        return 0
    if args.out is not None and args.out != "-":  # '-': standard output, where one translation goes anyway
        raise SeqlabError(f"--out: writes the translations of --input FILE; for one text, redirect the output "
                          f"instead (> {args.out})")
    from .run import translate

    translate(model=args.model, text=args.text if args.text is not None else " ".join(args.words), beam=args.beam,
              nbest=args.nbest, length_penalty=args.length_penalty, max_len=args.max_len, plot=args.plot,
              threads=args.threads, device=args.device)
    return 0
