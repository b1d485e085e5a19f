"""Any seqlab model file, run in NumPy alone: ``seqlab.reference.load(path)``.

A model file is one ``.safetensors`` file (:mod:`seqlab.io`): weights as tensors, the model's
JSON config in the header. :func:`read_model_file` reads both with safetensors' NumPy loader;
:func:`load` builds the model of the file's kind from them, out of the blocks of
:mod:`seqlab.reference.blocks`:

===============  =====================================  ==========================================
kind             class                                  inference
===============  =====================================  ==========================================
``sequential``   :class:`SequentialModel`               ``forward(x)``, ``step(chunk, state)``
``forecaster``   :class:`ForecasterModel`               ``forward(x, states, dec)``; hybrid: ``lengths``,
                                                       ``series``, ``phase`` too
``classifier``   :class:`ClassifierModel`               ``logits(x, lengths)``, ``predict_proba(X)``
``regressor``    :class:`RegressorModel`                ``targets(x, lengths)``, ``predict(X)``
``text-lm``      :class:`LanguageModel`                 ``forward(ids, state)``
``seq2seq``      :class:`Seq2SeqModel`                  ``encode(src, lengths)``, ``decode_step(...)``
===============  =====================================  ==========================================

Nothing here imports torch: this module is the inference path of a machine without it, and the
independent NumPy twin that the torch models and their ONNX exports are tested against.
Outputs are float64, computed from the stored (float32) weights.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import ModelFileError, SeqlabError
from .blocks import AttentionPool, ConvBranch, Embedding, Linear, Stack, cell_states, torch_state, znormalize

KINDS = ("sequential", "forecaster", "classifier", "regressor", "text-lm", "seq2seq")
#: the array of an ``.npz`` model file (``seqlab export --format numpy``) that holds the JSON
NPZ_META = "__seqlab__"


def read_model_file(path: str | os.PathLike) -> tuple[str, dict[str, Any], dict[str, np.ndarray]]:
    """``(kind, config, tensors as NumPy arrays)`` of a seqlab model file (ModelFileError otherwise):
    the ``.safetensors`` file seqlab saves, or its ``.npz`` from ``seqlab export --format numpy``.
    The file and its header pass the same checks as the torch models' (:mod:`seqlab.modelfile`)."""
    from .. import files, modelfile

    try:  # the path as given: Path('') is '.', which would be refused as a folder, not as no name
        data = files.read_bytes(path, "MODEL", "model file", "model", allow_empty=True)
    except SeqlabError as exc:
        raise ModelFileError(str(exc)) from None
    p = Path(path)
    if data[:2] == b"PK":  # a zip: the .npz form
        return _read_npz(p, data)
    from safetensors import SafetensorError
    from safetensors.numpy import load

    meta = modelfile.metadata(modelfile.header(data, p), p)
    try:
        tensors = load(data)
    except (SafetensorError, ValueError, UnicodeDecodeError, OverflowError, MemoryError) as exc:
        raise ModelFileError(f"model file {str(p)!r} is not a readable seqlab model (truncated, corrupted or another "
                             f"format): {files.one_line(exc)}") from None
    _check_finite(tensors, p)
    return meta["kind"], meta["config"], tensors


def _check_finite(arrays: dict[str, np.ndarray], p: Path) -> None:
    from .. import modelfile

    for name, a in arrays.items():
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise ModelFileError(modelfile.non_finite(p, name))


def _read_npz(p: Path, data: bytes) -> tuple[str, dict[str, Any], dict[str, np.ndarray]]:
    """The ``.npz`` form of a model file (``p``'s bytes ``data``)."""
    import io
    import zipfile

    from .. import modelfile

    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        raw = arrays.pop(NPZ_META)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"model file {str(p)!r} is not a readable seqlab .npz model: {exc}") from exc
    if raw.ndim != 0 or raw.dtype.kind != "U":
        raise ModelFileError(f"model file {str(p)!r} is not a readable seqlab .npz model: its {NPZ_META!r} array "
                             "is not one JSON string")
    meta = modelfile.parse_meta(str(raw), p)
    _check_finite(arrays, p)
    return meta["kind"], meta["config"], arrays


def check_kind(kind: str, path: str | os.PathLike) -> None:
    """ModelFileError unless ``kind`` is one of :data:`KINDS` (a checkpoint, say, is not a model)."""
    if kind == "checkpoint":
        raise ModelFileError(f"model file {str(path)!r} is a training checkpoint (kind {kind!r}) for resuming a run, "
                             f"not a model; seqlab.reference runs the file that the model's save writes, of kind "
                             f"{', '.join(KINDS)}")
    if kind not in KINDS:
        raise ModelFileError(f"model file {str(path)!r} holds a {kind!r} model; seqlab.reference runs {', '.join(KINDS)}")


def load(path: str | os.PathLike) -> "ReferenceModel":
    """The model saved at ``path``, as NumPy (see the module docstring)."""
    kind, config, tensors = read_model_file(path)
    return build(kind, config, tensors, path)


def build(kind: str, config: dict[str, Any], tensors: dict[str, np.ndarray],
          path: str | os.PathLike) -> "ReferenceModel":
    """The NumPy model of a file's ``kind``, ``config`` and ``tensors`` (read from ``path``);
    ModelFileError naming the file for a config or weights it cannot run."""
    check_kind(kind, path)
    if kind == "forecaster":
        refuse_chosen_baseline(config, path)
    try:
        return _LOADERS[kind](config, tensors)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, SeqlabError) as exc:
        raise ModelFileError(f"model file {str(path)!r} has an invalid {kind} config or weights: {exc}") from None


def refuse_chosen_baseline(config: dict[str, Any], path: str | os.PathLike) -> None:
    """SeqlabError naming the file when ``seqlab forecast --select backtest`` chose a baseline for
    this forecaster (``config['selection']['method']``): its forecasts are the baseline's, and the
    networks the file still holds (which export and seqlab.reference run) would give others."""
    sel = config.get("selection")
    method = sel.get("method") if isinstance(sel, dict) else None
    if isinstance(method, str) and method != "network":
        raise SeqlabError(f"model file {str(path)!r} forecasts with {method}, the baseline that seqlab forecast "
                          f"--select backtest chose; export and seqlab.reference run only its networks, which do not "
                          f"make those forecasts: re-run seqlab forecast without --select backtest to export the "
                          f"network, or forecast with this file by seqlab forecast predict --model {path}")


class ReferenceModel:
    """Base of the NumPy models: ``kind`` and ``config`` (the file's JSON)."""

    kind = ""
    config: dict[str, Any]


# -- Sequential ----------------------------------------------------------------------------------
_RNN_CELLS = {"SimpleRNN", "LSTM", "GRU", "MinGRU", "MinLSTM"}


def _layer_stack(class_name: str, cfg: dict, tensors: dict, prefix: str) -> Stack:
    """The seqlab.nn layer inside a seqlab.layers recurrent layer."""
    if class_name == "SimpleRNN":
        cell = "rnn" if cfg.get("activation", "tanh") == "tanh" else "rnn-relu"
        extra: dict[str, Any] = {}
    elif class_name == "LSTM":
        cell, extra = "lstm", {"peephole": bool(cfg.get("peephole")), "layer_norm": bool(cfg.get("layer_norm")),
                               "activation": cfg.get("activation", "tanh")}
    elif class_name == "GRU":
        cell, extra = "gru", {"reset": cfg.get("reset", "after"), "layer_norm": bool(cfg.get("layer_norm")),
                              "activation": cfg.get("activation", "tanh")}
    else:
        cell = class_name.lower()
        extra = {"activation": cfg.get("activation", "g"), "norm": bool(cfg.get("norm")),
                 "residual": bool(cfg.get("residual"))}
    return Stack.from_tensors(cell, tensors, prefix + "rnn.", **extra)


@dataclass
class SeqLayer:
    """One layer of a Sequential: ``kind`` in 'rnn', 'bidirectional', 'dense', 'embedding', 'masking',
    'identity'."""

    kind: str
    config: dict
    stack: Stack | None = None
    backward: Stack | None = None  # Bidirectional's second layer
    linear: Linear | None = None
    embedding: Embedding | None = None

    @property
    def streams(self) -> bool:
        """Whether the layer can run a sequence chunk by chunk with its state carried."""
        return not (self.kind == "bidirectional" or (self.kind == "rnn" and self.config.get("go_backwards")))


class SequentialModel(ReferenceModel):
    """A ``seqlab.Sequential`` (Keras-style layers). ``forward(x)`` runs the model; ``step(chunk,
    state)`` runs the next chunk of a sequence from the carried state (one tuple per recurrent
    layer, None to start) and returns ``(output, new state)``."""

    kind = "sequential"

    def __init__(self, config: dict, tensors: dict) -> None:
        self.config = config
        self.layers: list[SeqLayer] = []
        for k, spec in enumerate(config["model"]["layers"]):
            name, cfg = spec["class_name"], dict(spec.get("config") or {})
            pre = f"model/layers.{k}."
            if name in _RNN_CELLS:
                self.layers.append(SeqLayer("rnn", cfg, stack=_layer_stack(name, cfg, tensors, pre)))
            elif name == "Bidirectional":
                inner = cfg["layer"]
                icfg = dict(inner.get("config") or {})
                self.layers.append(SeqLayer(
                    "bidirectional", {**icfg, "merge_mode": cfg.get("merge_mode", "concat")},
                    stack=_layer_stack(inner["class_name"], icfg, tensors, pre + "forward_layer."),
                    backward=_layer_stack(inner["class_name"], icfg, tensors, pre + "backward_layer.")))
            elif name == "Dense":
                b = tensors.get(pre + "linear.bias")
                self.layers.append(SeqLayer("dense", cfg, linear=Linear(
                    tensors[pre + "linear.weight"].astype(np.float64), None if b is None else b.astype(np.float64),
                    cfg.get("activation") or "linear")))
            elif name == "Embedding":
                self.layers.append(SeqLayer("embedding", cfg,
                                            embedding=Embedding(tensors[pre + "embedding.weight"].astype(np.float64))))
            elif name in ("Dropout", "InputLayer"):
                self.layers.append(SeqLayer("identity", cfg))
            elif name == "Masking":
                self.layers.append(SeqLayer("masking", cfg))
            else:
                raise SeqlabError(f"layer {k}: seqlab.reference has no {name!r} layer")

    @property
    def input_size(self) -> int | None:
        """Features per step of the input (None for token ids)."""
        shape = self.config["model"].get("input_shape")
        if shape and shape[-1] is not None:
            return int(shape[-1])
        for layer in self.layers:
            if layer.kind == "embedding":
                return None
            if layer.stack is not None:
                return layer.stack.input_size
            if layer.linear is not None:
                return int(layer.linear.weight.shape[1])
        return None

    @property
    def recurrent(self) -> list[int]:
        """Indices of the layers that carry a state in :meth:`step`."""
        return [k for k, l in enumerate(self.layers) if l.kind in ("rnn", "bidirectional")]

    def _run(self, x: Any, state: list | None, streaming: bool) -> tuple[np.ndarray, list]:
        mask, new_state, j = None, [], 0
        x = np.asarray(x)
        if not (self.layers and self.layers[0].kind == "embedding"):
            x = x.astype(np.float64)
        for layer in self.layers:
            c = layer.config
            if layer.kind == "embedding":
                mask = (x != 0) if c.get("mask_zero") else None
                x = layer.embedding(x)
            elif layer.kind == "masking":  # steps whose features all equal mask_value are padding
                mask = (x != float(c.get("mask_value", 0.0))).any(-1)
                x = x * mask[..., None]
            elif layer.kind == "dense":
                x = layer.linear(x)
            elif layer.kind in ("rnn", "bidirectional"):
                if streaming and not layer.streams:
                    raise SeqlabError(f"step: layer {len(new_state)} ({'Bidirectional' if layer.kind == 'bidirectional' else 'go_backwards'}) "
                                      "reads each sequence from its end and cannot run chunk by chunk; use forward")
                st = None if state is None else state[j]
                lengths = None if mask is None else mask.sum(1)
                x, st = self._recurrent(layer, x, st, lengths)
                new_state.append(st)
                j += 1
                mask = mask if c.get("return_sequences") else None
        return x, new_state

    @staticmethod
    def _recurrent(layer: SeqLayer, x: np.ndarray, st: Any, lengths: np.ndarray | None) -> tuple[np.ndarray, Any]:
        c = layer.config
        T = x.shape[1]
        full = np.full(len(x), T) if lengths is None else lengths
        from .stack import reverse_padded

        if layer.kind == "rnn":
            xin = reverse_padded(x, full) if c.get("go_backwards") else x
            out, finals = layer.stack.run(xin, st, lengths)
            return (out if c.get("return_sequences") else finals[0][0]), finals
        fw, f_fin = layer.stack.run(x, None, lengths)
        bw, b_fin = layer.backward.run(reverse_padded(x, full), None, lengths)
        if c.get("return_sequences"):
            bw = reverse_padded(bw, full)
        else:
            fw, bw = f_fin[0][0], b_fin[0][0]
        mode = c["merge_mode"]
        y = {"concat": lambda: np.concatenate([fw, bw], -1), "sum": lambda: fw + bw, "mul": lambda: fw * bw,
             "ave": lambda: (fw + bw) / 2}[mode]()
        return y, f_fin + b_fin

    def forward(self, x: Any) -> np.ndarray:
        """The model's output for ``x`` (B, T, F) floats or (B, T) ids."""
        return self._run(x, None, False)[0]

    __call__ = forward

    def step(self, x: Any, state: list | None = None) -> tuple[np.ndarray, list]:
        """Run the chunk ``x`` (B, T, F) (T >= 1) from ``state``; returns ``(output, new state)``.
        Chunks run one after the other give the outputs of the whole sequence in one pass."""
        return self._run(x, state, True)


# -- forecaster ----------------------------------------------------------------------------------
@dataclass
class ForecastNetRef:
    """One ``ForecastNet``: the top layer's last output through the head, plus, with decoder
    features ``dec`` (B, out_steps, Cd), ``dec_out(relu(dec_in([last; dec])))`` per step."""

    stack: Stack
    head: Linear
    out_steps: int
    n_quantiles: int
    dec_in: Linear | None = None
    dec_out: Linear | None = None

    @property
    def dec_size(self) -> int:
        return 0 if self.dec_in is None else int(self.dec_in.weight.shape[1]) - self.stack.hidden_size

    def __call__(self, x: np.ndarray, state: list | None = None, dec: Any = None,
                 lengths: np.ndarray | None = None) -> tuple[np.ndarray, list]:
        out, finals = self.stack.run(x, state, lengths)  # (B, L, H), zeros past each length
        last = out[:, -1] if lengths is None else out[np.arange(len(x)), lengths - 1]  # (B, H)
        y = self.head(last).reshape(len(x), self.out_steps, self.n_quantiles)  # (B, S, Q)
        if self.dec_in is not None:
            if dec is None:
                raise SeqlabError(f"dec: this network reads {self.dec_size} decoder features per step; pass dec")
            dec = np.asarray(dec, dtype=np.float64)
            e = np.broadcast_to(last[:, None], (len(x), self.out_steps, last.shape[1]))  # (B, S, H)
            y = y + self.dec_out(np.maximum(self.dec_in(np.concatenate([e, dec], -1)), 0.0))
        return y, finals


@dataclass
class HybridNetRef:
    """One ``HybridNet`` (ES-RNN style): per-series exponential smoothing of column 0 of the
    window (:func:`~seqlab.reference.blocks.exp_smooth`, additive seasonality on the transformed
    values), the core :class:`ForecastNetRef` on the values less the last level and the seasonal
    index, and the level plus the seasonal index of each forecast step added to its outputs.

    ``es`` (n_series, 2 + m): per series the logits of alpha and gamma and the initial seasonal
    indices by season position; a series index of -1 (unseen in training) takes their mean."""

    core: ForecastNetRef
    es: np.ndarray
    season: int

    def params(self, series: np.ndarray) -> np.ndarray:
        """Each window's row of ``es`` (B, 2 + m): its series', or the mean for index -1."""
        n = len(self.es)
        if series.min() < -1 or series.max() >= n:
            raise SeqlabError(f"series: expected series indices in [-1, {n - 1}] (-1: a series unseen in training), "
                              f"got {series.tolist()}")
        return np.where((series >= 0)[:, None], self.es[np.maximum(series, 0)], self.es.mean(0, keepdims=True))

    def __call__(self, x: np.ndarray, lengths: np.ndarray, dec: Any, series: np.ndarray,
                 phase: np.ndarray) -> tuple[np.ndarray, list]:
        from ._checks import sigmoid
        from .blocks import exp_smooth

        B, L, _ = x.shape
        m = max(1, self.season)
        p = self.params(series)  # (B, 2 + m)
        if m > 1:
            seas0 = np.take_along_axis(p[:, 2:], (phase[:, None] + np.arange(m)) % m, 1)  # (B, m) from step 0 on
        else:
            seas0 = np.zeros((B, 1))
        valid = np.arange(L)[None, :] < lengths[:, None]  # (B, L)
        z = np.where(valid, x[:, :, 0], 0.0)
        level, s_in, seas = exp_smooth(z, lengths, sigmoid(p[:, 0]), sigmoid(p[:, 1]), seas0)
        u = np.where(valid, z - level[:, None] - s_in, 0.0)  # (B, L)
        out, finals = self.core(np.concatenate([u[:, :, None], x[:, :, 1:]], 2), None, dec, lengths)  # (B, S, Q)
        S = out.shape[1]
        s_out = np.take_along_axis(seas, (lengths[:, None] + np.arange(S)) % m, 1)  # (B, S): step L_b + s
        return out + (level[:, None] + s_out)[:, :, None], finals


class ForecasterModel(ReferenceModel):
    """A ``seqlab.forecast.Forecaster``'s networks: ``forward(x, dec=...)`` is the ensemble's mean
    output (B, out_steps, Q) on prepared windows (B, lookback, F) (the forecaster's transformed
    target and scaled covariates and calendar features) and decoder features; the states carry
    a window's chunks. Preparing windows from raw data is the forecaster's own pipeline.

    A 'mix' forecaster's file holds a hybrid and an rnn forecaster: ``parts`` holds one of these
    models for each, and the mix itself runs nothing.

    The hybrid (``kind == 'hybrid'``, :class:`HybridNetRef`) reads the windows as the forecaster
    prepares them for it: ``forward(x, dec=, lengths=, series=, phase=)`` with each window's
    valid steps (right-padded), its series index (-1: unseen) and the season position of its
    first step; it reads a whole window at once, so it takes no state (its last level shifts the
    input of every step)."""

    kind = "forecaster"

    def __init__(self, config: dict, tensors: dict) -> None:
        self.config = config
        self.parts: list[ForecasterModel] = []
        self.members: list[ForecastNetRef | HybridNetRef] = []
        if config["forecast"].get("model") == "mix":  # one forecaster per kind, each its own inputs
            self.forecast_config, self.net_kind = config["forecast"], "mix"
            for j, part in enumerate(config["parts"]):
                pre = f"part{j}."
                self.parts.append(ForecasterModel(part, {n[len(pre):]: t for n, t in tensors.items()
                                                         if n.startswith(pre)}))
            if [p.net_kind for p in self.parts] != ["hybrid", "rnn"]:
                raise ValueError(f"a mix holds a hybrid and an rnn forecaster, got {[p.net_kind for p in self.parts]}")
            return
        net, fc = config["net"], config["forecast"]
        self.forecast_config = fc
        self.net_kind = net.get("kind", "rnn")
        k = 0
        if self.net_kind not in ("rnn", "hybrid"):
            raise SeqlabError(f"forecaster: seqlab.reference runs the 'rnn' and 'hybrid' networks, not "
                              f"{self.net_kind!r}")
        hybrid = self.net_kind == "hybrid"
        f64 = lambda n: tensors[n].astype(np.float64)  # noqa: E731
        core = "core." if hybrid else ""
        while f"member{k}.{core}head.weight" in tensors:
            p = f"member{k}.{core}"
            stack = Stack.from_tensors(net["cell"], tensors, p + "rnn.", num_layers=net["num_layers"])
            dec = [Linear(f64(p + f"{n}.weight"), f64(p + f"{n}.bias")) for n in ("dec_in", "dec_out")] \
                if net.get("dec_size") else [None, None]
            member = ForecastNetRef(stack, Linear(f64(p + "head.weight"), f64(p + "head.bias")),
                                    net["out_steps"], net["n_quantiles"], *dec)
            if hybrid:
                es = f64(f"member{k}.es")
                m = max(1, int(net.get("season", 1)))
                if es.ndim != 2 or es.shape[1] != 2 + m:
                    raise ValueError(f"member{k}.es: expected shape (n_series, {2 + m}), got {es.shape}")
                member = HybridNetRef(member, es, m)
            self.members.append(member)
            k += 1
        if not self.members:
            raise KeyError(f"member0.{core}head.weight")

    @property
    def hybrid(self) -> bool:
        """Whether the networks are ES-RNN hybrids (inputs: windows, lengths, series, phase)."""
        return self.net_kind == "hybrid"

    @property
    def mid(self) -> int:
        return list(self.forecast_config["quantiles"]).index(0.5)

    def forward(self, x: Any, states: list | None = None, dec: Any = None, lengths: Any = None,
                series: Any = None, phase: Any = None) -> tuple[np.ndarray, list]:
        """``x`` (B, L, F), ``dec`` (B, out_steps, Cd) when the networks read decoder features ->
        (mean output (B, out_steps, Q), final states per member). The hybrid also takes
        ``lengths`` (B,) (default: full windows), ``series`` (B,) and ``phase`` (B,), and no
        ``states``."""
        if self.parts:
            raise SeqlabError("forecaster: a 'mix' forecaster runs each of its parts (.parts: the hybrid, then the "
                              "rnn) on its own inputs; its forecast is the mean of theirs in the series' units")
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 3:
            raise SeqlabError(f"x: expected windows of shape (batch, time, features), got shape {x.shape}")
        outs, finals = [], []
        if self.hybrid:
            lengths, series, phase = self._hybrid_inputs(x, states, lengths, series, phase)
            for m in self.members:
                y, f = m(x, lengths, dec, series, phase)
                outs.append(y)
                finals.append(f)
            return np.mean(outs, 0), finals
        for k, m in enumerate(self.members):
            y, f = m(x, None if states is None else states[k], dec)
            outs.append(y)
            finals.append(f)
        return np.mean(outs, 0), finals

    def _hybrid_inputs(self, x: np.ndarray, states: Any, lengths: Any, series: Any,
                       phase: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The hybrid's ``lengths``, ``series`` and ``phase`` as int64 (B,), checked."""
        B, L = x.shape[:2]
        if states is not None:
            raise SeqlabError("states: the hybrid forecaster reads each window whole (its last level shifts every "
                              "step's input) and takes no state; pass states=None")
        if series is None or phase is None:
            raise SeqlabError(f"series, phase: the hybrid forecaster needs each window's series index and the season "
                              f"position of its first step, (B,) = ({B},) integers each; got "
                              f"{'series' if series is None else 'phase'}=None")
        lengths = np.full(B, L, np.int64) if lengths is None else np.asarray(lengths, dtype=np.int64)
        if lengths.shape != (B,) or lengths.min() < 1 or lengths.max() > L:
            raise SeqlabError(f"lengths: expected {B} values in [1, {L}], got {lengths.tolist()}")
        series, phase = np.asarray(series, dtype=np.int64), np.asarray(phase, dtype=np.int64)
        for name, v in (("series", series), ("phase", phase)):
            if v.shape != (B,):
                raise SeqlabError(f"{name}: expected shape ({B},), got {v.shape}")
        m = self.members[0].season
        if phase.min() < 0 or phase.max() >= max(1, m):
            raise SeqlabError(f"phase: expected season positions in [0, {max(1, m) - 1}], got {phase.tolist()}")
        return lengths, series, phase


# -- classifier and regressor --------------------------------------------------------------------
class ClassifierNetModel(ReferenceModel):
    """The NumPy twin of ``ClassifierNet``, the network of the classifier and of the regressor,
    with every option: the (bidirectional) recurrent branch over patches of ``patch`` steps,
    pooled by its last state, the mean, the maximum or attention over the valid steps; the
    convolutional branch (``fcn``) beside it; the series or feature scaling. :meth:`encode` takes
    raw sequences (or texts) as the estimator does, :meth:`outputs` the encoded input (ids, or
    numbers as :meth:`encode` scales them) to the head's outputs (B, C)."""

    def __init__(self, config: dict, tensors: dict) -> None:
        self.config = config
        m = self.model_config = config["model"]
        f64 = lambda n: tensors[n].astype(np.float64)  # noqa: E731
        self.embedding = Embedding(f64("net.embedding.weight")) if m.get("vocab_size", 0) > 0 else None
        self.patch = int(m.get("patch", 1))
        self.pooling = m.get("pooling", "last")
        self.stack = Stack.from_tensors(m["cell"], tensors, "net.rnn.", num_layers=m.get("num_layers", 1),
                                        bidirectional=bool(m.get("bidirectional")))
        #: features per step of the network's input: token vectors, or the series' channels
        self.input_size = self.stack.input_size // self.patch
        self.attention = (AttentionPool(Linear(f64("net.attention.0.weight"), f64("net.attention.0.bias")),
                                        Linear(f64("net.attention.2.weight")))
                          if self.pooling == "attention" else None)
        self.conv = ConvBranch.from_tensors(tensors, "net.conv.") if m.get("fcn", 0) > 0 else None
        self.head = Linear(f64("net.head.weight"), f64("net.head.bias"))
        self.mean = f64("scale.mean") if "scale.mean" in tensors else None
        self.std = f64("scale.std") if "scale.std" in tensors else None
        #: numeric input: 'series' z-normalises each series before the feature scaling (if any)
        self.normalize = str(config.get("normalize", "feature"))
        self.vocab = None
        if config.get("vocab"):
            from ..vocab import Vocabulary

            self.vocab = Vocabulary.from_config(config["vocab"])

    @property
    def streams(self) -> bool:
        """Whether a sequence can run chunk by chunk with the state carried: one direction, one
        step per recurrent step, no convolution, no attention, no series normalisation (each of
        those reads the whole sequence at once)."""
        return not (self.stack.bidirectional or self.patch > 1 or self.conv is not None
                    or self.pooling == "attention" or (self.embedding is None and self.normalize == "series"))

    def encode(self, X: Any, lengths: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Raw input (texts, a list of (T, F) arrays, or a padded (N, T, F) array with ``lengths``)
        -> ``(x, lengths)`` as the classifier encodes it: ids, or features z-normalised per series
        (``normalize='series'``) and standardised with the training mean and deviation, zero past
        each length (float32, as the estimator feeds its network)."""
        if isinstance(X, str):
            raise SeqlabError("X: expected a list of sequences or texts, got a single string; wrap it in a list: [text]")
        if len(X) == 0:
            raise SeqlabError("X: expected at least one sequence, got none")
        if isinstance(X, (list, tuple)) and all(isinstance(t, str) for t in X):
            if self.vocab is None:
                raise SeqlabError("X: this model reads numeric sequences, got texts")
            seqs = [self.vocab.to_ids(self.vocab.tokenize(t), unknown="replace") for t in X]
            if not all(seqs):
                raise SeqlabError("X: a text has no tokens; remove empty texts")
            lens = np.array([len(q) for q in seqs], dtype=np.int64)
            ids = np.zeros((len(seqs), int(lens.max())), dtype=np.int64)  # (N, T), 0 = <pad>
            for i, q in enumerate(seqs):
                ids[i, : len(q)] = q
            return ids, lens
        if self.embedding is not None:
            raise SeqlabError("X: this model reads texts (a list of strings), got numeric sequences")
        F = self.input_size
        if isinstance(X, np.ndarray) and X.ndim in (2, 3) and X.dtype != object:
            x = (X[:, :, None] if X.ndim == 2 else X).astype(np.float32)
            lens = np.full(len(x), x.shape[1], np.int64) if lengths is None else np.asarray(lengths, np.int64)
        else:
            seqs = [np.asarray(q, dtype=np.float32).reshape(len(q), -1) for q in X]
            for i, q in enumerate(seqs):
                if q.shape[0] < 1 or q.shape[1] != F:
                    raise SeqlabError(f"X[{i}]: expected a sequence of shape (time >= 1, {F}), got {q.shape}")
            lens = np.array([len(q) for q in seqs], dtype=np.int64)
            x = np.zeros((len(seqs), int(lens.max()), F), np.float32)
            for i, q in enumerate(seqs):
                x[i, : len(q)] = q
        if x.shape[2] != F or lens.shape != (len(x),) or lens.min() < 1 or lens.max() > x.shape[1]:
            raise SeqlabError(f"X: expected sequences of {F} feature(s) with lengths in [1, {x.shape[1]}], "
                              f"got shape {x.shape} and lengths {lens.tolist()[:5]}")
        valid = np.arange(x.shape[1])[None, :] < lens[:, None]  # (N, T)
        x = np.where(valid[..., None], x, 0.0).astype(np.float32)
        if self.normalize == "series":
            x = znormalize(x, lens).astype(np.float32)
        if self.mean is not None:
            x = ((x - self.mean.astype(np.float32)) / self.std.astype(np.float32)).astype(np.float32)
        return np.where(valid[..., None], x, 0.0).astype(np.float32), lens

    def patches(self, x: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Steps (B, T, I) -> the recurrent branch's input (B, ceil(T/P), P*I), lengths ceil(lengths/P)."""
        P = self.patch
        if P == 1:
            return x, lengths
        B, T, I = x.shape
        n = -(-T // P)
        x = np.pad(x, ((0, 0), (0, n * P - T), (0, 0))).reshape(B, n, P * I)  # (B, T/P, P*I)
        return x, (lengths + P - 1) // P

    def pool(self, out: np.ndarray, finals: list, lengths: np.ndarray) -> np.ndarray:
        """The recurrent outputs (B, T, D*H) and final states -> (B, D*H) by the model's pooling."""
        if self.pooling == "last":
            top = finals[-self.stack.D:]  # forward's last step, backward's first
            return np.concatenate([f[0] for f in top], -1)
        valid = np.arange(out.shape[1])[None, :] < lengths[:, None]  # (B, T)
        if self.pooling == "mean":
            return (out * valid[..., None]).sum(1) / lengths[:, None]
        if self.pooling == "attention":
            return self.attention(out, valid)
        return np.where(valid[..., None], out, -np.inf).max(1)

    def features(self, x: Any, lengths: Any, state: list | None = None) -> tuple[np.ndarray, list]:
        """Encoded input -> ``(features (B, D*H [+ W]), final states per cell)``: the pooled
        recurrent branch, then the convolutional branch's when there is one."""
        x = self.embedding(x) if self.embedding is not None else np.asarray(x, dtype=np.float64)
        lengths = np.asarray(lengths, dtype=np.int64)
        if x.ndim != 3 or lengths.shape != (len(x),) or lengths.min() < 1 or lengths.max() > x.shape[1]:
            raise SeqlabError(f"lengths: expected {len(x)} values in [1, {x.shape[1] if x.ndim > 1 else 0}], "
                              f"got {lengths.tolist()}")
        valid = np.arange(x.shape[1])[None, :] < lengths[:, None]  # (B, T)
        x = np.where(valid[..., None], x, 0.0)  # padding is never read
        rx, rl = self.patches(x, lengths)
        out, finals = self.stack.run(rx, state, rl)  # (B, T/P, D*H)
        feats = self.pool(out, finals, rl)
        if self.conv is not None:
            feats = np.concatenate([feats, self.conv(x, valid)], -1)  # (B, D*H + W)
        return feats, finals

    def outputs(self, x: Any, lengths: Any) -> np.ndarray:
        """Encoded input -> the head's outputs (B, C): the classifier's logits, the regressor's
        standardised targets."""
        return self.head(self.features(x, lengths)[0])


class ClassifierModel(ClassifierNetModel):
    """A ``seqlab.classify.SequenceClassifier``: ``predict_proba(X)`` and ``predict(X)`` on raw
    sequences or texts, ``logits(x, lengths)`` on encoded input."""

    kind = "classifier"

    def __init__(self, config: dict, tensors: dict) -> None:
        super().__init__(config, tensors)
        self.classes = list(config["classes"])

    def logits(self, x: Any, lengths: Any) -> np.ndarray:
        """Encoded input -> the logits (B, C)."""
        return self.outputs(x, lengths)

    def predict_proba(self, X: Any, lengths: Any = None) -> np.ndarray:
        from .blocks import ACTIVATIONS

        return ACTIVATIONS["softmax"](self.logits(*self.encode(X, lengths)))

    def predict(self, X: Any, lengths: Any = None) -> list:
        return [self.classes[i] for i in self.predict_proba(X, lengths).argmax(1)]


class RegressorModel(ClassifierNetModel):
    """A ``seqlab.classify.SequenceRegressor``: the classifier's network with k outputs, the
    standardised targets mapped back to the target's units, ``y = out * y_scale + y_mean``.
    ``predict(X)`` on raw sequences, (N,) or (N, k) as the regressor was fitted;
    ``targets(x, lengths)`` (B, k) on encoded input."""

    kind = "regressor"

    def __init__(self, config: dict, tensors: dict) -> None:
        super().__init__(config, tensors)
        self.y_mean = tensors["target.mean"].astype(np.float64)  # (k,)
        self.y_scale = tensors["target.scale"].astype(np.float64)  # (k,)
        self.y_ndim = int(config["y_ndim"])
        k = len(self.head.weight)
        if self.y_mean.shape != (k,) or self.y_scale.shape != (k,) or self.y_ndim not in (1, 2) \
                or (self.y_ndim == 1 and k != 1):
            raise ValueError(f"target scaling: expected {k} means and scales and y_ndim 1 or 2, got shapes "
                             f"{self.y_mean.shape}, {self.y_scale.shape} and y_ndim {self.y_ndim}")

    @property
    def n_outputs(self) -> int:
        return len(self.y_mean)

    def targets(self, x: Any, lengths: Any) -> np.ndarray:
        """Encoded input -> the predicted targets (B, k) in the target's units."""
        return self.outputs(x, lengths) * self.y_scale + self.y_mean

    def predict(self, X: Any, lengths: Any = None) -> np.ndarray:
        y = self.targets(*self.encode(X, lengths))  # (N, k)
        return y[:, 0] if self.y_ndim == 1 else y


# -- language model ------------------------------------------------------------------------------
class LanguageModel(ReferenceModel):
    """A ``seqlab.text.RecurrentLM``: ``forward(ids, state) -> (logits (B, T, V), state)`` with
    torch's state layout (``h`` (L, B, H) or ``(h, c)``); ``step`` is ``forward`` on a chunk."""

    kind = "text-lm"

    def __init__(self, config: dict, tensors: dict) -> None:
        self.config = config
        m = self.model_config = config["model"]
        options = dict(m.get("cell_options") or {})  # saved with the cell's defaults merged in
        self.embedding = Embedding(tensors["embedding.weight"].astype(np.float64))
        self.stack = Stack.from_tensors(m["cell"], tensors, "rnn.", num_layers=m["num_layers"], **options)
        w = tensors["embedding.weight"] if m.get("tie_weights") else tensors["decoder.weight"]
        self.decoder = Linear(w.astype(np.float64), tensors["decoder.bias"].astype(np.float64))

    def forward(self, ids: Any, state: Any = None) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        st = cell_states(state, len(self.stack.cells), self.stack.state_size)
        out, finals = self.stack.run(self.embedding(ids), st)
        return self.decoder(out), torch_state(finals)

    step = forward


# -- seq2seq -------------------------------------------------------------------------------------
@dataclass
class Seq2SeqModel(ReferenceModel):
    """A ``seqlab.seq2seq`` encoder-decoder: :meth:`encode` then :meth:`decode_step` per token."""

    config: dict
    tensors: dict = field(repr=False)
    kind = "seq2seq"

    def __post_init__(self) -> None:
        m = self.model_config = self.config["model"]
        t = {k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in self.tensors.items()}
        lin = lambda p: Linear(t[p + ".weight"], t.get(p + ".bias"))  # noqa: E731
        self.src_embed = Embedding(t["encoder.embed.weight"])
        self.encoder = Stack.from_tensors(m["cell"], t, "encoder.rnn.", num_layers=m.get("num_layers", 1), bidirectional=True)
        self.bridge = [lin(f"encoder.bridge.{j}") for j in range(self.encoder.state_size)]
        self.tgt_embed = Embedding(t["decoder.embed.weight"])
        self.decoder = Stack.from_tensors(m["cell"], t, "decoder.rnn.")
        self.attention = m.get("attention", "bahdanau")
        if self.attention not in ("bahdanau", "luong"):
            raise SeqlabError(f"config: attention is {self.attention!r}, expected 'bahdanau' or 'luong'")
        self.w_k = lin("decoder.attn.w_k")
        if self.attention == "bahdanau":
            self.w_q, self.v = lin("decoder.attn.w_q"), lin("decoder.attn.v")
        self.combine, self.out = lin("decoder.combine"), lin("decoder.out")

    def encode(self, src: Any, lengths: Any) -> dict[str, np.ndarray]:
        """``src`` (B, S) ids, ``lengths`` (B,) -> memory (B, S, 2H), keys (B, S, H), mask (B, S),
        the decoder's first state (tuple of (B, H)) and feed (B, H)."""
        lengths = np.asarray(lengths, dtype=np.int64)
        memory, finals = self.encoder.run(self.src_embed(src), None, lengths)
        top = finals[-2:]  # the last layer's two directions
        state = tuple(np.tanh(w(np.concatenate([top[0][j], top[1][j]], -1))) for j, w in enumerate(self.bridge))
        mask = np.arange(memory.shape[1])[None, :] < lengths[:, None]
        return {"memory": memory, "keys": self.w_k(memory), "mask": mask, "state": state,
                "feed": np.zeros((len(lengths), self.decoder.hidden_size))}

    def _attend(self, q: np.ndarray, keys: np.ndarray, memory: np.ndarray, mask: np.ndarray):
        from .blocks import ACTIVATIONS

        if self.attention == "bahdanau":
            e = self.v(np.tanh(keys + self.w_q(q)[:, None]))[..., 0]  # (B, S)
        else:
            e = np.einsum("bsh,bh->bs", keys, q)
        w = ACTIVATIONS["softmax"](np.where(mask, e, -np.inf))
        return np.einsum("bs,bsk->bk", w, memory), w

    def decode_step(self, y_prev: Any, state: Sequence[np.ndarray], feed: np.ndarray, memory: np.ndarray,
                    keys: np.ndarray, mask: np.ndarray):
        """One target step: ``(logits (B, V), new state, new feed, attention weights (B, S))``."""
        parts = [self.tgt_embed(y_prev)]
        if self.attention == "bahdanau":
            ctx, w = self._attend(state[0], keys, memory, mask)
            parts.append(ctx)
        if self.model_config.get("input_feeding", True):
            parts.append(feed)
        x = np.concatenate(parts, -1)[:, None]  # (B, 1, I)
        _, finals = self.decoder.run(x, [tuple(state)])
        state = finals[0]
        if self.attention == "luong":
            ctx, w = self._attend(state[0], keys, memory, mask)
        feed = np.tanh(self.combine(np.concatenate([state[0], ctx], -1)))
        return self.out(feed), state, feed, w


_LOADERS = {"sequential": SequentialModel, "forecaster": ForecasterModel, "classifier": ClassifierModel,
            "regressor": RegressorModel, "text-lm": LanguageModel, "seq2seq": lambda c, t: Seq2SeqModel(c, t)}

__all__ = ["ClassifierModel", "ClassifierNetModel", "ForecasterModel", "KINDS", "LanguageModel", "ReferenceModel",
           "RegressorModel", "Seq2SeqModel", "SequentialModel", "build", "check_kind", "load", "read_model_file"]
