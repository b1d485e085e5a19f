"""``seqlab translate --input FILE``: one load, one output line per input line (the library's
translations of each line), empty lines kept, n-best blocks, standard input, --out written only
when every line translates, and an unknown character named by its line number."""

import io
import re
import sys
from pathlib import Path

import pytest

from seqlab.cli import main
from seqlab.seq2seq.run import read_lines, translate_lines

LINES = ["ab 12", "", "train", "   ", "AB  12", "c3"]



def run(capsys, *argv):
    code = main(["translate", *([] if argv[0] == "train" else ["predict"]), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _write(path, lines, end="\n"):
    path.write_bytes("".join(line + end for line in lines).encode("utf-8"))
    return str(path)


def test_one_line_per_input_line_as_the_library_translates_each(tmp_path, capsys, model_path):
    path, tr = model_path
    src = _write(tmp_path / "src.txt", LINES, end="\r\n")  # CRLF line ends are line ends
    code, out, err = run(capsys, "--model", path, "--input", src)
    assert code == 0 and err == ""
    expected = [tr.translate(line).text if line.strip() else "" for line in LINES]
    assert out == "".join(t + "\n" for t in expected)
    assert out.split("\n")[:-1] == expected and len(expected) == 6  # line N of the output is input line N
    batch = tr.translate_batch([line for line in LINES if line.strip()])
    assert [t.text for t in batch] == [t for t, line in zip(expected, LINES) if line.strip()]


def test_beam_and_a_last_line_without_line_end(tmp_path, capsys, model_path):
    path, tr = model_path
    src = tmp_path / "src.txt"
    src.write_text("ab 12\ntrain")  # no newline after the last line: still a line
    code, out, _ = run(capsys, "--model", path, "--input", str(src), "--beam", "3", "--max-len", "4")
    assert code == 0
    assert out == "".join(tr.translate(t, beam=3, max_len=4).text + "\n" for t in ("ab 12", "train"))


def test_nbest_gives_a_block_per_line_then_an_empty_line(tmp_path, capsys, model_path):
    path, tr = model_path
    src = _write(tmp_path / "src.txt", ["ab", "", "train"])
    code, out, _ = run(capsys, "--model", path, "--input", src, "--beam", "2", "--nbest", "--length-penalty", "0.6")
    assert code == 0
    blocks, block = [], []
    for line in out.split("\n")[:-1]:  # an empty line ends a block; hypothesis lines are never empty
        if line:
            block.append(line.split("\t"))
        else:
            blocks.append(block)
            block = []
    assert block == [] and len(blocks) == 3 and out.endswith("\n\n")
    assert blocks[1] == []  # the empty input line: an empty block
    for text, rows in (("ab", blocks[0]), ("train", blocks[2])):
        hyps = tr.nbest(text, 2, None, None, 0.6)
        assert len(rows) == 2
        assert [(r, s, t) for r, s, t in rows] == [(str(k), f"{h.score:.4f}", h.text) for k, h in enumerate(hyps, 1)]


def test_standard_input(tmp_path, capsys, model_path, monkeypatch):
    path, tr = model_path
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("\ufeffab\ntrain\n".encode("utf-8"))))
    code, out, _ = run(capsys, "--model", path, "--input", "-")
    assert code == 0 and out == tr.translate("ab").text + "\n" + tr.translate("train").text + "\n"


def test_out_writes_the_file_and_a_failure_keeps_it(tmp_path, capsys, model_path):
    path, tr = model_path
    dest = tmp_path / "out.txt"
    code, out, _ = run(capsys, "--model", path, "--input", _write(tmp_path / "a.txt", LINES), "--out", str(dest))
    assert code == 0 and out == f"wrote translations of 6 lines (2 empty) to {dest}\n"
    assert dest.read_text().split("\n")[:-1] == [tr.translate(t).text if t.strip() else "" for t in LINES]
    before = dest.read_bytes()
    bad = _write(tmp_path / "bad.txt", ["ab", "ab", "abz!", "ok", "tz"])
    code, out, err = run(capsys, "--model", path, "--input", bad, "--out", str(dest))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"seqlab translate: error: --input: line 3 of {bad!r}: 2 characters not in the model's "
                          "vocabulary: 'z', '!'"), err
    assert "(3 lines have such tokens: 3, 4, 5)" in err  # 'ok' has 'o', 'tz' has 'z'
    assert dest.read_bytes() == before


def test_library_call_returns_the_lines(tmp_path, capsys, model_path):
    path, tr = model_path
    res = translate_lines(model=path, input=_write(tmp_path / "a.txt", ["ab", ""]), beam=1)
    assert [[t.text for t in outs] for outs in res.lines] == [[tr.translate("ab").text], []]
    assert res.text == capsys.readouterr().out and res.path is None


def test_read_lines_splits_only_at_line_feeds(tmp_path):
    p = tmp_path / "x.txt"
    p.write_bytes("a\x0bb\r\n\nc\u2028d".encode("utf-8"))
    assert read_lines(p) == ["a\x0bb", "", "c\u2028d"]


@pytest.mark.parametrize("argv,msg", [
    (["--input", "{src}", "ab"], "--input: pass the texts either in --input FILE or as one text, not both"),
    (["--input", "{src}", "--text", "ab"], "--input: pass the texts either in --input FILE or as one text"),
    (["--input", "{src}", "--plot", "{tmp}/a.png"], "--plot: draws the attention of one translation"),
    (["ab", "--out", "{tmp}/o.txt"], "--out: writes the translations of --input FILE"),
    (["--input", "{tmp}/missing.txt"], "--input: input file .* does not exist"),
    (["--input", "{empty}"], "--input: input file .* is empty"),
    (["--input", "{latin1}"], "--input: input file .* is not UTF-8 text"),
    (["--input", "{src}", "--out", "{src}"], "--out: .* is also the file of --input"),
    (["--input", "{src}", "--out", "{tmp}/no/such/o.txt"], "--out: folder .* does not exist"),
    (["--input", "{src}", "--beam", "0"], "--beam: expected an integer >= 1"),
    (["train", "--input", "{src}"], "unrecognized arguments"),  # --input abbreviates --input-feeding there
    (["train", "--save", "{tmp}/a.safetensors", "--out", "{tmp}/b.safetensors"], "--out was renamed --save"),
])
def test_bad_batch_input_is_one_line(tmp_path, capsys, model_path, argv, msg):
    path, _ = model_path
    src = _write(tmp_path / "src.txt", ["ab"])
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    before = Path(src).read_bytes()
    subst = dict(src=src, tmp=str(tmp_path), empty=str(tmp_path / "empty.txt"), latin1=str(tmp_path / "latin1.txt"))
    model = [] if argv[0] == "train" else ["--model", path]
    code, out, err = run(capsys, *model, *[a.format(**subst) for a in argv])
    assert code == 2 and out == "" and err.count("\n") == 1 and re.match(r"seqlab translate( train| predict)?: error: ", err), err
    assert re.search(msg, err), err
    assert Path(src).read_bytes() == before and not (tmp_path / "o.txt").exists()


def test_empty_standard_input_is_one_line(capsys, model_path, monkeypatch):
    path, _ = model_path
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    code, out, err = run(capsys, "--model", path, "--input", "-")
    assert code == 2 and "--input: standard input is empty" in err and err.count("\n") == 1
