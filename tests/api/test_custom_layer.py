"""docs/api.md's "Adding a layer" example runs as printed; register_layer guards seqlab's own names."""

import re
from pathlib import Path

import pytest
import torch

from seqlab.errors import SeqlabError
from seqlab.layers import LAYERS, RecurrentLayer, register_layer

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


@pytest.fixture
def layers_restored():
    saved = dict(LAYERS)
    yield
    LAYERS.clear()
    LAYERS.update(saved)


def test_the_custom_layer_example_of_docs_api_trains_saves_and_loads(tmp_path, monkeypatch, capsys, layers_restored):
    text = DOC.read_text()
    code = re.search(r"\*\*Adding a layer\.\*\*.*?```python\n(.*?)```", text, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    scope: dict = {}
    exec(compile(code, str(DOC), "exec"), scope)
    model, x = scope["model"], scope["x"]
    assert LAYERS["LeakyRNNLayer"] is scope["LeakyRNNLayer"]
    loaded = scope["load_model"]("leaky.seqlab")
    layer = loaded.layers[0]
    assert type(layer).__name__ == "LeakyRNNLayer" and layer.rnn.cells[0].leak == 0.3
    torch.testing.assert_close(loaded.predict(x[:2]), model.predict(x[:2]), rtol=0, atol=0)
    assert "tensor" in capsys.readouterr().out
    # the cell is what its docstring says: one step by hand from the trained weights
    cell = layer.rnn.cells[0]
    h0 = torch.randn(3, 16)
    xt = torch.randn(3, 1)
    with torch.no_grad():
        gi = xt @ cell.weight_ih.t() + cell.bias_ih
        want = 0.7 * h0 + 0.3 * torch.tanh(gi + h0 @ cell.weight_hh.t() + cell.bias_hh)
        torch.testing.assert_close(cell.recurrence(gi, (h0,))[0], want)


def test_register_layer_refuses_the_name_of_a_seqlab_layer(layers_restored):
    builtin = LAYERS["LSTM"]
    with pytest.raises(SeqlabError, match=r"register_layer: 'LSTM' is the name of seqlab's own layer"):
        register_layer(type("LSTM", (RecurrentLayer,), {"__module__": "mine"}))
    assert LAYERS["LSTM"] is builtin
    with pytest.raises(SeqlabError, match="expected a subclass of seqlab.layers.Layer"):
        register_layer(int)


def test_register_layer_replaces_a_class_of_your_own_registered_again(layers_restored):
    first = register_layer(type("Mine", (RecurrentLayer,), {"__module__": "mine"}))
    second = register_layer(type("Mine", (RecurrentLayer,), {"__module__": "mine"}))
    assert first is not second and LAYERS["Mine"] is second
