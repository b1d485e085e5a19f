"""A forecaster's exported graph fed from raw history: the graph's inputs, its output as forecasts.

The forecaster's graph (:func:`seqlab.export.onnx.forecaster_graph`) and
:class:`seqlab.reference.models.ForecasterModel` run the networks on prepared windows. These two
functions are the forecaster's own pipeline around them, for the machine that holds the
forecaster (torch, pandas) and wants the graph's inputs, e.g. to check an export or to feed a
server::

    inputs = forecast_inputs(f, data)                    # the windows after each series' end
    ys = sess.run(inputs.outputs, inputs.feed)           # onnxruntime: ["y"], (S, horizon, Q)
    pred = forecast_outputs(f, inputs, ys)               # = f.predict_array(series)

A 'mix' forecaster's graph holds both of its parts, each with its own inputs (``hybrid.x``,
``rnn.x``, ...) and output (``hybrid.y``, ``rnn.y``); ``inputs.outputs`` names both, and
:func:`forecast_outputs` turns each into forecasts and averages them, as the mix does.

``inputs.feed`` holds the graph's inputs by name: for a hybrid forecaster ``x``, ``lengths``,
``dec``, ``series``, ``phase`` (the arrays the forecaster feeds its networks); for an 'rnn' one
``x``, ``dec`` and zero states. :func:`forecast_outputs` adds back each window's level (scaling
'window'), orders the quantiles, undoes the target transform and applies the conformal
calibration, as ``Forecaster.predict_array`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import SeqlabError


@dataclass
class ForecastInputs:
    """The graph's inputs (``feed``) for the forecast after each of ``series``, the level each
    window was made relative to (S,), the forecaster's transform key of each series, and the
    names of the graph's outputs to run (``["y"]``). A mix: ``parts`` holds each part's own
    inputs, ``feed`` all of them named by kind, ``outputs`` ``["hybrid.y", "rnn.y"]``."""

    feed: dict[str, np.ndarray]
    series: list
    level: np.ndarray | None
    keys: list[str] | None
    outputs: list[str] = field(default_factory=lambda: ["y"])
    parts: list["ForecastInputs"] = field(default_factory=list)


def forecast_inputs(forecaster: Any, data: Any = None, **columns: Any) -> ForecastInputs:
    """The inputs of ``forecaster``'s exported graph for the ``horizon`` steps after the end of
    each series of ``data`` (default: the stored history; ``columns``: ``target``, ``time``,
    ``series_id``... as ``Forecaster.predict`` takes them).

    SeqlabError for what one graph cannot run: the 'recursive' strategy (it feeds predictions
    back), an ensemble over several lookbacks (one ``x`` for every member), an 'rnn'
    forecaster on a series shorter than its lookback (its graph reads full windows), and one whose
    ``--select backtest`` chose a baseline (its forecasts are the baseline's, not the graph's)."""
    from ..forecast.data import prepare

    f = forecaster
    f._check_fitted()
    chosen = f.selection.baseline if getattr(f, "selection", None) is not None else None
    if chosen is not None:
        raise SeqlabError(f"selection: this forecaster forecasts with {chosen}, the baseline that seqlab forecast "
                          "--select backtest chose; its exported graph runs only the networks, which do not make "
                          "those forecasts: forecast with Forecaster.predict, or fit without --select backtest")
    c = f.config
    if f.parts:
        series = list(f.tails.values()) if data is None else prepare(data, **columns)
        parts = [forecast_inputs(p, series) for p in f.parts]
        feed = {f"{p.config.model}.{k}": v for p, i in zip(f.parts, parts) for k, v in i.feed.items()}
        return ForecastInputs(feed, parts[0].series, None, None, [f"{p.config.model}.y" for p in f.parts], parts)
    if c.strategy != "direct":
        raise SeqlabError(f"strategy: the exported graph forecasts the horizon in one pass (strategy 'direct'); "
                          f"this forecaster's is {c.strategy!r}, which feeds its predictions back (Forecaster.predict)")
    lookbacks = sorted(set(f.member_lookbacks))
    if len(lookbacks) != 1:
        raise SeqlabError(f"lookbacks: the exported graph reads one window per series for every member; this "
                          f"forecaster's members read {lookbacks}")
    L = lookbacks[0]
    series = list(f.tails.values()) if data is None else prepare(data, **columns)
    keys, arrays, level = f.window_inputs(series, L)
    net = f.nets[0].cfg
    x = arrays[0].astype(np.float32)  # (S, L, F)
    if net.kind == "hybrid":
        feed = {"x": x, "lengths": arrays[1].astype(np.int64)}
        if net.dec_size:
            feed["dec"] = arrays[2].astype(np.float32)
        feed.update(series=arrays[3].astype(np.int64), phase=arrays[4].astype(np.int64))
        return ForecastInputs(feed, series, level, keys)
    short = [s.name for s, n in zip(series, arrays[1]) if n < L]
    if short:
        raise SeqlabError(f"data: the 'rnn' forecaster's graph reads full windows of {L} steps; series "
                          f"{short[:5]} {'are' if len(short) > 1 else 'is'} shorter (Forecaster.predict reads them)")
    feed = {"x": x}
    if net.dec_size:
        feed["dec"] = arrays[2].astype(np.float32)
    names = ["h", "c"][: 2 if net.cell.startswith("lstm") else 1]
    for m in range(len(f.nets)):
        for n in names:
            feed[f"member{m}.{n}"] = np.zeros((net.num_layers, len(series), net.hidden_size), np.float32)
    return ForecastInputs(feed, series, level, keys)


def forecast_outputs(forecaster: Any, inputs: ForecastInputs, y: Any, calibrated: bool = True) -> np.ndarray:
    """The graph's output ``y`` (S, horizon, Q) for ``inputs`` as quantile forecasts (S, horizon,
    Q) in the series' units, as ``Forecaster.predict_array`` gives them. ``y`` may be the list
    of the outputs named by ``inputs.outputs``: a mix's two, whose forecasts are averaged."""
    f = forecaster
    if f.parts:
        ys = list(y) if isinstance(y, (list, tuple)) else []
        if len(ys) != len(f.parts):
            raise SeqlabError(f"y: a mix's graph gives {len(f.parts)} outputs ({', '.join(inputs.outputs)}); pass "
                              f"the list of them in that order, got {len(ys) if ys else type(y).__name__}")
        pred = np.mean([forecast_outputs(p, i, v, calibrated=False) for p, i, v in zip(f.parts, inputs.parts, ys)], 0)
        return f._widen(pred) if calibrated else pred
    if isinstance(y, (list, tuple)) and len(y) == 1:
        y = y[0]
    y = np.asarray(y, dtype=np.float64)
    S, H, Q = len(inputs.series), f.config.horizon, len(f.config.quantiles)
    if y.shape != (S, H, Q):
        raise SeqlabError(f"y: expected the graph's output of shape ({S}, {H}, {Q}), got {y.shape}")
    return f.from_networks(inputs.series, inputs.keys, y + inputs.level[:, None, None], calibrated)


__all__ = ["ForecastInputs", "forecast_inputs", "forecast_outputs"]
