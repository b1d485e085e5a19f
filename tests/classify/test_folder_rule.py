"""classify train and predict on a folder of classes: the rule for what is read (every regular
file below a class folder, at any depth) and what is refused, naming it; and messages that name
--data, --text, --val-fraction or --label-column instead of the library's X and y."""

import os

import pytest

from tests.cli_helpers import assert_one_line_error, snapshot

FAST = ["--epochs", "1", "--hidden", "4", "--embed", "4", "--threads", "1", "--quiet", "--test-size", "0"]
POS, NEG = ["good great day", "nice happy fine", "love it"], ["bad awful day", "sad poor ugly", "hate it"]


def _folder(root, nested=True):
    for label, texts in (("pos", POS), ("neg", NEG)):
        for i, t in enumerate(texts):
            p = root / label / ("sub" if nested and i == 2 else "") / f"{i}.txt"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(t + "\n")
    (root / "pos" / ".hidden.txt").write_text("\x00 never read")
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from seqlab.cli import main

    d = tmp_path_factory.mktemp("folder_rule")
    model = d / "m.safetensors"
    assert main(["classify", "train", "--data", str(_folder(d / "cf")), "--save", str(model), *FAST]) == 0
    return d, model


def test_files_in_sub_folders_of_a_class_folder_are_read(trained, tmp_path, cli):
    from seqlab.classify.data import load_folder

    d, model = trained
    texts, labels = load_folder(d / "cf")
    assert sorted(t.strip() for t in texts) == sorted(POS + NEG) and labels == ["neg"] * 3 + ["pos"] * 3
    out = tmp_path / "p.csv"
    code, _, err = cli("classify", "predict", "--model", model, "--data", d / "cf", "--out", out)
    assert code == 0, err
    assert out.read_text().splitlines()[1:] and [r.split(",")[0] for r in out.read_text().splitlines()[1:]] == [
        "neg/0.txt", "neg/1.txt", "neg/sub/2.txt", "pos/0.txt", "pos/1.txt", "pos/sub/2.txt"]


def _bad_top(root):
    (root / "loose.txt").write_text("good")
    return "loose.txt' beside its class folders"


def _bad_fifo(root):
    os.mkfifo(root / "neg" / "pipe")
    return "is a FIFO"


def _bad_zero(root):
    os.symlink("/dev/zero", root / "pos" / "sub" / "zero")
    return "is a device"


def _bad_empty(root):
    (root / "neg" / "blank.txt").write_text("  \n")
    return "blank.txt' is empty"


def _bad_png(root):
    (root / "pos" / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    return "img.png' is not UTF-8"


def _bad_class(root):
    (root / "unknowncls").mkdir()
    (root / "unknowncls" / "x.txt").write_text("good")
    return "class folder(s) ['unknowncls']"


CASES = [_bad_top, _bad_fifo, _bad_zero, _bad_empty, _bad_png]


@pytest.mark.parametrize("make", CASES + [_bad_class], ids=lambda f: f.__name__)
def test_predict_refuses_what_the_rule_does_not_read(trained, tmp_path, cli, make):
    _, model = trained
    root = _folder(tmp_path / "cf")
    expected = make(root)
    (tmp_path / "p.csv").write_text("an earlier output")
    before = snapshot(tmp_path) if make not in (_bad_fifo,) else None
    code, _, err = cli("classify", "predict", "--model", model, "--data", root, "--out", tmp_path / "p.csv",
                       timeout=30)
    assert_one_line_error(code, err, "--data")
    assert expected in err, err
    assert (tmp_path / "p.csv").read_text() == "an earlier output"
    if before is not None:
        assert snapshot(tmp_path) == before


@pytest.mark.parametrize("make", CASES, ids=lambda f: f.__name__)
def test_train_refuses_what_the_rule_does_not_read(tmp_path, cli, make):
    root = _folder(tmp_path / "cf")
    expected = make(root)
    code, _, err = cli("classify", "train", "--data", root, "--save", tmp_path / "m.safetensors", *FAST, timeout=30)
    assert_one_line_error(code, err, "--data")
    assert expected in err and not (tmp_path / "m.safetensors").exists(), err


def test_messages_name_the_commands_options(trained, tmp_path, cli):
    d, model = trained
    code, _, err = cli("classify", "predict", "--model", model, "--text", "good", "--text", " ")
    assert_one_line_error(code, err, "--text: text 2")
    (tmp_path / "u.csv").write_text("text,label\ngood day,pos\nbad day,zzz\n")
    code, _, err = cli("classify", "predict", "--model", model, "--data", tmp_path / "u.csv")
    assert_one_line_error(code, err, "--label-column")
    assert "['zzz']" in err and "error: y:" not in err
    (tmp_path / "one.csv").write_text("text,label\ngood day,pos\nfine day,pos\n")
    code, _, err = cli("classify", "train", "--data", tmp_path / "one.csv", "--save", tmp_path / "o.safetensors",
                       *FAST)
    assert_one_line_error(code, err, "--data")
    assert "single class ('pos')" in err and "error: y:" not in err
    (tmp_path / "four.csv").write_text("text,label\ngood day,pos\nfine day,pos\nbad day,neg\nsad day,neg\n")
    code, _, err = cli("classify", "train", "--data", tmp_path / "four.csv", "--save", tmp_path / "f.safetensors",
                       "--patience", "2", *FAST[:-2])  # the default --test-size 0.2 leaves 1 per class
    assert_one_line_error(code, err, "--val-fraction")
    assert "--patience" in err and "validation_split" not in err
