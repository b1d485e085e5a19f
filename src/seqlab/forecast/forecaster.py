"""The user-facing estimator: ``Forecaster(config).fit(data).predict()``, save and load.

A forecaster holds a small ensemble of :class:`ForecastNet` (one per seed), one
:class:`TargetTransform` per series (log, difference, scaler; fitted on the data given to ``fit``),
one covariate scaler per series, and the tail of each training series so that ``predict()``
needs no data. ``predict(new_history)`` forecasts from new history without refitting anything.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from ..errors import SeqlabError, check_positive_int
from ..train import TrainConfig
from ..utils import seed_everything, thread_policy
from .checkpoints import RunCheckpoint, fingerprint, training_settings
from .data import SeriesData, check_lengths, infer_freq, prepare
from .model import CELLS, STRATEGIES, ForecastNet, NetConfig, rollout
from .scalers import SCALERS, Scaler, TargetTransform
from .task import fit_net, training
from .windows import make_windows, split_train_val

KIND = "forecaster"
TRANSFORMS = ("auto", "log", "none")
DIFFS = ("auto", "none", "first", "seasonal")
TRAIN_FIELDS = tuple(f.name for f in fields(TrainConfig))
# training settings that files written before the one training engine kept in "forecast"
_OLD_TRAIN = {"epochs": "epochs", "lr": "lr", "patience": "patience", "clip": "clipnorm", "seed": "seed"}
_SEASONS = {"MS": 12, "M": 12, "ME": 12, "QS": 4, "Q": 4, "QE": 4, "W": 52, "D": 7, "B": 5, "h": 24, "H": 24}


@dataclass
class ForecastConfig:
    """The model and data settings of a forecaster. ``None`` means 'choose from the data' (see
    ``resolve``). How its networks train (epochs, lr, early stopping, seed, threads) is a
    :class:`seqlab.train.TrainConfig`: see :func:`seqlab.forecast.task.training`."""

    horizon: int = 12
    lookback: int | None = None  # default: one season, or 2 horizons when not seasonal
    season: int | None = None  # default: from the time index frequency (monthly 12, ...), else 1
    cell: str = "lstm"
    hidden: int = 16
    layers: int = 1
    dropout: float = 0.0
    strategy: str = "direct"
    quantiles: list[float] = field(default_factory=lambda: [0.1, 0.5, 0.9])
    transform: str = "auto"  # 'log' when every value is positive
    diff: str = "auto"  # 'seasonal' when season > 1, else 'first'
    scaler: str = "standard"
    batch_size: int = 32  # training windows per batch (per process under torchrun)
    val_steps: int | None = None  # steps at the end of the training part for early stopping; default horizon
    ensemble: int = 3  # networks, seeded seed, seed + 1, ...; their quantiles are averaged

    def validate(self) -> None:
        def pos_int(name: str, v: Any, allow_none: bool = False) -> None:
            if allow_none and v is None:
                return
            check_positive_int(name, v)

        for name in ("horizon", "hidden", "layers", "batch_size", "ensemble"):
            pos_int(name, getattr(self, name))
        pos_int("lookback", self.lookback, True)
        pos_int("season", self.season, True)
        if self.val_steps is not None and (not isinstance(self.val_steps, int) or self.val_steps < 0):
            raise SeqlabError(f"val_steps: expected an integer >= 0, got {self.val_steps!r}")
        for name, v, allowed in [("cell", self.cell, tuple(CELLS)), ("strategy", self.strategy, STRATEGIES),
                                 ("transform", self.transform, TRANSFORMS), ("diff", self.diff, DIFFS),
                                 ("scaler", self.scaler, SCALERS)]:
            if v not in allowed:
                raise SeqlabError(f"{name}: expected one of {', '.join(allowed)}, got {v!r}")
        q = list(self.quantiles)
        if not q or any(not isinstance(x, (int, float)) or not 0 < x < 1 for x in q) or len(set(q)) != len(q):
            raise SeqlabError(f"quantiles: expected distinct numbers strictly between 0 and 1, got {q!r}")
        if not 0 <= self.dropout < 1:
            raise SeqlabError(f"dropout: expected a number in [0, 1), got {self.dropout!r}")


def infer_season(series: Sequence[SeriesData]) -> int:
    """Season length from the first series' time frequency (monthly 12, quarterly 4, daily 7,
    hourly 24, weekly 52), else 1."""
    t = series[0].time
    if isinstance(t, pd.DatetimeIndex):
        freq = infer_freq(t)
        if freq:
            base = freq.split("-")[0].lstrip("0123456789")
            return _SEASONS.get(base, 1)
    return 1


class Forecaster:
    """Recurrent-network forecaster with quantile outputs (see the module docstring).

    ``config`` holds the model and data settings, ``train`` how each network trains (default
    :func:`seqlab.forecast.task.training`); ``overrides`` may name fields of either, e.g.
    ``Forecaster(horizon=6, epochs=50, seed=1)``."""

    def __init__(self, config: ForecastConfig | None = None, train: TrainConfig | None = None,
                 **overrides: Any) -> None:
        cfg = config or ForecastConfig()
        names = {f.name for f in fields(ForecastConfig)}
        unknown = set(overrides) - names - set(TRAIN_FIELDS)
        if unknown:
            raise SeqlabError(f"Forecaster: unknown setting(s) {sorted(unknown)}; known: {sorted(names)} and the "
                              "fields of seqlab.train.TrainConfig")
        if train is not None and not isinstance(train, TrainConfig):
            raise SeqlabError(f"train: expected a seqlab.train.TrainConfig, got {type(train).__name__}")
        ours = {k: v for k, v in overrides.items() if k in names}
        theirs = {k: v for k, v in overrides.items() if k not in names}
        self.train_config = replace(train, **theirs) if train is not None else training(**theirs)
        self.config = ForecastConfig(**{**asdict(cfg), **ours})
        self.config.quantiles = sorted(float(x) for x in self.config.quantiles)
        if 0.5 not in self.config.quantiles:
            self.config.quantiles = sorted(self.config.quantiles + [0.5])
        self.config.validate()
        self.nets: list[ForecastNet] = []
        self.transforms: dict[str, TargetTransform] = {}
        self.cov_scalers: dict[str, Scaler] = {}
        self.tails: dict[str, SeriesData] = {}
        self.history: list[dict] = []

    # -- settings resolved from data ---------------------------------------------------------
    @property
    def mid(self) -> int:
        """Column of the median (the point forecast) among the quantiles."""
        return self.config.quantiles.index(0.5)

    def resolve(self, series: Sequence[SeriesData]) -> ForecastConfig:
        """The config with every ``None``/'auto' setting replaced by its value for ``series``."""
        c = ForecastConfig(**asdict(self.config))
        if c.season is None:
            c.season = infer_season(series)
        if c.lookback is None:
            c.lookback = c.season if c.season > 1 else max(2 * c.horizon, 8)
        if c.transform == "auto":
            c.transform = "log" if all(np.all(s.target > 0) for s in series) else "none"
        if c.diff == "auto":
            c.diff = "seasonal" if c.season > 1 else "first"
        if c.val_steps is None:
            c.val_steps = c.horizon
        if c.strategy == "recursive" and series[0].n_covariates:
            raise SeqlabError("strategy: 'recursive' feeds predictions back and cannot predict past covariates; "
                              "use strategy 'direct' with covariates")
        return c

    @property
    def lag(self) -> int:
        c = self.config
        return {"none": 0, "first": 1, "seasonal": c.season}[c.diff]

    def min_length(self, config: ForecastConfig | None = None) -> int:
        """Fewest values a series needs for ``fit``: difference lag + lookback + output steps +
        validation steps."""
        c = config or self.config
        lag = {"none": 0, "first": 1, "seasonal": c.season}[c.diff]
        out = c.horizon if c.strategy == "direct" else 1
        return lag + c.lookback + out + c.val_steps

    # -- fit ----------------------------------------------------------------------------------
    def fit(self, data: Any, target: str | None = None, time: str | None = None,
            covariates: Sequence[str] | None = None, series_id: str | None = None,
            checkpoint: RunCheckpoint | None = None) -> "Forecaster":
        """Fit on every value of ``data`` (any input :func:`seqlab.forecast.data.prepare` takes).

        With ``train.checkpoint`` set (or a ``checkpoint`` shared by several fits, as ``seqlab
        forecast`` does), every network checkpoints into that file and ``train.resume`` continues
        an interrupted fit (see :mod:`seqlab.forecast.checkpoints`); remove the file with
        :func:`seqlab.train.checkpoint.discard` once the forecaster is saved."""
        series = prepare(data, target, time, covariates, series_id)
        if not series:
            raise SeqlabError("data: no series given")
        self.config = self.resolve(series)
        c = self.config
        check_lengths(series, self.min_length(), f"{self.lag} for differencing + lookback {c.lookback} + "
                      f"horizon {c.horizon if c.strategy == 'direct' else 1} + {c.val_steps} validation steps")
        out_steps = c.horizon if c.strategy == "direct" else 1
        self.transforms, self.cov_scalers, self.tails = {}, {}, {}
        Xs, Ys, Xvs, Yvs = [], [], [], []
        for s in series:
            tt = TargetTransform(c.transform == "log", self.lag).fit(s.target, c.scaler)
            self.transforms[s.name] = tt
            values = self._inputs(s, tt, fit_cov=True)  # (T - lag, 1 + C)
            X, Y = make_windows(values, values[:, 0], c.lookback, out_steps)
            X, Y, Xv, Yv = split_train_val(X, Y, len(values), c.lookback, c.val_steps)
            Xs.append(X), Ys.append(Y), Xvs.append(Xv), Yvs.append(Yv)
            self.tails[s.name] = s.head(len(s))
        X, Y = np.concatenate(Xs), np.concatenate(Ys)
        Xv, Yv = np.concatenate(Xvs), np.concatenate(Yvs)
        if len(X) == 0:
            raise SeqlabError("data: no training windows remain after the validation slice; use a longer series "
                              "or smaller --lookback/--horizon")
        net_cfg = NetConfig(c.cell, X.shape[2], c.hidden, c.layers, c.dropout, out_steps, len(c.quantiles))
        self.nets, self.history = [], []
        t = self.train_config
        if checkpoint is None and t.checkpoint:
            checkpoint = RunCheckpoint(t.checkpoint, t.resume)
        with thread_policy(t.threads):
            self._train(net_cfg, X, Y, Xv, Yv, checkpoint)
        return self

    def _train(self, net_cfg: NetConfig, X: np.ndarray, Y: np.ndarray, Xv: np.ndarray, Yv: np.ndarray,
               checkpoint: RunCheckpoint | None) -> None:
        """Train the ensemble one network after the other (the thread policy is already applied)."""
        c, t = self.config, self.train_config
        fit = 0
        if checkpoint is not None:
            settings = {"config": asdict(c), "net": asdict(net_cfg), "train": training_settings(t)}
            fit = checkpoint.begin_fit(fingerprint(settings, X, Y, Xv, Yv))
        for k in range(c.ensemble):
            seed = None if t.seed is None else t.seed + k
            seed_everything(seed)
            net = ForecastNet(net_cfg)
            key = RunCheckpoint.key(fit, k)
            hist = None if checkpoint is None else checkpoint.finished(key, net)
            if hist is None:
                cfg = replace(t, seed=seed, threads=None, checkpoint=None, resume=False)
                if checkpoint is not None:
                    cfg = checkpoint.config(key, cfg)
                desc = f"train {k + 1}/{c.ensemble}" if c.ensemble > 1 else "train"
                hist = fit_net(net, X, Y, Xv, Yv, c.quantiles, cfg, c.batch_size, desc, checkpoint, key)
                if checkpoint is not None:
                    checkpoint.record(key, net, hist)
            self.history.append(hist)
            self.nets.append(net.cpu().eval())

    def _inputs(self, s: SeriesData, tt: TargetTransform, fit_cov: bool = False) -> np.ndarray:
        """Network inputs of a series: transformed target and scaled covariates, (T - lag, 1 + C)."""
        u = tt.transform(s.target)[:, None]  # (T - lag, 1)
        if not s.n_covariates:
            return u
        if fit_cov:
            self.cov_scalers[s.name] = Scaler(self.config.scaler).fit(s.covariates)
        cov = self.cov_scalers[s.name].transform(s.covariates)[tt.lag:]  # (T - lag, C)
        return np.concatenate([u, cov], 1)

    # -- predict ------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not self.nets:
            raise SeqlabError("Forecaster: not fitted yet; call fit(data) first or load a saved forecaster")

    def _transform_for(self, name: str) -> str:
        if name in self.transforms:
            return name
        if len(self.transforms) == 1:
            return next(iter(self.transforms))
        raise SeqlabError(f"data: series {name!r} was not seen in training; this forecaster knows "
                          f"{sorted(self.transforms)}")

    def predict_array(self, series: Sequence[SeriesData]) -> np.ndarray:
        """Quantile forecasts (S, horizon, Q) for the ``horizon`` steps after each history."""
        self._check_fitted()
        c = self.config
        need = self.lag + c.lookback
        check_lengths(series, need, f"{self.lag} for differencing + lookback {c.lookback}")
        ncov = self.nets[0].cfg.input_size - 1
        if series[0].n_covariates != ncov:
            raise SeqlabError(f"data: this forecaster was trained with {ncov} covariate(s), got {series[0].n_covariates}")
        keys = [self._transform_for(s.name) for s in series]
        X = np.stack([self._inputs_known(s, k)[-c.lookback:] for s, k in zip(series, keys)])  # (S, L, F)
        x = torch.as_tensor(X, dtype=torch.float32)
        with torch.no_grad(), thread_policy(self.train_config.threads):
            outs = [rollout(n, x, c.horizon, self.mid) if c.strategy == "recursive" else n(x) for n in self.nets]
        u = np.sort(torch.stack(outs).mean(0).double().numpy(), axis=-1)  # (S, H, Q), quantiles kept in order
        return np.stack([self.transforms[k].inverse(u[i], s.target, self.mid)
                         for i, (s, k) in enumerate(zip(series, keys))])  # (S, H, Q)

    def _inputs_known(self, s: SeriesData, key: str) -> np.ndarray:
        tt = self.transforms[key]
        u = tt.transform(s.target)[:, None]  # (T - lag, 1)
        if not s.n_covariates:
            return u
        cov = self.cov_scalers[key].transform(s.covariates)[tt.lag:]  # (T - lag, C)
        return np.concatenate([u, cov], 1)

    def predict(self, data: Any = None, target: str | None = None, time: str | None = None,
                covariates: Sequence[str] | None = None, series_id: str | None = None) -> pd.DataFrame:
        """Forecast the ``horizon`` steps after the end of ``data`` (default: the training data).

        Returns a long table: columns ``series``, ``time``, ``forecast`` (the median) and one
        ``q<level>`` column per quantile (``q0.1``, ``q0.5``, ``q0.9``)."""
        self._check_fitted()
        series = list(self.tails.values()) if data is None else prepare(data, target, time, covariates, series_id)
        return self.to_frame(series, self.predict_array(series))

    def to_frame(self, series: Sequence[SeriesData], pred: np.ndarray) -> pd.DataFrame:
        """Long table of quantile forecasts ``pred`` (S, H, Q) for ``series``."""
        rows = []
        for s, p in zip(series, pred):
            frame = pd.DataFrame({"series": s.name, "time": s.future_time(self.config.horizon),
                                  "forecast": p[:, self.mid]})
            for j, q in enumerate(self.config.quantiles):
                frame[f"q{q:g}"] = p[:, j]
            rows.append(frame)
        return pd.concat(rows, ignore_index=True)

    # -- save / load --------------------------------------------------------------------------
    def save(self, path: str) -> None:
        """One .safetensors file: settings, transforms and history tails as JSON, weights as tensors."""
        from ..io import save_file

        self._check_fitted()
        tensors: dict[str, torch.Tensor] = {}
        for k, net in enumerate(self.nets):
            for name, t in net.state_dict().items():
                tensors[f"member{k}.{name}"] = t
        series_meta = []
        for i, (name, s) in enumerate(self.tails.items()):
            keep = min(len(s), self.lag + self.config.lookback)
            tail = s.head(len(s))
            tensors[f"tail{i}.target"] = torch.as_tensor(tail.target[-keep:].copy())
            tensors[f"tail{i}.covariates"] = torch.as_tensor(tail.covariates[-keep:].copy())
            t = s.time
            series_meta.append({
                "name": name, "transform": self.transforms[name].to_dict(),
                "cov_scaler": asdict(self.cov_scalers[name]) if name in self.cov_scalers else None,
                "time_end": None if t is None else str(t[-1]),
                "freq": (t.freqstr if isinstance(t, pd.DatetimeIndex) and t.freqstr else None),
                "datetime": isinstance(t, pd.DatetimeIndex),
            })
        cfg = {"forecast": asdict(self.config), "train": training_settings(self.train_config),
               "net": asdict(self.nets[0].cfg), "series": series_meta}
        save_file(path, KIND, cfg, tensors)

    @classmethod
    def load(cls, path: str) -> "Forecaster":
        """A forecaster saved by :meth:`save`, ready to ``predict`` without refitting."""
        from ..errors import ModelFileError
        from ..io import load_file

        cfg, tensors = load_file(path, KIND)
        try:
            self = cls(*_configs(cfg))
            net_cfg = NetConfig(**cfg["net"])
            k = 0
            while f"member{k}.head.weight" in tensors:
                net = ForecastNet(net_cfg)
                prefix = f"member{k}."
                net.load_state_dict({n[len(prefix):]: t for n, t in tensors.items() if n.startswith(prefix)})
                net.eval()
                self.nets.append(net)
                k += 1
            for i, m in enumerate(cfg["series"]):
                name = m["name"]
                self.transforms[name] = TargetTransform.from_dict(m["transform"])
                if m["cov_scaler"]:
                    self.cov_scalers[name] = Scaler(**m["cov_scaler"])
                y = tensors[f"tail{i}.target"].double().numpy()
                cov = tensors[f"tail{i}.covariates"].double().numpy().reshape(len(y), -1)  # (T, C)
                time = None
                if m["time_end"] is not None and m["datetime"]:
                    time = pd.date_range(end=pd.Timestamp(m["time_end"]), periods=len(y), freq=m["freq"]) \
                        if m["freq"] else None
                elif m["time_end"] is not None:
                    end = float(m["time_end"])
                    time = pd.Index(np.arange(end - len(y) + 1, end + 1)) if end.is_integer() else None
                self.tails[name] = SeriesData(name, y, cov, time)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelFileError(f"model file {str(path)!r} is not a valid seqlab forecaster: {exc}") from exc
        if not self.nets:
            raise ModelFileError(f"model file {str(path)!r} holds no network weights")
        return self



def _configs(saved: dict[str, Any]) -> tuple[ForecastConfig, TrainConfig]:
    """The settings of a saved forecaster (files from before the training engine kept the
    training settings among the forecast ones)."""
    forecast = dict(saved["forecast"])
    train = {k: v for k, v in saved.get("train", {}).items() if k in TRAIN_FIELDS}
    for old, new in _OLD_TRAIN.items():
        if old in forecast:
            train.setdefault(new, forecast.pop(old))
    for gone in ("threads", "verbose"):
        forecast.pop(gone, None)
    return ForecastConfig(**forecast), training(**train)
