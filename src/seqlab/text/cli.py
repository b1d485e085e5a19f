"""``seqlab generate``: train a recurrent language model on text, and sample from it.

    seqlab generate train [--data FILE] [--level char|word] [--epochs N] [--minutes M] [--save PATH] [--resume]
    seqlab generate train --init-from MODEL [--data FILE] [--lr R] ... [--save PATH]     (fine-tune)
    seqlab generate sample --model PATH --prime "..." --sample-length N --temperature T [--top-k K] [--top-p P] [--seed S]

The handlers only parse; the work is in :mod:`seqlab.text.run`, imported inside the handlers so
that ``seqlab --help`` stays fast (no torch).
"""

from __future__ import annotations

import argparse

from ..cli_args import (add_runtime_options, add_seed_option, add_training_options, checkpoint_options, float_type,
                        int_type)
from ..errors import SeqlabError
from .defaults import DEFAULTS as D

DEFAULT_MODEL = "text-model.safetensors"


def _decay_span() -> str:
    """Where the 'decay' schedule of the defaults lowers the rate, for --help."""
    if D.decay_fraction >= 1.0:
        return "the whole run"
    return f"the last {round(100 * D.decay_fraction)}%% of the run, holding it before"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "generate", help="train a character- or word-level recurrent language model, and sample text from it",
        description="Train a recurrent language model on text (char-rnn style), then sample new text from it.",
    )
    sub = p.add_subparsers(dest="generate_command", metavar="{train,sample}", parser_class=type(p))

    t = sub.add_parser("train", help="train on a text file (default: the Python docs shipped with Python)",
                       description="Train a language model with truncated BPTT; show validation loss and a "
                                   "sample after each epoch; save the model with its vocabulary. While it trains, "
                                   "a checkpoint PATH.ckpt.safetensors next to --save lets --resume continue an "
                                   "interrupted run; under 'torchrun --nproc_per_node N' the N processes train "
                                   "data-parallel, each on its share of the streams. --init-from MODEL starts "
                                   "from a saved model's weights and vocabulary instead of new ones (fine-tuning); "
                                   "its architecture options then come from MODEL.")
    t.add_argument("--data", metavar="FILE", help="UTF-8 text file (default: the standard library's pydoc_data.topics, ~465k chars)")
    t.add_argument("--init-from", metavar="MODEL",
                   help="start from the weights and vocabulary of this model file of 'seqlab generate train' "
                        "(fine-tune it on --data); --level, --cell, --hidden, --layers, --embed and "
                        "--tie-weights are the model's (given ones must agree), --max-vocab is refused, --dropout "
                        "defaults to the model's; the other options apply as given")
    # The architecture options default to None: "the default below, or the model's with --init-from"
    # (seqlab.text.run.train), so that one given against --init-from can be told from one left out.
    t.add_argument("--level", choices=("char", "word"), default=None, help="tokens: characters (default) or words")
    t.add_argument("--max-vocab", type=int_type(1), default=None, metavar="N",
                   help="word level: keep the N most frequent words, the rest become <unk> (default 10000)")
    from ..nn.registry import cell_names  # the one cell table (imports no torch)
    t.add_argument("--cell", choices=cell_names(), default=None,
                   help=f"recurrent cell (default {D.cell}); lstm-peephole: LSTM with Graves peepholes; mingru / "
                        "minlstm: minimal RNNs trained as a parallel scan, with pre-norm and residual connections")
    t.add_argument("--hidden", type=int_type(1, 1_000_000), default=None,
                   help=f"hidden units per layer (default {D.hidden})")
    t.add_argument("--layers", type=int_type(1, 1000), default=None,
                   help=f"stacked recurrent layers (default {D.layers})")
    t.add_argument("--embed", type=int_type(1, 1_000_000), default=None,
                   help="embedding size (default: --hidden)" if D.embed is None else f"embedding size (default {D.embed})")
    t.add_argument("--dropout", type=float_type(0, 1, high_open=True), default=None,
                   help=f"dropout on embeddings, between layers and before the softmax, in [0, 1) (default {D.dropout:g}; "
                        "with --init-from the model's)")
    t.add_argument("--tie-weights", action="store_true", default=None, help="share the embedding and output matrices (needs --embed = --hidden)")
    add_training_options(t, epochs=D.epochs, lr=D.lr, batch_size=D.batch_size, minutes=D.minutes, save=DEFAULT_MODEL)
    t.add_argument("--seq-len", type=int_type(1, 10**7), default=D.seq_len,
                   help=f"truncated BPTT length (default {D.seq_len})")
    t.add_argument("--schedule", choices=("decay", "constant", "cosine"), default=D.schedule,
                   help="learning-rate schedule over the time budget (or over all epochs when --minutes 0): 'decay' "
                        f"lowers lr linearly to 5%% of itself over {_decay_span()}; "
                        f"'constant'; 'cosine' lowers it to 5%% along a half cosine over the whole run (default {D.schedule})")
    t.add_argument("--clipnorm", type=float_type(0), default=D.clipnorm,
                   help=f"clip the global gradient norm to this, 0 for none (default {D.clipnorm:g})")
    t.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default=D.precision,
                   help="bfloat16: training steps under autocast to bfloat16 (products and recurrent kernels in "
                        "bfloat16, weights, optimizer and loss in float32; fast on CPUs with AVX-512 BF16 or AMX, "
                        "slower than float32 on other CPUs); auto: bfloat16 on a CPU with those instructions, "
                        f"float32 elsewhere (default {D.precision})")
    t.add_argument("--val-fraction", type=float_type(0, 1, high_open=True), default=0.1,
                   help="last part of the text used for validation (default 0.1)")
    t.add_argument("--sample-length", type=int_type(0, 10**7), default=200,
                   help="characters/words sampled after each epoch, at most 10 million (default 200; 0 for none)")
    t.set_defaults(func=_train)

    s = sub.add_parser("sample", help="print text sampled from a trained model, as it is produced",
                       description="Sample text from a model saved by 'seqlab generate train'.")
    s.add_argument("--model", default=DEFAULT_MODEL, metavar="PATH", help=f"model file (default {DEFAULT_MODEL})")
    s.add_argument("--prime", default=None, help="text to start from (default: a newline)")
    s.add_argument("--sample-length", type=int_type(0, 10**7), default=500,
                   help="symbols to generate, at most 10 million (default 500)")
    s.add_argument("--temperature", type=float_type(0, 1e6), default=0.8,
                   help="in [1e-6, 1e6]; lower is more conservative (default 0.8; --greedy for the limit of 0, "
                        "which ignores it)")
    s.add_argument("--top-k", type=int_type(1, 10**9), default=None,
                   help="sample among the K most likely symbols only")
    s.add_argument("--top-p", type=float_type(0, 1, low_open=True), default=None,
                   help="nucleus sampling: the most likely symbols up to mass P in (0, 1]")
    s.add_argument("--greedy", action="store_true", help="always take the most likely symbol")
    add_seed_option(s, default=None, help="seed for reproducible samples (default: a new sample each run)")
    s.add_argument("--unknown", choices=("error", "replace", "skip"), default="error",
                   help="symbols of --prime not in the vocabulary: error (default), replace by <unk>, or skip")
    add_runtime_options(s)
    s.set_defaults(func=_sample)


def _train(args: argparse.Namespace) -> int:
    from .run import train

    train(text=args.data, level=args.level, max_vocab=args.max_vocab, cell=args.cell,
          hidden=args.hidden, layers=args.layers, embed=args.embed, dropout=args.dropout, tie_weights=args.tie_weights,
          init_from=args.init_from,
          epochs=args.epochs, minutes=args.minutes, batch_size=args.batch_size, seq_len=args.seq_len, lr=args.lr,
          schedule=args.schedule, clipnorm=args.clipnorm, val_fraction=args.val_fraction,
          sample_length=args.sample_length, seed=args.seed, threads=args.threads, device=args.device, save=args.save,
          resume=args.resume, quiet=args.quiet, precision=args.precision, **checkpoint_options(args))
    return 0


def _sample(args: argparse.Namespace) -> int:
    from .run import sample
    from .sampling import MAX_TEMPERATURE, MIN_TEMPERATURE

    temperature = args.temperature
    if args.greedy:
        temperature = 1.0  # greedy decoding takes the most likely symbol whatever the temperature
    elif temperature < MIN_TEMPERATURE:
        raise SeqlabError(f"--temperature: expected a number in [{MIN_TEMPERATURE:g}, {MAX_TEMPERATURE:g}] to sample "
                          f"with, got {args.temperature:g}; --greedy is the limit of 0")
    sample(model=args.model, prime=args.prime, length=args.sample_length, temperature=temperature, top_k=args.top_k,
           top_p=args.top_p, greedy=args.greedy, seed=args.seed, unknown=args.unknown, threads=args.threads,
           device=args.device)
    return 0
