"""One process of the 2-process test: forked by test_distributed.py (tests/ddp_helpers.py sets
torchrun's variables), or run by torchrun itself."""

import os
import sys

import numpy as np
import torch

from seqlab import Sequential  # noqa: E402
from seqlab.layers import LSTM, Dense  # noqa: E402
from seqlab.train import ModelCheckpoint  # noqa: E402


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 5, 2)).astype(np.float32)
    y = (x[:, :, 0].mean(1, keepdims=True) - x[:, -1, 1:]).astype(np.float32)
    return x, y


def model():
    torch.manual_seed(0)
    m = Sequential([LSTM(8, input_shape=(5, 2)), Dense(1)])
    m.compile(loss="mse", optimizer="sgd", lr=0.1, momentum=0.9, metrics=["mae"])
    return m


def train(out: str) -> None:
    x, y = data()
    m = model()
    rank = int(os.environ["RANK"])
    if rank == 1:
        with torch.no_grad():  # DDP must broadcast rank 0's initial weights
            for p in m.parameters():
                p.add_(0.5)
    h = m.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=2, device="cpu",
              validation_data=(x[:20], y[:20]),
              callbacks=[ModelCheckpoint(os.path.join(out, "ck-{epoch}.safetensors"), monitor="loss")])
    m.save(os.path.join(out, "final.safetensors"))
    np.save(os.path.join(out, f"weights-{rank}.npy"),
            torch.cat([p.detach().flatten() for p in m.parameters()]).numpy())
    np.save(os.path.join(out, f"history-{rank}.npy"), np.array([h.history["loss"], h.history["val_loss"]]))


if __name__ == "__main__":  # under torchrun: torchrun --nproc_per_node 2 tests/api/ddp_worker.py OUT
    train(sys.argv[1])
