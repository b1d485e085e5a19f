"""Shared test set-up: headless plotting, no progress bars, seeded torch on one thread."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("SEQLAB_NO_PROGRESS", "1")
# Test tensors are tiny: one intra-op thread avoids OpenMP start-up and barrier costs that make
# small ops many times slower on a 2-core machine (and far worse when the cores are shared).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    """Every test starts from seed 0 on one intra-op thread, whatever the test before it set."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    yield


# -- the bad-input kit (issue #18): every tests/<job>/test_bad_input.py uses these --------------
import contextlib  # noqa: E402
import json  # noqa: E402
import signal  # noqa: E402
import struct  # noqa: E402
from pathlib import Path  # noqa: E402


@contextlib.contextmanager
def _no_hang(seconds: int):
    """Fail instead of hanging (a FIFO opened for reading blocks until a writer comes)."""
    def expired(signum, frame):
        raise TimeoutError(f"the command did not finish within {seconds} s (blocked on a FIFO?)")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def cli(capsys):
    """``cli(*args)`` runs ``seqlab.cli.main`` in this process: ``(exit code, stdout, stderr)``."""
    from seqlab.cli import main

    def run(*args, timeout: int = 60):
        capsys.readouterr()
        with _no_hang(timeout):
            code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err
    return run


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


@pytest.fixture(scope="session")
def common_bad(tmp_path_factory) -> dict[str, Path]:
    """Paths that are not readable files: missing, a folder, a FIFO, /dev/zero, empty, binary."""
    d = tmp_path_factory.mktemp("common_bad")
    (d / "folder").mkdir()
    os.mkfifo(d / "fifo")
    (d / "empty.csv").write_bytes(b"")
    (d / "binary.csv").write_bytes(bytes(range(256)) * 64)
    (d / "a_file").write_text("x")
    return {"missing": d / "missing.csv", "folder": d / "folder", "fifo": d / "fifo", "zero": Path("/dev/zero"),
            "empty": d / "empty.csv", "binary": d / "binary.csv", "under_file": d / "a_file" / "x.csv"}


class _Kit:
    snapshot = staticmethod(snapshot)
    one_line_error = staticmethod(assert_one_line_error)
    bad_model_files = staticmethod(write_bad_model_files)


@pytest.fixture(scope="session")
def kit():
    """The bad-input helpers as one object (test modules cannot import conftest)."""
    return _Kit
