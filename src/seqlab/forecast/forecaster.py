"""The user-facing estimator: ``Forecaster(config).fit(data).predict()``, save and load.

A forecaster is one global model over every series it is given (a panel), however short each
is. It holds an ensemble of networks (one per seed and lookback), one :class:`TargetTransform`
per series (log, difference, scaler; fitted on the data given to ``fit``), one scaler per series
for its past and its known-future covariates, the encoding of the static covariates, and the
tail of each training series so that ``predict()`` needs no data. ``predict(new_history)``
forecasts from new history without refitting anything.

Windows (:func:`seqlab.forecast.windows.padded_windows`) hold at most ``lookback`` steps and at
least one: a series shorter than the lookback gives right-padded windows whose lengths the
recurrent layers take, and the steps of a target past the end of a short series are masked out
of the loss, so a series needs only two values (one input, one target) to train on. With
``scaling='window'`` each window is made relative to its own level (the mean of its last
``season`` values, or its last value), so series of very different magnitudes train together;
``'series'`` keeps the per-series scaler alone. Each input step carries the transformed target,
the past covariates, the known-future covariates, the calendar features of its date and the
static covariates; the decoder features of each forecast step are its known-future covariates
and calendar features.
"""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from ..errors import SeqlabError, check_positive_int
from ..train import TrainConfig
from ..utils import seeded, thread_policy
from .checkpoints import RunCheckpoint, fingerprint, training_settings
from .data import SeriesData, check_same_covariates, infer_freq, prepare
from .features import (StaticEncoder, calendar_features, calendar_periods, cycle_phase, freq_name, natural_season,
                       same_offset)
from .model import CELLS, KINDS, STRATEGIES, NetConfig, make_net, rollout
from .scalers import SCALERS, Scaler, TargetTransform
from .selection import NETWORK, Selection, baseline_point, history_scale, quantile_forecasts
from .task import fit_net, training
from .windows import padded_windows, window_level

KIND = "forecaster"
TRANSFORMS = ("auto", "log", "none")
DIFFS = ("auto", "none", "first", "seasonal")
SCALINGS = ("auto", "window", "series")
TRAIN_FIELDS = tuple(f.name for f in fields(TrainConfig))
# training settings that files written before the one training engine kept in "forecast"
_OLD_TRAIN = {"epochs": "epochs", "lr": "lr", "patience": "patience", "clip": "clipnorm", "seed": "seed"}
PANEL_WINDOWS = 4096  # above this many training windows, batches of 256 and epochs of 8,192 windows
HYBRID_SEASONS = 3  # the hybrid's default lookback in seasons (docs/forecast.md, "Choosing the model")
PANEL_PATIENCE = 5  # ... and early stopping after 5 such epochs without improvement
MIX = ("hybrid", "rnn")  # the kinds a 'mix' fits and averages (docs/forecast.md, "Choosing the model")
MODELS = ("auto", *KINDS, "mix")


@dataclass
class ForecastConfig:
    """The model and data settings of a forecaster. ``None`` means 'choose from the data' (see
    ``resolve``). How its networks train (epochs, lr, early stopping, seed, threads) is a
    :class:`seqlab.train.TrainConfig`: see :func:`seqlab.forecast.task.training`."""

    horizon: int = 12
    lookback: int | None = None  # default: see resolve() (the hybrid 3 seasons, the rnn one, ...)
    season: int | None = None  # default: the steps in the frequency's cycle (monthly 12, 30-minute 48, ...), else 1
    cell: str = "lstm"
    hidden: int = 16
    layers: int = 1
    dropout: float = 0.0
    strategy: str = "direct"
    quantiles: list[float] = field(default_factory=lambda: [0.1, 0.5, 0.9])
    transform: str = "auto"  # 'log' when every value is positive
    diff: str = "auto"  # see resolve()
    scaler: str = "standard"
    batch_size: int | None = None  # windows per batch (per process under torchrun); None: 32, or 256 for panels
    # of more than 4,096 training windows
    val_steps: int | None = None  # steps at the end of the training part for early stopping; default horizon
    ensemble: int = 3  # networks per lookback, seeded seed, seed + 1, ...; their quantiles are averaged
    model: str = "auto"  # 'rnn', 'hybrid' (ES-RNN style), 'mix' (both, averaged) or 'auto' (see resolve)
    lookbacks: list[int] | None = None  # an ensemble over these lookbacks too (default: [lookback])
    scaling: str = "auto"  # 'window': each window relative to its level; 'series': the series scaler only
    calendar: bool = True  # calendar features from the dates (month, quarter, weekday, ...)
    windows_per_epoch: int | None = None  # windows drawn per epoch; None: all up to 8,192, then 8,192; 0: all
    level_penalty: float = 0.0  # the hybrid: weight of the penalty on its level's second differences

    def validate(self) -> None:
        def pos_int(name: str, v: Any, allow_none: bool = False) -> None:
            if allow_none and v is None:
                return
            check_positive_int(name, v)

        for name in ("horizon", "hidden", "layers", "ensemble"):
            pos_int(name, getattr(self, name))
        pos_int("batch_size", self.batch_size, True)
        pos_int("lookback", self.lookback, True)
        pos_int("season", self.season, True)
        if self.windows_per_epoch is not None and (not isinstance(self.windows_per_epoch, int)
                                                   or self.windows_per_epoch < 0):
            raise SeqlabError(f"windows_per_epoch: expected an integer >= 0, got {self.windows_per_epoch!r}")
        if self.lookbacks is not None:
            if not self.lookbacks:
                raise SeqlabError("lookbacks: expected at least one lookback")
            for v in self.lookbacks:
                pos_int("lookbacks", v)
        if self.val_steps is not None and (not isinstance(self.val_steps, int) or self.val_steps < 0):
            raise SeqlabError(f"val_steps: expected an integer >= 0, got {self.val_steps!r}")
        for name, v, allowed in [("cell", self.cell, tuple(CELLS)), ("strategy", self.strategy, STRATEGIES),
                                 ("transform", self.transform, TRANSFORMS), ("diff", self.diff, DIFFS),
                                 ("scaler", self.scaler, SCALERS), ("model", self.model, MODELS),
                                 ("scaling", self.scaling, SCALINGS)]:
            if v not in allowed:
                raise SeqlabError(f"{name}: expected one of {', '.join(allowed)}, got {v!r}")
        q = list(self.quantiles)
        if not q or any(not isinstance(x, (int, float)) or not 0 < x < 1 for x in q) or len(set(q)) != len(q):
            raise SeqlabError(f"quantiles: expected distinct numbers strictly between 0 and 1, got {q!r}")
        if not isinstance(self.level_penalty, (int, float)) or not 0 <= self.level_penalty < float("inf"):
            raise SeqlabError(f"level_penalty: expected a finite number >= 0, got {self.level_penalty!r}")
        if not 0 <= self.dropout < 1:
            raise SeqlabError(f"dropout: expected a number in [0, 1), got {self.dropout!r}")
        if self.model in ("hybrid", "mix") and self.strategy == "recursive":
            raise SeqlabError(f"strategy: the {self.model} model forecasts the whole horizon at once; use strategy "
                              "'direct'")


def season_choice(series: Sequence[SeriesData]) -> tuple[int, str | None]:
    """The season from the series' time frequency (:func:`seqlab.forecast.features.natural_season`:
    the steps in a day, week or year, so monthly 12, 2-hourly 12, 30-minute 48), else 1; and why
    it is 1 when the frequency has a cycle that does not fit (steps that do not divide it, or a
    cycle longer than the longest series, which no season could repeat in)."""
    for s in series:
        freq = s.freq or (infer_freq(s.time) if isinstance(s.time, pd.DatetimeIndex) else None)
        if freq:
            m, why = natural_season(freq)
            longest = max(len(x) for x in series)
            if m > longest:
                return 1, f"a cycle of {m} {freq} steps is longer than the longest series ({longest} values)"
            return m, why
    return 1, None


def infer_season(series: Sequence[SeriesData]) -> int:
    """Season length from the series' time frequency (see :func:`season_choice`), else 1."""
    return season_choice(series)[0]


def _phase0(s: SeriesData, m: int) -> int:
    """Position of the series' first step in its season: its calendar position where the season
    is the calendar's (month of the year for monthly data and season 12), else 0."""
    p = _calendar_phase(s, m)
    return 0 if p is None else p


def _calendar_phase(s: SeriesData, m: int) -> int | None:
    """The calendar position of the series' first step in a season of ``m`` steps, or None when
    the season is not the calendar's (or the series has no dates)."""
    phase = cycle_phase(s.freq, m)
    if phase is not None and isinstance(s.time, pd.DatetimeIndex) and len(s.time):
        return phase(s.time[0])
    return None


def clip_at_zero(w: np.ndarray) -> tuple[np.ndarray, int]:
    """``w`` with its negative values set to 0, and how many there were (the forecasts of a
    series trained on values >= 0)."""
    neg = w < 0
    n = int(neg.sum())
    return (np.where(neg, 0.0, w) if n else w), n


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
        self.nets: list[torch.nn.Module] = []
        self.member_lookbacks: list[int] = []
        self.transforms: dict[str, TargetTransform] = {}
        self.cov_scalers: dict[str, Scaler] = {}
        self.fut_scalers: dict[str, Scaler] = {}
        self.static = StaticEncoder()
        self.series_index: dict[str, int] = {}
        self.phase0: dict[str, int] = {}
        self.tails: dict[str, SeriesData] = {}
        self.freq: str | None = None
        self.n_calendar = 0
        self.conformal: list[float] | None = None  # per-step widening of the outer interval (conformal)
        self.clipped = 0  # forecast values clipped at 0 by predict_array (series trained on values >= 0)
        self.parts: list[Forecaster] = []  # a 'mix': one fitted forecaster per kind of MIX
        # the method chosen on the backtest for every series (seqlab.forecast.selection); None: the network
        self.selection: Selection | None = None
        self.history: list = []
        self.notes: list[str] = []  # per-series notes of the last fit (too short for something)

    # -- settings resolved from data ---------------------------------------------------------
    @property
    def mid(self) -> int:
        """Column of the median (the point forecast) among the quantiles."""
        return self.config.quantiles.index(0.5)

    def resolve(self, series: Sequence[SeriesData]) -> ForecastConfig:
        """The config with every ``None``/'auto' setting replaced by its value for ``series``:
        season from the frequency; transform log when every value is positive; validation steps
        one horizon.

        Model, lookback, scaling and differencing, as the backtests of docs/forecast.md chose
        them. Seasonal data of at most PANEL_WINDOWS windows: the 'mix' where every series is
        long enough for the rnn's rule below (the hybrid and the rnn, each with its own settings,
        their forecasts averaged; its config keeps the per-kind settings unresolved, see
        :meth:`part_configs`), else the 'hybrid' (its exponential smoothing levels and
        deseasonalises each window), with a lookback of three seasons where every series holds
        them (plus a horizon and the validation steps), else one season. Otherwise (non-seasonal
        data, larger panels) the recurrent network on differenced values with the per-series
        scaler ('rnn', scaling 'series', diff seasonal, or first when not seasonal) when every
        series is long enough for it (a difference, a lookback, a horizon and the validation
        steps); else, on non-seasonal data whose every series has 3 values, the rnn on first
        differences with each window scaled by its level ('window'), and the hybrid on the rest.
        The rnn's lookback is one season (twice the horizon, at least 8, when not seasonal); an
        'rnn' on short seasonal series scales each window by its level without differencing."""
        c = ForecastConfig(**asdict(self.config))
        if c.season is None:
            c.season = infer_season(series)
        if c.transform == "auto":
            c.transform = "log" if all(np.all(s.target > 0) for s in series) else "none"
        if c.val_steps is None:
            c.val_steps = c.horizon
        lag = c.season if c.season > 1 else 1
        out = c.horizon if c.strategy == "direct" else 1
        rnn_lookback = c.season if c.season > 1 else max(2 * c.horizon, 8)
        given = c.lookbacks or ([c.lookback] if c.lookback is not None else [rnn_lookback])
        long = bool(series) and min(len(s) for s in series) >= lag + max(given) + out + c.val_steps
        # every series can be differenced once and still give a training window (and a forecast)
        diffable = bool(series) and min(len(s) for s in series) >= 3
        # the hybrid's three seasons cost about twice the rnn's time per window: on panels of more
        # than PANEL_WINDOWS windows (1,000 series of 60 months: 221 s against 98 s) the rnn's rule
        small = sum(max(0, len(s) - out) for s in series) <= PANEL_WINDOWS
        if c.model == "auto":
            if c.strategy == "recursive" or c.scaling == "series" or c.diff not in ("auto", "none"):
                c.model = "rnn"
            elif c.season > 1 and small and long and c.diff == "auto" and c.scaling == "auto":
                c.model = "mix"
            else:  # non-seasonal short series: the rnn on first differences, each window scaled by its level
                short_plain = c.season <= 1 and not long and diffable and c.diff == "auto"
                c.model = "hybrid" if (c.season > 1 and small) or (not long and not short_plain) else "rnn"
        if c.model == "mix":  # each part resolves its own lookback, scaling and differencing
            return c
        if c.lookback is None:
            seasons = HYBRID_SEASONS * c.season
            room = bool(series) and min(len(s) for s in series) >= seasons + out + c.val_steps
            c.lookback = c.lookbacks[0] if c.lookbacks else \
                (seasons if c.model == "hybrid" and c.season > 1 and room and small else rnn_lookback)
        if c.lookbacks is None:
            c.lookbacks = [c.lookback]
        if c.scaling == "auto":
            c.scaling = "series" if c.model == "rnn" and long else "window"
        if c.diff == "auto":
            if c.model == "hybrid":
                c.diff = "none"
            elif c.scaling == "window":
                c.diff = "first" if c.season <= 1 and diffable else "none"
            else:
                c.diff = "seasonal" if c.season > 1 else "first"
        if c.model == "hybrid" and c.diff != "none":
            raise SeqlabError("diff: the hybrid model smooths the level and the seasonality itself; use diff 'none'")
        if c.strategy == "recursive" and series and series[0].n_covariates:
            raise SeqlabError("strategy: 'recursive' feeds predictions back and cannot predict past covariates; "
                              "use strategy 'direct' with covariates, or give them as --future-covariates")
        return c

    def part_configs(self, series: Sequence[SeriesData]) -> list[ForecastConfig]:
        """The resolved config of each kind this forecaster fits on ``series``: the mix's hybrid
        and rnn (in the order of MIX), else its own one."""
        c = self.resolve(series)
        if c.model != "mix":
            return [c]
        return [Forecaster(replace(c, model=k), self.train_config).resolve(series) for k in MIX]

    @property
    def lag(self) -> int:
        """Values used up by differencing. A mix's is its parts' largest; before it is fitted, the
        largest its rnn part may take (one season, or 1)."""
        c = self.config
        if c.model == "mix":
            if self.parts:
                return max(p.lag for p in self.parts)
            return c.season if c.season and c.season > 1 else 1
        return {"none": 0, "first": 1, "seasonal": c.season}[c.diff]

    def min_length(self, config: ForecastConfig | None = None) -> int:
        """Fewest values a series needs to give a training window: the difference lag, one
        input and one target step."""
        c = config or self.config
        lag = {"none": 0, "first": 1, "seasonal": c.season or 1}[c.diff]
        return lag + 2

    @property
    def out_steps(self) -> int:
        return self.config.horizon if self.config.strategy == "direct" else 1

    # -- fit ----------------------------------------------------------------------------------
    def fit(self, data: Any, target: str | None = None, time: str | None = None,
            covariates: Sequence[str] | None = None, series_id: str | None = None,
            checkpoint: RunCheckpoint | None = None, future_covariates: Sequence[str] | None = None,
            static_covariates: Sequence[str] | None = None, fill: str | None = None,
            wide: bool = False) -> "Forecaster":
        """Fit on every value of ``data`` (any input :func:`seqlab.forecast.data.prepare` takes;
        ``fill``: 'interpolate', 'ffill' or 'zero' inserts missing dates and fills missing values,
        ``wide=True`` reads a table with one column per series; what they did is in ``notes``).

        A series too short to give a training window is noted in ``notes`` and still forecast
        by the global model; the fit fails only when no series gives one. With
        ``train.checkpoint`` set (or a ``checkpoint`` shared by several fits, as ``seqlab
        forecast`` does), every network checkpoints into that file and ``train.resume``
        continues an interrupted fit (see :mod:`seqlab.forecast.checkpoints`); remove the file
        with :func:`seqlab.train.checkpoint.discard` once the forecaster is saved."""
        data_notes: list[str] = []
        series = prepare(data, target, time, covariates, series_id, future_covariates, static_covariates,
                         notes=data_notes, fill=fill, wide=wide)
        self.selection = None  # a loaded or earlier choice was made for other networks and data
        check_same_covariates(series)
        self.config = self.resolve(series)
        c = self.config
        t = self.train_config
        if checkpoint is None and t.checkpoint:
            checkpoint = RunCheckpoint(t.checkpoint, t.resume)
        if c.model == "mix":
            self.parts = [Forecaster(replace(c, model=k), t).fit(series, checkpoint=checkpoint) for k in MIX]
            self._join_parts()
            self.notes = [*data_notes, *self.notes]
            return self
        self.parts = []
        self._fit_state(series)
        self._prepare_calendar(series, self.out_steps)
        members = []
        for L in c.lookbacks:
            parts = [self._train_windows(s, L) for s in series if s.name in self.transforms]
            train = _concat([p[0] for p in parts if p is not None])
            val = _concat([p[1] for p in parts if p is not None])
            members.append((L, train, val))
        if members[0][1] is None or len(members[0][1][1]) == 0:
            raise SeqlabError(
                f"data: no series is long enough to train on (each needs {self.min_length()} values: "
                f"{self.lag} for differencing, one input and one target step); give longer series")
        for s in series:
            n = len(s) - self.lag
            if s.name in self.transforms and n < 2:
                self.notes.append(f"series {s.name!r}: {len(s)} value(s), too few to train on; forecast by the "
                                  "model trained on the others")
        n_train = len(members[0][1][1])
        if c.batch_size is None:
            c.batch_size = 32 if n_train <= PANEL_WINDOWS else 256
        if c.windows_per_epoch is None:
            c.windows_per_epoch = 0 if n_train <= 2 * PANEL_WINDOWS else 2 * PANEL_WINDOWS
        self._panel = n_train > PANEL_WINDOWS
        x0 = members[0][1][0]
        net_cfg = NetConfig(c.cell, x0[0].shape[2], c.hidden, c.layers, c.dropout, self.out_steps,
                            len(c.quantiles), x0[2].shape[2], c.model, c.season, max(1, len(self.series_index)),
                            float(c.level_penalty))
        self.nets, self.history, self.member_lookbacks = [], [], []
        with thread_policy(t.threads):
            self._train(net_cfg, members, checkpoint)
        self.notes = [*data_notes, *self.notes]
        return self

    def _join_parts(self) -> None:
        """A mix's view of its fitted parts: their networks, histories and notes together; the
        series every part knows; one history per series, shared by the parts (so that ``update``
        moves them all); the part with the longest stored history lends it."""
        parts = self.parts
        self.nets = [n for p in parts for n in p.nets]
        self.member_lookbacks = [L for p in parts for L in p.member_lookbacks]
        self.history = [h for p in parts for h in p.history]
        self.notes = list(dict.fromkeys(n for p in parts for n in p.notes))
        self.transforms = {k: v for k, v in parts[0].transforms.items() if all(k in p.transforms for p in parts)}
        longest = max(parts, key=lambda p: min((len(s) for s in p.tails.values()), default=0))
        self.tails = longest.tails
        for p in parts:
            p.tails = self.tails
        first = parts[0]
        self.static, self.freq, self.n_calendar = first.static, first.freq, first.n_calendar
        self.series_index, self.phase0 = first.series_index, first.phase0
        self.cov_scalers, self.fut_scalers = first.cov_scalers, first.fut_scalers

    def _fit_state(self, series: Sequence[SeriesData]) -> None:
        """Per-series transforms and scalers, the static encoder, series indices, the tails."""
        c = self.config
        self.transforms, self.cov_scalers, self.fut_scalers, self.tails = {}, {}, {}, {}
        self.series_index, self.phase0, self.notes = {}, {}, []
        self.freq = next((s.freq for s in series if s.freq), None)
        self.n_calendar = 2 * len(calendar_periods(self.freq)) if c.calendar else 0
        for s in series:
            if len(s) <= self.lag:
                self.notes.append(f"series {s.name!r}: {len(s)} value(s), too few to difference at lag {self.lag}; "
                                  "left out")
                continue
            self.transforms[s.name] = TargetTransform(c.transform == "log", self.lag).fit(s.target, c.scaler)
            if s.n_covariates:
                self.cov_scalers[s.name] = Scaler(c.scaler).fit(s.covariates)
            if s.n_future:
                self.fut_scalers[s.name] = Scaler(c.scaler).fit(s.future[: len(s)])
            self.series_index[s.name] = len(self.series_index)
            self.phase0[s.name] = _phase0(s, c.season)
            self.tails[s.name] = s.head(len(s))
        self.static = StaticEncoder().fit([s.static for s in series])

    def _features(self, s: SeriesData, key: str, extra: int) -> tuple[np.ndarray, np.ndarray]:
        """A series' input rows enc (n + extra, F) and decoder rows dec (n + extra, Cd), from its
        first transformed step (``n = len(s) - lag``): enc holds the transformed target (NaN past
        the data), the past covariates (zeros past the data), the known-future covariates, the
        calendar features and the static covariates; dec the known-future and calendar ones."""
        tt = self.transforms[key]
        lag, T = tt.lag, len(s)
        n = T - lag
        N = n + extra
        v = np.full(N, np.nan)
        v[:n] = tt.transform(s.target)
        cols = [v[:, None]]
        if s.n_covariates:
            cov = np.zeros((N, s.n_covariates))
            cov[:n] = self.cov_scalers[key].transform(s.covariates)[lag:]
            cols.append(cov)
        dec_cols = []
        if s.n_future:
            fut = np.zeros((N, s.n_future))
            rows = self.fut_scalers[key].transform(s.future)[lag: lag + N]
            fut[: len(rows)] = rows
            cols.append(fut)
            dec_cols.append(fut)
        if self.n_calendar:
            cal = self._calendar(s, lag, N)
            cols.append(cal)
            dec_cols.append(cal)
        if self.static.size:
            cols.append(np.broadcast_to(self.static.transform(s.static), (N, self.static.size)))
        dec = np.concatenate(dec_cols, 1) if dec_cols else np.zeros((N, 0))
        return np.concatenate(cols, 1), dec

    def _prepare_calendar(self, series: Sequence[SeriesData], extra: int) -> None:
        """One date grid and its calendar features for every series of a call (a date range per
        series would cost more than the rest of the windowing)."""
        self._cal_grid = None
        dated = [s for s in series if isinstance(s.time, pd.DatetimeIndex) and len(s.time) and s.freq == self.freq]
        if not self.n_calendar or not dated:
            return
        off = pd.tseries.frequencies.to_offset(self.freq)
        first = min(s.time[0] for s in dated)
        last = max(s.time[-1] for s in dated) + (extra + 1) * off
        grid = pd.date_range(first, last, freq=self.freq)
        self._cal_grid = (grid, calendar_features(grid, self.freq))

    def _calendar(self, s: SeriesData, lag: int, N: int) -> np.ndarray:
        """Calendar features (N, K) of the ``N`` steps of ``s`` from step ``lag`` on."""
        K = self.n_calendar
        if not isinstance(s.time, pd.DatetimeIndex) or not len(s.time) or s.freq != self.freq:
            return np.zeros((N, K))
        grid = getattr(self, "_cal_grid", None)
        if grid is not None:
            pos = int(grid[0].searchsorted(s.time[0]))
            if pos < len(grid[0]) and grid[0][pos] == s.time[0] and pos + lag + N <= len(grid[0]):
                return grid[1][pos + lag: pos + lag + N]
        cal = calendar_features(s.all_time(lag + N - len(s)), self.freq)[lag: lag + N]
        return cal if cal.shape == (N, K) else np.zeros((N, K))

    def _window_inputs(self, s: SeriesData, key: str, L: int, origins: np.ndarray, extra: int):
        """The network inputs of the windows of ``s`` at ``origins`` (in transformed steps), the
        targets Y (N, S) and the level added back to the outputs (N,)."""
        c = self.config
        enc, dec = self._features(s, key, extra)
        n = len(s) - self.transforms[key].lag
        X, lengths, Y, D = padded_windows(enc, enc[:n, 0], origins, L, self.out_steps, dec=dec)
        level = np.zeros(len(origins))
        if c.model == "rnn" and c.scaling == "window":
            level = window_level(X[:, :, 0], lengths, c.season)
            valid = np.arange(L)[None, :] < lengths[:, None]
            X[:, :, 0] = np.where(valid, X[:, :, 0] - level[:, None], 0.0)
            Y = Y - level[:, None]
        inputs = [X, lengths, D]
        if c.model == "hybrid":
            idx = np.full(len(origins), self.series_index.get(key, -1) if key in self.series_index else -1)
            # the phase of the history at hand: from its dates where the season is the calendar's
            # (check_dates refuses a history without them), else that of the series in training (a
            # new history is taken to start where it started)
            p0 = _calendar_phase(s, c.season)
            p0 = self.phase0.get(key, 0) if p0 is None else p0
            phase = (p0 + self.transforms[key].lag + origins - lengths) % max(1, c.season)
            inputs += [idx, phase]
        return inputs, Y, level

    def _train_windows(self, s: SeriesData, L: int):
        """(training, validation) windows of one series: each a (inputs, Y) pair, or None."""
        c = self.config
        n = len(s) - self.lag
        if n < 2:
            return None
        has_val = c.val_steps > 0 and n - c.val_steps >= self.out_steps + 1
        # windows shorter than the lookback only where the series' training part holds no full
        # window: a long series trains on full windows alone (no padding: no packing either)
        first = L if (n - c.val_steps if has_val else n) >= L + self.out_steps else 1
        origins = np.arange(first, n)
        inputs, Y, _ = self._window_inputs(s, s.name, L, origins, self.out_steps)
        last = np.minimum(origins + self.out_steps, n) - 1  # each window's last known target
        is_val = last >= n - c.val_steps if has_val else np.zeros(len(origins), bool)
        return ([a[~is_val] for a in inputs], Y[~is_val]), ([a[is_val] for a in inputs], Y[is_val])

    def _train(self, net_cfg: NetConfig, members: list, checkpoint: RunCheckpoint | None) -> None:
        """Train the ensemble one network after the other (the thread policy is already applied)."""
        c, t = self.config, self.train_config
        fit = 0
        if checkpoint is not None:
            settings = {"config": asdict(c), "net": asdict(net_cfg), "train": training_settings(t)}
            arrays = [a for _, tr, va in members for a in (*tr[0], tr[1], *va[0], va[1])]
            fit = checkpoint.begin_fit(fingerprint(settings, *arrays))
        total = len(members) * c.ensemble
        for j, (L, (X, Y), (Xv, Yv)) in enumerate(members):
            for k in range(c.ensemble):
                i = j * c.ensemble + k
                seed = None if t.seed is None else t.seed + i
                with seeded(seed):  # the initial weights follow the seed; the caller's generators stay
                    net = make_net(net_cfg)
                key = RunCheckpoint.key(fit, i)
                hist = None if checkpoint is None else checkpoint.finished(key, net)
                if hist is None:
                    cfg = replace(t, seed=seed, threads=None, checkpoint=None, resume=False)
                    if getattr(self, "_panel", False) and cfg.patience is not None:
                        # a panel's epochs hold thousands of windows and its validation loss is
                        # steady: 5 epochs without improvement end the training
                        cfg = replace(cfg, patience=min(cfg.patience, PANEL_PATIENCE))
                    if checkpoint is not None:
                        cfg = checkpoint.config(key, cfg)
                    desc = f"train {i + 1}/{total}" if total > 1 else "train"
                    hist = fit_net(net, tuple(X), Y, tuple(Xv), Yv, c.quantiles, cfg, c.batch_size, desc,
                                   checkpoint, key, windows_per_epoch=c.windows_per_epoch or None)
                    if checkpoint is not None:
                        checkpoint.record(key, net, hist)
                self.history.append(hist)
                self.nets.append(net.cpu().eval())
                self.member_lookbacks.append(L)

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
                          f"{sorted(self.transforms)[:5]}{' ...' if len(self.transforms) > 5 else ''}")

    def reads_dates(self) -> bool:
        """Whether forecasts read the history's dates: calendar features, or the hybrid's
        seasonal phase taken from the calendar (the month of the year for monthly data)."""
        if self.parts:
            return any(p.reads_dates() for p in self.parts)
        c = self.config
        return bool(self.freq) and (self.n_calendar > 0 or (
            c.model == "hybrid" and cycle_phase(self.freq, c.season or 1) is not None))

    def check_dates(self, series: Sequence[SeriesData]) -> None:
        """SeqlabError when the model reads dates (:meth:`reads_dates`) and a history has none, or
        dates of another frequency: its calendar features and seasonal phase would be wrong. A
        history of one or two dates on the model's grid takes the model's frequency."""
        if not self.reads_dates():
            return
        freq = self.freq
        for s in series:
            t = s.time
            dated = isinstance(t, pd.DatetimeIndex) and len(t) > 0
            if dated and s.freq is None and len(t) <= 2:
                grid = pd.date_range(t[0], periods=len(t), freq=freq)
                if grid[0] == t[0] and grid.equals(pd.DatetimeIndex(t)):
                    s.freq, s.time = freq, grid
            elif dated and s.freq and s.freq != freq and same_offset(s.freq, freq):
                s.freq = freq  # one frequency spelled two ways ('H' of older pandas, 'h')
            if dated and s.freq == freq:
                continue
            who = "this history" if len(series) == 1 else f"series {s.name!r} of this history"
            trained = f"data: the model was trained on {freq_name(freq)} ({freq}) dates"
            if not dated:
                raise SeqlabError(f"{trained}; {who} has no dates: pass --time COL (in Python, a DatetimeIndex, a "
                                  "PeriodIndex or time=COL)")
            got = f"has {freq_name(s.freq)} ({s.freq}) dates" if s.freq else "has dates that follow no one frequency"
            raise SeqlabError(f"{trained}; {who} {got}: give {freq} dates (resample it with pandas, e.g. "
                              f"df.set_index(TIME).resample('{freq}').mean()), or train a model at this frequency")

    def check_history(self, series: Sequence[SeriesData]) -> None:
        """SeqlabError unless every series can be forecast: dates at the model's frequency where
        it reads them, enough values to difference, the covariates of training, future
        covariates known for the whole horizon."""
        c = self.config
        if not series:
            raise SeqlabError("data: no series given")
        self.check_dates(series)
        if self.parts:
            for p in self.parts:
                p.check_history(series)
            return
        net = self.nets[0].cfg
        nfut = self._n_future()
        ncov = net.input_size - 1 - self.n_calendar - self.static.size - nfut
        if series[0].n_covariates != ncov or series[0].n_future != nfut:
            raise SeqlabError(f"data: this forecaster was trained with {ncov} past and {nfut} future covariate(s), "
                              f"got {series[0].n_covariates} and {series[0].n_future}")
        for s in series:
            if len(s) < self.lag + 1:
                raise SeqlabError(f"data: series {s.name!r} has {len(s)} values, fewer than the {self.lag + 1} needed "
                                  f"({self.lag} for differencing + at least one input)")
            if s.n_future and s.known_ahead < c.horizon:
                raise SeqlabError(
                    f"data: the future covariates of series {s.name!r} are known for {max(0, s.known_ahead)} of the "
                    f"{c.horizon} steps after its last value; give them for the whole horizon")

    def _n_future(self) -> int:
        return len(next(iter(self.fut_scalers.values())).shift) if self.fut_scalers else 0

    def window_inputs(self, series: Sequence[SeriesData], lookback: int) -> tuple[list[str], list[np.ndarray], np.ndarray]:
        """What the networks of ``lookback`` steps read to forecast the horizon after each history
        of ``series``: each series' transform key, the input arrays of all series in one batch
        (x, lengths, dec, series index, phase, as the networks take them) and each window's level
        (S,), which their outputs are relative to."""
        self._check_fitted()
        self._single("window_inputs")
        series = list(series)
        self.check_history(series)
        keys = [self._transform_for(s.name) for s in series]
        H = self.config.horizon
        self._prepare_calendar(series, H)
        parts = [self._window_inputs(s, k, lookback, np.array([len(s) - self.lag]), H) for s, k in zip(series, keys)]
        inputs = [np.concatenate([p[0][i] for p in parts]) for i in range(len(parts[0][0]))]
        return keys, inputs, np.concatenate([p[2] for p in parts])

    def from_networks(self, series: Sequence[SeriesData], keys: Sequence[str], u: np.ndarray,
                      calibrated: bool = True) -> np.ndarray:
        """The networks' mean output ``u`` (S, horizon, Q), level added, as quantile forecasts in
        the series' units: quantiles put in order, the transform undone, and with ``calibrated``
        and a conformal calibration (:meth:`calibrate`) the outer interval the calibrated one."""
        self._single("from_networks")
        u = np.sort(u, axis=-1)  # (S, H, Q), quantiles kept in order
        pred = np.stack([self.transforms[k].inverse(u[i], s.target, self.mid)
                         for i, (s, k) in enumerate(zip(series, keys))])  # (S, H, Q)
        return self._widen(pred) if calibrated else pred

    def _widen(self, pred: np.ndarray) -> np.ndarray:
        """``pred`` (S, H, Q) with the conformal calibration applied, if any."""
        if self.conformal is not None and len(self.config.quantiles) > 1:
            from .conformal import widen

            pred = widen(pred, np.asarray(self.conformal), self.mid)
        return pred

    def _single(self, what: str) -> None:
        if self.parts:
            raise SeqlabError(f"{what}: a 'mix' forecaster has no networks of its own; call it on each of its "
                              "parts (forecaster.parts) and average their forecasts")

    def nonnegative(self, name: str) -> bool:
        """Whether the forecasts of series ``name`` are clipped at 0: every value of its training
        part was >= 0 (:attr:`TargetTransform.nonneg`)."""
        return bool(getattr(self.transforms[self._transform_for(name)], "nonneg", False))

    def _clip(self, series: Sequence[SeriesData], pred: np.ndarray) -> np.ndarray:
        """``pred`` (S, H, Q) with every quantile of a series trained on values >= 0 clipped at
        0; :attr:`clipped` counts the values changed (over every call)."""
        for i, s in enumerate(series):
            if self.nonnegative(s.name):
                pred[i], n = clip_at_zero(pred[i])
                self.clipped += n
        return pred

    def predict_array(self, series: Sequence[SeriesData], calibrated: bool = True, clip: bool = True,
                      selected: bool = True) -> np.ndarray:
        """Quantile forecasts (S, horizon, Q) for the ``horizon`` steps after each history, all
        series of the call in one batch per network. A mix averages its parts' forecasts, each
        quantile over the parts. With ``calibrated`` and a conformal calibration
        (:meth:`calibrate`), the outer interval is the calibrated one. With ``selected`` and a
        :attr:`selection` that chose a baseline, every series gets that baseline's forecast,
        fitted on its history, and its conformal quantiles (the networks still run). With
        ``clip``, a series whose training values were all >= 0 gets no negative forecast or
        quantile (clipped at 0, after the calibration; counted in :attr:`clipped`)."""
        c = self.config
        series = list(series)
        if self.parts:
            self._check_fitted()
            for p in self.parts:
                p.train_config = self.train_config
            pred = np.mean([p.predict_array(series, calibrated=False, clip=False) for p in self.parts], axis=0)
            pred = self._widen(pred) if calibrated else pred
            pred = self._select(series, pred) if selected else pred
            return self._clip(series, pred) if clip else pred
        windows = {L: self.window_inputs(series, L) for L in sorted(set(self.member_lookbacks))}
        keys = windows[self.member_lookbacks[0]][0]
        H, Q = c.horizon, len(c.quantiles)
        total = np.zeros((len(series), H, Q))
        with torch.no_grad(), thread_policy(self.train_config.threads):
            for L, net in zip(self.member_lookbacks, self.nets):
                _, inputs, level = windows[L]
                t = [torch.as_tensor(a, dtype=torch.float32 if a.dtype.kind == "f" else torch.long) for a in inputs]
                if c.strategy == "recursive":
                    ahead, dec = [], []
                    for s, k in zip(series, keys):
                        enc, d = self._features(s, k, H)
                        n = len(s) - self.lag
                        ahead.append(np.nan_to_num(enc[n:n + H]))
                        dec.append(d[n:n + H])
                    span = c.season if c.scaling == "window" else None
                    x = t[0].clone()
                    if span:  # rollout recomputes each window's level as it moves: give it the values
                        valid = torch.arange(x.shape[1]).unsqueeze(0) < t[1].unsqueeze(1)
                        lv = torch.as_tensor(level, dtype=torch.float32).unsqueeze(1)
                        x[:, :, 0] = torch.where(valid, x[:, :, 0] + lv, x[:, :, 0])
                    out = rollout(net, x, H, self.mid, t[1], torch.as_tensor(np.stack(ahead), dtype=torch.float32),
                                  torch.as_tensor(np.stack(dec), dtype=torch.float32), span)
                    total += out.double().numpy()
                else:
                    total += net(*t).double().numpy() + level[:, None, None]
        pred = self.from_networks(series, keys, total / len(self.nets), calibrated)
        pred = self._select(series, pred) if selected else pred
        return self._clip(series, pred) if clip else pred

    def methods(self, series: Sequence[SeriesData]) -> list[str]:
        """The method that forecasts each series: ``'network'``, or the baseline chosen on the
        backtest for every series (:attr:`selection`, ``seqlab forecast --select backtest``)."""
        return [NETWORK if self.selection is None else self.selection.method] * len(series)

    def _select(self, series: Sequence[SeriesData], pred: np.ndarray) -> np.ndarray:
        """``pred`` (S, H, Q), or with a :attr:`selection` that chose a baseline, every series
        forecast by it: the baseline fitted on the series' history (all of it), its quantiles at the
        conformal offsets of the selection times the history's MASE scale."""
        method = self.selection.baseline if self.selection is not None else None
        if method is None or not series:
            return pred
        if self.selection.offsets is None:
            raise SeqlabError(f"selection: {method} forecasts the series but has no interval offsets; build the "
                              "Selection with them (seqlab.forecast.selection.baseline_offsets)")
        c = self.config
        point = baseline_point([s.target for s in series], method, c.horizon, c.season or 1, self.train_config.threads)
        offsets = np.asarray(self.selection.offsets, dtype=np.float64)
        for i, p in enumerate(point):
            pred[i] = quantile_forecasts(p, offsets, history_scale(series[i].target, c.season or 1))
        return pred

    def calibrate(self, q: Sequence[float] | None) -> "Forecaster":
        """Widen (or narrow) the outer interval of every later forecast by ``q[h]`` times its
        width at step h (split conformal, :mod:`seqlab.forecast.conformal`); None: raw quantiles."""
        self.conformal = None if q is None else [float(x) for x in q]
        return self

    def update(self, new_values: Any, covariates: Any = None) -> "Forecaster":
        """Append new observations to the stored history, without refitting; ``predict()`` then
        forecasts after them (:mod:`seqlab.forecast.streaming`)."""
        from .streaming import update

        return update(self, new_values, covariates)

    def predict(self, data: Any = None, target: str | None = None, time: str | None = None,
                covariates: Sequence[str] | None = None, series_id: str | None = None,
                future_covariates: Sequence[str] | None = None,
                static_covariates: Sequence[str] | None = None, fill: str | None = None,
                wide: bool = False) -> pd.DataFrame:
        """Forecast the ``horizon`` steps after the end of ``data`` (default: the training data;
        ``fill`` and ``wide`` as in :meth:`fit`).

        Returns a long table: columns ``series``, ``time``, ``forecast`` (the median) and one
        ``q<level>`` column per quantile (``q0.1``, ``q0.5``, ``q0.9``); with a :attr:`selection`
        (``seqlab forecast --select backtest``), the series forecast by the chosen method and a
        last column ``method`` naming it."""
        self._check_fitted()
        series = list(self.tails.values()) if data is None else prepare(
            data, target, time, covariates, series_id, future_covariates, static_covariates, fill=fill, wide=wide)
        return self.to_frame(series, self.predict_array(series))

    def to_frame(self, series: Sequence[SeriesData], pred: np.ndarray) -> pd.DataFrame:
        """Long table of quantile forecasts ``pred`` (S, H, Q) for ``series``; with a
        :attr:`selection`, a last column ``method``: the method that forecasts each series."""
        rows = []
        methods = self.methods(series) if self.selection is not None else None
        for i, (s, p) in enumerate(zip(series, pred)):
            frame = pd.DataFrame({"series": s.name, "time": s.future_time(self.config.horizon),
                                  "forecast": p[:, self.mid]})
            for j, q in enumerate(self.config.quantiles):
                frame[f"q{q:g}"] = p[:, j]
            if methods is not None:
                frame["method"] = methods[i]
            rows.append(frame)
        return pd.concat(rows, ignore_index=True)

    # -- save / load --------------------------------------------------------------------------
    def save(self, path: str) -> None:
        """One .safetensors file: settings, transforms and history tails as JSON, weights as tensors
        (a mix: each part's under ``part<j>.``, and the parts' settings in ``parts``)."""
        from ..io import save_file

        self._check_fitted()
        keep_n = max(p.lag + max(p.member_lookbacks) for p in (self.parts or [self]))
        # series forecast by a baseline keep their whole history: the baseline is refitted on it
        full = self.selection is not None and self.selection.baseline is not None
        if not self.parts:
            cfg, tensors = self._state(keep_n, full)
        else:  # every part stores the same history (the longest any part reads), so they share it on load
            cfg = {"forecast": asdict(self.config), "train": training_settings(self.train_config), "parts": [],
                   "conformal": self.conformal}
            tensors = {}
            for j, p in enumerate(self.parts):
                part_cfg, part_tensors = p._state(keep_n, full)
                cfg["parts"].append(part_cfg)
                tensors.update({f"part{j}.{n}": t for n, t in part_tensors.items()})
        if self.selection is not None:  # absent for the network alone: such files are as before
            cfg["selection"] = self.selection.to_dict()
        save_file(path, KIND, cfg, tensors)

    def _state(self, keep_n: int, full: bool = False) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """The settings (JSON) and tensors of a one-kind forecaster's file, with the last ``keep_n``
        values of each series' history (all of it with ``full``)."""
        tensors: dict[str, torch.Tensor] = {}
        for k, net in enumerate(self.nets):
            for name, t in net.state_dict().items():
                tensors[f"member{k}.{name}"] = t
        series_meta = []
        for i, (name, s) in enumerate(self.tails.items()):
            keep = len(s) if full else min(len(s), keep_n)
            tensors[f"tail{i}.target"] = torch.as_tensor(s.target[-keep:].copy())
            tensors[f"tail{i}.covariates"] = torch.as_tensor(s.covariates[-keep:].copy())
            if s.n_future:
                tensors[f"tail{i}.future"] = torch.as_tensor(s.future[len(s) - keep:].copy())
            t = s.time
            series_meta.append({
                "name": name, "transform": self.transforms[name].to_dict(),
                "cov_scaler": asdict(self.cov_scalers[name]) if name in self.cov_scalers else None,
                "fut_scaler": asdict(self.fut_scalers[name]) if name in self.fut_scalers else None,
                "static": s.static, "index": self.series_index[name],
                "phase0": (self.phase0[name] + len(s) - keep) % max(1, self.config.season),  # the tail's first step
                # without a time column the steps are positions 0 .. len-1: the tail's last one, so
                # a loaded file's forecast goes on numbering from there (not from the tail's length)
                "time_end": str(len(s) - 1) if t is None else None if len(t) == 0 else str(t[-1]),
                "freq": s.freq if isinstance(t, pd.DatetimeIndex) else None,
                "datetime": isinstance(t, pd.DatetimeIndex),
                # a time zone whose offsets change (CET, Europe/Berlin...): the forecast's offsets follow
                # it; a fixed offset needs no name (time_end carries it)
                "tz": str(t.tz) if isinstance(t, pd.DatetimeIndex) and t.tz is not None
                and not isinstance(t.tz, datetime.timezone) else None,
            })
        cfg = {"forecast": asdict(self.config), "train": training_settings(self.train_config),
               "net": asdict(self.nets[0].cfg), "series": series_meta, "lookbacks": self.member_lookbacks,
               "static_encoder": self.static.to_dict(), "freq": self.freq, "n_calendar": self.n_calendar,
               "conformal": self.conformal}
        return cfg, tensors

    @classmethod
    def load(cls, path: str) -> "Forecaster":
        """A forecaster saved by :meth:`save`, ready to ``predict`` without refitting."""
        from ..io import load_file

        cfg, tensors = load_file(path, KIND)
        return cls._from_state(cfg, tensors, path)

    @classmethod
    def _from_state(cls, cfg: dict[str, Any], tensors: dict[str, torch.Tensor], path: str) -> "Forecaster":
        from ..errors import ModelFileError
        from ..io import build_checked

        try:
            self = cls(*_configs(cfg))
            if self.config.model == "mix":
                parts = cfg["parts"]
                if not isinstance(parts, list) or len(parts) != len(MIX):
                    raise ValueError(f"a mix holds {len(MIX)} parts ({', '.join(MIX)})")
                for j, (kind, part) in enumerate(zip(MIX, parts)):
                    got = part.get("forecast", {}).get("model", "rnn") if isinstance(part, dict) else None
                    if got != kind:  # checked before reading it: a part is never a mix itself
                        raise ValueError(f"part {j} is a {got!r} forecaster, expected {kind!r}")
                    pre = f"part{j}."
                    self.parts.append(cls._from_state(part, {n[len(pre):]: t for n, t in tensors.items()
                                                             if n.startswith(pre)}, path))
                self._join_parts()
                self.conformal = cfg.get("conformal")
                self._read_selection(cfg)
                return self
            net_cfg = NetConfig(**cfg["net"])
            k = 0
            while any(n.startswith(f"member{k}.") for n in tensors):
                net = build_checked(lambda: make_net(net_cfg), tensors, path)
                prefix = f"member{k}."
                net.load_state_dict({n[len(prefix):]: t for n, t in tensors.items() if n.startswith(prefix)})
                net.eval()
                self.nets.append(net)
                k += 1
            self.member_lookbacks = [int(x) for x in cfg.get("lookbacks", [self.config.lookback] * len(self.nets))]
            self.static = StaticEncoder.from_dict(cfg["static_encoder"]) if "static_encoder" in cfg else StaticEncoder()
            self.freq, self.n_calendar = cfg.get("freq"), int(cfg.get("n_calendar", 0))
            self.conformal = cfg.get("conformal")
            for i, m in enumerate(cfg["series"]):
                name = m["name"]
                self.transforms[name] = TargetTransform.from_dict(m["transform"])
                if m["cov_scaler"]:
                    self.cov_scalers[name] = Scaler(**m["cov_scaler"])
                if m.get("fut_scaler"):
                    self.fut_scalers[name] = Scaler(**m["fut_scaler"])
                self.series_index[name] = int(m.get("index", i))
                self.phase0[name] = int(m.get("phase0", 0))
                y = tensors[f"tail{i}.target"].double().numpy()
                cov = tensors[f"tail{i}.covariates"].double().numpy().reshape(len(y), -1)  # (T, C)
                fut = tensors[f"tail{i}.future"].double().numpy() if f"tail{i}.future" in tensors else None
                time = None
                if m["time_end"] is not None and m["datetime"]:
                    end = pd.Timestamp(m["time_end"])
                    end = end.tz_convert(m["tz"]) if m.get("tz") and end.tzinfo is not None else end
                    time = pd.date_range(end=end, periods=len(y), freq=m["freq"]) if m["freq"] else None
                elif m["time_end"] is not None:
                    end = float(m["time_end"])
                    time = pd.Index(np.arange(end - len(y) + 1, end + 1)) if end.is_integer() else None
                self.tails[name] = SeriesData(name, y, cov, time, fut, dict(m.get("static") or {}),
                                              m["freq"] if m["datetime"] else None)
            self._read_selection(cfg)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelFileError(f"model file {str(path)!r} is not a valid seqlab forecaster: {exc}") from exc
        if not self.nets:
            raise ModelFileError(f"model file {str(path)!r} holds no network weights")
        return self

    def _read_selection(self, cfg: dict[str, Any]) -> None:
        """The choice of a model file (``selection``, written by ``--select backtest``), checked; a
        file without it (every file before it, and ``--select network``) forecasts every series with
        the network. ValueError when it is malformed."""
        raw = cfg.get("selection")
        self.selection = None if raw is None else Selection.from_dict(raw, len(self.config.quantiles),
                                                                     self.config.horizon)


def _concat(parts: list) -> tuple[list[np.ndarray], np.ndarray] | None:
    """Windows of several series as one set: (inputs, Y) pairs -> one (inputs, Y), or None."""
    if not parts:
        return None
    inputs = [np.concatenate([p[0][i] for p in parts]) for i in range(len(parts[0][0]))]
    return inputs, np.concatenate([p[1] for p in parts])


def _configs(saved: dict[str, Any]) -> tuple[ForecastConfig, TrainConfig]:
    """The settings of a saved forecaster (files from before the training engine kept the
    training settings among the forecast ones; files from before panels scaled by series and
    had no calendar features)."""
    forecast = dict(saved["forecast"])
    train = {k: v for k, v in saved.get("train", {}).items() if k in TRAIN_FIELDS}
    for old, new in _OLD_TRAIN.items():
        if old in forecast:
            train.setdefault(new, forecast.pop(old))
    for gone in ("threads", "verbose"):
        forecast.pop(gone, None)
    if "scaling" not in forecast:
        forecast.update(scaling="series", calendar=False)
    forecast.setdefault("model", "rnn")
    return ForecastConfig(**forecast), training(**train)
