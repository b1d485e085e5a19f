"""``seqlab explain``: vanishing gradients, long-range memory and hidden states, measured.

    seqlab explain gradients --cells rnn,lstm,gru --length 200 [--radius R] [--clipnorm C] [--plot FILE]
    seqlab explain capacity --hidden 4,16,64 [--dropout 0,0.3] [--l2 0,1e-3] [--search optuna] [--plot FILE]
    seqlab explain memory --task adding|copy --length T --cells rnn,lstm,gru [--minutes M]
    seqlab explain states --model PATH --text "..." [--html FILE] [--plot FILE] [--heatmap FILE]

Heavy imports happen inside the handlers so that ``seqlab --help`` stays fast.
"""

from __future__ import annotations

import argparse

from ..cli_args import (add_seed_option, add_threads_option, check_output, check_outputs, float_type,
                        int_type)
from ..errors import SeqlabError
from ..files import held_writes
from ..nn.registry import MAX_LAYERS


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "explain", help="why plain RNNs forget and how gates fix it: gradients, memory tasks, states",
        description="Measure and see why a plain RNN forgets and how LSTM and GRU gates fix it.",
    )
    sub = p.add_subparsers(dest="explain_command", metavar="WHAT")
    p.set_defaults(func=lambda args: _missing(p))

    g = sub.add_parser("gradients", help="gradient norm at every time step, per cell, at init and after brief "
                                         "training; --radius for exploding gradients, --clipnorm for clipping")
    g.add_argument("--cells", default="rnn,lstm,gru", help="comma-separated cells (default: rnn,lstm,gru)")
    g.add_argument("--length", type=int_type(2), default=200, help="sequence length T (default 200)")
    g.add_argument("--hidden", type=int_type(1), default=64, help="hidden units (default 64)")
    g.add_argument("--steps", type=int_type(0, 10**7), default=100,
                   help="steps of brief training on the adding problem before the second measure (default 100; 0 skips)")
    g.add_argument("--batch-size", type=int_type(1), default=32, help="batch size (default 32)")
    g.add_argument("--radius", type=float_type(0, 1000, low_open=True), default=None,
                   help="scale every recurrent weight block to this spectral radius first: above 1 the RNN's "
                        "gradient grows with the distance (explodes), below 1 it vanishes (default: as initialised)")
    g.add_argument("--clipnorm", type=float_type(0, low_open=True), default=None,
                   help="also train a tanh RNN at --radius (default 2) with plain SGD twice, without and with the "
                        "gradient norm clipped to this, and compare loss and gradient norms")
    g.add_argument("--clip-steps", type=int_type(1, 10**7), default=300,
                   help="training steps of each --clipnorm run (default 300)")
    g.add_argument("--lr", type=float_type(0, 100, low_open=True), default=0.05,
                   help="SGD learning rate of the --clipnorm runs (default 0.05)")
    g.add_argument("--plot", metavar="FILE", help="write a PNG: log-scale norms of the cells side by side")
    g.add_argument("--clip-plot", metavar="FILE", help="write a PNG of the --clipnorm runs' loss and gradient norms")
    add_seed_option(g)
    add_threads_option(g)
    g.set_defaults(func=_with_threads(run_gradients))

    m = sub.add_parser("memory", help="train each cell on a long-range memory task; final loss against the baseline")
    m.add_argument("--task", default="adding", help="adding (MSE, baseline 0.167) or copy (cross-entropy, baseline 10 log 8 / (T+20))")
    m.add_argument("--length", type=int_type(2), default=100, help="time span to remember T (default 100)")
    m.add_argument("--cells", default="rnn,lstm,gru", help="comma-separated cells (default: rnn,lstm,gru)")
    m.add_argument("--minutes", type=float_type(0), default=None,
                   help="wall-clock budget per cell; 0 for no limit (default: until --steps)")
    m.add_argument("--steps", type=int_type(1, 10**7), default=None,
                   help="maximum training steps per cell, at most 10 million (default 1200)")
    m.add_argument("--hidden", type=int_type(1), default=None, help="hidden units (default 32)")
    m.add_argument("--batch-size", type=int_type(1), default=None, help="batch size (default 64)")
    m.add_argument("--lr", type=float_type(0, 10, low_open=True), default=None, help="Adam learning rate (default 1e-2)")
    m.add_argument("--clipnorm", type=float_type(0, low_open=True), default=None, help="clip the gradient norm to this (default 1.0)")
    add_seed_option(m)
    m.add_argument("--quiet", action="store_true", help="print only the final table")
    add_threads_option(m)
    m.set_defaults(func=_with_threads(run_memory))

    c = sub.add_parser("capacity", help="train one small job at several hidden sizes (and dropout / L2): training "
                                        "and validation loss side by side, learning curves")
    c.add_argument("--hidden", type=_list_type(int_type(1)), default=(4, 16, 64),
                   help="comma-separated hidden sizes (default 4,16,64)")
    c.add_argument("--dropout", type=_list_type(float_type(0, 1, high_open=True)),
                   default=(0.0,), help="comma-separated input dropout rates of the GRU (default 0)")
    c.add_argument("--l2", type=_list_type(float_type(0, 1)), default=(0.0,),
                   help="comma-separated L2 factors on the GRU's weights, Keras's l2(...), each in [0, 1]: a larger "
                        "one outweighs the MSE and drives every weight to 0 (default 0)")
    c.add_argument("--epochs", type=int_type(1, 10**6), default=80, help="epochs per setting (default 80)")
    c.add_argument("--batch-size", type=int_type(1), default=32, help="batch size (default 32)")
    c.add_argument("--lr", type=float_type(0, 10, low_open=True), default=1e-2,
                   help="Adam learning rate (default 0.01)")
    c.add_argument("--length", type=int_type(2), default=20, help="input window length (default 20)")
    c.add_argument("--samples", type=int_type(1), default=200,
                   help="training windows; few on purpose, so that large models overfit (default 200)")
    c.add_argument("--val-samples", type=int_type(1), default=1000,
                   help="validation windows (default 1000)")
    c.add_argument("--noise", type=float_type(0, 1e3), default=0.3,
                   help="standard deviation of the noise on the sine, at most 1000 (default 0.3; its square bounds "
                        "the MSE)")
    c.add_argument("--search", choices=("grid", "optuna"), default="grid",
                   help="grid: every combination; optuna: --trials settings within the same ranges chosen by "
                        "Optuna's TPE sampler (pip install seqlab[optuna]; the grid without it) (default grid)")
    c.add_argument("--trials", type=int_type(1, 100_000), default=8, help="Optuna trials (default 8)")
    c.add_argument("--plot", metavar="FILE", help="write a PNG of the learning curves")
    add_seed_option(c)
    c.add_argument("--quiet", action="store_true", help="print only the final table")
    add_threads_option(c)
    c.set_defaults(func=_with_threads(run_capacity))

    s = sub.add_parser("states", help="a text model's hidden states over a text: units coloured over the characters")
    s.add_argument("--model", required=True, help="a text model file saved by 'seqlab generate' / seqlab.text.save_lm")
    s.add_argument("--text", required=True, help="the text to read")
    pick = s.add_mutually_exclusive_group()
    pick.add_argument("--units", default=None, help="comma-separated unit indices (default: the --top most active)")
    pick.add_argument("--top", type=int_type(1), default=None,
                   help="how many units to show when --units is not given, at most the layer's hidden size "
                        "(default 6, or every unit of a smaller layer)")
    s.add_argument("--layer", type=int_type(-MAX_LAYERS, MAX_LAYERS - 1), default=-1,
                   help="which layer, counted from 0, or from the last as -1 (default -1, the last)")
    s.add_argument("--state", choices=("h", "c"), default="h", help="hidden state h or LSTM cell state c (default h)")
    s.add_argument("--html", metavar="FILE", help="write a self-contained HTML page")
    s.add_argument("--plot", metavar="FILE", help="write the same picture as a PNG")
    s.add_argument("--heatmap", metavar="FILE", help="write a heatmap PNG of every unit over the text (the --state values; c through tanh)")
    add_threads_option(s)
    s.set_defaults(func=_with_threads(run_states))


def _with_threads(handler):
    """Run ``handler`` under the one thread policy (``--threads``, see seqlab.utils.resolve_threads)."""
    def run(args) -> int:
        from ..utils import thread_policy

        with thread_policy(args.threads):
            return handler(args)
    return run


def _missing(parser: argparse.ArgumentParser) -> int:
    raise SeqlabError("expected what to explain: gradients, memory, capacity or states (see 'seqlab explain --help')")


def _list_type(item):
    """An argparse type: a comma-separated list of ``item`` values ("4,16,64"), as a tuple."""
    def parse(text: str) -> tuple:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list such as 4,16,64, got {text!r}")
        try:
            return tuple(dict.fromkeys(item(p) for p in parts))
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"{exc} (in the list {text!r})") from None
    return parse


def _check_plot(path: str | None, option: str) -> None:
    """A PNG path of ``option`` checked before any work, matplotlib with it."""
    from ..plotting import require_matplotlib

    if path is not None:
        check_output(path, option, (".png",))
        require_matplotlib(option)


def _check_fits(cells, hidden: int, batch: int, steps: int, inputs: int, options: str, data_bytes: int = 0) -> None:
    """SeqlabError before any work when the largest cell at these sizes cannot fit in memory."""
    from ..resources import Estimate, check_fits, recurrent_estimate

    est = max((recurrent_estimate(cell=c, inputs=inputs, hidden=hidden, batch=batch, steps=steps, outputs=inputs)
               for c in cells), key=lambda e: e.total)
    check_fits(Estimate(est.params, est.weight_bytes, est.activation_bytes + data_bytes), options)


# -- gradients ---------------------------------------------------------------------------------
def run_gradients(args) -> int:
    from .memory import check_cells
    from .report import gradient_report

    cells = check_cells(args.cells)
    _check_plot(args.plot, "--plot")
    _check_plot(args.clip_plot, "--clip-plot")
    check_outputs({"--plot": args.plot, "--clip-plot": args.clip_plot})
    if args.clip_plot and args.clipnorm is None:
        raise SeqlabError("--clip-plot: draws the --clipnorm comparison; add --clipnorm C (e.g. --clipnorm 1)")
    _check_fits(cells, args.hidden, args.batch_size, args.length, 2, "--hidden/--batch-size/--length")
    text = gradient_report(cells, args.length, args.hidden, args.batch_size, args.steps, args.seed, args.plot,
                           radius=args.radius)
    print(text, flush=True)
    if args.clipnorm is not None:
        from .clipping import clipping_comparison, clipping_report

        cmp = clipping_comparison(radius=2.0 if args.radius is None else args.radius, clipnorm=args.clipnorm,
                                  length=args.length, hidden=args.hidden, steps=args.clip_steps,
                                  lr=args.lr, batch_size=args.batch_size, seed=args.seed)
        print(clipping_report(cmp, args.clip_plot))
    return 0


# -- memory ------------------------------------------------------------------------------------
def run_memory(args) -> int:
    from .memory import MemoryConfig, check_cells, train_memory
    from .report import fit_number, name_width
    from .tasks import check_task

    check_task(args.task)
    cells = check_cells(args.cells)
    overrides = {k: v for k, v in (("hidden_size", args.hidden), ("batch_size", args.batch_size), ("lr", args.lr),
                                   ("clipnorm", args.clipnorm), ("max_steps", args.steps)) if v is not None}
    configs = [MemoryConfig(task=args.task, length=args.length, cell=c, minutes=args.minutes or None, seed=args.seed,
                            **overrides).validate() for c in cells]
    metric = "MSE" if args.task == "adding" else "cross-entropy"
    c0 = configs[0]
    _check_fits(cells, c0.hidden_size, c0.batch_size, args.length + 20, 10, "--hidden/--batch-size/--length")
    print(f"task {args.task}, T = {args.length}: hidden {c0.hidden_size}, batch {c0.batch_size}, Adam lr {c0.lr:g}, "
          f"clipnorm {c0.clipnorm:g}, up to {c0.max_steps} steps" + (f" or {args.minutes:g} min" if args.minutes else "")
          + " per cell", flush=True)
    w = name_width(cells)  # the cell column, as wide as the longest name
    sw = max(6, len(str(c0.max_steps)))  # --steps goes to 10 million
    results = []
    for cfg in configs:
        def log(step, loss, c=cfg.cell):
            print(f"  {c:{w}s} step {step:{sw}d}  loss {loss:.4f}", flush=True)
        results.append(train_memory(cfg, log=None if args.quiet else log, threads=None))
    base = results[0].baseline
    print(f"\n{'cell':{w}s} {'final ' + metric:>20s} {'baseline':>9s} {'/ baseline':>10s} {'steps':>{sw}s} "
          f"{'seconds':>8s}")
    for r in results:
        print(f"{r.config.cell:{w}s} {fit_number(r.final_loss, 20)} {base:9.4f} "
              f"{fit_number(r.final_loss / base, 10, 3)} {r.steps:{sw}d} {fit_number(r.seconds, 8, 1)}")
    return 0


# -- capacity ----------------------------------------------------------------------------------
def run_capacity(args) -> int:
    from .capacity import CapacityConfig, capacity_experiment, capacity_table, optuna_available, plot_curves

    _check_plot(args.plot, "--plot")
    cfg = CapacityConfig(hidden=args.hidden, dropout=args.dropout, l2=args.l2, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, length=args.length, train_samples=args.samples,
                         val_samples=args.val_samples, noise=args.noise, search=args.search, trials=args.trials,
                         seed=args.seed).validate()
    _check_fits(["gru"], max(cfg.hidden), cfg.batch_size, cfg.length, 1,
                "--hidden/--batch-size/--length/--samples/--val-samples",
                data_bytes=8 * (cfg.train_samples + cfg.val_samples) * (cfg.length + 1) * 3)
    if cfg.search == "optuna" and not optuna_available():
        print("optuna is not installed (pip install 'seqlab[optuna]'): running the grid instead", flush=True)
    print(f"noisy sine, next value from {cfg.length} steps: {cfg.train_samples} training and {cfg.val_samples} "
          f"validation windows, noise {cfg.noise:g}; GRU -> Dense(1), Adam lr {cfg.lr:g}, batch {cfg.batch_size}, "
          f"{cfg.epochs} epochs per setting", flush=True)
    log = None if args.quiet else (lambda r: print(f"  {r.label}: train MSE {r.train[-1]:.4f}, val MSE {r.val[-1]:.4f} "
                                                   f"({r.seconds:.1f} s)", flush=True))
    results, search = capacity_experiment(cfg, log=log)
    print(f"\n{'Optuna TPE search, ' + str(len(results)) + ' trials' if search == 'optuna' else 'grid'}:")
    print(capacity_table(cfg, results, search))
    if args.plot:
        plot_curves(cfg, results, args.plot)
        print(f"wrote {args.plot}")
    return 0


# -- states ------------------------------------------------------------------------------------
def run_states(args) -> int:
    from .report import states_report

    check_output(args.html, "--html", (".html", ".htm"))
    _check_plot(args.plot, "--plot")
    _check_plot(args.heatmap, "--heatmap")
    check_outputs({"--html": args.html, "--plot": args.plot, "--heatmap": args.heatmap}, {"--model": args.model})
    units = None
    if args.units is not None:
        try:
            units = [int(u) for u in args.units.split(",") if u.strip()]
        except ValueError:
            raise SeqlabError(f"--units: expected comma-separated integers like 0,5,17, got {args.units!r}") from None
        if not units:
            raise SeqlabError(f"--units: expected at least one unit index, such as 0,5,17, got {args.units!r}")
    with held_writes():  # the page and the pictures together, or none of them
        text = states_report(args.model, args.text, units, args.top, args.layer, args.state, args.html, args.plot,
                             args.heatmap)
    print(text)
    return 0
