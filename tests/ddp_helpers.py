"""The two-process harness of every tests/<job>/test_distributed.py and of
tests/train/test_loop_distributed.py: two CPU processes with torchrun's environment variables
(gloo on 127.0.0.1), forked from the test process so that they start at once with torch already
imported. Each test_distributed.py runs one process at the global batch first (the children then
inherit torch's lazily imported machinery) and compares. A rank that hangs (waiting in a
collective the other never joins) fails the test after ``timeout`` seconds.

Import as ``from tests.ddp_helpers import run_two_processes`` (pytest's importlib mode makes
``tests`` a package).
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _child(folder: str, rank: int, port: int, work: Callable[[int], int | None]) -> None:
    """A forked child: torchrun's variables, stdout to ``folder``/stdout-<rank>.txt, then ``work``."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2",
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), GLOO_SOCKET_IFNAME="lo")
    with open(os.path.join(folder, f"stdout-{rank}.txt"), "w") as fh:
        os.dup2(fh.fileno(), 1)
        sys.stdout = os.fdopen(1, "w", closefd=False)
        try:
            code = work(rank)
        finally:
            sys.stdout.flush()
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
    sys.exit(code or 0)


def run_two_processes(folder: Path | str, work: Callable[[int], int | None], timeout: float = 120) -> list[str]:
    """Fork ranks 0 and 1, each running ``work(rank)`` (a number it returns is the exit code) with
    its stdout in ``folder``/stdout-<rank>.txt; assert both exit 0 and return their two stdouts."""
    port = _free_port()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_child, args=(str(folder), rank, port, work)) for rank in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=timeout)
    codes = [p.exitcode for p in procs]
    for p in procs:
        if p.is_alive():
            p.kill()
    assert codes == [0, 0], f"exit codes {codes} (None: still running after {timeout} s)"
    return [(Path(folder) / f"stdout-{rank}.txt").read_text() for rank in range(2)]
