"""Sequence classification with SimpleRNN + softmax, categorical cross-entropy and accuracy.

    python examples/classify_simplernn.py --epochs 30

Ten classes of symbol streams: each step is a one-hot symbol among 10 (plus noise); in a class-k
sequence symbol k comes up 35 % of the time, the others uniformly. The network must count which
symbol dominates. Labels are one-hot; the loss works from the logits of the softmax layer.
"""

from __future__ import annotations

import argparse

import numpy as np

from seqlab import Sequential
from seqlab.layers import Dense, SimpleRNN


def make_data(n: int = 2000, T: int = 20, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    symbols = np.where(rng.random((n, T)) < 0.35, labels[:, None], rng.integers(0, 10, (n, T)))  # (n, T)
    x = np.eye(10, dtype=np.float32)[symbols] + 0.1 * rng.standard_normal((n, T, 10)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[labels]  # one-hot (n, 10)
    split = int(0.8 * n)
    return x[:split], y[:split], x[split:], y[split:]


def main(epochs: int = 30, n: int = 2000, verbose: int = 1, seed: int = 0) -> dict:
    x_train, y_train, x_test, y_test = make_data(n, seed=seed)
    model = Sequential([SimpleRNN(64), Dense(10, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_data=(x_test, y_test),
                        verbose=verbose, seed=seed)
    loss, acc = model.evaluate(x_test, y_test)
    probs = model.predict(x_test)
    if verbose:
        model.summary()
        print(f"test accuracy {acc:.3f} (chance 0.1), loss {loss:.4f}")
    return {"history": history.history, "loss": loss, "accuracy": acc, "probs": probs, "y_test": y_test}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    main(**vars(ap.parse_args()))
