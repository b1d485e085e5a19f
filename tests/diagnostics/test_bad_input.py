"""``seqlab explain gradients|memory|capacity|states``: bad input of every kind, table-driven
(issue #18).

Each case runs the command in this process and asserts exit code 2, exactly one line on stderr,
no traceback, and that the earlier outputs (plots, an HTML page) are byte-identical afterwards
with no temporary files left. Sizes that cannot fit in memory are refused before anything is
allocated, naming the estimate and the machine's memory.
"""

import pytest

from tests.cli_helpers import (assert_refused, assert_table, bad_model_cases, broken_inputs, earlier_outputs,
                               parametrize, prepare_case)

EARLIER = {"plot.png": b"an earlier plot", "states.html": b"<p>an earlier page</p>", "states.png": b"an earlier png"}


@pytest.fixture(scope="module")
def world(tmp_path_factory, common_bad):
    import torch

    from seqlab.text import LMConfig, RecurrentLM, Vocabulary, save_lm

    d = tmp_path_factory.mktemp("explain_bad")
    vocab = Vocabulary.build("hello world, the cat sat on the mat.")
    torch.manual_seed(9)
    model = d / "lm.safetensors"
    save_lm(model, RecurrentLM(LMConfig(vocab_size=len(vocab), cell="lstm", hidden_size=8, num_layers=2)), vocab)
    gru = d / "gru.safetensors"
    save_lm(gru, RecurrentLM(LMConfig(vocab_size=len(vocab), cell="gru", hidden_size=8, num_layers=1)), vocab)
    return dict(broken_inputs(d, model, common_bad), model=model, gru=gru)


STATES_MODEL_CASES = bad_model_cases("states-model", ["states", "--model", "{path}", "--text", "the cat"],
                                     wrong_kind="needs a text model", mismatch="text model")
S = ["states", "--model", "{model}", "--text", "the cat"]
STATES_CASES = [
    ("states-top-zero", [*S, "--top", "0"], "--top"),
    ("states-top-negative", [*S, "--top", "-3"], "--top"),
    ("states-layer-out-of-range", [*S, "--layer", "99"], "--layer"),
    ("states-units-not-numbers", [*S, "--units", "a,b"], "--units"),
    ("states-units-out-of-range", [*S, "--units", "999"], "--units"),
    ("states-units-empty", [*S, "--units", ","], "--units: expected at least one unit index"),
    ("states-top-beyond-the-layer", [*S, "--top", str(10**20)], "--top: expected a number of units in [1, 8]"),
    ("states-units-and-top", [*S, "--units", "1", "--top", "2"], "not allowed with argument --units"),
    ("states-cell-state-of-a-gru", ["states", "--model", "{gru}", "--text", "the cat", "--state", "c"], "--state"),
    ("states-empty-text", ["states", "--model", "{model}", "--text", ""], "--text"),
    ("states-html-wrong-extension", [*S, "--html", "{out}/page.txt"], "expected a file ending in"),
    ("states-plot-wrong-extension", [*S, "--plot", "{out}/a.jpg"], "expected a file ending in"),
    ("states-heatmap-folder", [*S, "--heatmap", "{out}"], "is a folder"),
    ("states-html-missing-folder", [*S, "--html", "{out}/no/p.html"], "does not exist"),
    ("states-plot-is-the-heatmap", [*S, "--plot", "{out}/x.png", "--heatmap", "{out}/x.png"], "its own file"),
    ("states-threads-negative", [*S, "--threads", "-1"], "--threads"),
]
G = ["gradients", "--steps", "0", "--hidden", "4", "--length", "5"]
GRADIENT_CASES = [(f"gradients-{o[2:]}-{label}", [*G, o, v], msg) for o, label, v, msg in [
    ("--length", "one", "1", "--length"), ("--length", "nan", "nan", "--length"),
    ("--length", "out-of-memory", str(10**12), "more than the"), ("--hidden", "zero", "0", "--hidden"),
    ("--hidden", "out-of-memory", str(10**7), "more than the"), ("--batch-size", "zero", "0", "--batch-size"),
    ("--batch-size", "out-of-memory", str(10**10), "more than the"), ("--steps", "negative", "-1", "--steps"),
    ("--radius", "zero", "0", "--radius"), ("--radius", "nan", "nan", "--radius"), ("--radius", "huge", "1e9", "--radius"),
    ("--clipnorm", "zero", "0", "--clipnorm"), ("--clipnorm", "nan", "nan", "--clipnorm"),
    ("--clip-steps", "zero", "0", "--clip-steps"), ("--lr", "nan", "nan", "--lr"), ("--lr", "inf", "inf", "--lr"),
    ("--seed", "beyond-2^64", str(2**64 + 1), "--seed"), ("--threads", "negative", "-1", "--threads"),
    ("--cells", "unknown", "rnn,xyz", "xyz"), ("--plot", "wrong-extension", "{out}/g.xyz", "expected a file ending in"),
    ("--plot", "folder", "{out}", "is a folder"), ("--clip-plot", "without-clipnorm", "{out}/c.png", "--clipnorm"),
    ("--steps", "beyond-2^64", str(10**20), "--steps"), ("--clip-steps", "huge", str(10**20), "--clip-steps"),
]] + [("gradients-clip-plot-is-the-plot", [*G, "--clipnorm", "1", "--clip-steps", "2", "--plot", "{out}/a.png",
                                           "--clip-plot", "{out}/a.png"], "is also the file of --plot")]
Mm = ["memory", "--steps", "1", "--hidden", "4", "--length", "5", "--cells", "gru", "--quiet"]
MEMORY_CASES = [(f"memory-{o[2:]}-{label}", [*Mm, o, v], msg) for o, label, v, msg in [
    ("--task", "unknown", "sum", "task"), ("--length", "one", "1", "--length"),
    ("--length", "out-of-memory", str(10**11), "more than the"), ("--hidden", "zero", "0", "--hidden"),
    ("--hidden", "out-of-memory", str(10**7), "more than the"), ("--batch-size", "zero", "0", "--batch-size"),
    ("--batch-size", "out-of-memory", str(10**10), "more than the"), ("--steps", "zero", "0", "--steps"),
    ("--lr", "nan", "nan", "--lr"), ("--lr", "zero", "0", "--lr"), ("--clipnorm", "nan", "nan", "--clipnorm"),
    ("--minutes", "nan", "nan", "--minutes"), ("--minutes", "negative", "-1", "--minutes"),
    ("--seed", "negative", "-1", "--seed"), ("--seed", "beyond-2^64", str(2**64 + 1), "--seed"),
    ("--cells", "unknown", "gru,xyz", "xyz"), ("--steps", "beyond-2^64", str(10**20), "--steps"),
]]
C = ["capacity", "--hidden", "4", "--epochs", "1", "--samples", "8", "--val-samples", "8", "--length", "5",
     "--quiet"]
CAPACITY_CASES = [(f"capacity-{o[2:]}-{label}", [*C, o, v], msg) for o, label, v, msg in [
    ("--hidden", "zero", "0", "--hidden"), ("--hidden", "not-a-list", "4,x", "--hidden"),
    ("--hidden", "out-of-memory", str(10**7), "more than the"), ("--dropout", "one", "1", "--dropout"),
    ("--dropout", "nan", "nan", "--dropout"), ("--l2", "negative", "-1", "--l2"), ("--l2", "nan", "nan", "--l2"),
    ("--epochs", "zero", "0", "--epochs"), ("--batch-size", "zero", "0", "--batch-size"), ("--lr", "nan", "nan", "--lr"),
    ("--length", "one", "1", "--length"), ("--samples", "zero", "0", "--samples"),
    ("--samples", "out-of-memory", str(10**12), "more than the"), ("--val-samples", "zero", "0", "--val-samples"),
    ("--noise", "nan", "nan", "--noise"), ("--noise", "negative", "-1", "--noise"),
    ("--trials", "zero", "0", "--trials"), ("--seed", "beyond-2^64", str(2**64 + 1), "--seed"),
    ("--plot", "wrong-extension", "{out}/c.xyz", "expected a file ending in"),
    ("--epochs", "beyond-2^64", str(10**20), "--epochs"), ("--noise", "1e308", "1e308", "--noise"),
    ("--val-samples", "out-of-memory", str(10**20), "--val-samples"),
    ("--l2", "1e300", "1e300", "argument --l2: expected a finite number >= 0 and <= 1, got '1e300'"),
    ("--l2", "inf", "0,inf", "--l2"), ("--trials", "beyond-2^64", str(10**20), "--trials"),
]]
CASES = STATES_MODEL_CASES + STATES_CASES + GRADIENT_CASES + MEMORY_CASES + CAPACITY_CASES


def test_at_least_forty_cases():
    assert_table(CASES)


@parametrize(CASES)
def test_bad_input_is_one_line_and_touches_nothing(args, expected, world, tmp_path, monkeypatch, cli):
    out, filled = prepare_case(tmp_path, monkeypatch, EARLIER, args, world)
    if filled[0] == "states" and not {"--html", "--plot"} & set(filled):
        filled += ["--html", str(out / "states.html"), "--plot", str(out / "states.png")]
    elif filled[0] in ("gradients", "capacity") and "--plot" not in filled:
        filled += ["--plot", str(out / "plot.png")]
    assert_refused(cli, out, ["explain", filled[0], "--threads", "1", *filled[1:]], expected)


def test_a_failing_heatmap_leaves_the_earlier_page_and_picture(world, tmp_path, monkeypatch, cli):
    """states writes its page, picture and heatmap together: when the heatmap fails, the earlier
    page and picture stay as they were."""
    import seqlab.diagnostics.states as states
    from seqlab.errors import SeqlabError

    out = earlier_outputs(tmp_path, EARLIER)

    def broken(*a, **k):
        raise SeqlabError("--heatmap: cannot draw it")

    monkeypatch.setattr(states, "plot_states", broken)
    assert_refused(cli, out, ["explain", "states", "--model", world["model"], "--text", "the cat", "--threads",
                                   "1", "--html", out / "states.html", "--plot", out / "states.png", "--heatmap",
                                   out / "heat.png"], "cannot draw it")


def test_the_memory_estimate_counts_what_torch_allocates():
    """The estimate's parameter count equals torch.nn's for the cells it covers (an independent
    count), so a refusal is never far from the truth."""
    import torch

    from seqlab.resources import recurrent_estimate

    for cell, module in (("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU), ("rnn", torch.nn.RNN)):
        for layers, bi in ((1, False), (2, True)):
            net = module(7, 13, num_layers=layers, bidirectional=bi)
            head = torch.nn.Linear(13 * (2 if bi else 1), 5)
            want = sum(p.numel() for p in net.parameters()) + sum(p.numel() for p in head.parameters())
            got = recurrent_estimate(cell=cell, inputs=7, hidden=13, layers=layers, directions=2 if bi else 1,
                                     outputs=5).params
            assert got == want, (cell, layers, bi, got, want)
