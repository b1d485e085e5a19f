"""One backend vocabulary: for every registry cell, every backend and mode, resolve_backend() names
the path that actually runs (found by instrumenting the three paths), forcing a path the cell
lacks raises saying why, and every path computes the same numbers as the loop."""

import importlib.util
import itertools

import pytest
import torch

import seqlab.nn as snn
from seqlab.errors import SeqlabError
from seqlab.nn.registry import cell_names, get_cell, make_layer

NAMES = cell_names()
B, T, I, H = 3, 5, 4, 3
# what the cells have, written out here rather than asked of the code under test
HAS_FUSED = {"lstm", "gru", "rnn", "rnn-relu"}
# the sequence functions in torch code, on every device
HAS_TORCH_SEQUENCE = {"lstm", "lstm-peephole", "gru-reset-before", "mingru", "minlstm"}
# the compiled layers (numba, CPU only) add the GRU and the layer-normalized cells there
COMPILED = importlib.util.find_spec("numba") is not None
HAS_SEQUENCE = HAS_TORCH_SEQUENCE | ({"gru", "lstm-ln", "gru-ln"} if COMPILED else set())
# where both apply, auto takes the compiled GRU for these inputs (3 sequences of 5 steps, with
# gradients) and torch's fused LSTM (its buffers are small here)
AUTO_SEQUENCE = {"gru"} if COMPILED else set()
HAS_RECURRENT_WEIGHT = {n for n in NAMES if get_cell(n).family in ("lstm", "gru", "rnn")}


def instrument(layer: snn.Recurrent) -> list[str]:
    """Record which paths a forward call takes: 'fused', 'sequence' (a cell's forward_sequence) and
    'step' (a cell's recurrence, the loop's unit). Instance attributes shadow the methods."""
    seen: list[str] = []

    def wrap(obj, attr, tag):
        original = getattr(obj, attr)

        def called(*args, **kwargs):
            seen.append(tag)
            return original(*args, **kwargs)

        setattr(obj, attr, called)

    wrap(layer, "_forward_fused", "fused")
    for cell in layer.cells:
        wrap(cell, "forward_sequence", "sequence")
        wrap(cell, "recurrence", "step")
    return seen


def path_taken(seen: list[str]) -> str:
    kinds = set(seen)
    if kinds == {"fused"}:
        return "fused"
    if kinds == {"sequence"}:
        return "sequence"
    if kinds == {"step"}:
        return "loop"
    return "mixed: " + ",".join(sorted(kinds))  # e.g. a 'sequence' that steps the cell: a mismatch


def expected(name: str, backend: str, training: bool, rate: float) -> str | None:
    """The path that should run, or None when forcing ``backend`` must raise."""
    dropping = training and rate > 0
    if backend == "fused":
        return "fused" if name in HAS_FUSED and not rate else None
    if backend == "sequence":
        return "sequence" if name in HAS_SEQUENCE and not rate else None
    if backend == "loop" or dropping:
        return "loop"
    if name in AUTO_SEQUENCE:
        return "sequence"
    return "fused" if name in HAS_FUSED else "sequence" if name in HAS_SEQUENCE else "loop"


CASES = [(n, b, tr, r) for n, b, tr, r in itertools.product(NAMES, snn.BACKENDS, (False, True), (0.0, 0.25))
         if not (r and n not in HAS_RECURRENT_WEIGHT)]


@pytest.mark.parametrize("name,backend,training,rate", CASES,
                         ids=[f"{n}-{b}-{'train' if tr else 'eval'}-rd{r}" for n, b, tr, r in CASES])
def test_resolve_backend_is_the_path_taken(name, backend, training, rate):
    want = expected(name, backend, training, rate)
    kw = {"recurrent_dropout": rate} if rate else {}
    if want is None:
        with pytest.raises(SeqlabError, match=f"backend='{backend}' is not available: .+; use backend='auto' or 'loop'"):
            make_layer(name, I, H, backend=backend, **kw)
        return
    layer = make_layer(name, I, H, num_layers=2, bidirectional=True, backend=backend, **kw).train(training)
    seen = instrument(layer)
    x = torch.randn(B, T, I)
    assert layer.resolve_backend(x) == want
    layer(x, lengths=torch.tensor([T, 2, 4]))
    assert path_taken(seen) == want
    if want == "loop":
        assert seen.count("step") == len(layer.cells) * T  # one recurrence per step per cell


@pytest.mark.parametrize("name", NAMES)
def test_an_observed_layer_runs_the_loop_whatever_its_backend(name):
    layer = make_layer(name, I, H)
    seen = instrument(layer)
    with layer.observe(lambda step: None):
        assert layer.resolve_backend() == "loop"
        layer(torch.randn(B, T, I))
    assert path_taken(seen) == "loop"
    assert layer.resolve_backend() == expected(name, "auto", True, 0.0)


def test_forcing_sequence_on_a_cell_without_one_says_why(monkeypatch):
    from seqlab.nn import custom

    monkeypatch.setattr(custom, "COMPILED", False)  # as without numba: no compiled layers
    with pytest.raises(SeqlabError, match=r"backend='sequence' is not available: layer-normalized LSTM runs as a "
                                          r"whole sequence only as a compiled layer: the compiled layers are "
                                          r"switched off .*; use backend='auto' or 'loop'"):
        snn.LSTM(3, 4, layer_norm=True, backend="sequence")
    with pytest.raises(ValueError, match="GRU with reset='after' runs as a whole sequence only as a compiled layer"):
        snn.GRU(3, 4, backend="sequence")  # SeqlabError is a ValueError, as torch users expect
    with pytest.raises(SeqlabError, match="RNNCell has no whole-sequence implementation"):
        snn.RNN(3, 4, backend="sequence")
    # switched after construction: the forward call says why too
    layer = snn.GRU(3, 4, layer_norm=True)
    layer.backend = "sequence"
    with pytest.raises(SeqlabError, match="layer-normalized GRU runs as a whole sequence only as a compiled layer"):
        layer(torch.randn(2, 5, 3))
    monkeypatch.setattr(custom, "COMPILED", True)
    if COMPILED:  # a dtype the kernels do not take
        layer = snn.GRU(3, 4, backend="sequence").to(torch.bfloat16)
        with pytest.raises(SeqlabError, match=r"run float32/float64 on CPU, not torch.bfloat16 on cpu"):
            layer(torch.randn(2, 5, 3, dtype=torch.bfloat16))


def test_recurrent_dropout_refuses_forced_fast_paths_and_cells_without_recurrent_weights():
    with pytest.raises(SeqlabError, match=r"backend='fused' is not available: recurrent_dropout=0\.2 is applied by the loop only"):
        snn.LSTM(3, 4, backend="fused", recurrent_dropout=0.2)
    with pytest.raises(SeqlabError, match="recurrent_dropout: MinGRUCell has no recurrent weight"):
        make_layer("mingru", 3, 4, recurrent_dropout=0.2)
    with pytest.raises(SeqlabError, match=r"recurrent_dropout: expected a number in \[0, 1\), got 1.0"):
        snn.GRU(3, 4, recurrent_dropout=1.0)


def _run(layer, x, lengths):
    out, state = layer(x, lengths=lengths)
    state = state if isinstance(state, tuple) else (state,)
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype, device=out.device).view_as(out)
    loss = (out * weights).sum() + sum(s.square().sum() for s in state)
    grads = torch.autograd.grad(loss, [x, *layer.parameters()])
    return out, state, grads


@pytest.mark.parametrize("name", NAMES)
def test_every_path_computes_what_the_loop_computes(name, device):
    """Outputs, final states and all gradients of each available backend equal the loop's (float64);
    on CUDA the fused kernels are cuDNN's and the sequence functions the torch code (no numba)."""
    torch.manual_seed(7)
    loop = make_layer(name, I, H, num_layers=2, bidirectional=True, backend="loop").double()
    with torch.no_grad():
        for p in loop.parameters():
            p.normal_(0.0, 0.5)
    loop = loop.to(device)
    x = torch.randn(B, T, I, dtype=torch.float64).to(device).requires_grad_(True)
    lengths = torch.tensor([T, 1, 3])
    want = _run(loop.eval(), x, lengths)
    has_sequence = HAS_SEQUENCE if device == "cpu" else HAS_TORCH_SEQUENCE
    others = [b for b in ("fused", "sequence") if (name in HAS_FUSED if b == "fused" else name in has_sequence)]
    assert others or (name in ("lstm-ln", "gru-ln") and (device != "cpu" or not COMPILED))
    for backend in others:
        fast = make_layer(name, I, H, num_layers=2, bidirectional=True, backend=backend).double().to(device).eval()
        fast.load_state_dict(loop.state_dict())
        assert fast.resolve_backend(x) == backend
        got = _run(fast, x, lengths)
        torch.testing.assert_close(got[0], want[0], rtol=1e-9, atol=1e-10)
        for a, b in zip(got[1], want[1], strict=True):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)
        for a, b in zip(got[2], want[2], strict=True):
            torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-9)
