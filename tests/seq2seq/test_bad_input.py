"""``seqlab translate`` (train, and translate with a model): bad input of every kind,
table-driven (issue #18).

Each case runs the command in this process and asserts exit code 2, exactly one line on stderr,
no traceback, and that the earlier outputs (a model, an attention plot) are byte-identical
afterwards with no temporary files left. Then good but unusual pairs that must work: a
byte-order mark, CRLF line ends, Unicode and emoji, a gzip-compressed file.
"""

import gzip
import random

import pytest

from tests.cli_helpers import (assert_refused, assert_table, bad_model_cases, broken_inputs, parametrize, prepare_case,
                               unreadable_cases)

FAST = ["--epochs", "1", "--minutes", "0", "--hidden", "8", "--embed", "8", "--batch-size", "16", "--quiet",
        "--threads", "1"]
EARLIER = {"model.safetensors": b"an earlier model", "attention.png": b"an earlier plot"}


def _pairs(n=60, seed=0):
    rng = random.Random(seed)
    words = ["".join(rng.choice("abc") for _ in range(4)) for _ in range(n)]
    return "".join(f"{w}\t{w[::-1]}\n" for w in words)


@pytest.fixture(scope="module")
def world(tmp_path_factory, common_bad):
    from seqlab.cli import main

    d = tmp_path_factory.mktemp("translate_bad")
    good = d / "good.tsv"
    good.write_text(_pairs())
    model = d / "good.safetensors"
    assert main(["translate", "train", "--data", str(good), *FAST, "--save", str(model)]) == 0
    files = broken_inputs(d, model, common_bad)
    for name, data in {"nul.tsv": _pairs().replace("\t", "\x00\t", 1).encode(),
                       "latin1.tsv": "caf\xe9\tcoffee\nth\xe9\ttea\n".encode("latin-1"),
                       "no_tab.tsv": (_pairs() + "no tab on this line\n").encode(),
                       "two_tabs.tsv": (_pairs() + "a\tb\tc\n").encode(),
                       "empty_side.tsv": (_pairs() + "abc\t \n").encode(),
                       "one_pair.tsv": b"abc\tcba\n", "blank.tsv": b"\n \n\t\n",
                       "truncated.tsv.gz": gzip.compress(_pairs().encode())[:25]}.items():
        (d / name).write_bytes(data)
        files[name.split(".")[0]] = d / name
    return dict(files, good=good, model=model)


MODEL_CASES = bad_model_cases("translate-model", ["--model", "{path}", "abc"], wrong_kind="expected a 'seq2seq' model",
                              mismatch="model")
M = ["--model", "{model}", "abc"]
TRANSLATE_CASES = [(f"translate-{o[2:]}-{label}", [*M, o, v], msg) for o, label, v, msg in [
    ("--beam", "zero", "0", "beam"), ("--beam", "negative", "-2", "beam"), ("--beam", "huge", str(10**6), "--beam"),
    ("--beam", "word", "five", "--beam"), ("--max-len", "zero", "0", "--max-len"),
    ("--max-len", "huge", str(10**9), "--max-len"), ("--length-penalty", "nan", "nan", "--length-penalty"),
    ("--length-penalty", "inf", "inf", "--length-penalty"), ("--length-penalty", "negative", "-1", "--length-penalty"),
    ("--length-penalty", "1e6", "1000000", "--length-penalty"),
    ("--threads", "negative", "-1", "--threads"), ("--device", "meta", "meta", "--device"),
    ("--device", "missing-gpu", "cuda:99", "cuda:99"), ("--plot", "jpg", "{out}/a.jpg", "ending in .png"),
    ("--plot", "folder", "{out}", "is a folder"), ("--plot", "is-the-model", "{model}", "ending in .png"),
    ("--plot", "missing-folder", "{out}/no/a.png", "does not exist"),
]] + [
    ("translate-empty-text", ["--model", "{model}", "--text", " "], "non-empty text"),
    ("translate-unknown-symbols", ["--model", "{model}", "xyz€"], "not in the model's vocabulary"),
    ("translate-no-model", ["abc"], "--model"),
    ("translate-data-without-train", ["--model", "{model}", "--data", "{good}", "abc"], "unrecognized arguments: --data"),
]
T = ["train", "--data"]
DATA_CASES = unreadable_cases("train-data", [*T, "{path}"]) + [
    ("train-data-nul", [*T, "{nul}"], "NUL"),
    ("train-data-latin1", [*T, "{latin1}"], "not UTF-8"),
    ("train-data-no-tab", [*T, "{no_tab}"], "0 tabs"),
    ("train-data-two-tabs", [*T, "{two_tabs}"], "2 tabs"),
    ("train-data-empty-side", [*T, "{empty_side}"], "empty target side"),
    ("train-data-one-pair", [*T, "{one_pair}"], "holds 1 pairs"),
    ("train-data-blank", [*T, "{blank}"], "is empty"),
    ("train-data-truncated-gzip", [*T, "{truncated}"], "damaged gzip"),
]
N = [*T, "{good}"]
NUMBER_CASES = [(f"train-{o[2:]}-{label}", [*N, o, v], o) for o, label, v in [
    ("--lr", "nan", "nan"), ("--lr", "inf", "inf"), ("--lr", "zero", "0"), ("--lr", "negative", "-1"),
    ("--hidden", "zero", "0"), ("--hidden", "1e30", "1" + "0" * 30), ("--layers", "zero", "0"),
    ("--embed", "zero", "0"), ("--dropout", "one", "1"), ("--batch-size", "zero", "0"),
    ("--batch-size", "1e20", "1" + "0" * 20), ("--teacher-forcing", "nan", "nan"),
    ("--teacher-forcing", "above-one", "1.5"), ("--target-accuracy", "zero", "0"),
    ("--target-accuracy", "nan", "nan"), ("--epochs", "zero", "0"), ("--minutes", "nan", "nan"),
    ("--minutes", "negative", "-1"), ("--seed", "beyond-2^64", str(2**64 + 1)), ("--device", "meta", "meta"),
]] + [
    ("train-hidden-out-of-memory", [*N, "--hidden", "1000000"], "more than the"),
    ("train-device-missing-gpu", [*N, "--device", "cuda:99"], "cuda:99"),
    ("train-with-model", [*N, "--model", "{model}"], "--model"),
]
OUTPUT_CASES = [
    ("train-save-folder", [*N, "--save", "{out}"], "is a folder"),
    ("train-save-missing-folder", [*N, "--save", "{out}/no/m.safetensors"], "does not exist"),
    ("train-save-under-a-file", [*N, "--save", "{out}/model.safetensors/m.safetensors"], "is a file, not a folder"),
    ("train-save-is-the-data", [*N, "--save", "{good}"], "also the file of --data"),
    ("train-resume-without-checkpoint", [*N, "--resume"], "no checkpoint"),
]
CASES = MODEL_CASES + TRANSLATE_CASES + DATA_CASES + NUMBER_CASES + OUTPUT_CASES


def test_at_least_forty_cases():
    assert_table(CASES)


@parametrize(CASES)
def test_bad_input_is_one_line_and_touches_nothing(args, expected, world, tmp_path, monkeypatch, cli):
    out, filled = prepare_case(tmp_path, monkeypatch, EARLIER, args, world)
    if filled[0] == "train":
        if "--save" not in filled:
            filled += ["--save", str(out / "model.safetensors")]
        argv = ["translate", "train", *FAST, *filled[1:]]  # the case's options after FAST: they win
    else:
        if "--plot" not in filled:
            filled += ["--plot", str(out / "attention.png")]
        argv = ["translate", "predict", "--threads", "1", *filled]
    assert_refused(cli, out, argv, expected)


# -- good but unusual pairs: must work -----------------------------------------------------------
PAIRS = [("café ☕", "coffee"), ("thé 🍵", "tea"), ("eau 💧", "water"), ("lait 🥛", "milk")] * 6


@pytest.mark.parametrize("variant", ["bom", "crlf", "gzip", "all-at-once"])
def test_unusual_pairs_read_as_written(variant, tmp_path):
    from seqlab.seq2seq.train import read_pairs

    text = "".join(f"{a}\t{b}\n" for a, b in PAIRS)
    data = {"bom": ("\ufeff" + text).encode(), "crlf": text.replace("\n", "\r\n").encode(),
            "gzip": gzip.compress(text.encode()),
            "all-at-once": gzip.compress(("\ufeff" + text).replace("\n", "\r\n").encode())}[variant]
    path = tmp_path / ("p.tsv.gz" if "gzip" in variant or variant == "all-at-once" else "p.tsv")
    path.write_bytes(data)
    assert read_pairs(path) == PAIRS


def test_emoji_pairs_train_and_translate_end_to_end(tmp_path, cli):
    path = tmp_path / "drinks.tsv.gz"
    path.write_bytes(gzip.compress(("\ufeff" + "".join(f"{a}\t{b}\r\n" for a, b in PAIRS)).encode()))
    model = tmp_path / "m.safetensors"
    code, _, err = cli("translate", "train", "--data", path, *FAST, "--save", model)
    assert code == 0, err
    code, out, err = cli("translate", "predict", "--model", model, "thé 🍵", "--threads", "1")
    assert code == 0 and out.endswith("\n"), err
