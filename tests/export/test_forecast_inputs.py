"""seqlab.export.forecast: the exported forecaster graph fed from raw history (forecast_inputs)
and its output turned into forecasts (forecast_outputs) equals Forecaster.predict_array, for a
hybrid (random per-series coefficients) and an 'rnn' forecaster, in onnxruntime and in
seqlab.reference."""

import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_files as mf  # noqa: E402

ort = pytest.importorskip("onnxruntime", reason="the export extra (onnxruntime) is part of .[all]")
onnx = pytest.importorskip("onnx")

from seqlab.errors import SeqlabError  # noqa: E402
from seqlab.export.forecast import forecast_inputs, forecast_outputs  # noqa: E402
from seqlab.export.onnx import export_onnx  # noqa: E402
from seqlab.reference import load  # noqa: E402


@pytest.mark.parametrize("kind", ["hybrid", "rnn"])
def test_graph_from_raw_history_equals_predict(tmp_path, kind):
    path = tmp_path / "f.safetensors"
    f = mf.make_hybrid_forecaster(path, "gru") if kind == "hybrid" else mf.make_forecaster(path, "lstm", 2)
    f.calibrate([0.1 * (h + 1) for h in range(f.config.horizon)])  # the conformal widening applies too
    export_onnx(path, tmp_path / "f.onnx")
    sess = ort.InferenceSession(str(tmp_path / "f.onnx"), providers=["CPUExecutionProvider"])
    inputs = forecast_inputs(f)
    assert set(inputs.feed) == {i.name for i in sess.get_inputs()}  # the states included: required inputs
    series = list(f.tails.values())
    want = f.predict_array(series)  # (S, H, Q) in the series' units
    y = sess.run(["y"], inputs.feed)[0]
    np.testing.assert_allclose(forecast_outputs(f, inputs, y), want, rtol=1e-5)
    # the rnn's states are required inputs, fed zeros by forecast_inputs
    states = [k for k in inputs.feed if k.startswith("member")]
    assert (kind == "rnn") == bool(states) and all(not inputs.feed[k].any() for k in states)
    meta = {p.key: json.loads(p.value) for p in onnx.load(str(tmp_path / "f.onnx")).metadata_props}
    fm = meta["seqlab.forecast"]
    assert meta["seqlab.kind"] == "forecaster" and fm["net"] == kind and fm["horizon"] == f.config.horizon
    assert fm["quantiles"] == list(f.config.quantiles) and fm["freq"] == f.freq and fm["lookback"] == f.config.lookback
    assert fm["series"] == list(f.tails) and fm["features"] == inputs.feed["x"].shape[2]
    ref = load(path)
    feed = {k: v for k, v in inputs.feed.items() if not k.startswith("member")}
    np.testing.assert_allclose(forecast_outputs(f, inputs, ref.forward(**feed)[0]), want, rtol=1e-5)
    raw = forecast_outputs(f, inputs, y, calibrated=False)
    np.testing.assert_allclose(raw, f.predict_array(series, calibrated=False), rtol=1e-5)
    assert np.abs(raw - want).max() > 1e-3  # the calibration was applied
    with pytest.raises(SeqlabError, match=rf"y: expected the graph's output of shape \({len(series)}, 6, 3\), "
                                          rf"got \({len(series)}, 2, 3\)"):
        forecast_outputs(f, inputs, y[:, :2])


def test_new_history_of_a_panel(tmp_path):
    """Raw new history (a long table, each series cut 5 steps before its stored end) through the
    hybrid's graph equals Forecaster.predict on that table."""
    import pandas as pd

    from seqlab.forecast.data import prepare

    path = tmp_path / "h.safetensors"
    f = mf.make_hybrid_forecaster(path, "lstm", covariate=True, ensemble=1)
    export_onnx(path, tmp_path / "h.onnx")
    sess = ort.InferenceSession(str(tmp_path / "h.onnx"), providers=["CPUExecutionProvider"])
    data = pd.concat([pd.DataFrame({"id": s.name, "time": s.time[:-5], "y": s.target[:-5],
                                    "promo": s.covariates[:-5, 0]}) for s in f.tails.values()], ignore_index=True)
    cols = dict(target="y", time="time", series_id="id", covariates=["promo"])
    inputs = forecast_inputs(f, data, **cols)
    assert sorted(inputs.feed["series"].tolist()) == [0, 1, 2] and inputs.feed["lengths"].tolist() == [12] * 3
    want = f.predict_array(prepare(data, **cols))
    np.testing.assert_allclose(forecast_outputs(f, inputs, sess.run(["y"], inputs.feed)[0]), want, rtol=1e-5)
    assert np.abs(want - f.predict_array(list(f.tails.values()))).max() > 1e-3  # not the stored history's


def test_the_default_forecaster_exports(tmp_path):
    """The default model on the airline data ('auto': the mix of the hybrid and the rnn) exports as
    one graph holding both parts, and through forecast_inputs its outputs give predict_array's
    forecasts, in onnxruntime and in seqlab.reference (each part run on its own inputs)."""
    from seqlab.data import load_airline
    from seqlab.export.numpy import export_numpy
    from seqlab.forecast import Forecaster

    f = Forecaster(horizon=6, hidden=4, ensemble=1, epochs=1, seed=0, threads=None, verbose=0).fit(load_airline())
    assert f.config.model == "mix"
    f.calibrate([0.05 * h for h in range(6)])
    path = tmp_path / "f.safetensors"
    f.save(str(path))
    export_onnx(path, tmp_path / "f.onnx")
    sess = ort.InferenceSession(str(tmp_path / "f.onnx"), providers=["CPUExecutionProvider"])
    inputs = forecast_inputs(f)
    assert set(inputs.feed) == {i.name for i in sess.get_inputs()}  # the states included: required inputs
    assert inputs.outputs == ["hybrid.y", "rnn.y"] and {"hybrid.phase", "rnn.member0.h"} <= set(inputs.feed)
    want = f.predict_array(list(f.tails.values()))
    ys = sess.run(inputs.outputs, inputs.feed)
    np.testing.assert_allclose(forecast_outputs(f, inputs, ys), want, rtol=1e-5)
    meta = {p.key: json.loads(p.value) for p in onnx.load(str(tmp_path / "f.onnx")).metadata_props}
    fm = meta["seqlab.forecast"]
    assert fm["model"] == "mix" and set(fm["parts"]) == {"hybrid", "rnn"} and fm["horizon"] == 6
    assert fm["quantiles"] == list(f.config.quantiles) and fm["parts"]["rnn"]["net"] == "rnn"
    np.testing.assert_allclose(forecast_outputs(f, inputs, ys, calibrated=False),
                               f.predict_array(list(f.tails.values()), calibrated=False), rtol=1e-5)
    export_numpy(path, tmp_path / "f.npz")
    for ref in (load(path), load(tmp_path / "f.npz")):
        assert [p.net_kind for p in ref.parts] == ["hybrid", "rnn"]
        ys = [p.forward(**{k: v for k, v in i.feed.items() if not k.startswith("member")})[0]
              for p, i in zip(ref.parts, inputs.parts)]
        np.testing.assert_allclose(forecast_outputs(f, inputs, ys), want, rtol=1e-5)
    with pytest.raises(SeqlabError, match="runs each of its parts"):
        ref.forward(inputs.parts[0].feed["x"])
    with pytest.raises(SeqlabError, match=r"y: a mix's graph gives 2 outputs \(hybrid.y, rnn.y\)"):
        forecast_outputs(f, inputs, ys[0])


def test_what_one_graph_cannot_run(tmp_path):
    f = mf.make_forecaster(tmp_path / "f.safetensors", "gru", strategy="recursive", ensemble=1)
    with pytest.raises(SeqlabError, match="strategy: the exported graph forecasts the horizon in one pass"):
        forecast_inputs(f)
