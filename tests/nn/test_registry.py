"""The cell registry: every entry builds the layer it describes, computes its NumPy reference
twin's equations (random weights, float64), and is what every job's --cell offers."""

import argparse
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

import seqlab.nn as snn
from seqlab.errors import SeqlabError
from seqlab.nn.registry import (
    CELLS,
    GATE_NAMES,
    cell_names,
    check_cell,
    gate_count,
    get_cell,
    make_layer,
)
from seqlab.reference import stack

NAMES = cell_names()
B, T, I, H = 3, 6, 4, 5


def randomized(layer):
    """float64, weights N(0, 0.5²) everywhere (layer-norm gains included) so no two units agree."""
    layer = layer.double()
    with torch.no_grad():
        for p in layer.parameters():
            p.normal_(0.0, 0.5)
    return layer


def params(cell) -> dict:
    return {n: p.detach().numpy().copy() for n, p in cell.named_parameters()}


def test_the_table_has_the_cells_of_the_issue_with_stable_names():
    assert NAMES == ("lstm", "gru", "rnn", "rnn-relu", "lstm-peephole", "lstm-ln", "gru-reset-before", "gru-ln",
                     "mingru", "minlstm")
    for name, spec in CELLS.items():
        assert spec.name == name and re.fullmatch(r"[a-z]+(-[a-z]+)*", name)
        assert spec.description and "\n" not in spec.description
        assert spec.family in GATE_NAMES


def test_names_saved_before_the_registry_build_the_same_layers():
    """Model files store 'lstm', 'gru', 'rnn' (and text files 'mingru', 'minlstm'): same classes, no options."""
    for name, cls in [("lstm", snn.LSTM), ("gru", snn.GRU), ("rnn", snn.RNN), ("mingru", snn.MinGRU),
                      ("minlstm", snn.MinLSTM)]:
        layer = make_layer(name, 3, 4)
        assert type(layer) is cls and layer.cell_kwargs == cls(3, 4).cell_kwargs
    # text files stored the peephole as a cell option of 'lstm'
    assert make_layer("lstm", 3, 4, peephole=True).cells[0].peephole


@pytest.mark.parametrize("name", NAMES)
def test_each_entry_builds_its_layer(name):
    spec = get_cell(name)
    layer = make_layer(name, I, H, num_layers=2, dropout=0.1, bidirectional=True)
    assert type(layer) is spec.layer
    assert layer.state_size == spec.state_size == layer.cells[0].state_size
    assert (layer.num_layers, layer.bidirectional, layer.dropout) == (2, True, 0.1)
    assert len(layer.cells) == 4 and layer.cells[2].input_size == 2 * H
    for k, v in spec.kwargs.items():
        assert getattr(layer.cells[0], k) == v
    x = torch.randn(B, T, I)
    out, state = layer(x)
    assert out.shape == (B, T, 2 * H)
    assert len(state if isinstance(state, tuple) else (state,)) == spec.state_size


@pytest.mark.parametrize("name", ["lstm", "gru", "rnn", "mingru", "minlstm"])
def test_gate_names_are_the_blocks_each_cell_computes(name):
    """GATE_NAMES[family][k] is what the cell computes from rows k*H:(k+1)*H of ``weight_ih``."""
    spec = get_cell(name)
    cell = make_layer(name, I, H).cells[0].double()
    assert cell.gates == spec.gates == gate_count(spec.family) == len(spec.gate_names)
    assert cell.weight_ih.shape == (spec.gates * H, I)
    if hasattr(cell, "gate_values"):  # LSTM, GRU: block k driven to +20 opens exactly gate k
        with torch.no_grad():
            cell.weight_hh.zero_()
            cell.bias_hh.zero_()
        state = tuple(torch.zeros(1, H, dtype=torch.float64) for _ in range(spec.state_size))
        for k, gate in enumerate(spec.gate_names):
            gi = torch.zeros(1, spec.gates * H, dtype=torch.float64)
            gi[:, k * H : (k + 1) * H] = 20.0
            values = cell.gate_values(gi, state)
            assert tuple(values) == spec.gate_names
            assert [g for g, v in values.items() if bool((v > 0.99).all())] == [gate]
    elif spec.gates > 1:  # minGRU, minLSTM: the gates z (f, i) choose between h_prev and the candidate h
        h0, cand = torch.full((1, H), 0.3, dtype=torch.float64), torch.full((1, H), 2.0, dtype=torch.float64)
        keep_or_take = {"z": (-30.0, 30.0), "f": (30.0, -30.0), "i": (-30.0, 30.0)}
        for which, want in ((0, h0), (1, cell._act(cand))):
            gi = torch.cat([cand if g == "h" else torch.full((1, H), keep_or_take[g][which], dtype=torch.float64)
                            for g in spec.gate_names], -1)  # (1, G*H), blocks in GATE_NAMES order
            torch.testing.assert_close(cell.recurrence(gi, (h0,))[0], want)


def test_gate_count_of_an_unknown_family_names_the_families():
    with pytest.raises(SeqlabError, match=re.escape("family: expected one of lstm, gru, rnn, mingru, minlstm, got 'tcn'")):
        gate_count("tcn")


def test_the_reference_stack_reads_its_cells_from_the_registry():
    backward = {s.family: s.reference_backward_function() for s in CELLS.values() if s.reference_backward}
    assert set(stack.CELLS) == set(backward) == {"lstm", "gru", "rnn"}
    for family, (fwd, bwd) in stack.CELLS.items():
        assert fwd is get_cell(family).reference_function() and bwd is backward[family]


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(SeqlabError, match=re.escape("cell: expected one of lstm, gru, rnn, rnn-relu, lstm-peephole")) as e:
        get_cell("lstm_peephole")
    assert "got 'lstm_peephole'" in str(e.value)
    with pytest.raises(SeqlabError, match="cell: expected one of"):
        make_layer("transformer", 3, 4)


def test_extra_arguments_may_not_contradict_the_cell():
    with pytest.raises(SeqlabError, match=re.escape("peephole: cell 'lstm-peephole' is defined by peephole=True, got peephole=False")):
        make_layer("lstm-peephole", 3, 4, peephole=False)
    layer = make_layer("lstm-ln", 3, 4, peephole=True, backend="loop")  # adds to the cell: fine
    assert layer.cells[0].peephole and layer.cells[0].layer_norm and layer.backend == "loop"


def test_a_job_subset_says_when_a_name_is_a_cell_it_does_not_use():
    with pytest.raises(SeqlabError, match=re.escape("got 'mingru' ('mingru' is a seqlab cell, but not one the job uses)")):
        check_cell("mingru", ("lstm", "gru"), "the job")
    with pytest.raises(SeqlabError) as e:
        check_cell("nope", ("lstm", "gru"), "the job")
    assert "seqlab cell" not in str(e.value)
    assert check_cell("gru", ("lstm", "gru"), "the job") == "gru"


def _reference_run(name: str, layer, x: np.ndarray, state, lengths):
    """The NumPy twin's output and final state for ``layer`` (torch-shaped state in and out)."""
    spec = get_cell(name)
    fn = spec.reference_function()
    opts = spec.reference_options
    if fn.__module__.endswith(("rnn", "lstm", "gru")) and fn.__name__ in ("rnn_forward", "lstm_forward", "gru_forward"):
        # the classic cells go through the stacked reference: layers, directions, lengths
        assert stack.CELLS[spec.family][0] is fn  # the registry names the stack's function for its family
        out, final, _ = stack.stacked_forward(spec.family, x, [params(c) for c in layer.cells], state, lengths,
                                              num_layers=layer.num_layers, bidirectional=layer.bidirectional, **opts)
        return out, final
    # single layer, one direction, full lengths
    p = params(layer.cells[0])
    if fn.__name__ == "ln_lstm_forward":
        out, (h, c) = fn(x, p, state[0][0], state[1][0])
        return out, (h[None], c[None])
    if fn.__name__ == "ln_gru_forward":
        out, h = fn(x, p, state[0], **opts)
        return out, h[None]
    out, h = fn(opts["cell"], x, p, state[0], activation=layer.activation)
    return out, h[None]


@pytest.mark.parametrize("name", NAMES)
def test_each_entry_computes_its_reference_twin(name):
    torch.manual_seed(NAMES.index(name))
    spec = get_cell(name)
    stacked = spec.reference in ("rnn_forward", "lstm_forward", "gru_forward")
    kw = dict(num_layers=2, bidirectional=True) if stacked else {}
    layer = randomized(make_layer(name, I, H, **kw))
    LD = layer.num_layers * layer.num_directions
    x = torch.randn(B, T, I, dtype=torch.float64)
    # positive initial states (minGRU/minLSTM's activation keeps states positive)
    st = tuple(torch.rand(LD, B, H, dtype=torch.float64) for _ in range(spec.state_size))
    lengths = np.array([T, 2, 4]) if stacked else None
    st_arg = st[0] if spec.state_size == 1 else st
    out, final = layer(x, st_arg, lengths=None if lengths is None else torch.as_tensor(lengths))
    ref_state = tuple(s.numpy() for s in st)
    want_out, want_final = _reference_run(name, layer, x.numpy(), ref_state[0] if spec.state_size == 1 else ref_state,
                                          lengths)
    np.testing.assert_allclose(out.detach().numpy(), want_out, rtol=1e-9, atol=1e-11)
    finals = final if isinstance(final, tuple) else (final,)
    wants = want_final if isinstance(want_final, tuple) else (want_final,)
    assert len(finals) == len(wants) == spec.state_size
    for f, w in zip(finals, wants):
        np.testing.assert_allclose(f.detach().numpy(), w, rtol=1e-9, atol=1e-11)


def test_every_named_reference_exists():
    for spec in CELLS.values():
        assert spec.reference is not None and callable(spec.reference_function())


def test_the_registry_imports_no_torch():
    code = "import sys, seqlab.nn.registry as r; r.cell_names(); r.get_cell('gru'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _cell_options(parser: argparse.ArgumentParser, prog: str = "") -> dict[str, tuple]:
    """``{prog: choices}`` of every --cell option in the parser tree."""
    found = {}
    for action in parser._actions:
        if "--cell" in action.option_strings:
            found[parser.prog] = tuple(action.choices)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found.update(_cell_options(sub))
    return found


def test_every_job_offers_the_cells_its_model_takes():
    from seqlab.classify.model import CELLS as classify_cells
    from seqlab.cli import build_parser
    from seqlab.forecast.model import CELLS as forecast_cells
    from seqlab.seq2seq.model import CELLS as seq2seq_cells
    from seqlab.text.model import CELLS as text_cells

    options = _cell_options(build_parser())
    jobs = {"forecast": forecast_cells, "classify": classify_cells, "generate": text_cells, "translate": seq2seq_cells}
    for job, cells in jobs.items():
        mine = [choices for prog, choices in options.items() if f" {job}" in prog]
        assert mine, f"no --cell option under seqlab {job}"
        for choices in mine:
            assert choices == tuple(cells), job
    assert forecast_cells == classify_cells == text_cells == NAMES  # every cell makes sense for these
    assert set(seq2seq_cells) == set(cell_names(("gru", "lstm")))


def test_memory_tasks_take_every_cell():
    from seqlab.diagnostics.memory import check_cells, make_layer as memory_layer

    assert check_cells(",".join(NAMES)) == list(NAMES)
    with pytest.raises(SeqlabError, match="unknown cell 'lstmx'"):
        check_cells("lstm,lstmx")
    # every GRU variant gets the GRU's keep bias (-1 on the update gate z of r|z|n), every LSTM the LSTM's
    for name, block, sign in [("gru-ln", 1, -1.0), ("gru-reset-before", 1, -1.0), ("lstm-peephole", 1, 1.0),
                              ("lstm-ln", 1, 1.0), ("minlstm", 0, 1.0), ("mingru", 0, -1.0)]:
        torch.manual_seed(0)
        layer = memory_layer(name, 2, 4, keep_bias=1.0)
        torch.manual_seed(0)
        plain = make_layer(name, 2, 4)
        diff = (layer.cells[0].bias_ih - plain.cells[0].bias_ih).detach().view(-1, 4)  # (G, H)
        want = torch.zeros_like(diff)
        want[block] = sign
        torch.testing.assert_close(diff, want, msg=name)
