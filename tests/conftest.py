"""Shared test set-up: headless plotting, no progress bars, seeded torch on one thread."""

import os
import sys

# ``from tests.cli_helpers import ...`` needs the repository's root on the path: an installed
# package may own a namespace package called ``tests`` too (statsforecast's dependencies ship a
# site-packages/tests), and a namespace package's path follows sys.path, so this makes ours part
# of it whichever test file imports first.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

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


# -- the bad-input fixtures (issue #18): every tests/<job>/test_bad_input.py uses these; the plain
# helpers (case tables, broken model files, the refusal check) are in tests/cli_helpers.py, which
# test modules import as ``from tests.cli_helpers import ...`` (--import-mode=importlib) ----------
import contextlib  # noqa: E402
import signal  # noqa: E402
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
