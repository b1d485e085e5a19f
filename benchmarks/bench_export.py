"""Generation-step latency of one language model three ways: torch (RecurrentLM.step), the ONNX
export in onnxruntime (a chunk of one token, the state fed back), and seqlab.reference in NumPy.

    python benchmarks/bench_export.py [--steps 300] [--hidden 128] [--layers 2] [--cell lstm]

Batch 1, one token per call, one thread each; prints microseconds per token (median of 5 rounds,
measured back to back in one run) and the ratios to torch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine_info  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--cell", default="lstm")
    a = ap.parse_args()
    import onnxruntime as ort

    from seqlab.export.onnx import export_onnx
    from seqlab.reference import load
    from seqlab.text.model import LMConfig, RecurrentLM, save_lm, split_state
    from seqlab.vocab import Vocabulary

    torch.set_num_threads(1)
    print(machine_info())
    vocab = Vocabulary.build("abcdefghijklmnopqrstuvwxyz .,")
    lm = RecurrentLM(LMConfig(len(vocab), a.cell, a.hidden, a.layers)).eval()
    folder = tempfile.mkdtemp()
    path, onnx_path = os.path.join(folder, "lm.safetensors"), os.path.join(folder, "lm.onnx")
    save_lm(path, lm, vocab)
    export_onnx(path, onnx_path)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    ref = load(path)
    ids = np.random.default_rng(0).integers(0, len(vocab), a.steps)

    def run_torch():
        with torch.no_grad():
            _, st = lm(torch.tensor([[0]]))
            st = split_state(st)
            for i in ids:
                _, st = lm.step(torch.tensor([int(i)]), st)

    states = [i for i in sess.get_inputs() if i.name != "ids"]  # h (and c): required inputs
    if sorted(i.name for i in states) != sorted(["h", "c"][: 2 if a.cell.startswith("lstm") else 1]):
        raise SystemExit(f"the exported graph's state inputs are {[i.name for i in states]}, not h (and c)")
    state_out = [i.name + "_out" for i in states]

    def run_onnx():
        feed = {i.name: np.zeros([1 if d == "batch" else d for d in i.shape], np.float32) for i in states}
        for i in ids:  # the state of each token fed to the next
            out = sess.run(["logits"] + state_out, {"ids": np.array([[i]], np.int64), **feed})
            feed = {s.name: v for s, v in zip(states, out[1:])}

    def run_numpy():
        st = None
        for i in ids:
            _, st = ref.step(np.array([[i]]), st)

    results = {}
    for name, fn in (("torch", run_torch), ("onnxruntime", run_onnx), ("numpy reference", run_numpy)):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) / a.steps * 1e6)
        results[name] = statistics.median(times)
    print(f"{a.layers}-layer {a.cell.upper()} {a.hidden} units, vocabulary {len(vocab)}, batch 1, one token per call")
    for name, us in results.items():
        print(f"{name:16s} {us:8.1f} us/token   x{us / results['torch']:.2f} of torch")


if __name__ == "__main__":
    main()
