"""Univariate forecasting with LSTM + Dropout, metrics=['mae'], on a generated seasonal series.

    python examples/lstm_dropout.py --epochs 50

A monthly-like series (trend + yearly season + noise), scaled to [0, 1]; from the last 12 values,
predict the next one. Early stopping keeps the best weights.
"""

from __future__ import annotations

import argparse

import numpy as np

from seqlab import Sequential
from seqlab.layers import LSTM, Dense, Dropout
from seqlab.train import EarlyStopping


def make_data(n: int = 400, T: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    s = 0.005 * t + np.sin(2 * np.pi * t / 12) + 0.1 * rng.standard_normal(n)
    s = (s - s.min()) / (s.max() - s.min())  # scale to [0, 1]
    x = np.stack([s[i:i + T] for i in range(n - T)])[:, :, None]  # (N, T, 1)
    y = s[T:, None]  # (N, 1)
    split = int(0.8 * len(x))
    return x[:split], y[:split], x[split:], y[split:]


def main(epochs: int = 50, n: int = 400, verbose: int = 1, seed: int = 0) -> dict:
    x_train, y_train, x_test, y_test = make_data(n, seed=seed)
    T, F = x_train.shape[1], x_train.shape[2]
    model = Sequential([LSTM(50, input_shape=(T, F)), Dropout(0.2), Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_split=0.1, verbose=verbose,
                        seed=seed, callbacks=[EarlyStopping(patience=10, restore_best_weights=True)])
    loss, mae = model.evaluate(x_test, y_test)
    if verbose:
        print(f"test mse {loss:.4f}, mae {mae:.4f}")
    return {"history": history.history, "loss": loss, "mae": mae, "predictions": model.predict(x_test),
            "y_test": y_test}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=50)
    main(**vars(ap.parse_args()))
