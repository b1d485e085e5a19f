"""The shared half of every tests/<job>/test_bad_input.py (issue #18): the case tables that are the
same for every job, the earlier outputs a refused command must leave as they were, and the check
itself. The fixtures they use (``cli``, ``kit``, ``common_bad``) are in tests/conftest.py.

Import as ``from tests.cli_helpers import ...`` (pytest's importlib mode makes ``tests`` a package).

A case is ``(name, args, expected)``: ``args`` are the command's words with ``{placeholders}``
that each file fills from its ``world`` fixture, and ``expected`` is a piece of the one stderr line.
"""

from __future__ import annotations

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
#: (name, path, message): model files that cannot be loaded, from ``kit.bad_model_files``
BROKEN_MODELS = [
    ("model-missing", "{c_missing}", "does not exist"),
    ("model-empty", _B % "empty", "not a readable seqlab model"),
    ("model-binary", _B % "binary", "not a readable seqlab model"),
    ("model-truncated", _B % "truncated", "not a readable seqlab model"),
    ("model-folder", "{c_folder}", "is a folder"),
    ("model-fifo", "{c_fifo}", "FIFO"),
    ("model-dev-zero", "{c_zero}", "is a device"),
    ("model-nested-header", _B % "nested_header", "nested"),
    ("model-nested-metadata", _B % "nested_meta", "nested"),
    ("model-nested-config", _B % "nested_config", "nested"),
    ("model-header-length-2^62", _B % "huge_claim", "header claims"),
    ("model-not-seqlab", _B % "no_meta", "not saved by seqlab"),
    ("model-metadata-list", _B % "meta_list", "without a config"),
    ("model-newer-format", _B % "newer", "newer than this seqlab"),
    ("model-other-job", _B % "other_job", _WRONG_KIND),
    ("model-checkpoint", _B % "checkpoint_kind", _WRONG_KIND),
    ("model-config-huge", _B % "huge_config", "describes a model of"),
    ("model-shape-mismatch", _B % "shape_mismatch", _MISMATCH),
    ("model-temp-file", _B % "temp", "temporary file of an unfinished write"),
]


def _put(path: str, args: list[str]) -> list[str]:
    return [path if a == "{path}" else a for a in args]


def unreadable_cases(prefix: str, args: list[str], skip: tuple[str, ...] = ()) -> list[Case]:
    """``args`` with each unreadable path in place of ``"{path}"``; names ``<prefix>-<name>``."""
    return [(f"{prefix}-{name}", _put(path, args), msg) for name, path, msg in UNREADABLE if name not in skip]


def bad_model_cases(prefix: str, args: list[str], wrong_kind: str, mismatch: str) -> list[Case]:
    """``args`` with each broken model in place of ``"{path}"``; names ``<prefix>-model-<name>``.

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


def broken_inputs(kit, folder: Path, model: Path, common_bad: dict[str, Path]) -> dict[str, Path]:
    """The placeholders every world has: ``bad_<kind>`` (broken copies of ``model``, written
    under ``folder``/models) and ``c_<kind>`` (the ``common_bad`` paths)."""
    files = {f"bad_{k}": v for k, v in kit.bad_model_files(folder / "models", model).items()}
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


def assert_refused(cli, kit, folder: Path, args: list, expected: str) -> None:
    """``seqlab *args`` exits 2 with one stderr line naming ``expected``, and every file under
    ``folder`` is as it was (none changed, none added, no temporary file left)."""
    before = kit.snapshot(folder)
    code, _, err = cli(*args)
    kit.one_line_error(code, err, expected)
    assert kit.snapshot(folder) == before
