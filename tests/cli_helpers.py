"""The shared half of every tests/<job>/test_bad_input.py (issue #18): the case tables that are the
same for every job, the broken model files and the earlier outputs they use, and the check itself
(exit 2, one stderr line, files unchanged). The fixtures they use (``cli``, ``common_bad``) are in
tests/conftest.py.

Import as ``from tests.cli_helpers import ...`` (pytest's importlib mode makes ``tests`` a package).

A case is ``(name, args, expected)``: ``args`` are the command's words with ``{placeholders}``
that each file fills from its ``world`` fixture, and ``expected`` is a piece of the one stderr line.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

Case = tuple[str, list[str], str]

#: (name, path, message): paths that are not readable files, from the ``common_bad`` fixture
UNREADABLE = [
    ("missing", "{c_missing}", "does not exist"),
    ("empty", "{c_empty}", "is empty"),
    ("binary", "{c_binary}", "binary"),
    ("folder", "{c_folder}", "is a folder"),
    ("fifo", "{c_fifo}", "FIFO"),
    ("dev-zero", "{c_zero}", "is a device"),
    ("under-a-file", "{c_under_file}", "does not exist"),
]
_WRONG_KIND, _MISMATCH = object(), object()  # each job words these two messages its own way
_B = "{bad_%s}"
#: (name, path, message): model files that cannot be loaded, from :func:`write_bad_model_files`
BROKEN_MODELS = [
    ("missing", "{c_missing}", "does not exist"),
    ("empty", _B % "empty", "not a readable seqlab model"),
    ("binary", _B % "binary", "not a readable seqlab model"),
    ("truncated", _B % "truncated", "not a readable seqlab model"),
    ("folder", "{c_folder}", "is a folder"),
    ("fifo", "{c_fifo}", "FIFO"),
    ("dev-zero", "{c_zero}", "is a device"),
    ("nested-header", _B % "nested_header", "nested"),
    ("nested-metadata", _B % "nested_meta", "nested"),
    ("nested-config", _B % "nested_config", "nested"),
    ("header-length-2^62", _B % "huge_claim", "header claims"),
    ("not-seqlab", _B % "no_meta", "not saved by seqlab"),
    ("metadata-list", _B % "meta_list", "without a config"),
    ("metadata-a-string", _B % "meta_string", "without a config"),
    ("kind-a-list", _B % "kind_list", "its kind is"),
    ("kind-missing", _B % "kind_missing", "its kind is"),
    ("format-a-string", _B % "format_string", "invalid format"),
    ("nan-weights", _B % "nan_weights", "non-finite values"),
    ("newer-format", _B % "newer", "newer than this seqlab"),
    ("other-job", _B % "other_job", _WRONG_KIND),
    ("checkpoint", _B % "checkpoint_kind", _WRONG_KIND),
    ("config-huge", _B % "huge_config", "describes a model of"),
    ("shape-mismatch", _B % "shape_mismatch", _MISMATCH),
    ("temp-file", _B % "temp", "temporary file of an unfinished write"),
]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (names relative to it) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_one_line_error(code: int, err: str, expected: str | None = None) -> None:
    """Exit code 2 and exactly one line on stderr, no traceback, naming ``expected`` if given."""
    assert code == 2, f"exit code {code}, stderr {err!r}"
    assert err.count("\n") == 1 and err.endswith("\n"), f"not one line: {err!r}"
    assert err.startswith("seqlab") and "error:" in err and "Traceback" not in err, err
    if expected is not None:
        assert expected.lower() in err.lower(), f"{expected!r} not in {err!r}"


def _safetensors(header: bytes, body: bytes = b"") -> bytes:
    return struct.pack("<Q", len(header)) + header + body


def write_bad_model_files(folder: Path, good: Path) -> dict[str, Path]:
    """Broken model files of every kind, made from the good model file ``good``."""
    from seqlab import io

    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    def put(name: str, data: bytes) -> Path:
        p = folder / name
        p.write_bytes(data)
        out[name.split(".")[0]] = p
        return p

    data = good.read_bytes()
    config, tensors = io.load_file(good)
    kind = io.peek_kind(good)
    put("empty.safetensors", b"")
    put("binary.safetensors", bytes(range(256)) * 64)
    put("truncated.safetensors", data[: len(data) // 2])
    put("nested_header.safetensors", _safetensors(b"{\"a\":" + b"[" * 100_000 + b"]" * 100_000 + b"}"))
    deep = "[" * 100_000 + "]" * 100_000
    put("nested_meta.safetensors", _safetensors(json.dumps({"__metadata__": {"seqlab": deep}}).encode()))
    deep_config = json.dumps({"kind": kind, "format": 1, "config": {"x": json.loads("[" * 60 + "]" * 60)}})
    deep_config = deep_config.replace("[" * 60 + "]" * 60, "[" * 5000 + "]" * 5000)
    put("nested_config.safetensors", _safetensors(json.dumps({"__metadata__": {"seqlab": deep_config}}).encode()))
    put("huge_claim.safetensors", struct.pack("<Q", 2**62) + b"{}")
    put("no_meta.safetensors", _safetensors(b'{"__metadata__": {"other": "x"}}'))
    put("meta_list.safetensors", _safetensors(json.dumps({"__metadata__": {"seqlab": "[1, 2]"}}).encode()))
    def meta(value) -> bytes:  # a header whose seqlab metadata is ``value`` as JSON, the weights kept
        return _safetensors(json.dumps({"__metadata__": {"seqlab": json.dumps(value)}}).encode())

    put("meta_string.safetensors", meta("abc"))
    first = next(k for k in sorted(tensors) if tensors[k].is_floating_point() and tensors[k].numel())
    put("nan_weights.safetensors", io.model_bytes(kind, config, {**tensors, first: tensors[first] * float("nan")}))
    put("kind_list.safetensors", meta({"kind": [kind], "format": 1, "config": config}))
    put("kind_missing.safetensors", meta({"format": 1, "config": config}))
    put("format_string.safetensors", meta({"kind": kind, "format": "1", "config": config}))
    newer = json.dumps({"kind": kind, "format": 99, "config": {}})
    put("newer.safetensors", _safetensors(json.dumps({"__metadata__": {"seqlab": newer}}).encode()))
    other = "classifier" if kind != "classifier" else "forecaster"
    put("other_job.safetensors", io.model_bytes(other, config, tensors))
    put("checkpoint_kind.safetensors", io.model_bytes("checkpoint", {"counters": {}}, tensors))

    def scaled(value, factor, add):
        if isinstance(value, dict):
            return {k: (v * factor + add if k in ("hidden_size", "hidden") and isinstance(v, int) else
                        scaled(v, factor, add)) for k, v in value.items()}
        if isinstance(value, list):
            return [scaled(v, factor, add) for v in value]
        return value

    put("huge_config.safetensors", io.model_bytes(kind, scaled(config, 100_000, 0), tensors))
    put("shape_mismatch.safetensors", io.model_bytes(kind, scaled(config, 1, 1), tensors))
    temp = folder / ".model.safetensors.seqlab-999999-abcd1234.tmp"  # an interrupted save's debris
    temp.write_bytes(data)
    out["temp"] = temp
    return out


def _put(path: str, args: list[str]) -> list[str]:
    return [path if a == "{path}" else a for a in args]


def unreadable_cases(prefix: str, args: list[str], skip: tuple[str, ...] = ()) -> list[Case]:
    """``args`` with each unreadable path in place of ``"{path}"``; names ``<prefix>-<name>``."""
    return [(f"{prefix}-{name}", _put(path, args), msg) for name, path, msg in UNREADABLE if name not in skip]


def bad_model_cases(prefix: str, args: list[str], wrong_kind: str, mismatch: str) -> list[Case]:
    """``args`` with each broken model in place of ``"{path}"``; names ``<prefix>-<name>``
    (``<prefix>`` is ``predict-model`` for ``predict-model-missing`` and so on).

    ``wrong_kind`` is in the error for another job's model and for a checkpoint, ``mismatch`` in
    the error for a config that does not match the weights.
    """
    words = {_WRONG_KIND: wrong_kind, _MISMATCH: mismatch}
    return [(f"{prefix}-{name}", _put(path, args), words.get(msg, msg)) for name, path, msg in BROKEN_MODELS]


def assert_table(cases: list[Case]) -> None:
    """At least forty cases, each name once."""
    assert len(cases) >= 40 and len({c[0] for c in cases}) == len(cases)


def parametrize(cases: list[Case]):
    """``@parametrize(CASES)``: one test per case, named by it, given ``args`` and ``expected``."""
    return pytest.mark.parametrize("args,expected", [c[1:] for c in cases], ids=[c[0] for c in cases])


def broken_inputs(folder: Path, model: Path, common_bad: dict[str, Path]) -> dict[str, Path]:
    """The placeholders every world has: ``bad_<kind>`` (broken copies of ``model``, written
    under ``folder``/models) and ``c_<kind>`` (the ``common_bad`` paths)."""
    files = {f"bad_{k}": v for k, v in write_bad_model_files(folder / "models", model).items()}
    return dict(files, **{f"c_{k}": v for k, v in common_bad.items()})


def earlier_outputs(tmp_path: Path, files: dict[str, bytes]) -> Path:
    """``tmp_path``/out holding ``files``: the outputs of an earlier run."""
    out = tmp_path / "out"
    out.mkdir()
    for name, data in files.items():
        (out / name).write_bytes(data)
    return out


def prepare_case(tmp_path: Path, monkeypatch, files: dict[str, bytes], args: list[str],
                 world: dict[str, Path]) -> tuple[Path, list[str]]:
    """The case's folder (:func:`earlier_outputs`, made the working folder, where the default
    outputs go) and ``args`` with ``{out}`` and the world's placeholders filled in."""
    out = earlier_outputs(tmp_path, files)
    monkeypatch.chdir(out)
    return out, [a.format(out=out, **world) for a in args]


def assert_refused(cli, folder: Path, args: list, expected: str) -> None:
    """``seqlab *args`` exits 2 with one stderr line naming ``expected``, and every file under
    ``folder`` is as it was (none changed, none added, no temporary file left)."""
    before = snapshot(folder)
    code, _, err = cli(*args)
    assert_one_line_error(code, err, expected)
    assert snapshot(folder) == before
