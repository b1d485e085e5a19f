"""One process of the 2-process ``seqlab forecast`` test: forked by test_distributed.py with
torchrun's environment variables, it runs the command as ``torchrun ... seqlab forecast`` would."""

import os
import sys


def run(out: str, rank: int, port: int, argv: list[str]) -> None:
    """Entry point of a forked child: torchrun's variables, stdout to a file, then the command;
    the child's exit code is the command's."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2",
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), GLOO_SOCKET_IFNAME="lo")
    with open(os.path.join(out, f"stdout-{rank}.txt"), "w") as fh:
        os.dup2(fh.fileno(), 1)
        sys.stdout = os.fdopen(1, "w", closefd=False)
        try:
            from seqlab.cli import main

            code = main(argv)
        finally:
            sys.stdout.flush()
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
    sys.exit(code)
