"""A small ONNX graph builder and the recurrent cells written in plain ONNX operators.

:class:`Graph` collects nodes and float32 initializers under unique names; ``g.op("MatMul", a, b)``
returns the output name. :func:`recurrent` writes one :class:`seqlab.reference.blocks.Stack` (any
registry cell, layers, two directions, lengths, the state in and out) as one ``Scan`` per cell
over the time axis, so the time axis stays dynamic; the step inside each Scan is
:func:`cell_step`, which is also what a decoder's single step uses. No ONNX ``LSTM``/``GRU``
operator is used: they have no peepholes in Graves's form, no layer norm, no minGRU, and their
GRU update gate is torch's ``1 - z``. An LSTM or GRU with ``activation='relu'`` (the stack's
``options["activation"]``) has ``Relu`` where the others have ``Tanh`` (the LSTM's candidate and
output, the GRU's candidate).

Every tensor is float32 (ids and lengths int64). Shapes in comments are batch first.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..nn.registry import gate_count

OPSET = 17


def _onnx():
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401
    except ImportError as exc:
        from ..errors import SeqlabError

        raise SeqlabError("--format onnx: needs the onnx package; install seqlab's export extra: "
                          "pip install 'seqlab[export]'") from exc
    return onnx


class Graph:
    """Nodes, initializers, inputs and outputs of one ONNX graph (or a Scan body)."""

    def __init__(self, prefix: str = "") -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.inputs: list[Any] = []
        self.outputs: list[Any] = []
        self.prefix = prefix
        self._n = 0
        self._consts: dict[tuple, str] = {}

    def name(self, hint: str = "t") -> str:
        self._n += 1
        return f"{self.prefix}{hint}_{self._n}"

    def op(self, op_type: str, *inputs: str, outputs: int | Sequence[str] = 1, **attrs: Any) -> Any:
        """Add a node; returns its output name (or the list of names when ``outputs`` > 1)."""
        onnx = _onnx()
        names = list(outputs) if not isinstance(outputs, int) else [self.name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(onnx.helper.make_node(op_type, list(inputs), names, **attrs))
        return names[0] if len(names) == 1 else names

    def const(self, value: Any, dtype: Any = np.float32, hint: str = "c") -> str:
        """An initializer holding ``value`` (weights: float32; shapes and indices: int64)."""
        onnx = _onnx()
        arr = np.asarray(value, dtype=dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes()) if arr.size <= 16 else None
        if key is not None and key in self._consts:
            return self._consts[key]
        name = self.name(hint)
        self.inits.append(onnx.numpy_helper.from_array(arr, name))
        if key is not None:
            self._consts[key] = name
        return name

    def ints(self, *values: int) -> str:
        return self.const(list(values), np.int64, "i")

    def input(self, name: str, elem: str = "float", shape: Sequence[Any] | None = None) -> str:
        onnx = _onnx()
        t = onnx.TensorProto.FLOAT if elem == "float" else (onnx.TensorProto.BOOL if elem == "bool" else onnx.TensorProto.INT64)
        self.inputs.append(onnx.helper.make_tensor_value_info(name, t, shape))
        return name

    def output(self, source: str, name: str, elem: str = "float", shape: Sequence[Any] | None = None) -> None:
        onnx = _onnx()
        t = onnx.TensorProto.FLOAT if elem == "float" else (onnx.TensorProto.BOOL if elem == "bool" else onnx.TensorProto.INT64)
        self.op("Identity", source, outputs=[name])
        self.outputs.append(onnx.helper.make_tensor_value_info(name, t, shape))

    def graph(self, name: str) -> Any:
        return _onnx().helper.make_graph(self.nodes, name, self.inputs, self.outputs, self.inits)

    def model(self, name: str, doc: str = "") -> Any:
        onnx = _onnx()
        m = onnx.helper.make_model(self.graph(name), opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="seqlab", doc_string=doc)
        m.ir_version = 8  # readable by onnxruntime >= 1.13
        onnx.checker.check_model(m)
        return m

    # -- helpers -------------------------------------------------------------------------------
    def linear(self, x: str, weight: np.ndarray, bias: np.ndarray | None) -> str:
        """``x W^T + b`` on the last axis."""
        y = self.op("MatMul", x, self.const(np.asarray(weight).T, hint="w"))
        return y if bias is None else self.op("Add", y, self.const(bias, hint="b"))

    def slice_last(self, x: str, start: int, end: int) -> str:
        return self.op("Slice", x, self.ints(start), self.ints(end), self.ints(-1))

    def layer_norm(self, x: str, gain: np.ndarray, shift: np.ndarray | None) -> str:
        """LN over the last axis, eps 1e-5 (torch's), gain and optional shift."""
        args = [x, self.const(gain, hint="ln_g")] + ([self.const(shift, hint="ln_b")] if shift is not None else [])
        return self.op("LayerNormalization", *args, axis=-1, epsilon=1e-5)

    def one_minus(self, x: str) -> str:
        return self.op("Sub", self.const(1.0), x)


# -- the cells ---------------------------------------------------------------------------------
def input_projection(g: Graph, family: str, p: dict, options: dict, x: str) -> str:
    """``W_ih x + b_ih`` (layer-normalized for LN cells, input pre-norm for minimal cells) over
    all steps at once: (B, T, I) -> (B, T, G*H)."""
    if family in ("mingru", "minlstm"):
        if options.get("norm"):
            x = g.layer_norm(x, p["ln_weight"], p["ln_bias"])
        return g.linear(x, p["weight_ih"], p.get("bias_ih"))
    if options.get("layer_norm"):
        return g.op("Add", g.layer_norm(g.linear(x, p["weight_ih"], None), p["ln_weight_ih"], None),
                    g.const(p["bias_ih"], hint="b")) if p.get("bias_ih") is not None else \
            g.layer_norm(g.linear(x, p["weight_ih"], None), p["ln_weight_ih"], None)
    return g.linear(x, p["weight_ih"], p.get("bias_ih"))


def _hh(g: Graph, p: dict, options: dict, h: str, rows: slice | None = None) -> str:
    """``W_hh h + b_hh`` (rows of it), layer-normalized over those rows for LN cells."""
    W, b = p["weight_hh"], p.get("bias_hh")
    gain = p.get("ln_weight_hh")
    if rows is not None:
        W, b = W[rows], None if b is None else b[rows]
        gain = None if gain is None else gain[rows]
    if options.get("layer_norm"):
        y = g.layer_norm(g.linear(h, W, None), gain, None)
        return y if b is None else g.op("Add", y, g.const(b, hint="b"))
    return g.linear(h, W, b)


def _act_g(g: Graph, a: str, activation: str) -> str:
    """minGRU's ``g``: a + 0.5 for a >= 0, σ(a) below (or the identity)."""
    if activation != "g":
        return a
    pos = g.op("GreaterOrEqual", a, g.const(0.0))
    return g.op("Where", pos, g.op("Add", a, g.const(0.5)), g.op("Sigmoid", a))


def _lstm_gru_activation(family: str, options: dict) -> str:
    """The ONNX operator of an LSTM's or GRU's ``activation`` option (the stack's options, as
    :class:`seqlab.reference.blocks.Stack` holds them): 'tanh' (the default) or 'relu' (Keras's
    ``LSTM(activation='relu')``; the layer-normalized cells compute tanh only)."""
    if family not in ("lstm", "gru"):
        return "Tanh"
    name = options.get("activation") or "tanh"
    if name not in ("tanh", "relu"):
        from ..errors import SeqlabError

        raise SeqlabError(f"model: its {family.upper()} layer has activation {name!r}, which has no ONNX export; "
                          "expected 'tanh' or 'relu' (retrain the layer with one of them)")
    if name == "relu" and options.get("layer_norm"):
        from ..errors import SeqlabError

        raise SeqlabError(f"model: its layer-normalized {family.upper()} has activation 'relu', which seqlab does "
                          "not compute (the layer-normalized cells compute 'tanh'); retrain it with "
                          "activation='tanh' or layer_norm=False")
    return "Relu" if name == "relu" else "Tanh"


def cell_step(g: Graph, family: str, p: dict, options: dict, xp: str, state: Sequence[str]) -> list[str]:
    """One step from the projected input ``xp`` (B, G*H) and ``state`` [(h,), or (h, c)]: the new state."""
    H = int(p["weight_ih"].shape[0]) // gate_count(family)
    s = lambda t, k: g.slice_last(t, k * H, (k + 1) * H)  # noqa: E731  block k of a (B, G*H) tensor
    h = state[0]
    squash = _lstm_gru_activation(family, options)  # LSTM's g and output, GRU's n: Tanh or Relu
    if family == "rnn":
        a = g.op("Add", xp, _hh(g, p, options, h))
        return [g.op("Relu" if options.get("nonlinearity") == "relu" else "Tanh", a)]
    if family == "lstm":
        c = state[1]
        a = g.op("Add", xp, _hh(g, p, options, h))  # (B, 4H): i | f | g | o
        ai, af, ag, ao = (s(a, k) for k in range(4))
        if "weight_ch" in p:
            wci, wcf, wco = (g.const(p["weight_ch"][k], hint="peep") for k in range(3))
            ai, af = g.op("Add", ai, g.op("Mul", wci, c)), g.op("Add", af, g.op("Mul", wcf, c))
        i, f, gg = g.op("Sigmoid", ai), g.op("Sigmoid", af), g.op(squash, ag)
        c_new = g.op("Add", g.op("Mul", f, c), g.op("Mul", i, gg))
        if "weight_ch" in p:
            ao = g.op("Add", ao, g.op("Mul", wco, c_new))
        c_out = g.layer_norm(c_new, p["ln_weight_c"], p.get("ln_bias_c")) if options.get("layer_norm") else c_new
        return [g.op("Mul", g.op("Sigmoid", ao), g.op(squash, c_out)), c_new]
    if family == "gru":
        xr, xz, xn = (s(xp, k) for k in range(3))
        if options.get("reset", "after") == "after":
            hh = _hh(g, p, options, h)
            r = g.op("Sigmoid", g.op("Add", xr, s(hh, 0)))
            z = g.op("Sigmoid", g.op("Add", xz, s(hh, 1)))
            n = g.op(squash, g.op("Add", xn, g.op("Mul", r, s(hh, 2))))
        else:
            hrz = _hh(g, p, options, h, slice(0, 2 * H))
            r = g.op("Sigmoid", g.op("Add", xr, s(hrz, 0)))
            z = g.op("Sigmoid", g.op("Add", xz, s(hrz, 1)))
            n = g.op(squash, g.op("Add", xn, _hh(g, p, options, g.op("Mul", r, h), slice(2 * H, 3 * H))))
        return [g.op("Add", g.op("Mul", g.one_minus(z), h), g.op("Mul", z, n))]
    act = options.get("activation", "g")
    if family == "mingru":
        z = g.op("Sigmoid", s(xp, 0))
        return [g.op("Add", g.op("Mul", g.one_minus(z), h), g.op("Mul", z, _act_g(g, s(xp, 1), act)))]
    f, i = g.op("Sigmoid", s(xp, 0)), g.op("Sigmoid", s(xp, 1))
    num = g.op("Add", g.op("Mul", f, h), g.op("Mul", i, _act_g(g, s(xp, 2), act)))
    return [g.op("Div", num, g.op("Add", f, i))]


# -- a whole layer as Scans --------------------------------------------------------------------
def _scan_cell(g: Graph, stack: Any, k: int, xp: str, state: list[str], mask: str | None) -> tuple[str, list[str]]:
    """One cell over the time axis of ``xp`` (B, T, G*H) as a Scan: ``(out (B, T, H), finals)``.
    ``mask`` (B, T, 1) float: past a sequence's end the state stays and the output is 0."""
    _onnx()  # a clear error where onnx is not installed
    body = Graph(prefix=f"{g.name('scan')}/")
    n = len(state)
    st_in = [body.input(body.name("s_in"), shape=[None, None]) for _ in range(n)]
    x_t = body.input(body.name("x_t"), shape=[None, None])
    m_t = body.input(body.name("m_t"), shape=[None, None]) if mask is not None else None
    new = cell_step(body, stack.family, stack.cells[k], stack.options, x_t, st_in)
    if m_t is not None:  # h_t = m hn + (1 - m) h_{t-1}, out_t = m hn
        keep = body.one_minus(m_t)
        out_t = body.op("Mul", m_t, new[0])
        new = [body.op("Add", body.op("Mul", m_t, a), body.op("Mul", keep, b)) for a, b in zip(new, st_in)]
    else:
        out_t = body.op("Identity", new[0])
    for name in new:
        body.output(name, body.name("s_out"), shape=[None, None])
    body.output(out_t, body.name("y_t"), shape=[None, None])
    for init in body.inits:  # constants made inside the body live in the outer graph
        g.inits.append(init)
    body.inits = []
    scan_in = [xp] + ([mask] if mask is not None else [])
    outs = g.op("Scan", *state, *scan_in, outputs=n + 1, body=body.graph("step"), num_scan_inputs=len(scan_in),
                scan_input_axes=[1] * len(scan_in), scan_output_axes=[1])
    outs = outs if isinstance(outs, list) else [outs]
    return outs[-1], outs[:-1]


def time_mask(g: Graph, x: str, lengths: str) -> tuple[str, str]:
    """``(mask (B, T, 1) float, valid (B, T) bool)`` from ``x`` (B, T, ...) and ``lengths`` (B,)."""
    T = g.op("Gather", g.op("Shape", x), g.ints(1), axis=0)  # (1,)
    t = g.op("Range", g.const(0, np.int64), g.op("Squeeze", T, g.ints(0)), g.const(1, np.int64))  # (T,)
    valid = g.op("Less", g.op("Unsqueeze", t, g.ints(0)), g.op("Unsqueeze", lengths, g.ints(1)))  # (B, T)
    mask = g.op("Unsqueeze", g.op("Cast", valid, to=_onnx().TensorProto.FLOAT), g.ints(2))  # (B, T, 1)
    return mask, valid


def reverse_padded(g: Graph, x: str, lengths: str | None) -> str:
    """Each sequence of ``x`` (B, T, X) reversed within its length (padding stays in place)."""
    if lengths is None:
        T = g.op("Squeeze", g.op("Gather", g.op("Shape", x), g.ints(1), axis=0), g.ints(0))
        t = g.op("Range", g.const(0, np.int64), T, g.const(1, np.int64))  # 0 .. T-1
        # T-1 .. 0 as (T - 1) - t: onnxruntime 1.32's optimizer empties Range with a negative step
        return g.op("Gather", x, g.op("Sub", g.op("Sub", T, g.const(1, np.int64)), t), axis=1)
    T = g.op("Gather", g.op("Shape", x), g.ints(1), axis=0)
    t = g.op("Unsqueeze", g.op("Range", g.const(0, np.int64), g.op("Squeeze", T, g.ints(0)), g.const(1, np.int64)),
             g.ints(0))  # (1, T)
    L = g.op("Unsqueeze", lengths, g.ints(1))  # (B, 1)
    idx = g.op("Where", g.op("Less", t, L), g.op("Sub", g.op("Sub", L, g.const(1, np.int64)), t),
               g.op("Add", t, g.op("Mul", L, g.const(0, np.int64))))  # (B, T)
    idx = g.op("Expand", g.op("Unsqueeze", idx, g.ints(2)), g.op("Shape", x))  # (B, T, X)
    return g.op("GatherElements", x, idx, axis=1)


def recurrent(g: Graph, stack: Any, x: str, state: list[list[str]] | None, lengths: str | None = None,
              batch_like: str | None = None) -> tuple[str, list[list[str]]]:
    """The whole :class:`~seqlab.reference.blocks.Stack` over ``x`` (B, T, I).

    ``state`` holds one list of names ((h,) or (h, c), each (B, H)) per cell, or None for zeros.
    Returns ``(out (B, T, D*H), final state per cell)``."""
    D, H = stack.D, stack.hidden_size
    if state is None:
        B = g.op("Gather", g.op("Shape", x), g.ints(0), axis=0)
        zero = g.op("ConstantOfShape", g.op("Concat", B, g.ints(H), axis=0),
                    value=_onnx().numpy_helper.from_array(np.zeros(1, np.float32)))
        state = [[zero] * stack.state_size for _ in stack.cells]
    mask = time_mask(g, x, lengths)[0] if lengths is not None else None
    layer_in, finals = x, []
    for layer in range(stack.num_layers):
        outs = []
        for d in range(D):
            k = layer * D + d
            xin = reverse_padded(g, layer_in, lengths) if d else layer_in
            xp = input_projection(g, stack.family, stack.cells[k], stack.options, xin)
            o, fin = _scan_cell(g, stack, k, xp, list(state[k]), mask)
            outs.append(reverse_padded(g, o, lengths) if d else o)
            finals.append(fin)
        y = outs[0] if D == 1 else g.op("Concat", *outs, axis=-1)  # (B, T, D*H)
        if stack.options.get("residual") and stack.cells[layer * D]["weight_ih"].shape[1] == D * H:
            y = g.op("Add", y, layer_in if mask is None else g.op("Mul", layer_in, mask))
        layer_in = y
    return layer_in, finals


def state_inputs(g: Graph, stack: Any, prefix: str) -> tuple[list[list[str]], list[str]]:
    """Graph inputs ``{prefix}h`` (and ``{prefix}c``) of torch's shape (L*D, batch, H), split per
    cell: required inputs (zeros start a sequence), listed by onnxruntime's ``get_inputs()``."""
    names = ["h", "c"][: stack.state_size]
    LD = len(stack.cells)
    whole = [g.input(prefix + n, "float", [LD, "batch", stack.hidden_size]) for n in names]
    per_cell = [[g.op("Gather", w, g.const(k, np.int64), axis=0) for w in whole] for k in range(LD)]
    return per_cell, whole


def state_outputs(g: Graph, stack: Any, finals: list[list[str]], prefix: str) -> None:
    """Graph outputs ``{prefix}h_out`` (and ``c_out``): the final states, (L*D, batch, H)."""
    for j, n in enumerate(["h", "c"][: stack.state_size]):
        parts = [g.op("Unsqueeze", f[j], g.ints(0)) for f in finals]
        g.output(parts[0] if len(parts) == 1 else g.op("Concat", *parts, axis=0), f"{prefix}{n}_out",
                 shape=[len(finals), "batch", stack.hidden_size])
