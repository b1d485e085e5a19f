"""One process of the 2-process translate test: forked by test_distributed.py with torchrun's
environment variables; it runs the ``seqlab translate train`` workflow with stdout in a file."""

import os
import sys

import numpy as np
import torch

from seqlab.seq2seq import run as s2s_run


def train(data: str, batch_size: int, save: str):
    return s2s_run.train(data=data, save=save, hidden=8, embed=4, epochs=2, minutes=0, batch_size=batch_size,
                         lr=0.01, threads=1, device="cpu", seed=0)


def flat(model) -> np.ndarray:
    return torch.cat([p.detach().flatten() for p in model.parameters()]).numpy()


def child(out: str, data: str, rank: int, port: int) -> None:
    """Entry point of a forked child: torchrun's variables, stdout to a file, then train at batch 4."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2",
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), GLOO_SOCKET_IFNAME="lo")
    with open(os.path.join(out, f"stdout-{rank}.txt"), "w") as fh:
        os.dup2(fh.fileno(), 1)
        sys.stdout = os.fdopen(1, "w", closefd=False)
        try:
            done = train(data, 4, os.path.join(out, "ddp.safetensors"))
            np.save(os.path.join(out, f"weights-{rank}.npy"), flat(done.translator.model))  # the test's own record
            h = done.history
            np.save(os.path.join(out, f"history-{rank}.npy"), np.array([h["loss"], h["val_accuracy"]]))
        finally:
            sys.stdout.flush()
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
