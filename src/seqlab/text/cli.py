"""``seqlab generate``: train a recurrent language model on text, and sample from it.

    seqlab generate train [--text FILE] [--level char|word] [--epochs N] [--minutes M] [--save PATH]
    seqlab generate sample --model PATH --prime "..." --length N --temperature T [--top-k K] [--top-p P] [--seed S]

Heavy modules (torch) are imported inside the handlers so that ``seqlab --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys

DEFAULT_MODEL = "text-model.safetensors"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "generate", help="train a character- or word-level recurrent language model, and sample text from it",
        description="Train a recurrent language model on text (char-rnn style), then sample new text from it.",
    )
    sub = p.add_subparsers(dest="generate_command", metavar="{train,sample}", parser_class=type(p))
    p.set_defaults(func=lambda args: _no_sub(p))

    t = sub.add_parser("train", help="train on a text file (default: the Python docs shipped with Python)",
                       description="Train a language model with truncated BPTT; show validation loss and a "
                                   "sample after each epoch; save the model with its vocabulary.")
    t.add_argument("--text", metavar="FILE", help="UTF-8 text file (default: the standard library's pydoc_data.topics, ~465k chars)")
    t.add_argument("--level", choices=("char", "word"), default="char", help="tokens: characters (default) or words")
    t.add_argument("--max-vocab", type=int, default=10000, metavar="N", help="word level: keep the N most frequent words, the rest become <unk> (default 10000)")
    from ..nn.registry import cell_names  # the one cell table (imports no torch)
    t.add_argument("--cell", choices=cell_names(), default="lstm",
                   help="recurrent cell (default lstm); mingru / minlstm: minimal RNNs trained as a parallel scan, "
                        "with pre-norm and residual connections")
    t.add_argument("--peephole", action="store_true", help="LSTM with Graves peepholes (no fused kernel: slower)")
    t.add_argument("--hidden", type=int, default=128, help="hidden units per layer (default 128)")
    t.add_argument("--layers", type=int, default=2, help="stacked recurrent layers (default 2)")
    t.add_argument("--embed", type=int, default=None, help="embedding size (default: --hidden)")
    t.add_argument("--dropout", type=float, default=0.0, help="dropout on embeddings, between layers and before the softmax (default 0)")
    t.add_argument("--tie-weights", action="store_true", help="share the embedding and output matrices (needs --embed = --hidden)")
    t.add_argument("--epochs", type=int, default=20, help="passes over the text (default 20)")
    t.add_argument("--minutes", type=float, default=3.0, help="stop training after this many minutes of training (default 3; 0 for no limit)")
    t.add_argument("--batch-size", type=int, default=32, help="parallel streams (default 32)")
    t.add_argument("--seq-len", type=int, default=64, help="truncated BPTT length (default 64)")
    t.add_argument("--lr", type=float, default=4e-3, help="Adam learning rate (default 4e-3)")
    t.add_argument("--schedule", choices=("decay", "constant", "cosine"), default="decay",
                   help="learning-rate schedule over the time budget (or over all epochs when --minutes 0): 'decay' (default) "
                        "keeps lr, then lowers it linearly to 5%% of itself over the last 20%%; 'constant'; 'cosine' lowers it "
                        "to 5%% along a half cosine over the whole run")
    t.add_argument("--clip", type=float, default=5.0, help="gradient norm clipping, 0 for none (default 5)")
    t.add_argument("--val-fraction", type=float, default=0.1, help="last part of the text used for validation (default 0.1)")
    t.add_argument("--sample-length", type=int, default=200, help="characters/words sampled after each epoch (default 200; 0 for none)")
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    t.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    t.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads for training (default 0: as many as the load average leaves idle cores, at "
                        "least 1; on a busy machine torch's one thread per core waits at every barrier)")
    t.add_argument("--save", metavar="PATH", default=DEFAULT_MODEL, help=f"where to save the model (default {DEFAULT_MODEL})")
    t.set_defaults(func=_train)

    s = sub.add_parser("sample", help="print text sampled from a trained model, as it is produced",
                       description="Sample text from a model saved by 'seqlab generate train'.")
    s.add_argument("--model", default=DEFAULT_MODEL, metavar="PATH", help=f"model file (default {DEFAULT_MODEL})")
    s.add_argument("--prime", default=None, help="text to start from (default: a newline)")
    s.add_argument("--length", type=int, default=500, help="symbols to generate (default 500)")
    s.add_argument("--temperature", type=float, default=0.8, help="> 0; lower is more conservative (default 0.8)")
    s.add_argument("--top-k", type=int, default=None, help="sample among the K most likely symbols only")
    s.add_argument("--top-p", type=float, default=None, help="nucleus sampling: the most likely symbols up to mass P in (0, 1]")
    s.add_argument("--greedy", action="store_true", help="always take the most likely symbol")
    s.add_argument("--seed", type=int, default=None, help="seed for reproducible samples")
    s.add_argument("--unknown", choices=("error", "replace", "skip"), default="error",
                   help="symbols of --prime not in the vocabulary: error (default), replace by <unk>, or skip")
    s.set_defaults(func=_sample)


def _no_sub(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _train(args: argparse.Namespace) -> int:
    import torch

    from ..errors import SeqlabError
    from ..utils import limit_threads, resolve_device, seed_everything, threads_option
    from .data import default_corpus, read_text, split_train_val
    from .model import LMConfig, RecurrentLM, save_lm
    from .sampling import sample
    from .train import TrainConfig, describe_loss, train_lm
    from ..vocab import Vocabulary

    # validate everything before the long part, so that a bad option fails at once
    if args.text is None:
        text, source = default_corpus(), "pydoc_data.topics (the Python documentation)"
    else:
        text, source = read_text(args.text), args.text
    if args.minutes < 0:
        raise SeqlabError(f"--minutes: expected a number >= 0 (0 for no limit), got {args.minutes}")
    if args.sample_length < 0:
        raise SeqlabError(f"--sample-length: expected an integer >= 0, got {args.sample_length}")
    threads = threads_option(args.threads)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, seq_len=args.seq_len, lr=args.lr,
                      clip=args.clip or None, max_minutes=args.minutes or None, schedule=args.schedule)
    device = resolve_device(args.device)
    seed_everything(args.seed)
    options = {"peephole": True} if args.peephole else {}
    if args.peephole and args.cell != "lstm":
        raise SeqlabError(f"--peephole: only applies to --cell lstm, got --cell {args.cell}")
    vocab = Vocabulary.build(text, level=args.level, max_size=args.max_vocab if args.level == "word" else None)
    ids = torch.tensor(vocab.encode(text), dtype=torch.long)  # rare words -> <unk> (build adds it for them)
    train_ids, val_ids = split_train_val(ids, args.val_fraction)
    if len(train_ids) < 2 * cfg.batch_size:
        raise SeqlabError(
            f"--text: {len(train_ids)} training tokens are too few for --batch-size {cfg.batch_size}; "
            "use a longer text or a smaller --batch-size"
        )
    model = RecurrentLM(LMConfig(len(vocab), args.cell, args.hidden, args.layers, args.embed, args.dropout,
                                 args.tie_weights, cell_options=options)).to(device)
    # refuse an unwritable --save now rather than after training
    from pathlib import Path

    folder = Path(args.save).parent
    if not (folder if str(folder) else Path(".")).is_dir():
        raise SeqlabError(f"--save: folder {str(folder)!r} does not exist; create it or choose another path")

    unit = "chars" if args.level == "char" else "words"
    n_params = sum(p.numel() for p in model.parameters())
    print(f"text: {source}, {len(text):,} characters, {len(ids):,} {unit}, vocabulary {len(vocab)}; "
          f"train {len(train_ids):,}, validation {len(val_ids):,}")
    print(f"model: {args.layers}-layer {args.cell.upper()}, {args.hidden} units, {n_params:,} parameters, "
          f"backend {model.rnn.resolve_backend()}, device {device}"
          + (f", {threads} thread{'s' if threads > 1 else ''}" if device.type == "cpu" else ""))
    sys.stdout.flush()

    def on_epoch(rec: dict) -> None:
        val = "" if rec["val_loss"] is None else f", validation {describe_loss(rec['val_loss'], args.level)}"
        rate = rec["tokens"] / max(rec["seconds"], 1e-9)
        note = " (time limit reached)" if rec["stopped"] else ""
        print(f"epoch {rec['epoch']}: train {describe_loss(rec['train_loss'], args.level)}{val}; "
              f"{rec['seconds']:.0f}s, {rate:,.0f} {unit}/s{note}")
        if args.sample_length:
            text_out = sample(model, vocab, None, args.sample_length, temperature=0.8, seed=args.seed)
            print("\n".join("  | " + line for line in text_out.split("\n")))
        sys.stdout.flush()

    with limit_threads(threads if device.type == "cpu" else None):
        train_lm(model, train_ids, val_ids if len(val_ids) > 2 else None, cfg, on_epoch=on_epoch)
    save_lm(args.save, model, vocab, extra={"source": source, "val_fraction": args.val_fraction})
    print(f"saved {args.save}; try: seqlab generate sample --model {args.save} --prime \"...\"")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from .model import load_lm
    from .sampling import check_sampling, stream

    check_sampling(args.length, args.temperature, args.top_k, args.top_p)  # before loading anything
    model, vocab, _ = load_lm(args.model)
    prime = args.prime
    out = sys.stdout
    gen = stream(model, vocab, prime, args.length, args.temperature, args.top_k, args.top_p, args.greedy,
                 args.seed, args.unknown)
    if prime:
        out.write(prime)
    for piece in gen:
        out.write(piece)
        out.flush()
    out.write("\n")
    return 0
