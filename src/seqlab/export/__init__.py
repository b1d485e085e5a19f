"""Model files out of seqlab: ONNX graphs (:mod:`seqlab.export.onnx`) and NumPy weights with their
config (:mod:`seqlab.export.numpy`); the ``seqlab export`` command (:mod:`seqlab.export.cli`); a
forecaster's graph fed from raw history (:mod:`seqlab.export.forecast`)."""
