"""``seqlab classify train`` and ``predict``: bad input of every kind, table-driven (issue #18).

Each case runs the command in this process and asserts exit code 2, exactly one line on stderr,
no traceback, and that the earlier outputs (a model, a predictions CSV, a plot) are byte-identical
afterwards with no temporary files left. Then good but unusual inputs that must work: a
byte-order mark, CRLF line ends, semicolons with --sep, quoted fields, Unicode and emoji, gzip.
"""

import gzip

import numpy as np
import pytest

from tests.cli_helpers import (assert_refused, assert_table, bad_model_cases, broken_inputs, earlier_outputs,
                               parametrize, prepare_case, unreadable_cases)

FAST = ["--epochs", "1", "--hidden", "4", "--quiet", "--threads", "1"]
EARLIER = {"model.safetensors": b"an earlier model", "pred.csv": b"prediction,probability\npos,0.9\n",
           "plot.png": b"an earlier plot"}
TEXTS = [(f"good movie {i}", "pos") for i in range(20)] + [(f"bad film {i}", "neg") for i in range(20)]


def _csv(rows, sep=","):
    return "text,label\n".replace(",", sep) + "".join(f"{t}{sep}{label}\n" for t, label in rows)


@pytest.fixture(scope="module")
def world(tmp_path_factory, common_bad):
    from seqlab.cli import main

    d = tmp_path_factory.mktemp("classify_bad")
    good = d / "good.csv"
    good.write_text(_csv(TEXTS))
    model = d / "good.safetensors"
    assert main(["classify", "train", "--data", str(good), *FAST, "--save", str(model)]) == 0
    files = broken_inputs(d, model, common_bad)

    def put(name, data):
        p = d / name
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
        files[name.split(".")[0]] = p

    put("ragged.csv", _csv(TEXTS).replace("good movie 3,pos", "good movie 3,pos,extra"))
    put("no_label_col.csv", "text,kind\n" + "".join(f"{t},{k}\n" for t, k in TEXTS))
    put("empty_label.csv", _csv(TEXTS).replace("bad film 5,neg", "bad film 5,"))
    put("empty_text.csv", _csv(TEXTS).replace("good movie 3,pos", " ,pos"))  # data row 4
    put("one_class.csv", _csv([(t, "pos") for t, _ in TEXTS]))
    put("nul.csv", _csv(TEXTS).replace("good movie 2", "good\x00movie"))
    put("header_only.csv", "text,label\n")
    put("data.xls", b"not a table")
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 5, 2)), np.arange(20) % 2
    for name, arrays in {"goodnums.npz": dict(X=X, y=y), "nan.npz": dict(X=np.where(X > 2, np.nan, X), y=y),
                         "inf.npz": dict(X=np.where(X > 2, np.inf, X), y=y), "strings.npz": dict(X=X.astype(str), y=y),
                         "no_x.npz": dict(A=X, y=y), "float_lengths.npz": dict(X=X, y=y, lengths=np.full(20, 2.5)),
                         "long_lengths.npz": dict(X=X, y=y, lengths=np.full(20, 9)),
                         "huge.npz": dict(X=np.where(X > 2, 1e20, X), y=y),
                         "continuous.npz": {"X": X, "y": rng.standard_normal(20)}}.items():
        np.savez(d / name, **arrays)
        files[name.split(".")[0]] = d / name
    np.savez(d / "objects.npz", X=np.array([np.zeros(3), np.zeros(4)], dtype=object), y=y[:2])
    files["objects"] = d / "objects.npz"
    put("truncated.npz", (d / "goodnums.npz").read_bytes()[:300])
    return dict(files, good=good, model=model)


P = ["predict", "--text", "good movie"]
MODEL_CASES = bad_model_cases("predict-model", ["predict", "--model", "{path}", "--text", "good movie"],
                              wrong_kind="expected a 'classifier' model", mismatch="config")
T = ["train", "--data"]
# a folder is data here (DATA/<class>/<file>), so not among the unreadable paths
DATA_CASES = unreadable_cases("train-data", [*T, "{path}"], skip=("folder",)) + [
    ("train-data-ragged-row", [*T, "{ragged}"], "Expected 2 fields"),
    ("train-data-no-label-column", [*T, "{no_label_col}"], "no labels"),
    ("train-data-empty-label", [*T, "{empty_label}"], "has no label"),
    ("train-data-empty-text", [*T, "{empty_text}"], "row 4 of"),
    ("train-data-one-class", [*T, "{one_class}"], "single class"),
    ("train-data-nul", [*T, "{nul}"], "NUL"),
    ("train-data-header-only", [*T, "{header_only}"], "no rows"),
    ("train-data-unsupported", [*T, "{data}"], "unsupported file"),
    ("train-npz-nan", [*T, "{nan}"], "NaN or infinite value"),
    ("train-npz-value-beyond-1e15", [*T, "{huge}"], "beyond 1e+15 in size"),
    ("train-npz-inf", [*T, "{inf}"], "NaN or infinite value"),
    ("train-npz-strings", [*T, "{strings}"], "holds <U"),
    ("train-npz-objects", [*T, "{objects}"], "cannot read"),
    ("train-npz-no-x", [*T, "{no_x}"], "no array 'X'"),
    ("train-npz-float-lengths", [*T, "{float_lengths}"], "expected integers"),
    ("train-npz-lengths-too-long", [*T, "{long_lengths}"], "at most the padded length"),
    ("train-npz-truncated", [*T, "{truncated}"], "cannot read"),
    ("train-npz-continuous-labels", [*T, "{continuous}"], "(its array 'y') are continuous numbers"),
    ("train-sep-two-chars", [*T, "{good}", "--sep", "ab"], "one separator character"),
    ("train-text-column-missing", [*T, "{good}", "--text-column", "body"], "'body' is not a column"),
    ("predict-data-fifo", ["predict", "--model", "{model}", "--data", "{c_fifo}"], "FIFO"),
    ("predict-data-dev-zero", ["predict", "--model", "{model}", "--data", "{c_zero}"], "is a device"),
    ("predict-data-and-text", ["predict", "--model", "{model}", "--data", "{good}", "--text", "x"], "exactly one"),
    ("predict-numbers-to-a-text-model", ["predict", "--model", "{model}", "--data", "{goodnums}"], "texts"),
]
N = [*T, "{good}"]
NUMBER_CASES = [(f"train-{o[2:]}-{label}", [*N, o, v], o) for o, label, v in [
    ("--lr", "nan", "nan"), ("--lr", "inf", "inf"), ("--lr", "zero", "0"), ("--lr", "negative", "-1"),
    ("--lr", "huge", "1e400"), ("--hidden", "zero", "0"), ("--hidden", "1e30", "1" + "0" * 30),
    ("--layers", "zero", "0"), ("--layers", "huge", "100000"), ("--dropout", "one", "1"), ("--dropout", "nan", "nan"),
    ("--batch-size", "zero", "0"), ("--batch-size", "huge", "1" + "0" * 20), ("--epochs", "zero", "0"),
    ("--embed", "zero", "0"), ("--embed", "huge", "1" + "0" * 12), ("--chrono", "negative", "-1"),
    ("--min-freq", "zero", "0"), ("--max-vocab", "zero", "0"), ("--test-size", "negative", "-0.5"),
    ("--test-size", "one", "1"), ("--test-size", "nan", "nan"), ("--seed", "negative", "-1"),
    ("--seed", "beyond-2^64", str(2**64 + 1)), ("--minutes", "nan", "nan"), ("--minutes", "inf", "inf"),
    ("--minutes", "negative", "-1"), ("--threads", "negative", "-1"), ("--checkpoint-steps", "zero", "0"),
]] + [
    ("train-hidden-out-of-memory", [*N, "--hidden", "1000000"], "more than the"),
    ("train-min-freq-above-every-count", [*N, "--min-freq", str(10**20)], "so the vocabulary would be empty"),
    ("predict-explain-negative", ["predict", "--model", "{model}", "--text", "x", "--explain", "-1"], "--explain"),
    ("predict-explain-out-of-range", ["predict", "--model", "{model}", "--text", "x", "--explain", "5"],
     "expected an input number in [0, 0]"),
]
DEVICE_CASES = [
    ("train-device-meta", [*N, "--device", "meta"], "--device"),
    ("train-device-missing-gpu", [*N, "--device", "cuda:99"], "cuda:99"),
    ("predict-device-meta", ["predict", "--model", "{model}", "--text", "x", "--device", "meta"], "--device"),
]
OUTPUT_CASES = [
    ("train-save-folder", [*N, "--save", "{out}"], "is a folder"),
    ("train-save-missing-folder", [*N, "--save", "{out}/no/m.safetensors"], "does not exist"),
    ("train-save-under-a-file", [*N, "--save", "{out}/pred.csv/m.safetensors"], "is a file, not a folder"),
    ("train-save-is-the-data", [*N, "--save", "{good}"], "also the file of --data"),
    ("predict-out-folder", [*P, "--model", "{model}", "--out", "{out}"], "is a folder"),
    ("predict-out-is-the-model", [*P, "--model", "{model}", "--out", "{model}"], "also the file of --model"),
    ("predict-plot-unsupported-extension", [*P, "--model", "{model}", "--explain", "0", "--plot", "{out}/p.xyz"],
     "expected a file ending in"),
    ("predict-plot-without-explain", [*P, "--model", "{model}", "--plot", "{out}/plot.png"], "only with --explain"),
]
CASES = MODEL_CASES + DATA_CASES + NUMBER_CASES + DEVICE_CASES + OUTPUT_CASES


def test_at_least_forty_cases():
    assert_table(CASES)


@parametrize(CASES)
def test_bad_input_is_one_line_and_touches_nothing(args, expected, world, tmp_path, monkeypatch, cli):
    out, filled = prepare_case(tmp_path, monkeypatch, EARLIER, args, world)
    if filled[0] == "train" and "--save" not in filled:
        filled += ["--save", str(out / "model.safetensors")]
    if filled[0] == "predict" and "--out" not in filled:
        filled += ["--out", str(out / "pred.csv")]
    extra = FAST if filled[0] == "train" else ["--threads", "1"]
    # the case's options after FAST: they win
    assert_refused(cli, out, ["classify", filled[0], *extra, *filled[1:]], expected)


def test_continuous_npz_labels_get_the_command_s_message_with_the_fixes(world, tmp_path, cli):
    """An .npz whose y holds measurements: the command names the file and its array 'y' and says
    what to do (there is no regression command), not the estimator's ``y:`` message; whole floats
    are classes and train."""
    path = world["continuous"]
    code, _, err = cli("classify", "train", "--data", path, *FAST, "--save", tmp_path / "m.safetensors")
    assert code == 2 and err.count("\n") == 1, err
    assert f"--data: the labels of {str(path)!r} (its array 'y') are continuous numbers (such as " in err, err
    assert "bin or round" in err and "seqlab.classify.SequenceRegressor" in err and " y: " not in err, err
    assert not (tmp_path / "m.safetensors").exists()
    rng = np.random.default_rng(1)
    whole = tmp_path / "whole.npz"
    np.savez(whole, X=rng.standard_normal((20, 5, 2)), y=(np.arange(20) % 2).astype(np.float64))  # 0.0, 1.0
    code, _, err = cli("classify", "train", "--data", whole, *FAST, "--save", tmp_path / "w.safetensors")
    assert code == 0, err


def test_a_plot_that_fails_leaves_an_earlier_predictions_csv(world, tmp_path, monkeypatch, cli):
    """--out and --plot are written together: when the plot fails the CSV is not written either."""
    import seqlab.classify.explain as explain
    from seqlab.errors import SeqlabError

    out = earlier_outputs(tmp_path, EARLIER)

    def broken(*a, **k):
        raise SeqlabError("plot: cannot draw it")

    monkeypatch.setattr(explain, "plot", broken)
    assert_refused(cli, out, ["classify", "predict", "--model", world["model"], "--text", "good movie",
                                   "--explain", "0", "--out", out / "pred.csv", "--plot", out / "plot.png",
                                   "--threads", "1"], "cannot draw it")


# -- good but unusual input: must work ------------------------------------------------------------
ROWS = [("A great \"film\", truly 🎬", "pos"), ("Überraschend gut 😀", "pos"), ("naïve; and dull", "neg"),
        ("terrible, awful 👎", "neg")] * 5


def _quoted(rows, sep):
    q = lambda s: '"' + s.replace('"', '""') + '"'  # noqa: E731
    return sep.join(["text", "label"]) + "\n" + "".join(f"{q(t)}{sep}{q(label)}\n" for t, label in rows)


VARIANTS = {
    "bom": (lambda: ("\ufeff" + _quoted(ROWS, ",")).encode("utf-8"), ",", ".csv"),
    "crlf": (lambda: _quoted(ROWS, ",").replace("\n", "\r\n").encode(), ",", ".csv"),
    "semicolon": (lambda: _quoted(ROWS, ";").encode(), ";", ".csv"),
    "tab": (lambda: _quoted(ROWS, "\t").encode(), "\\t", ".csv"),
    "gzip": (lambda: gzip.compress(_quoted(ROWS, ",").encode()), ",", ".csv.gz"),
    "all-at-once": (lambda: gzip.compress(("\ufeff" + _quoted(ROWS, ";")).replace("\n", "\r\n").encode()), ";",
                    ".csv.gz"),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_unusual_csv_reads_the_texts_written(variant, tmp_path):
    from seqlab.classify.data import load_data

    make, sep, suffix = VARIANTS[variant]
    path = tmp_path / f"data{suffix}"
    path.write_bytes(make())
    texts, lengths, labels = load_data(path, sep=sep)
    assert texts == [t for t, _ in ROWS] and labels == [label for _, label in ROWS] and lengths is None


def test_unusual_csv_trains_and_predicts_end_to_end(tmp_path, cli):
    make, sep, suffix = VARIANTS["all-at-once"]
    path = tmp_path / f"reviews{suffix}"
    path.write_bytes(make())
    model = tmp_path / "m.safetensors"
    code, out, err = cli("classify", "train", "--data", path, "--sep", sep, *FAST, "--save", model)
    assert code == 0, err
    code, out, err = cli("classify", "predict", "--model", model, "--text", "Überraschend gut 😀", "--threads", "1")
    assert code == 0 and out.split("\t")[1] in ("pos", "neg"), err


def test_a_plot_without_matplotlib_is_refused_before_predicting(world, tmp_path, monkeypatch, cli):
    """--plot needs matplotlib (an extra): checked before the model is loaded, nothing written."""
    import sys

    out = earlier_outputs(tmp_path, EARLIER)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as if not installed
    assert_refused(cli, out, ["classify", "predict", "--model", world["model"], "--text", "good movie",
                              "--explain", "0", "--out", out / "pred.csv", "--plot", out / "plot.png",
                              "--threads", "1"], "--plot: plotting needs matplotlib, which is not installed")
