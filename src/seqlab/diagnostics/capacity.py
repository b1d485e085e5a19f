"""Choose the hidden size by experiment, and see overfitting: ``seqlab explain capacity``.

One small job, trained again and again with only the capacity settings changed: predict the next
value of a noisy sine wave from a window of ``length`` values (each sample its own frequency and
phase; Gaussian noise of standard deviation ``noise`` on inputs and target). The target's noise
cannot be predicted, so ``noise ** 2`` is a lower bound on the mean squared error on new data (the
noise on the inputs puts the best reachable one higher still): a training loss below it is
memorised noise, and the validation loss above the training loss is the price. The training set is small on purpose (``train_samples``), the validation set large.

Each setting is a Keras-style model ``GRU(hidden, dropout=..., kernel_regularizer=l2(...),
recurrent_regularizer=l2(...)) -> Dense(1)`` trained by ``Sequential.fit`` (the one training loop)
with Adam. After every epoch the model is evaluated on the training and the validation set in
evaluation mode (no dropout, no penalty), so the two curves are comparable. A grid runs every
combination of the given hidden sizes, dropout rates and L2 factors; with ``search='optuna'`` and
Optuna installed, its TPE sampler chooses ``trials`` settings within the same ranges instead.

A setting whose training diverges (a NaN or infinite loss or weights, say from a huge L2 factor
or learning rate) is stopped by the loop, which puts back its last finite weights (the initial
ones when the first epoch diverged): its curves end at that epoch, whose point measures the
weights put back, ``stopped`` says why, the best validation MSE counts only the epochs before,
and the table marks its row.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import SeqlabError, check_float, check_int


@dataclass
class CapacityConfig:
    """The job and the settings to compare (defaults: a run of well under a minute on 2 cores)."""

    hidden: tuple[int, ...] = (4, 16, 64)
    dropout: tuple[float, ...] = (0.0,)
    l2: tuple[float, ...] = (0.0,)
    epochs: int = 80
    batch_size: int = 32
    lr: float = 1e-2
    length: int = 20
    train_samples: int = 200
    val_samples: int = 1000
    noise: float = 0.3
    search: str = "grid"
    trials: int = 8
    seed: int = 0

    def validate(self) -> "CapacityConfig":
        if not self.hidden or not self.dropout or not self.l2:
            raise SeqlabError("hidden, dropout, l2: each needs at least one value")
        for h in self.hidden:
            check_int("hidden", h, 1)
        for d in self.dropout:
            check_float("dropout", d, 0, 1, high_open=True)
        for v in self.l2:
            check_float("l2", v, 0, meaning="an L2 factor")
        for name in ("epochs", "batch_size", "length", "train_samples", "val_samples", "trials"):
            check_int(name, getattr(self, name), 2 if name == "length" else 1)
        check_float("lr", self.lr, 0, low_open=True)
        check_float("noise", self.noise, 0)
        if self.search not in ("grid", "optuna"):
            raise SeqlabError(f"search: expected 'grid' or 'optuna', got {self.search!r}")
        check_int("seed", self.seed, 0)
        return self


@dataclass
class CapacityResult:
    """One setting: its per-epoch training and validation MSE (evaluation mode) and size."""

    hidden: int
    dropout: float
    l2: float
    params: int
    train: list[float] = field(default_factory=list)  # one per epoch that ran, at its end
    val: list[float] = field(default_factory=list)
    seconds: float = 0.0
    stopped: str = ""  # why training stopped early, the loop's words ("" when it did not): it diverged

    @property
    def epochs(self) -> int:
        """Epochs that ran (fewer than asked when it diverged; the last is then the one that did)."""
        return len(self.val)

    @property
    def finite_epochs(self) -> int:
        """Epochs that ran and ended with their own, finite weights (all but a diverged last one,
        whose point measures the weights put back)."""
        return self.epochs - 1 if self.stopped and self.val else self.epochs

    @property
    def best_epoch(self) -> int:
        """Index of the lowest validation MSE over :attr:`finite_epochs` (-1 when there are none)."""
        n = self.finite_epochs
        return int(np.argmin(self.val[:n])) if n else -1

    @property
    def best_val(self) -> float:
        """The lowest validation MSE over :attr:`finite_epochs` (inf when there are none)."""
        n = self.finite_epochs
        return min(self.val[:n]) if n else float("inf")

    @property
    def label(self) -> str:
        return f"hidden {self.hidden}" + (f", dropout {self.dropout:.2g}" if self.dropout else "") + \
            (f", l2 {self.l2:.2g}" if self.l2 else "")


def noisy_sine(n: int, length: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` windows (n, length, 1) of noisy sine waves and their next noisy value (n, 1), float32.

    Frequency uniform on [0.02, 0.12] cycles per step, phase uniform, amplitude 1."""
    freq = rng.uniform(0.02, 0.12, (n, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    t = np.arange(length + 1)[None, :]  # (1, T+1)
    clean = np.sin(2 * np.pi * freq * t + phase)  # (n, T+1)
    noisy = clean + noise * rng.standard_normal(clean.shape)
    return noisy[:, :length, None].astype(np.float32), noisy[:, length:].astype(np.float32)


def _train_one(cfg: CapacityConfig, hidden: int, dropout: float, l2: float, data) -> CapacityResult:
    import torch

    from ..layers import GRU, Dense
    from ..model import Sequential
    from ..regularizers import L2
    from ..train.callbacks import Callback

    x_tr, y_tr, x_va, y_va = data
    reg = L2(l2) if l2 else None
    torch.manual_seed(cfg.seed)
    model = Sequential([GRU(hidden, dropout=dropout, kernel_regularizer=reg, recurrent_regularizer=reg,
                            input_shape=(cfg.length, 1)), Dense(1)])
    model.compile(loss="mse", optimizer="adam", lr=cfg.lr)
    res = CapacityResult(hidden, dropout, l2, model.count_params())

    class Curves(Callback):
        def on_epoch_end(self, epoch, logs=None):
            res.train.append(float(model.evaluate(x_tr, y_tr, batch_size=1024)))
            res.val.append(float(model.evaluate(x_va, y_va, batch_size=1024)))

    t0 = time.perf_counter()
    history = model.fit(x_tr, y_tr, batch_size=cfg.batch_size, epochs=cfg.epochs, verbose=0, callbacks=[Curves()],
                        seed=cfg.seed, threads=None, device="cpu")
    res.seconds = time.perf_counter() - t0
    # only a non-finite loss or weights stop this loop (no time or step limit, no monitor); the
    # epoch that diverged had its weights replaced by the last finite ones before Curves measured
    res.stopped = history.stopped
    return res


def _data(cfg: CapacityConfig):
    rng = np.random.default_rng(cfg.seed)
    x_tr, y_tr = noisy_sine(cfg.train_samples, cfg.length, cfg.noise, rng)
    x_va, y_va = noisy_sine(cfg.val_samples, cfg.length, cfg.noise, rng)
    return x_tr, y_tr, x_va, y_va


def optuna_available() -> bool:
    try:
        import optuna  # noqa: F401
    except ImportError:
        return False
    return True


def capacity_experiment(cfg: CapacityConfig, log=None) -> tuple[list[CapacityResult], str]:
    """Train every setting of the grid (or ``cfg.trials`` Optuna trials); returns the results and
    the search actually run ('grid', or 'optuna'). ``log(result)`` is called after each setting."""
    cfg = cfg.validate()
    data = _data(cfg)
    results: list[CapacityResult] = []

    def run(h: int, d: float, l2: float) -> CapacityResult:
        r = _train_one(cfg, h, d, l2, data)
        results.append(r)
        if log is not None:
            log(r)
        return r

    if cfg.search == "optuna" and optuna_available():
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        lo_h, hi_h = min(cfg.hidden), max(cfg.hidden)
        lo_d, hi_d = min(cfg.dropout), max(cfg.dropout)
        l2_pos = [v for v in cfg.l2 if v > 0]

        def objective(trial) -> float:
            h = trial.suggest_int("hidden", lo_h, hi_h, log=True) if hi_h > lo_h else lo_h
            d = trial.suggest_float("dropout", lo_d, hi_d) if hi_d > lo_d else lo_d
            l2 = 0.0
            if l2_pos:
                lo_l2 = min(l2_pos) if len(l2_pos) > 1 or 0.0 not in cfg.l2 else max(l2_pos) * 1e-3
                use = trial.suggest_categorical("use_l2", [False, True]) if 0.0 in cfg.l2 else True
                if use:
                    l2 = trial.suggest_float("l2", lo_l2, max(l2_pos), log=True) if max(l2_pos) > lo_l2 else lo_l2
            return run(h, d, l2).best_val  # inf for a setting that diverged in its first epoch

        study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=cfg.seed))
        study.optimize(objective, n_trials=cfg.trials)
        return results, "optuna"
    for h, d, l2 in itertools.product(cfg.hidden, cfg.dropout, cfg.l2):
        run(h, d, l2)
    return results, "grid"


def capacity_table(cfg: CapacityConfig, results: list[CapacityResult], search: str) -> str:
    """Training and validation MSE side by side, at the last epoch and at the best validation epoch.

    A setting that diverged ends its row with ``diverged in epoch N``: its last figures are those
    of the weights put back, its best over the epochs before (``-`` when N is 1); a note line
    under the table says so. Numbers too wide for their column are written as ``2.4e+28``."""
    from .report import fit_number

    floor = cfg.noise ** 2
    lines = [f"{'hidden':>6s} {'dropout':>7s} {'l2':>7s} {'params':>7s} {'train MSE':>10s} {'val MSE':>8s} "
             f"{'val/train':>9s} {'best val':>9s} {'at epoch':>8s} {'seconds':>7s}"]
    for r in results:
        ratio = r.val[-1] / r.train[-1] if r.train[-1] else float("inf")
        best = (f"{fit_number(r.best_val, 9)} {r.best_epoch + 1:8d}" if r.best_epoch >= 0
                else f"{'-':>9s} {'-':>8s}")
        mark = f"  diverged in epoch {r.epochs}" if r.stopped else ""
        lines.append(f"{r.hidden:6d} {r.dropout:7.2g} {r.l2:7.2g} {r.params:7d} {fit_number(r.train[-1], 10)} "
                     f"{fit_number(r.val[-1], 8)} {fit_number(ratio, 9, 2)} {best} {r.seconds:7.1f}{mark}")
    lines.append(f"noise floor (the target's noise variance, a lower bound on new data): {floor:.4f}; "
                 "a train MSE below it is memorised noise")
    stopped = [r for r in results if r.stopped]
    if stopped:
        lines.append(f"diverged: {len(stopped)} of {len(results)} settings (training loss or weights not finite): "
                     "training stopped in that epoch and put back the last finite weights (the initial ones if it "
                     "was epoch 1); train and val MSE measure those weights, best val the epochs before ('-': "
                     "none). A lower learning rate or L2 factor may train them")
    ranked = [r for r in results if r.best_epoch >= 0]
    if ranked:
        best = min(ranked, key=lambda r: r.best_val)
        lines.append(f"lowest validation MSE: {best.label} ({fit_number(best.best_val, 10).strip()} at epoch "
                     f"{best.best_epoch + 1})")
    else:
        lines.append("lowest validation MSE: none, every setting diverged in its first epoch")
    return "\n".join(lines)


def plot_curves(cfg: CapacityConfig, results: list[CapacityResult], path: str) -> None:
    """Learning curves: training (dashed) and validation (solid) MSE per epoch, one colour per setting."""
    from ..plotting import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for k, r in enumerate(results):
        color = f"C{k % 10}"
        epochs = np.arange(1, r.epochs + 1)  # the epochs that ran: fewer than cfg.epochs when it diverged
        label = r.label + (f" (diverged in epoch {r.epochs})" if r.stopped else "")
        ax.plot(epochs, r.val, color=color, lw=1.2, label=f"{label}: validation")
        ax.plot(epochs, r.train, color=color, lw=1.0, ls="--", label=f"{label}: training")
        if r.stopped:  # the diverged epoch's point: the weights put back
            ax.plot(epochs[-1:], r.val[-1:], color=color, marker="x", ms=7, ls="none")
    ax.axhline(cfg.noise ** 2, color="k", lw=0.8, ls=":", label="noise floor")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE (evaluation mode)")
    ax.set_title(f"noisy sine, {cfg.train_samples} training windows: capacity against overfitting")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    save_figure(fig, path)

