"""The one thread policy under load: each command's time idle and beside one busy process.

Issue #13's bar: with one competing CPU-bound process on a 2-core machine, no command takes more
than 3 times its idle time. Each command runs with its default ``--threads 0`` (automatic): once
on the idle machine, once while another process spins on one core. Without the policy, torch's
one thread per core stalls at every barrier when a core is taken (measured before it: ``seqlab
explain gradients`` 15 s idle, 195 s loaded). The commands are short fixed-work runs (no time
budgets), so the two times compare the same work.

    python benchmarks/bench_threads.py [--only forecast,classify]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAKESPEARE = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"

FIT = """
import numpy as np
from seqlab import Sequential
from seqlab.layers import LSTM, Dense
rng = np.random.default_rng(0)
T = 50
x = np.stack([rng.random((2000, T)), np.zeros((2000, T))], -1).astype("float32")
for row in x:
    row[rng.choice(T, 2, replace=False), 1] = 1
y = (x[:, :, 0] * x[:, :, 1]).sum(1, keepdims=True).astype("float32")
m = Sequential([LSTM(32, input_shape=(T, 2)), Dense(1)])
m.compile(loss="mse", optimizer="adam")
m.fit(x, y, epochs=3, batch_size=32, verbose=0, seed=0)
"""


def commands(tmp: str) -> dict[str, list[str]]:
    seqlab = [sys.executable, "-m", "seqlab.cli"]
    text = os.path.join(tmp, "text.txt")
    if not os.path.exists(text):
        source = SHAKESPEARE.read_text(encoding="utf-8") if SHAKESPEARE.exists() else "to be or not to be " * 6000
        Path(text).write_text(source[:120_000], encoding="utf-8")
    return {
        "forecast": seqlab + ["forecast", "--no-plot", "--quiet"],
        "classify train": seqlab + ["classify", "train", "--epochs", "5", "--save", os.path.join(tmp, "c.safetensors"),
                                    "--quiet"],
        "generate train": seqlab + ["generate", "train", "--data", text, "--epochs", "1", "--minutes", "0",
                                    "--sample-length", "0", "--save", os.path.join(tmp, "g.safetensors"), "--quiet"],
        "translate train": seqlab + ["translate", "train", "--epochs", "1", "--minutes", "0",
                                     "--save", os.path.join(tmp, "t.safetensors"), "--quiet"],
        "explain gradients": seqlab + ["explain", "gradients"],
        "Sequential.fit": [sys.executable, "-c", FIT],
    }


def timed(cmd: list[str]) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["SEQLAB_NO_PROGRESS"] = "1"
    env["MPLBACKEND"] = "Agg"
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if res.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed: {res.stderr.strip()[-500:]}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="comma-separated command names (default: all)")
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; load average now {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        cmds = commands(tmp)
        wanted = [c.strip() for c in args.only.split(",") if c.strip()] or list(cmds)
        print(f"{'command':20s} {'idle s':>8s} {'loaded s':>9s} {'ratio':>6s}  bar (<= 3)")
        worst = 0.0
        for name in wanted:
            idle = timed(cmds[name])
            spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                time.sleep(1.0)
                loaded = timed(cmds[name])
            finally:
                spin.kill()
                spin.wait()
            worst = max(worst, loaded / idle)
            print(f"{name:20s} {idle:8.1f} {loaded:9.1f} {loaded / idle:6.2f}  {'ok' if loaded <= 3 * idle else 'MISSED'}",
                  flush=True)
            time.sleep(2.0)
        print(f"worst ratio {worst:.2f}: bar {'met' if worst <= 3 else 'missed'}")


if __name__ == "__main__":
    main()
