"""seqlab.export.forecast: the exported forecaster graph fed from raw history (forecast_inputs)
and its output turned into forecasts (forecast_outputs) equals Forecaster.predict_array, for a
hybrid (random per-series coefficients) and an 'rnn' forecaster, in onnxruntime and in
seqlab.reference."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_files as mf  # noqa: E402

ort = pytest.importorskip("onnxruntime", reason="the export extra (onnxruntime) is part of .[all]")

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
    assert set(inputs.feed) == {i.name for i in sess.get_inputs()}
    series = list(f.tails.values())
    want = f.predict_array(series)  # (S, H, Q) in the series' units
    y = sess.run(["y"], inputs.feed)[0]
    np.testing.assert_allclose(forecast_outputs(f, inputs, y), want, rtol=1e-5)
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
    """A forecaster with the default model ('auto': the hybrid or the rnn, as resolve chooses on
    seasonal data) exports, and its graph through forecast_inputs equals predict_array."""
    from seqlab.data import load_airline
    from seqlab.forecast import Forecaster

    f = Forecaster(horizon=6, hidden=4, ensemble=1, epochs=1, seed=0, threads=None, verbose=0).fit(load_airline())
    f.save(str(tmp_path / "f.safetensors"))
    export_onnx(tmp_path / "f.safetensors", tmp_path / "f.onnx")
    sess = ort.InferenceSession(str(tmp_path / "f.onnx"), providers=["CPUExecutionProvider"])
    inputs = forecast_inputs(f)
    y = sess.run(["y"], inputs.feed)[0]
    np.testing.assert_allclose(forecast_outputs(f, inputs, y), f.predict_array(list(f.tails.values())), rtol=1e-5)


def test_what_one_graph_cannot_run(tmp_path):
    f = mf.make_forecaster(tmp_path / "f.safetensors", "gru", strategy="recursive", ensemble=1)
    with pytest.raises(SeqlabError, match="strategy: the exported graph forecasts the horizon in one pass"):
        forecast_inputs(f)
