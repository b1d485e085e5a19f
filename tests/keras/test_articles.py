"""Keras programs as the articles print them, run on seqlab with only their imports changed.

Each program below is Keras code; the test changes ``from keras.`` (or ``from tensorflow.keras.``)
into ``from seqlab.keras.`` and nothing else, runs it, and checks what it computed.
"""

import textwrap

import numpy as np
import pytest
import torch

GRU_REGRESSOR = '''
import numpy as np
from keras.models import Sequential
from keras.layers import GRU, Dense
from keras.optimizers import Adam

t = np.arange(0, 60, 0.1)
series = np.sin(t)

def create_dataset(data, time_steps=10):
    X, y = [], []
    for i in range(len(data) - time_steps):
        X.append(data[i:i + time_steps])
        y.append(data[i + time_steps])
    return np.array(X), np.array(y)

X, y = create_dataset(series, 10)
X = X.reshape((X.shape[0], X.shape[1], 1))

model = Sequential()
model.add(GRU(32, activation='tanh', input_shape=(10, 1)))
model.add(Dense(1))
model.compile(optimizer=Adam(learning_rate=0.01), loss='mse')
history = model.fit(X, y, epochs=8, batch_size=32, verbose=0)
predictions = model.predict(X[-20:])
'''

LSTM_DROPOUT = '''
import numpy as np
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import LSTM, Dense, Dropout
from tensorflow.keras.callbacks import EarlyStopping

np.random.seed(0)
prices = np.cumsum(np.random.randn(400)) + 50
prices = (prices - prices.min()) / (prices.max() - prices.min())
window = 20
X_train = np.array([prices[i:i + window] for i in range(len(prices) - window)])
y_train = prices[window:]
X_train = np.reshape(X_train, (X_train.shape[0], X_train.shape[1], 1))

model = Sequential()
model.add(LSTM(units=32, return_sequences=True, input_shape=(X_train.shape[1], 1)))
model.add(Dropout(0.2))
model.add(LSTM(units=32))
model.add(Dropout(0.2))
model.add(Dense(units=1))
model.compile(optimizer='adam', loss='mean_squared_error')
early_stop = EarlyStopping(monitor='val_loss', patience=5, restore_best_weights=True)
history = model.fit(X_train, y_train, epochs=6, batch_size=32, validation_split=0.1, callbacks=[early_stop], verbose=0)
'''

SIMPLERNN_CLASSIFIER = '''
import numpy as np
from keras.models import Sequential
from keras.layers import SimpleRNN, Dense
from keras.utils import to_categorical

rng = np.random.default_rng(0)
n, timesteps, features = 600, 12, 3
labels = rng.integers(0, 3, n)
X = rng.normal(size=(n, timesteps, features)).astype('float32')
X[np.arange(n), :, labels] += 1.0          # the class shows as a raised channel
y = to_categorical(labels, num_classes=3)

model = Sequential([
    SimpleRNN(32, input_shape=(timesteps, features)),
    Dense(3, activation='softmax'),
])
model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
model.fit(X[:500], y[:500], epochs=4, batch_size=32, verbose=0)
loss, accuracy = model.evaluate(X[500:], y[500:], verbose=0)
probabilities = model.predict(X[500:], verbose=0)
'''


def _run_on_seqlab(source: str) -> dict:
    """Run Keras code with its imports pointed at seqlab.keras: the one line changed per import."""
    lines = []
    for line in textwrap.dedent(source).splitlines():
        for prefix in ("from tensorflow.keras.", "from keras."):
            if line.startswith(prefix):
                line = "from seqlab.keras." + line[len(prefix):]
        lines.append(line)
    changed = [a for a, b in zip(source.splitlines(), lines) if a != b]
    assert changed and all(a.startswith("from ") and " import " in a for a in changed)
    env: dict = {}
    torch.manual_seed(0)
    exec(compile("\n".join(lines), "<keras program>", "exec"), env)
    return env


def test_gru_regressor_runs_and_learns_the_sine():
    env = _run_on_seqlab(GRU_REGRESSOR)
    loss = env["history"].history["loss"]
    assert len(loss) == 8 and loss[-1] < 0.2 * loss[0]
    pred, y = env["predictions"], env["y"][-20:]
    assert pred.shape == (20, 1)
    assert float(np.mean((pred[:, 0] - y) ** 2)) < 0.1 * float(np.var(env["series"]))  # far better than the mean
    assert env["model"].optimizer.param_groups[0]["lr"] == 0.01


def test_lstm_with_dropout_runs_with_validation_and_early_stopping():
    env = _run_on_seqlab(LSTM_DROPOUT)
    h = env["history"].history
    assert set(h) >= {"loss", "val_loss"} and len(h["loss"]) <= 6
    assert h["loss"][-1] < h["loss"][0]
    assert env["model"].count_params() == 4 * 32 * (1 + 32 + 2) + 4 * 32 * (32 + 32 + 2) + 33


def test_simplernn_softmax_classifier_with_one_hot_labels():
    env = _run_on_seqlab(SIMPLERNN_CLASSIFIER)
    probs, y = env["probabilities"], env["y"][500:]
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    acc = float((probs.argmax(1) == y.argmax(1)).mean())
    assert acc == pytest.approx(env["accuracy"]) and acc > 0.8  # chance is 1/3
    assert env["y"].shape == (600, 3) and env["y"].dtype == np.float32
