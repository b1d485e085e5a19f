"""ONNX export of every kind of seqlab model file, the recurrent state as explicit inputs and outputs.

:func:`export_onnx` reads a model file with :func:`seqlab.reference.load` (no torch needed) and
writes one graph (two for seq2seq: the encoder and one decoder step). Batch and time axes are
dynamic; each recurrent layer is one ``Scan`` per cell (:mod:`seqlab.export.graph`). Inputs and
outputs by kind (states in torch's layout, ``h`` (layers*directions, batch, hidden), and ``c``
for LSTM cells; feed zeros to start, feed the ``*_out`` values back to continue a sequence). Every
input is required (no initializer doubles as a default value), so onnxruntime's ``get_inputs()``
lists the states beside ``x`` / ``ids``; docs/ecosystem.md's ``with_zero_states`` fills in zeros
for the inputs a call leaves out:

=============  ===========================================  ============================================
kind           inputs                                       outputs
=============  ===========================================  ============================================
sequential     ``x`` (B, T, F) or ``ids`` (B, T);            ``y``; ``layer{k}.h_out`` ...
               ``layer{k}.h`` (1, B, H) per recurrent
               layer k that reads forwards
forecaster     ``x`` (B, T, F) transformed values,           ``y`` (B, out_steps, Q): the members' mean;
               ``dec`` (B, out_steps, Cd) when the nets      ``member{m}.h_out`` ...
               read decoder features; ``member{m}.h``
               (L, B, H) per member
hybrid         ``x`` (B, T, F) right-padded, ``lengths``      ``y`` (B, out_steps, Q): the members' mean
forecaster     (B,), ``dec`` when read, ``series`` (B,)
               (-1: unseen), ``phase`` (B,); no state
mix            the hybrid's inputs named ``hybrid.x`` ...,   ``hybrid.y``, ``rnn.y`` (each in its own
forecaster     the rnn's ``rnn.x`` ...                        units: seqlab.export.forecast averages them)
classifier     ``x`` (B, T, F) raw values, or ``ids``        ``logits`` (B, C), ``probabilities``;
               (B, T); ``lengths`` (B,); when streamable:    ``h_out`` ..., ``pool_count_out``,
               ``h`` (L, B, H) (``c``), and for mean / max   ``pool_sum_out`` / ``pool_max_out``
               pooling ``pool_count`` (B,) with
               ``pool_sum`` / ``pool_max`` (B, H)
regressor      as the classifier (``x`` only)                ``y`` (B, k) in the target's units; the
                                                             classifier's state outputs
text-lm        ``ids`` (B, T); ``h`` (L, B, H)               ``logits`` (B, T, V); ``h_out`` ...
seq2seq        encoder: ``src`` (B, S), ``lengths`` (B,)     ``memory``, ``keys``, ``mask``, ``h``, ``feed``
               decoder step: ``y_prev`` (B,), ``h``,         ``logits`` (B, V), ``h_out``, ``feed_out``,
               ``feed``, ``memory``, ``keys``, ``mask``      ``weights`` (B, S)
=============  ===========================================  ============================================

Bidirectional layers and ``go_backwards`` read each sequence from its end, so a chunk cannot
continue them: they take no state input and start from zeros. The classifier scales raw ``x`` in
the graph as ``predict_proba`` does (series z-normalisation over each sequence's valid steps, then
the training mean and deviation) and runs every option of ``ClassifierNet``: patches, attention
pooling, the convolutional branch (batch norm with its running statistics). It streams (takes
its state) only when it is one-directional with ``last``, ``mean`` or ``max`` pooling, one step
per recurrent step, no convolutional branch and no series normalisation: each of the others
reads the whole sequence at once. Streaming, ``pool_count`` is the number of steps seen and
``pool_sum`` / ``pool_max`` the sum / maximum of the top layer's outputs over them; zeros start a
sequence, and a chunk's ``*_out`` fed back makes two chunks equal one pass. The regressor's graph
is the classifier's with ``y = out * y_scale + y_mean`` (its target standardisation undone) in
place of the logits and probabilities: (B, k) even for a regressor fitted on y of shape (N,).

Every file's ``metadata_props`` (:func:`metadata`; each value JSON text) hold ``seqlab.kind``,
``seqlab.format_version`` (:data:`METADATA_VERSION`), ``seqlab.seqlab_version``,
``seqlab.graph`` and ``seqlab.config`` (the model file's config less its vocabularies); by kind ``seqlab.classes`` (the probability columns' labels),
``seqlab.targets`` (regressor), ``seqlab.vocab`` (classifier on text, language model) or
``seqlab.src_vocab`` and ``seqlab.tgt_vocab`` (seq2seq; :func:`vocab_metadata`), and
``seqlab.forecast`` (:func:`forecast_metadata`). docs/ecosystem.md shows a tokeniser built from
them alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SeqlabError
from ..reference.models import (ClassifierNetModel, ForecasterModel, ForecastNetRef, HybridNetRef, LanguageModel,
                                ReferenceModel, RegressorModel, Seq2SeqModel, SequentialModel, load)
from .graph import Graph, _onnx, recurrent, state_inputs, state_outputs, time_mask

_SELU = (1.6732632423543772, 1.0507009873554805)


def activation(g: Graph, name: str, z: str) -> str:
    """A Dense activation of seqlab.layers in ONNX operators."""
    if name == "linear":
        return z
    simple = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "softplus": "Softplus"}
    if name in simple:
        return g.op(simple[name], z)
    if name == "softmax":
        return g.op("Softmax", z, axis=-1)
    if name == "log_softmax":
        return g.op("LogSoftmax", z, axis=-1)
    if name == "elu":
        return g.op("Elu", z, alpha=1.0)
    if name == "selu":
        return g.op("Selu", z, alpha=_SELU[0], gamma=_SELU[1])
    if name == "gelu":  # 0.5 z (1 + erf(z / sqrt 2))
        e = g.op("Erf", g.op("Mul", z, g.const(1.0 / np.sqrt(2.0))))
        return g.op("Mul", g.op("Mul", z, g.const(0.5)), g.op("Add", e, g.const(1.0)))
    if name == "swish":
        return g.op("Mul", z, g.op("Sigmoid", z))
    raise SeqlabError(f"activation: {name!r} has no ONNX export")


def _linear(g: Graph, lin: Any, x: str, logits: bool = False) -> str:
    z = g.linear(x, lin.weight, lin.bias)
    return z if logits else activation(g, lin.activation, z)


def _embed(g: Graph, emb: Any, ids: str) -> str:
    return g.op("Gather", g.const(emb.weight, hint="embedding"), ids, axis=0)


# -- one builder per kind ----------------------------------------------------------------------
def sequential_graph(m: SequentialModel) -> Graph:
    g = Graph()
    ids_in = bool(m.layers) and m.layers[0].kind == "embedding"
    x = g.input("ids", "int64", ["batch", "time"]) if ids_in else g.input("x", "float", ["batch", "time", m.input_size])
    lengths = None
    i64 = _onnx().TensorProto.INT64
    for k, layer in enumerate(m.layers):
        c = layer.config
        if layer.kind == "embedding":
            if c.get("mask_zero"):
                lengths = g.op("ReduceSum", g.op("Cast", g.op("Not", g.op("Equal", x, g.const(0, np.int64))), to=i64),
                               g.ints(1), keepdims=0)  # (B,)
            x = _embed(g, layer.embedding, x)
        elif layer.kind == "masking":  # a step is padding where every feature equals mask_value
            padding = g.op("Cast", g.op("Equal", x, g.const(float(c.get("mask_value", 0.0)))), to=i64)  # (B, T, F)
            keep = g.op("Not", g.op("Cast", g.op("ReduceMin", padding, axes=[2], keepdims=0),
                                    to=_onnx().TensorProto.BOOL))  # (B, T): any feature differs
            x = g.op("Mul", x, g.op("Unsqueeze", g.op("Cast", keep, to=_onnx().TensorProto.FLOAT), g.ints(2)))
            lengths = g.op("ReduceSum", g.op("Cast", keep, to=i64), g.ints(1), keepdims=0)  # (B,): post-padding
        elif layer.kind == "identity":  # Dropout (inference), InputLayer
            pass
        elif layer.kind == "dense":
            x = _linear(g, layer.linear, x)
        elif layer.kind == "rnn" and layer.streams:
            per_cell, _ = state_inputs(g, layer.stack, f"layer{k}.")
            out, finals = recurrent(g, layer.stack, x, per_cell, lengths)
            state_outputs(g, layer.stack, finals, f"layer{k}.")
            x = out if c.get("return_sequences") else finals[0][0]
        elif layer.kind in ("rnn", "bidirectional"):
            x = _backwards_layer(g, layer, x, lengths)
        else:
            raise SeqlabError(f"model: layer {k} ({layer.config.get('name') or layer.kind}) is a {layer.kind!r} layer, "
                              "which has no ONNX export; export it with --format numpy (seqlab.reference runs it) "
                              "or rebuild the model without it")
        if layer.kind in ("rnn", "bidirectional") and not c.get("return_sequences"):
            lengths = None
    probe = 1.0 + max([0.0] + [abs(float(l.config.get("mask_value", 0.0))) for l in m.layers if l.kind == "masking"])
    y_rank = m.forward(np.ones((1, 2), np.int64) if ids_in else np.full((1, 2, m.input_size), probe)).ndim  # unmasked
    g.output(x, "y", shape=["batch"] + [None] * (y_rank - 1))
    return g


def _backwards_layer(g: Graph, layer: Any, x: str, lengths: str | None) -> str:
    """go_backwards and Bidirectional layers (no state input: they read from each sequence's end)."""
    from .graph import reverse_padded

    c = layer.config
    if layer.kind == "rnn":  # go_backwards
        out, finals = recurrent(g, layer.stack, reverse_padded(g, x, lengths), None, lengths)
        return out if c.get("return_sequences") else finals[0][0]
    fw, f_fin = recurrent(g, layer.stack, x, None, lengths)
    bw, b_fin = recurrent(g, layer.backward, reverse_padded(g, x, lengths), None, lengths)
    if c.get("return_sequences"):
        bw = reverse_padded(g, bw, lengths)
    else:
        fw, bw = f_fin[0][0], b_fin[0][0]
    mode = c["merge_mode"]
    if mode == "concat":
        return g.op("Concat", fw, bw, axis=-1)
    if mode == "ave":
        return g.op("Mul", g.op("Add", fw, bw), g.const(0.5))
    return g.op({"sum": "Add", "mul": "Mul"}[mode], fw, bw)


def _forecast_head(g: Graph, member: ForecastNetRef, last: str, dec: str | None) -> str:
    """A ForecastNet's head on the top layer's last output ``last`` (B, H): (B, S, Q)."""
    S, Q = member.out_steps, member.n_quantiles
    y = g.op("Reshape", g.linear(last, member.head.weight, member.head.bias), g.ints(0, S, Q))  # (B, S, Q)
    if dec is not None:  # y + dec_out(relu(dec_in([last; dec]))) at each forecast step
        e = g.op("Expand", g.op("Unsqueeze", last, g.ints(1)),
                 g.op("Concat", g.op("Shape", dec, end=2), g.ints(member.stack.hidden_size), axis=0))  # (B, S, H)
        z = g.op("Relu", g.linear(g.op("Concat", e, dec, axis=-1), member.dec_in.weight, member.dec_in.bias))
        y = g.op("Add", y, g.linear(z, member.dec_out.weight, member.dec_out.bias))
    return y


def _mean(g: Graph, ys: list[str]) -> str:
    total = ys[0]
    for y in ys[1:]:
        total = g.op("Add", total, y)
    return g.op("Mul", total, g.const(1.0 / len(ys))) if len(ys) > 1 else total


def forecaster_graph(m: ForecasterModel, g: Graph | None = None, prefix: str = "") -> Graph:
    """The forecaster's networks on the windows it prepares (into ``g``, its inputs and outputs
    named with ``prefix``). A mix: both parts in one graph, their inputs and outputs named
    ``hybrid.`` and ``rnn.`` (``hybrid.x`` ... ``hybrid.y``, ``rnn.x`` ... ``rnn.y``)."""
    g = Graph() if g is None else g
    if m.parts:
        for part in m.parts:
            forecaster_graph(part, g, f"{prefix}{part.net_kind}.")
        return g
    if m.hybrid:
        return hybrid_graph(m, g, prefix)
    first = m.members[0]
    S, Q = first.out_steps, first.n_quantiles
    x = g.input(prefix + "x", "float", ["batch", "time", first.stack.input_size])
    dec = g.input(prefix + "dec", "float", ["batch", S, first.dec_size]) if first.dec_in is not None else None
    ys = []
    for j, member in enumerate(m.members):
        per_cell, _ = state_inputs(g, member.stack, f"{prefix}member{j}.")
        out, finals = recurrent(g, member.stack, x, per_cell)
        state_outputs(g, member.stack, finals, f"{prefix}member{j}.")
        ys.append(_forecast_head(g, member, finals[-1][0], dec))  # the top layer's last output (B, H)
    g.output(_mean(g, ys), prefix + "y", shape=["batch", S, Q])
    return g


def hybrid_graph(m: ForecasterModel, g: Graph | None = None, prefix: str = "") -> Graph:
    """The hybrid forecaster (ES-RNN style) on the windows its forecaster prepares: ``x`` (B, T, F)
    right-padded, ``lengths`` (B,), ``dec`` (B, S, Cd) when read, ``series`` (B,) int64 (the
    series index; -1: unseen in training, the mean of the per-series parameters) and ``phase``
    (B,) int64 (the season position of each window's first step). Each member's per-series
    table ``es`` (smoothing logits and initial seasonal indices) is an initializer gathered by
    ``series``; its exponential smoothing is one ``Scan`` over time (:func:`_smooth`), then its
    recurrent network reads the values less the last level and the seasonal index. No state
    input: the last level shifts the input of every step, so a window is read whole."""
    g = Graph() if g is None else g
    first = m.members[0].core
    S, Q = first.out_steps, first.n_quantiles
    F = first.stack.input_size
    x = g.input(prefix + "x", "float", ["batch", "time", F])
    lengths = g.input(prefix + "lengths", "int64", ["batch"])
    dec = g.input(prefix + "dec", "float", ["batch", S, first.dec_size]) if first.dec_in is not None else None
    series = g.input(prefix + "series", "int64", ["batch"])
    phase = g.input(prefix + "phase", "int64", ["batch"])
    valid = time_mask(g, x, lengths)[1]  # (B, T) bool
    x = g.op("Where", g.op("Unsqueeze", valid, g.ints(2)), x, g.const(0.0))  # padding is never read
    z = g.op("Squeeze", g.slice_last(x, 0, 1), g.ints(2))  # (B, T): the transformed target
    T = g.op("Squeeze", g.op("Gather", g.op("Shape", x), g.ints(1), axis=0), g.ints(0))
    t = g.op("Range", g.const(0, np.int64), T, g.const(1, np.int64))  # (T,)
    ys = []
    for member in m.members:
        level, s_in, seas = _smooth(g, member, z, valid, t, series, phase)
        u = g.op("Where", valid, g.op("Sub", g.op("Sub", z, g.op("Unsqueeze", level, g.ints(1))), s_in),
                 g.const(0.0))  # (B, T)
        xin = g.op("Unsqueeze", u, g.ints(2))  # (B, T, 1)
        if F > 1:
            xin = g.op("Concat", xin, g.slice_last(x, 1, F), axis=2)  # (B, T, F)
        _, finals = recurrent(g, member.core.stack, xin, None, lengths)
        y = _forecast_head(g, member.core, finals[-1][0], dec)  # (B, S, Q)
        mm = max(1, member.season)  # the seasonal index of forecast step s is slot (lengths + s) mod m
        slots = g.op("Mod", g.op("Add", g.op("Unsqueeze", lengths, g.ints(1)), g.const(np.arange(S)[None], np.int64)),
                     g.const(mm, np.int64))  # (B, S)
        s_out = g.op("GatherElements", seas, slots, axis=1)  # (B, S)
        ys.append(g.op("Add", y, g.op("Unsqueeze", g.op("Add", g.op("Unsqueeze", level, g.ints(1)), s_out),
                                      g.ints(2))))  # (B, S, Q)
    g.output(_mean(g, ys), prefix + "y", shape=["batch", S, Q])
    return g


def _smooth(g: Graph, member: HybridNetRef, z: str, valid: str, t: str, series: str,
            phase: str) -> tuple[str, str, str]:
    """:func:`seqlab.reference.blocks.exp_smooth` as one Scan over the steps of ``z`` (B, T):
    ``(last level (B,), seasonal index read at each step (B, T), seasonal state (B, m))``, the
    seasonal state held rotated to each window's first step (slot k: the steps j = k mod m)."""
    m = max(1, member.season)
    n = len(member.es)
    table = np.concatenate([member.es, member.es.mean(0, keepdims=True)])  # (n + 1, 2 + m): row n for -1
    row = g.op("Where", g.op("Less", series, g.const(0, np.int64)), g.const(n, np.int64), series)  # (B,)
    p = g.op("Gather", g.const(table, hint="es"), row, axis=0)  # (B, 2 + m)
    alpha = g.op("Sigmoid", g.op("Squeeze", g.slice_last(p, 0, 1), g.ints(1)))  # (B,)
    gamma = g.op("Sigmoid", g.op("Squeeze", g.slice_last(p, 1, 2), g.ints(1)))  # (B,)
    if m > 1:
        rot = g.op("Mod", g.op("Add", g.op("Unsqueeze", phase, g.ints(1)), g.const(np.arange(m)[None], np.int64)),
                   g.const(m, np.int64))  # (B, m): the season position of slot k
        seas0 = g.op("GatherElements", g.slice_last(p, 2, 2 + m), rot, axis=1)  # (B, m)
    else:
        seas0 = g.op("Mul", g.slice_last(p, 2, 3), g.const(0.0))  # (B, 1): no seasonality
    level0 = g.op("Mul", alpha, g.const(0.0))  # (B,), replaced at step 0
    upd = g.op("And", valid, g.op("Greater", g.op("Unsqueeze", t, g.ints(0)), g.const(0, np.int64)))  # (B, T)
    first = g.op("Equal", t, g.const(0, np.int64))  # (T,)
    onehot = g.op("Equal", g.op("Unsqueeze", g.op("Mod", t, g.const(m, np.int64)), g.ints(1)),
                  g.const(np.arange(m)[None], np.int64))  # (T, m): the slot of step j

    body = Graph(prefix=f"{g.name('smooth')}/")
    lv, ss, al, ga = (body.input(body.name(k), shape=sh) for k, sh in
                      (("level", [None]), ("seas", [None, m]), ("alpha", [None]), ("gamma", [None])))
    z_t, u_t = body.input(body.name("z_t"), shape=[None]), body.input(body.name("upd_t"), "bool", [None])
    f_t, oh_t = body.input(body.name("first_t"), "bool", []), body.input(body.name("slot_t"), "bool", [m])
    oh = body.op("Unsqueeze", oh_t, body.ints(0))  # (1, m)
    s_j = body.op("ReduceSum", body.op("Where", oh, ss, body.const(0.0)), body.ints(1), keepdims=0)  # (B,)
    d = body.op("Sub", z_t, s_j)
    smoothed = body.op("Add", body.op("Mul", al, d), body.op("Mul", body.one_minus(al), lv))
    new_lv = body.op("Where", f_t, d, body.op("Where", u_t, smoothed, lv))  # l_0 = z_0 - s_0
    new_ss = ss
    if m > 1:
        s_new = body.op("Add", body.op("Mul", ga, body.op("Sub", z_t, new_lv)), body.op("Mul", body.one_minus(ga), s_j))
        new_ss = body.op("Where", body.op("And", body.op("Unsqueeze", u_t, body.ints(1)), oh),
                         body.op("Unsqueeze", s_new, body.ints(1)), ss)  # (B, m): slot j mod m updated
    for name, shape in ((new_lv, [None]), (new_ss, [None, m]), (al, [None]), (ga, [None]), (s_j, [None])):
        body.output(name, body.name("out"), shape=shape)
    g.inits.extend(body.inits)  # constants made inside the body live in the outer graph
    body.inits = []
    outs = g.op("Scan", level0, seas0, alpha, gamma, z, upd, first, onehot, outputs=5, body=body.graph("smooth"),
                num_scan_inputs=4, scan_input_axes=[1, 1, 0, 0], scan_output_axes=[1])
    return outs[0], outs[4], outs[1]


def classifier_graph(m: ClassifierNetModel) -> Graph:
    """The classifier or the regressor on raw input: ``x`` (B, T, F) as given to ``predict_proba``
    or ``predict`` (scaled in the graph: series z-normalisation, then the training mean and
    deviation) or ``ids`` (B, T), with ``lengths`` (B,). A model that
    :attr:`~ClassifierNetModel.streams` takes the recurrent state and the pooling's running values
    as inputs (see the module docstring)."""
    g = Graph()
    st = m.stack
    if m.embedding is not None:
        x = _embed(g, m.embedding, g.input("ids", "int64", ["batch", "time"]))
    else:
        x = g.input("x", "float", ["batch", "time", m.input_size])
    lengths = g.input("lengths", "int64", ["batch"])
    mask, valid = time_mask(g, x, lengths)  # (B, T, 1) float, (B, T) bool
    valid3 = g.op("Unsqueeze", valid, g.ints(2))  # (B, T, 1)
    x = g.op("Where", valid3, x, g.const(0.0))  # padding is never read (nor NaN there)
    if m.embedding is None:
        if m.normalize == "series":
            x = _znormalize(g, x, valid3)
        if m.mean is not None:
            x = g.op("Div", g.op("Sub", x, g.const(m.mean, hint="mean")), g.const(m.std, hint="std"))
            x = g.op("Where", valid3, x, g.const(0.0))
    rx, rl = _patches(g, x, lengths, m.patch)
    streams = m.streams
    per_cell = state_inputs(g, st, "")[0] if streams else None
    pool_in = _pool_state_inputs(g, st, m.pooling) if streams else None
    out, finals = recurrent(g, st, rx, per_cell, rl)
    if streams:
        state_outputs(g, st, finals, "")
    feats = _pool(g, m, out, finals, rl, pool_in)
    if m.conv is not None:
        feats = g.op("Concat", feats, _conv_branch(g, m.conv, x, mask), axis=-1)  # (B, D*H + W)
    out = g.linear(feats, m.head.weight, m.head.bias)  # (B, C): logits, or the standardised targets
    if isinstance(m, RegressorModel):
        y = g.op("Add", g.op("Mul", out, g.const(m.y_scale, hint="y_scale")), g.const(m.y_mean, hint="y_mean"))
        g.output(y, "y", shape=["batch", m.n_outputs])
        return g
    g.output(out, "logits", shape=["batch", len(m.classes)])
    g.output(g.op("Softmax", out, axis=-1), "probabilities", shape=["batch", len(m.classes)])
    return g


def _znormalize(g: Graph, x: str, valid3: str) -> str:
    """Each series and channel of ``x`` (B, T, F) z-normalised over its valid steps, in float64
    as seqlab.classify.data.znormalize (a constant channel becomes 0)."""
    f64 = _onnx().TensorProto.DOUBLE
    xd = g.op("Cast", x, to=f64)  # (B, T, F), 0 on padding
    n = g.op("ReduceSum", g.op("Cast", valid3, to=f64), g.ints(1), keepdims=1)  # (B, 1, 1)
    mean = g.op("Div", g.op("ReduceSum", xd, g.ints(1), keepdims=1), n)  # (B, 1, F)
    d = g.op("Where", valid3, g.op("Sub", xd, mean), g.const(0.0, np.float64))
    std = g.op("Sqrt", g.op("Div", g.op("ReduceSum", g.op("Mul", d, d), g.ints(1), keepdims=1), n))  # (B, 1, F)
    ok = g.op("Greater", std, g.const(1e-8, np.float64))
    z = g.op("Where", ok, g.op("Div", d, g.op("Where", ok, std, g.const(1.0, np.float64))), g.const(0.0, np.float64))
    return g.op("Cast", z, to=_onnx().TensorProto.FLOAT)  # 0 on padding (d is)


def _patches(g: Graph, x: str, lengths: str, P: int) -> tuple[str, str]:
    """Steps (B, T, I) -> (B, ceil(T/P), P*I), the last patch zero-filled; lengths ceil(lengths/P)."""
    if P == 1:
        return x, lengths
    T = g.op("Gather", g.op("Shape", x), g.ints(1), axis=0)  # (1,)
    n = g.op("Div", g.op("Add", T, g.ints(P - 1)), g.ints(P))  # (1,) ceil(T/P)
    extra = g.op("Sub", g.op("Mul", n, g.ints(P)), T)  # (1,) zero steps at the end
    pads = g.op("Concat", g.ints(0, 0, 0, 0), extra, g.ints(0), axis=0)  # begin (B, T, I), end (B, T, I)
    xp = g.op("Pad", x, pads)  # (B, n*P, I)
    width = g.op("Mul", g.op("Gather", g.op("Shape", x), g.ints(2), axis=0), g.ints(P))  # (1,) P*I
    rx = g.op("Reshape", xp, g.op("Concat", g.ints(0, -1), width, axis=0))  # (B, n, P*I)
    rl = g.op("Div", g.op("Add", lengths, g.const(P - 1, np.int64)), g.const(P, np.int64))  # (B,)
    return rx, rl


def _pool_state_inputs(g: Graph, st: Any, pooling: str) -> dict[str, str]:
    """``pool_count`` (B,) and ``pool_sum`` or ``pool_max`` (B, H): the running values of mean and
    max pooling over the chunks so far (zeros to start)."""
    if pooling not in ("mean", "max"):
        return {}
    return {"count": g.input("pool_count", "float", ["batch"]),
            pooling: g.input(f"pool_{'sum' if pooling == 'mean' else 'max'}", "float", ["batch", st.output_size])}


def _pool(g: Graph, m: ClassifierNetModel, out: str, finals: list[list[str]], lengths: str,
          state: dict[str, str] | None) -> str:
    """The recurrent outputs (B, T, D*H) -> (B, D*H); with ``state`` the pooling continues the
    running values and writes ``pool_*_out``."""
    st, pooling = m.stack, m.pooling
    if pooling == "last":
        top = [f[0] for f in finals[-st.D:]]
        return top[0] if len(top) == 1 else g.op("Concat", *top, axis=-1)  # (B, D*H)
    mask, valid = time_mask(g, out, lengths)  # over the recurrent steps
    if pooling == "attention":
        a = g.op("Tanh", g.linear(out, m.attention.proj.weight, m.attention.proj.bias))
        score = g.op("Squeeze", g.linear(a, m.attention.score.weight, None), g.ints(2))  # (B, T)
        w = g.op("Softmax", g.op("Where", valid, score, g.const(-np.inf)), axis=1)  # (B, T): 0 on padding
        return g.op("ReduceSum", g.op("Mul", g.op("Unsqueeze", w, g.ints(2)), out), g.ints(1), keepdims=0)
    n = g.op("Cast", lengths, to=_onnx().TensorProto.FLOAT)  # (B,)
    if state:
        n = g.op("Add", n, state["count"])
        g.output(n, "pool_count_out", shape=["batch"])
    if pooling == "mean":
        s = g.op("ReduceSum", g.op("Mul", out, mask), g.ints(1), keepdims=0)  # (B, D*H)
        if state:
            s = g.op("Add", s, state["mean"])
            g.output(s, "pool_sum_out", shape=["batch", st.output_size])
        return g.op("Div", s, g.op("Unsqueeze", n, g.ints(1)))
    filled = g.op("Where", g.op("Unsqueeze", valid, g.ints(2)), out, g.const(-np.inf))
    mx = g.op("ReduceMax", filled, axes=[1], keepdims=0)  # (B, D*H); axes an attribute until opset 18
    if state:  # the running maximum counts once a chunk has been seen (pool_count > 0)
        seen = g.op("Unsqueeze", g.op("Greater", state["count"], g.const(0.0)), g.ints(1))  # (B, 1)
        mx = g.op("Where", seen, g.op("Max", mx, state["max"]), mx)
        g.output(mx, "pool_max_out", shape=["batch", st.output_size])
    return mx


def _conv_branch(g: Graph, conv: Any, x: str, mask: str) -> str:
    """LSTM-FCN's convolutional branch on ``x`` (B, T, I): per block a 'same' Conv (zeros read
    past both ends and on padding), the batch norm's running statistics, ReLU; the mean over the
    valid steps. -> (B, W)."""
    h = x
    for w, bn in zip(conv.convs, conv.norms):
        k = int(w.shape[2])
        hc = g.op("Transpose", g.op("Mul", h, mask), perm=[0, 2, 1])  # (B, C, T)
        hc = g.op("Conv", hc, g.const(w, hint="conv"), kernel_shape=[k], pads=[(k - 1) // 2, k // 2])  # (B, O, T)
        h = g.op("Transpose", hc, perm=[0, 2, 1])  # (B, T, O)
        inv = (1.0 / np.sqrt(bn.running_var.astype(np.float32) + np.float32(bn.eps))).astype(np.float32)
        h = g.op("Sub", h, g.const(bn.running_mean, hint="bn_mean"))  # (h - mean) * rsqrt(var + eps) * w + b
        h = g.op("Add", g.op("Mul", g.op("Mul", h, g.const(inv, hint="bn_inv")), g.const(bn.weight, hint="bn_w")),
                 g.const(bn.bias, hint="bn_b"))
        h = g.op("Relu", h)
    s = g.op("ReduceSum", g.op("Mul", h, mask), g.ints(1), keepdims=0)  # (B, W)
    return g.op("Div", s, g.op("ReduceSum", mask, g.ints(1), keepdims=0))  # / valid steps (B, 1)


def lm_graph(m: LanguageModel) -> Graph:
    g = Graph()
    x = _embed(g, m.embedding, g.input("ids", "int64", ["batch", "time"]))
    per_cell, _ = state_inputs(g, m.stack, "")
    out, finals = recurrent(g, m.stack, x, per_cell)
    g.output(g.linear(out, m.decoder.weight, m.decoder.bias), "logits", shape=["batch", "time", len(m.decoder.weight)])
    state_outputs(g, m.stack, finals, "")
    return g


def seq2seq_graphs(m: Seq2SeqModel) -> tuple[Graph, Graph]:
    names = ["h", "c"][: m.decoder.state_size]
    H = m.decoder.hidden_size
    # encoder
    g = Graph()
    src = g.input("src", "int64", ["batch", "src_time"])
    lengths = g.input("lengths", "int64", ["batch"])
    memory, finals = recurrent(g, m.encoder, _embed(g, m.src_embed, src), None, lengths)
    top = finals[-2:]
    for j, (name, bridge) in enumerate(zip(names, m.bridge)):
        g.output(g.op("Tanh", g.linear(g.op("Concat", top[0][j], top[1][j], axis=-1), bridge.weight, bridge.bias)),
                 name, shape=["batch", H])
    g.output(memory, "memory", shape=["batch", "src_time", 2 * H])
    g.output(g.linear(memory, m.w_k.weight, m.w_k.bias), "keys", shape=["batch", "src_time", H])
    g.output(time_mask(g, memory, lengths)[1], "mask", "bool", ["batch", "src_time"])
    g.output(g.op("Mul", top[0][0], g.const(0.0)), "feed", shape=["batch", H])
    # one decoder step
    d = Graph()
    y_prev = d.input("y_prev", "int64", ["batch"])
    state = [d.input(n, "float", ["batch", H]) for n in names]
    feed = d.input("feed", "float", ["batch", H])
    mem = d.input("memory", "float", ["batch", "src_time", 2 * H])
    keys = d.input("keys", "float", ["batch", "src_time", H])
    mask = d.input("mask", "bool", ["batch", "src_time"])

    def attend(q: str) -> tuple[str, str]:
        if m.attention == "bahdanau":
            q1 = d.op("Unsqueeze", d.linear(q, m.w_q.weight, m.w_q.bias), d.ints(1))  # (B, 1, H)
            e = d.op("Squeeze", d.linear(d.op("Tanh", d.op("Add", keys, q1)), m.v.weight, None), d.ints(2))  # (B, S)
        else:
            e = d.op("Squeeze", d.op("MatMul", keys, d.op("Unsqueeze", q, d.ints(2))), d.ints(2))  # (B, S)
        w = d.op("Softmax", d.op("Where", mask, e, d.const(-np.inf)), axis=-1)  # (B, S)
        ctx = d.op("Squeeze", d.op("MatMul", d.op("Unsqueeze", w, d.ints(1)), mem), d.ints(1))  # (B, 2H)
        return ctx, w

    from .graph import cell_step, input_projection

    parts = [_embed(d, m.tgt_embed, y_prev)]
    if m.attention == "bahdanau":
        ctx, w = attend(state[0])
        parts.append(ctx)
    if m.model_config.get("input_feeding", True):
        parts.append(feed)
    x = d.op("Concat", *parts, axis=-1)
    cell = m.decoder.cells[0]
    new = cell_step(d, m.decoder.family, cell, m.decoder.options,
                    input_projection(d, m.decoder.family, cell, m.decoder.options, x), state)
    if m.attention == "luong":
        ctx, w = attend(new[0])
    feed_out = d.op("Tanh", d.linear(d.op("Concat", new[0], ctx, axis=-1), m.combine.weight, m.combine.bias))
    d.output(d.linear(feed_out, m.out.weight, m.out.bias), "logits", shape=["batch", len(m.out.weight)])
    for n, s in zip(names, new):
        d.output(s, f"{n}_out", shape=["batch", H])
    d.output(feed_out, "feed_out", shape=["batch", H])
    d.output(w, "weights", shape=["batch", "src_time"])
    return g, d


# -- files -------------------------------------------------------------------------------------
def seq2seq_paths(out: str | os.PathLike) -> tuple[Path, Path]:
    """``m.onnx`` -> ``m.encoder.onnx``, ``m.decoder.onnx``."""
    p = Path(out)
    stem = p.name[: -len(p.suffix)] if p.suffix else p.name
    return p.with_name(stem + ".encoder.onnx"), p.with_name(stem + ".decoder.onnx")


def graphs(model: ReferenceModel) -> dict[str, Graph]:
    """The ONNX graph(s) of a loaded model: ``{"model": g}``, or ``{"encoder": e, "decoder": d}``."""
    if isinstance(model, SequentialModel):
        return {"model": sequential_graph(model)}
    if isinstance(model, ForecasterModel):
        return {"model": forecaster_graph(model)}
    if isinstance(model, ClassifierNetModel):  # the classifier and the regressor
        return {"model": classifier_graph(model)}
    if isinstance(model, LanguageModel):
        return {"model": lm_graph(model)}
    if isinstance(model, Seq2SeqModel):
        enc, dec = seq2seq_graphs(model)
        return {"encoder": enc, "decoder": dec}
    raise SeqlabError(f"model: no ONNX export for {type(model).__name__}")


# -- metadata ----------------------------------------------------------------------------------
#: version of the layout of the ``seqlab.*`` metadata_props (``seqlab.format_version``)
METADATA_VERSION = 1
#: the config entries that hold vocabularies: in their own metadata keys, not in ``seqlab.config``
_VOCAB_KEYS = {"vocab": "seqlab.vocab", "src_vocab": "seqlab.src_vocab", "tgt_vocab": "seqlab.tgt_vocab"}
#: per vocabulary level, the regular expression (Python ``re``, Unicode) whose matches are the
#: tokens; None: every code point is a token
_PATTERNS = {"char": None, "word": None, "legacy-classify-word": r"\w+|[^\w\s]", "legacy-seq2seq-word": r"\S+"}


def vocab_metadata(vocab: Any, unknown: str) -> dict[str, Any]:
    """What a tokeniser outside seqlab needs of ``vocab`` (a :class:`seqlab.vocab.Vocabulary`):
    ``tokens`` (every token in id order, specials included), ``level``, ``pattern`` (the regex
    whose ``findall`` gives the tokens; null: one token per code point), ``lowercase``,
    ``drop_spaces`` (strip each token's leading space and drop whitespace tokens), ``specials``
    ({token: id}; text never maps to them), ``pad_id``, ``unk_id``, ``bos_id``, ``eos_id`` (null
    where absent) and ``unknown``: how seqlab reads a token outside the vocabulary ('replace':
    as ``unk_id``; 'error': it refuses the text)."""
    from ..vocab import WORD_RE

    c = vocab.config
    pattern = WORD_RE.pattern if c.level == "word" else _PATTERNS.get(c.level)
    if c.level not in _PATTERNS:
        raise SeqlabError(f"model: its vocabulary's level {c.level!r} has no tokeniser description for the ONNX "
                          f"metadata; expected one of {sorted(_PATTERNS)}")
    if unknown == "replace" and vocab.unk_id is None:
        unknown = "error"
    return {"tokens": list(vocab.itos), "level": c.level, "pattern": pattern, "lowercase": c.lowercase,
            "drop_spaces": c.drop_spaces, "specials": {t: vocab.stoi[t] for t in c.specials},
            "pad_id": vocab.pad_id, "unk_id": vocab.unk_id, "bos_id": vocab.bos_id, "eos_id": vocab.eos_id,
            "unknown": unknown}


def _vocab(config: dict, key: str) -> Any:
    from ..vocab import Vocabulary

    try:
        return Vocabulary.from_config(config[key])
    except (SeqlabError, KeyError, TypeError, ValueError) as exc:
        raise SeqlabError(f"model: its config's {key!r} is not a readable vocabulary ({exc}); re-save the model "
                          "with this seqlab, or export it with --format numpy") from None


_FORECAST_NOTES = (
    "x: each window's last `lookback` steps as the forecaster prepares them: column 0 the target after "
    "the series' transform (config series[i].transform: log, differencing, scaler), made relative to "
    "the window's level with scaling 'window', then the scaled covariates, static and calendar "
    "features; dec: the forecast steps' known-future and calendar features; y: the quantiles in "
    "those transformed units, unsorted. seqlab.export.forecast.forecast_inputs makes the inputs from "
    "raw history and forecast_outputs turns y into forecasts (the level added back, quantiles "
    "sorted, the transform undone, the conformal calibration applied).")


def _forecast_part(m: ForecasterModel) -> dict[str, Any]:
    c, fc = m.config, m.forecast_config
    net = c.get("net", {})
    first = m.members[0].core if m.hybrid else m.members[0]
    out = {k: fc.get(k) for k in ("model", "horizon", "quantiles", "strategy", "lookback", "season", "transform",
                                  "diff", "scaler", "scaling", "calendar")}
    out.update(net=m.net_kind, members=len(m.members), lookbacks=c.get("lookbacks"), freq=c.get("freq"),
               n_calendar=c.get("n_calendar"), features=first.stack.input_size, dec_features=first.dec_size,
               series=[s.get("name") for s in c.get("series", [])], n_series=net.get("n_series"))
    return out


def forecast_metadata(m: ForecasterModel) -> dict[str, Any]:
    """The settings needed to feed a forecaster's graph and read its output (see ``notes``)."""
    fc = m.forecast_config
    if m.parts:
        out = {k: fc.get(k) for k in ("model", "horizon", "quantiles", "season", "transform", "scaling")}
        out.update(freq=m.parts[0].config.get("freq"), parts={p.net_kind: _forecast_part(p) for p in m.parts})
    else:
        out = _forecast_part(m)
    out["notes"] = _FORECAST_NOTES
    return out


def metadata(ref: ReferenceModel, name: str, g: Graph) -> dict[str, str]:
    """The ``metadata_props`` of the graph ``g`` (``name``: model, encoder or decoder) of ``ref``:
    keys ``seqlab.*``, each value JSON text (see the module docstring)."""
    import json

    from .. import __version__

    config = ref.config
    meta: dict[str, Any] = {
        "seqlab.kind": ref.kind, "seqlab.format_version": METADATA_VERSION, "seqlab.seqlab_version": __version__,
        "seqlab.graph": name, "seqlab.config": {k: v for k, v in config.items() if k not in _VOCAB_KEYS}}
    if isinstance(ref, ClassifierNetModel):
        if isinstance(ref, RegressorModel):
            meta["seqlab.targets"] = {"n_outputs": ref.n_outputs, "y_ndim": ref.y_ndim}
        else:
            meta["seqlab.classes"] = list(ref.classes)
        if ref.vocab is not None:
            meta["seqlab.vocab"] = vocab_metadata(ref.vocab, "replace")
    elif isinstance(ref, LanguageModel):
        meta["seqlab.vocab"] = vocab_metadata(_vocab(config, "vocab"), "replace")
    elif isinstance(ref, Seq2SeqModel):
        meta["seqlab.src_vocab"] = vocab_metadata(_vocab(config, "src_vocab"), "replace")  # 'error' without <unk>
        meta["seqlab.tgt_vocab"] = vocab_metadata(_vocab(config, "tgt_vocab"), "error")
    elif isinstance(ref, ForecasterModel):
        meta["seqlab.forecast"] = forecast_metadata(ref)
    return {k: json.dumps(v, ensure_ascii=False, separators=(",", ":")) for k, v in meta.items()}


def export_onnx(model: str | os.PathLike | ReferenceModel, out: str | os.PathLike) -> list[Path]:
    """Write the model file ``model`` (or a loaded reference model) as ONNX at ``out``; returns
    the files written (two for seq2seq: ``out`` with ``.encoder.onnx`` and ``.decoder.onnx``).
    Each file's ``metadata_props`` hold :func:`metadata`."""
    from ..files import atomic_write_bytes

    ref = model if isinstance(model, ReferenceModel) else load(model)
    gs = graphs(ref)
    paths = [Path(out)] if "model" in gs else list(seq2seq_paths(out))
    for path, (name, g) in zip(paths, gs.items()):
        m = g.model(f"seqlab_{ref.kind}_{name}".replace("-", "_"),
                    doc=f"seqlab {ref.kind} ({name}); inputs and outputs: see seqlab.export.onnx; "
                        "metadata_props seqlab.*: JSON")
        _onnx().helper.set_model_props(m, metadata(ref, name, g))
        atomic_write_bytes(path, m.SerializeToString())
    return paths


__all__ = ["METADATA_VERSION", "export_onnx", "forecast_metadata", "graphs", "metadata", "seq2seq_paths",
           "vocab_metadata"]
