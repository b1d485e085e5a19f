"""``seqlab generate train`` and ``sample``: bad input of every kind, table-driven (issue #18).

Each case runs the command in this process and asserts exit code 2, exactly one line on stderr,
no traceback, and that an earlier model file is byte-identical afterwards with no temporary
files left. Then good but unusual text that must work: a byte-order mark, CRLF line ends,
Unicode and emoji, a gzip-compressed file.
"""

import gzip

import pytest

from tests.cli_helpers import (assert_refused, assert_table, bad_model_cases, broken_inputs, parametrize, prepare_case,
                               unreadable_cases)

FAST = ["--epochs", "1", "--minutes", "0", "--hidden", "8", "--layers", "1", "--batch-size", "4", "--seq-len", "16",
        "--sample-length", "0", "--quiet", "--threads", "1"]
CORPUS = "the quick brown fox jumps over the lazy dog. " * 40
EARLIER = {"model.safetensors": b"an earlier model"}


@pytest.fixture(scope="module")
def world(tmp_path_factory, common_bad):
    from seqlab.cli import main

    d = tmp_path_factory.mktemp("generate_bad")
    good = d / "good.txt"
    good.write_text(CORPUS)
    model = d / "good.safetensors"
    assert main(["generate", "train", "--data", str(good), *FAST, "--save", str(model)]) == 0
    files = broken_inputs(d, model, common_bad)
    for name, data in {"nul.txt": CORPUS.encode().replace(b"lazy", b"la\x00y"),
                       "latin1.txt": ("caf\xe9 " * 100).encode("latin-1"), "blank.txt": b" \n\t\n ",
                       "tiny.txt": b"ab", "truncated.txt.gz": gzip.compress(CORPUS.encode())[:30]}.items():
        (d / name).write_bytes(data)
        files[name.split(".")[0]] = d / name
    return dict(files, good=good, model=model)


MODEL_CASES = bad_model_cases("sample-model", ["sample", "--model", "{path}"], wrong_kind="expected a 'text-lm' model",
                              mismatch="config")
S = ["sample", "--model", "{model}"]
SAMPLE_CASES = [(f"sample-{o[2:]}-{label}", [*S, o, v], msg) for o, label, v, msg in [
    ("--sample-length", "negative", "-1", "--sample-length"), ("--sample-length", "huge", str(10**15), "--sample-length"),
    ("--sample-length", "nan", "nan", "--sample-length"), ("--temperature", "nan", "nan", "temperature"),
    ("--temperature", "inf", "inf", "temperature"), ("--temperature", "zero", "0", "temperature"),
    ("--temperature", "negative", "-1", "temperature"), ("--top-k", "zero", "0", "--top-k"),
    ("--top-k", "negative", "-3", "--top-k"), ("--top-p", "zero", "0", "--top-p"),
    ("--top-p", "above-one", "1.5", "--top-p"), ("--top-p", "nan", "nan", "--top-p"), ("--seed", "negative", "-1", "--seed"),
    ("--seed", "beyond-2^64", str(2**64 + 1), "--seed"), ("--threads", "negative", "-1", "--threads"),
    ("--device", "meta", "meta", "--device"), ("--device", "missing-gpu", "cuda:99", "cuda:99"),
    ("--prime", "unknown-symbols", "XYZ€", "not in the"), ("--temperature", "1e-300", "1e-300", "temperature"),
    ("--temperature", "1e308", "1e308", "temperature"), ("--top-k", "beyond-2^64", str(10**20), "--top-k"),
]]
T = ["train", "--data"]
TEXT_CASES = unreadable_cases("train-data", [*T, "{path}"]) + [
    ("train-data-nul", [*T, "{nul}"], "NUL"),
    ("train-data-latin1", [*T, "{latin1}"], "not UTF-8"),
    ("train-data-blank", [*T, "{blank}"], "is empty"),
    ("train-data-too-short", [*T, "{tiny}"], "too few"),
    ("train-data-truncated-gzip", [*T, "{truncated}"], "damaged gzip"),
]
N = [*T, "{good}"]
TRAIN_NUMBER_CASES = [(f"train-{o[2:]}-{label}", [*N, o, v], o) for o, label, v in [
    ("--lr", "nan", "nan"), ("--lr", "inf", "inf"), ("--lr", "zero", "0"), ("--lr", "negative", "-1"),
    ("--hidden", "zero", "0"), ("--hidden", "1e30", "1" + "0" * 30), ("--layers", "zero", "0"),
    ("--embed", "zero", "0"), ("--dropout", "one", "1"), ("--dropout", "nan", "nan"), ("--batch-size", "zero", "0"),
    ("--batch-size", "1e20", "1" + "0" * 20), ("--seq-len", "zero", "0"), ("--seq-len", "huge", str(10**9)),
    ("--clipnorm", "nan", "nan"), ("--clipnorm", "negative", "-1"), ("--val-fraction", "one", "1"),
    ("--val-fraction", "nan", "nan"), ("--sample-length", "negative", "-1"), ("--max-vocab", "zero", "0"),
    ("--epochs", "zero", "0"), ("--minutes", "nan", "nan"), ("--minutes", "inf", "inf"),
    ("--seed", "beyond-2^64", str(2**64 + 1)), ("--device", "meta", "meta"),
]] + [
    ("train-hidden-out-of-memory", [*N, "--hidden", "1000000"], "more than the"),
    ("train-batch-size-too-large-for-the-text", [*N, "--batch-size", "100000"], "too few"),
    ("train-device-missing-gpu", [*N, "--device", "cuda:99"], "cuda:99"),
]
OUTPUT_CASES = [
    ("train-save-is-the-text", [*N, "--save", "{good}"], "is also the file of --data"),
    ("train-sample-length-huge", [*N, "--sample-length", str(10**20)], "--sample-length"),
    ("train-save-folder", [*N, "--save", "{out}"], "is a folder"),
    ("train-save-missing-folder", [*N, "--save", "{out}/no/m.safetensors"], "does not exist"),
    ("train-save-under-a-file", [*N, "--save", "{out}/model.safetensors/m.safetensors"], "is a file, not a folder"),
    ("train-save-nul-in-name", [*N, "--save", "{out}/m\x00.safetensors"], "NUL"),
    ("train-resume-without-checkpoint", [*N, "--resume"], "no checkpoint"),
]
CASES = MODEL_CASES + SAMPLE_CASES + TEXT_CASES + TRAIN_NUMBER_CASES + OUTPUT_CASES


def test_at_least_forty_cases():
    assert_table(CASES)


@parametrize(CASES)
def test_bad_input_is_one_line_and_touches_nothing(args, expected, world, tmp_path, monkeypatch, cli):
    # sample's default model and train's default --save go in the case's folder
    out, filled = prepare_case(tmp_path, monkeypatch, EARLIER, args, world)
    if filled[0] == "train" and "--save" not in filled:
        filled += ["--save", str(out / "model.safetensors")]
    extra = FAST if filled[0] == "train" else ["--sample-length", "5", "--threads", "1"]
    # the case's options after FAST: they win
    assert_refused(cli, out, ["generate", filled[0], *extra, *filled[1:]], expected)


# -- good but unusual text: must work --------------------------------------------------------------
TEXT = "Ünïcödé ☕ and emoji 🚀🌍 in a line\r\nand a second line, with CRLF.\r\n" * 30


@pytest.mark.parametrize("variant", ["bom", "crlf-emoji", "gzip", "gzip-bom"])
def test_unusual_text_reads_as_written(variant, tmp_path):
    from seqlab.text.data import read_text

    data = TEXT.encode("utf-8")
    data = {"bom": b"\xef\xbb\xbf" + data, "crlf-emoji": data, "gzip": gzip.compress(data),
            "gzip-bom": gzip.compress(b"\xef\xbb\xbf" + data)}[variant]
    path = tmp_path / ("t.txt.gz" if "gzip" in variant else "t.txt")
    path.write_bytes(data)
    assert read_text(path) == TEXT


def test_emoji_text_trains_and_samples_end_to_end(tmp_path, cli):
    path = tmp_path / "emoji.txt.gz"
    path.write_bytes(gzip.compress(b"\xef\xbb\xbf" + TEXT.encode("utf-8")))
    model = tmp_path / "m.safetensors"
    code, _, err = cli("generate", "train", "--data", path, *FAST, "--save", model)
    assert code == 0, err
    code, out, err = cli("generate", "sample", "--model", model, "--prime", "🚀🌍", "--sample-length", "20", "--seed", "1",
                         "--threads", "1")
    assert code == 0 and out.startswith("🚀🌍"), err
