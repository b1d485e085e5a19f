"""seqlab translate on unusual input: standard input closed, --out - (standard output), a source
line longer than the cap, and messages that name the command's options."""

import sys

import pytest

from seqlab.errors import SeqlabError
from seqlab.seq2seq.vocab import MAX_SOURCE_LEN
from tests.cli_helpers import assert_one_line_error, snapshot


@pytest.fixture
def folder(tmp_path, monkeypatch):
    d = tmp_path / "work"
    d.mkdir()
    (d / "keep.txt").write_text("an earlier output\n")
    (d / "in.txt").write_text("abc\n\n123\n")
    monkeypatch.chdir(d)
    return d


def test_closed_standard_input_is_one_line(model_path, folder, monkeypatch, cli):
    monkeypatch.setattr(sys, "stdin", None)  # what Python gives a process started with <&-
    before = snapshot(folder)
    code, _, err = cli("translate", "predict", "--model", model_path[0], "--input", "-", "--out", "keep.txt")
    assert_one_line_error(code, err, "--input: standard input is closed")
    assert snapshot(folder) == before


def test_out_dash_is_standard_output(model_path, folder, cli):
    code, out, err = cli("translate", "predict", "--model", model_path[0], "--input", "in.txt", "--out", "-")
    assert code == 0, err
    assert not (folder / "-").exists() and len(out.split("\n")) == 4 and "wrote" not in out
    code, plain, _ = cli("translate", "predict", "--model", model_path[0], "--input", "in.txt")
    assert plain == out
    code, one, err = cli("translate", "predict", "--model", model_path[0], "--out", "-", "abc")
    assert code == 0 and one.strip(), err


def test_out_is_not_a_spelling_of_save_in_training(folder, cli):
    code, _, err = cli("translate", "train", "--out", "-", "--epochs", "1")
    assert_one_line_error(code, err, "--out was renamed --save")
    assert not (folder / "-").exists()


def test_a_source_line_over_the_cap_is_refused_naming_it(model_path, folder, cli):
    (folder / "long.txt").write_text("abc\n" + "a" * (MAX_SOURCE_LEN + 1) + "\nabc\n")
    before = snapshot(folder)
    code, _, err = cli("translate", "predict", "--model", model_path[0], "--input", "long.txt", "--out", "keep.txt")
    assert_one_line_error(code, err, "--input: line 2 of 'long.txt'")
    assert f"{MAX_SOURCE_LEN + 1:,} tokens" in err and f"{MAX_SOURCE_LEN:,}" in err
    assert snapshot(folder) == before
    text = "a" * MAX_SOURCE_LEN  # at the cap: translated
    assert len(model_path[1].translate(text).source_tokens) == MAX_SOURCE_LEN
    with pytest.raises(SeqlabError, match="tokens long, more than"):
        model_path[1].translate(text + "a")
    code, _, err = cli("translate", "predict", "--model", model_path[0], text + "a")
    assert_one_line_error(code, err, "more than the 10,000")


@pytest.mark.parametrize("args,expected", [(["--beam", "0", "abc"], "--beam: expected an integer >= 1"),
                                           (["--input", "in.txt", "--out", "sub"], "'sub/translations.txt'")])
def test_messages_name_the_commands_options(model_path, folder, cli, args, expected):
    (folder / "sub").mkdir()
    code, _, err = cli("translate", "predict", "--model", model_path[0], *args)
    assert_one_line_error(code, err, expected)
    assert ".safetensors" not in err
