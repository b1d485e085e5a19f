"""Multi-output forecasting with a GRU: the Keras-style workflow, on generated sine waves.

    python examples/forecast_gru.py --epochs 100

Three noisy sine waves of different periods; from 24 past steps of all three, predict the next
value of each (y has 3 columns, so the last layer is Dense(y_train.shape[1])).
"""

from __future__ import annotations

import argparse

import numpy as np

from seqlab import Sequential
from seqlab.layers import GRU, Dense


def make_data(n_steps: int = 1200, window: int = 24, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps)
    series = np.stack([np.sin(2 * np.pi * t / p) for p in (20, 37, 53)], 1)  # (n_steps, 3)
    series += 0.05 * rng.standard_normal(series.shape)
    x = np.stack([series[i:i + window] for i in range(n_steps - window)])  # (N, window, 3)
    y = series[window:]  # (N, 3): the next step
    split = int(0.8 * len(x))
    return x[:split], y[:split], x[split:], y[split:]


def main(epochs: int = 100, units: int = 128, n_steps: int = 1200, verbose: int = 1, seed: int = 0) -> dict:
    x_train, y_train, x_test, y_test = make_data(n_steps, seed=seed)
    model = Sequential()
    model.add(GRU(units, input_shape=(x_train.shape[1], x_train.shape[2])))
    model.add(Dense(y_train.shape[1]))
    model.compile(loss="mse", optimizer="adam")
    if verbose:
        model.summary()
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_data=(x_test, y_test),
                        verbose=verbose, seed=seed)
    predictions = model.predict(x_test)
    test_loss = model.evaluate(x_test, y_test)
    naive = float(np.mean((x_test[:, -1] - y_test) ** 2))  # repeat the last value
    if verbose:
        print(f"test mse {test_loss:.4f} (repeat-last-value baseline {naive:.4f}); predictions {predictions.shape}")
    return {"history": history.history, "predictions": predictions, "test_loss": test_loss, "naive": naive,
            "y_test": y_test}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--units", type=int, default=128)
    main(**vars(ap.parse_args()))
