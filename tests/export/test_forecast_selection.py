"""A forecaster file whose ``seqlab forecast --select backtest`` chose a baseline forecasts with
that baseline, not with the networks it keeps: ``seqlab export`` (both formats),
``seqlab.reference.load`` and ``forecast_inputs`` refuse it in one line naming the file, the
baseline and the fix; a file whose selection kept the network exports as before."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_files as mf  # noqa: E402

ort = pytest.importorskip("onnxruntime", reason="the export extra (onnxruntime) is part of .[all]")

from seqlab.errors import SeqlabError  # noqa: E402
from seqlab.export.forecast import forecast_inputs  # noqa: E402
from seqlab.forecast.selection import NETWORK, Selection  # noqa: E402
from seqlab.reference import load  # noqa: E402
from tests.cli_helpers import assert_one_line_error  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The same forecaster saved three times: without a selection, with one that kept the network,
    and with one that chose naive (its conformal offsets made up)."""
    d = tmp_path_factory.mktemp("selection")
    f = mf.make_forecaster(d / "plain.safetensors", ensemble=1)
    H, Q = f.config.horizon, len(f.config.quantiles)
    f.selection = Selection(NETWORK)
    f.save(str(d / "kept.safetensors"))
    f.selection = Selection("naive", [[(q - Q // 2) * 1.5] * H for q in range(Q)])
    f.save(str(d / "naive.safetensors"))
    return f, d


@pytest.mark.parametrize("fmt,suffix", [("onnx", ".onnx"), ("numpy", ".npz")])
def test_export_refuses_a_file_whose_selection_chose_a_baseline(files, cli, fmt, suffix):
    _, d = files
    src, out = d / "naive.safetensors", d / f"naive{suffix}"
    code, _, err = cli("export", src, "--format", fmt, "--out", out)
    assert_one_line_error(code, err, f"model file '{src}' forecasts with naive, the baseline that seqlab forecast "
                                     "--select backtest chose")
    assert "re-run seqlab forecast without --select backtest" in err and f"seqlab forecast predict --model {src}" in err
    assert not out.exists()


def test_the_reference_loader_and_forecast_inputs_refuse_it_too(files):
    f, d = files
    with pytest.raises(SeqlabError, match="forecasts with naive, the baseline that seqlab forecast --select backtest"):
        load(d / "naive.safetensors")
    with pytest.raises(SeqlabError, match="selection: this forecaster forecasts with naive"):
        forecast_inputs(f)  # f still carries the naive selection


@pytest.mark.parametrize("fmt,suffix", [("onnx", ".onnx"), ("numpy", ".npz")])
def test_a_file_whose_selection_kept_the_network_exports_as_before(files, cli, fmt, suffix):
    f, d = files
    for stem in ("plain", "kept"):
        code, _, err = cli("export", d / f"{stem}.safetensors", "--format", fmt, "--out", d / f"{stem}{suffix}")
        assert code == 0, err
    rng, cfg = np.random.default_rng(0), f.nets[0].cfg
    x = rng.normal(size=(2, 7, cfg.input_size)).astype(np.float32)
    dec = rng.normal(size=(2, cfg.out_steps, cfg.dec_size)).astype(np.float32) if cfg.dec_size else None
    want = load(d / "plain.safetensors").forward(x, dec=dec)[0]
    np.testing.assert_array_equal(load(d / "kept.safetensors").forward(x, dec=dec)[0], want)
    if fmt == "numpy":
        np.testing.assert_array_equal(load(d / "kept.npz").forward(x, dec=dec)[0], want)
        return
    for stem in ("plain", "kept"):
        sess = ort.InferenceSession(str(d / f"{stem}.onnx"), providers=["CPUExecutionProvider"])
        feed = {i.name: np.zeros([2 if v == "batch" else v for v in i.shape], np.float32)
                for i in sess.get_inputs() if i.name not in ("x", "dec") and i.type == "tensor(float)"}
        feed.update({"x": x, **({"dec": dec} if dec is not None else {})})
        np.testing.assert_allclose(sess.run(["y"], feed)[0], want, rtol=1e-5, atol=1e-5)
