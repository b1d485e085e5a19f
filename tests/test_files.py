"""seqlab.files, the one boundary for files read and written (issue #18)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from seqlab import files, io
from seqlab.errors import ModelFileError, SeqlabError


def _depth(value) -> int:
    """The nesting depth of a parsed JSON value, recursively (the independent reference)."""
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@pytest.mark.parametrize("text", ['{"a": [1, {"b": [[]]}], "c": "[[[{{"}', "[]", "3", '"x"', '{"k": "\\"]"}',
                                  '[[1], [2, [3, [4]]], {"a": {"b": {}}}]'])
def test_json_depth_equals_the_depth_of_the_parsed_value(text):
    assert files.json_depth(text) == _depth(json.loads(text))


def test_loads_json_refuses_deep_and_long_json_without_recursing():
    deep = "[" * 200_000 + "]" * 200_000
    with pytest.raises(SeqlabError, match="nested 200000 levels deep, more than the 64 allowed"):
        files.loads_json(deep, "header")
    with pytest.raises(SeqlabError, match="more than the 10 bytes allowed"):
        files.loads_json('{"a": "0123456789"}', "header", max_bytes=10)
    with pytest.raises(SeqlabError, match="invalid JSON"):
        files.loads_json('{"a": ', "header")
    assert files.loads_json('{"a": [1, 2]}', "header") == {"a": [1, 2]}


def test_check_input_refuses_what_is_not_a_regular_file_without_opening_it(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "big").write_bytes(b"x" * 100)
    cases = {tmp_path / "fifo": "FIFO", "/dev/zero": "is a device", tmp_path / "dir": "is a folder",
             tmp_path / "none": "does not exist", tmp_path / "empty": "is empty",
             tmp_path / "big" / "x": "a part of the path is a file"}
    for path, msg in cases.items():
        with pytest.raises(SeqlabError, match=msg):
            files.check_input(path, "--data")
    with pytest.raises(SeqlabError, match="more than the 50 bytes"):
        files.read_bytes(tmp_path / "big", "--data", max_bytes=50)
    assert files.read_bytes(tmp_path / "big", "--data", max_bytes=100) == b"x" * 100


def test_decode_names_the_first_problem_of_the_file():
    with pytest.raises(SeqlabError, match="not UTF-8 text \\(invalid byte at offset 1\\)"):
        files.decode_utf8(b"a\xff\x00", "f", "--text")
    with pytest.raises(SeqlabError, match="looks binary: it holds a NUL byte \\(line 2, offset 2\\)"):
        files.decode_utf8(b"a\n\x00\xff", "f", "--text")
    assert files.decode_utf8("\ufeffé 😀".encode(), "f", "--text") == "é 😀"


def test_a_gzip_bomb_is_refused_at_its_limit():
    data = files.gzip.compress(b"\x00" * 5_000_000)
    with pytest.raises(SeqlabError, match="expands to more than"):
        files.decompress(data, "f.gz", "--data", "data file", limit=1_000_000)
    assert len(files.decompress(data, "f.gz", "--data", "data file", limit=5_000_000)) == 5_000_000


def test_held_writes_write_everything_or_nothing(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old a")
    with pytest.raises(RuntimeError):
        with files.held_writes():
            files.atomic_write_text(a, "new a")
            assert a.read_text() == "old a"  # held, not written
            raise RuntimeError("the second output failed")
    assert a.read_text() == "old a" and not b.exists() and sorted(os.listdir(tmp_path)) == ["a.txt"]
    with files.held_writes():
        files.atomic_write_text(a, "new a")
        files.atomic_write_text(b, "new b")
    assert (a.read_text(), b.read_text()) == ("new a", "new b") and sorted(os.listdir(tmp_path)) == ["a.txt", "b.txt"]


def test_temporary_names_are_recognisable_and_never_loaded_as_a_model(tmp_path):
    p = files.temp_path(tmp_path / "m.safetensors")
    assert files.is_temp_name(p) and p.name.startswith(".m.safetensors.seqlab-") and p.suffix == ".tmp"
    assert not files.is_temp_name(tmp_path / "m.safetensors")
    io.save_file(tmp_path / "m.safetensors", "x", {"a": 1}, {})
    p.write_bytes((tmp_path / "m.safetensors").read_bytes())
    with pytest.raises(ModelFileError, match="temporary file of an unfinished write"):
        io.load_file(p)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_next_write_removes_the_debris_of_dead_writers_only(tmp_path):
    target = tmp_path / "model.safetensors"
    dead = tmp_path / f".model.safetensors.seqlab-{_dead_pid()}-0a1b2c3d.tmp"
    alive = tmp_path / f".model.safetensors.seqlab-{os.getppid()}-0a1b2c3d.tmp"  # a live process's write
    other = tmp_path / f".other.safetensors.seqlab-{_dead_pid()}-0a1b2c3d.tmp"  # another file's
    legacy_old, legacy_new = tmp_path / ".model.safetensors.ab3_x9zq.tmp", tmp_path / ".model.safetensors.cd4_y0wr.tmp"
    for p in (dead, alive, other, legacy_old, legacy_new):
        p.write_bytes(b"partial")
    hour_ago = time.time() - 3600
    os.utime(legacy_old, (hour_ago, hour_ago))
    files.atomic_write_bytes(target, b"done")
    assert sorted(os.listdir(tmp_path)) == sorted([target.name, alive.name, other.name, legacy_new.name])


def test_a_save_killed_mid_write_leaves_the_old_file_and_debris_the_next_save_removes(tmp_path):
    """A process killed while writing a model leaves the previous file whole and its temporary
    file behind; the next save to the same path removes it."""
    target = tmp_path / "model.safetensors"
    target.write_bytes(b"the previous model")
    script = (
        "import sys, time, seqlab.files as f\n"
        "from pathlib import Path\n"
        "tmp = f._write_temp(Path(sys.argv[1]), b'x' * 1000)\n"  # the temporary file is complete, not renamed
        "print(tmp, flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(target)], stdout=subprocess.PIPE, text=True)
    with proc.stdout:
        tmp = proc.stdout.readline().strip()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert os.path.exists(tmp) and files.is_temp_name(tmp) and target.read_bytes() == b"the previous model"
    files.atomic_write_bytes(target, b"the next model")
    assert os.listdir(tmp_path) == [target.name] and target.read_bytes() == b"the next model"


@pytest.mark.parametrize("sep,text", [(",", "a,b\n1,2\n"), (";", "a;b\r\n1;2\r\n"), ("\\t", "a\tb\n1\t2\n"),
                                      (",", '\ufeff"a","b"\n"1","2"\n')])
def test_read_csv_accepts_the_usual_variants(tmp_path, sep, text):
    p = tmp_path / "t.csv"
    p.write_bytes(text.encode("utf-8"))
    df = files.read_csv(p, sep=sep)
    assert list(df.columns) == ["a", "b"] and df.to_numpy().tolist() == [[1, 2]]


def test_a_model_header_longer_than_the_file_names_the_files_real_size(tmp_path):
    # peek_kind reads only the header, load_file the whole file: both report the same sizes
    import struct

    import pytest

    from seqlab import io
    from seqlab.errors import ModelFileError

    p = tmp_path / "m.safetensors"
    p.write_bytes(struct.pack("<Q", 2**40) + b"x" * 4984)
    for read in (io.peek_kind, io.load_file):
        with pytest.raises(ModelFileError, match=r"its header claims 1099511627776 bytes, the file holds 4984 after"):
            read(p)


@pytest.mark.parametrize("sep,text,dup", [
    (",", "date,A,A\n2020-01-01,1,2\n", "'A' (columns 2, 3)"),
    (";", '"x;y";b;"x;y"\r\n1;2;3\r\n', "'x;y' (columns 1, 3)"),  # quoted names with the separator inside
    (None, "a\tb\ta\n1\t2\t3\n", "'a' (columns 1, 3)"),  # the separator guessed
    (",", "\ufeff\n\ny,y,z,z\n1,2,3,4\n", "'y' (columns 1, 2); 'z' (columns 3, 4)"),  # blank lines, a BOM
])
def test_read_csv_refuses_duplicate_column_names(tmp_path, sep, text, dup):
    p = tmp_path / "t.csv"
    p.write_bytes(text.encode("utf-8"))
    with pytest.raises(SeqlabError) as exc:
        files.read_csv(p, sep=sep)
    message = str(exc.value)
    assert message.startswith("--data: data file") and "duplicate column names" in message and dup in message
    assert "\n" not in message and ".1" not in message


def test_read_csv_keeps_distinct_names_that_pandas_would_mangle_to(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("A,A.1,,\n1,2,3,4\n")  # A.1 is a name of its own; empty names are pandas' Unnamed columns
    assert list(files.read_csv(p).columns)[:2] == ["A", "A.1"]


def test_commands_reading_a_csv_refuse_duplicate_columns(tmp_path, monkeypatch, cli):
    from tests.cli_helpers import assert_one_line_error, snapshot

    monkeypatch.chdir(tmp_path)
    (tmp_path / "wide.csv").write_text("date,A,A\n" + "".join(f"2020-{m:02d}-01,{m},{2 * m}\n" for m in range(1, 13)))
    (tmp_path / "texts.csv").write_text("text,label,text\ngood,pos,x\nbad,neg,y\n")
    before = snapshot(tmp_path)
    for args in (["forecast", "--data", "wide.csv", "--wide", "--time", "date", "--epochs", "1"],
                 ["classify", "train", "--data", "texts.csv", "--epochs", "1", "--save", "m.safetensors"]):
        code, _, err = cli(*args)
        assert_one_line_error(code, err, "duplicate column names")
        assert snapshot(tmp_path) == before


@pytest.mark.parametrize("words", [
    ["forecast", "predict", "--model", ""],
    ["classify", "predict", "--model", "", "--text", "hi"],
    ["generate", "sample", "--model", ""],
    ["translate", "predict", "--model", "", "x"],
    ["export", "", "--out", "x.onnx"],
], ids=["forecast", "classify", "generate", "translate", "export"])
def test_an_empty_model_path_is_named_as_no_file_name(words, tmp_path, monkeypatch, capsys):
    """An empty --model is 'no file name', not the folder '.' (Path('') reads as '.')."""
    from seqlab.cli import main

    monkeypatch.chdir(tmp_path)
    code = main(words)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "expected a file name, got ''" in err, err
