"""One process of the 2-process text test: forked by test_distributed.py with torchrun's
environment variables; it runs the ``seqlab generate train`` workflow with stdout in a file."""

import os
import sys

import numpy as np
import torch

from seqlab.text import run as text_run


def train(out: str, text: str, batch_size: int, save: str | None):
    model, _, hist = text_run.train(text=text, hidden=8, layers=2, epochs=2, minutes=0, batch_size=batch_size,
                                    seq_len=16, sample_length=5, threads=1, device="cpu", seed=0, save=save)
    return model, hist


def child(out: str, text: str, rank: int, port: int) -> None:
    """Entry point of a forked child: torchrun's variables, stdout to a file, then train at batch 2."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2",
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), GLOO_SOCKET_IFNAME="lo")
    with open(os.path.join(out, f"stdout-{rank}.txt"), "w") as fh:
        os.dup2(fh.fileno(), 1)
        sys.stdout = os.fdopen(1, "w", closefd=False)
        try:
            model, hist = train(out, text, 2, os.path.join(out, "ddp.safetensors"))
            weights = torch.cat([p.detach().flatten() for p in model.parameters()]).numpy()
            np.save(os.path.join(out, f"weights-{rank}.npy"), weights)  # the test's own record
            np.save(os.path.join(out, f"history-{rank}.npy"), np.array([hist["loss"], hist["val_loss"]]))
        finally:
            sys.stdout.flush()
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
