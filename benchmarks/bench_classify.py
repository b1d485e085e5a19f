"""seqlab classify with its default options on the time-series classification archive.

    python benchmarks/bench_classify.py [--seeds 0,1,2] [--sets GunPoint,ArrowHead] [--threads N]
                                        [--archive DIR] [--set key=value ...]

Runs every classification set of the archive that an installed sktime or aeon wheel ships
(``<package>/datasets/data/NAME/NAME_TRAIN.ts`` and ``NAME_TEST.ts``; the ``.ts`` files are read
by :func:`seqlab.classify.data.load_data`, as ``seqlab classify train --data`` reads them) on
its default split: train on all of TRAIN with seqlab's defaults
(:data:`seqlab.classify.defaults.DEFAULTS`, those of ``seqlab classify train``), score TEST.
Prints per set and seed the test accuracy, the training time (wall clock and this process's CPU
time, the steadier figure on a shared machine) and the load average when the run started; per
set the mean over the seeds beside the published accuracies of InceptionTime and HIVE-COTE 2
(benchmarks/published_tsc_accuracy.csv, copied from aeon's result files); then the mean over
the sets. The set ``digits`` (listed last, not in the mean) is what ``seqlab classify train``
does with no data: scikit-learn's 8x8 digits read row by row, a stratified 20 % held out (its
split drawn with the seed, as the command draws it). ``--set key=value`` overrides a default
(for experiments; the header says so). Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import ast
import csv
import importlib.util
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine_info  # noqa: E402

from seqlab.classify import SequenceClassifier  # noqa: E402
from seqlab.classify.data import load_data  # noqa: E402
from seqlab.classify.defaults import estimator_options  # noqa: E402
from seqlab.formats import read_ts  # noqa: E402

PUBLISHED = Path(__file__).with_name("published_tsc_accuracy.csv")
#: the sets whose bars issue #20 sets (default split, mean of seeds 0-2), and the digits' claim
BARS = {"GunPoint": 0.98, "ItalyPowerDemand": 0.96, "ArrowHead": 0.85, "OSULeaf": 0.90, "BasicMotions": 0.975,
        "JapaneseVowels": 0.98, "digits": 0.97}  # digits: the README's claim for the command's default run


def archive_dirs(explicit: str | None) -> list[tuple[str, Path]]:
    """``(source, datasets folder)`` of every installed package shipping the archive, without
    importing it (``importlib.util.find_spec`` only locates it)."""
    if explicit:
        return [("--archive", Path(explicit))]
    found = []
    for pkg in ("sktime", "aeon"):
        spec = importlib.util.find_spec(pkg)
        if spec is not None and spec.submodule_search_locations:
            d = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
            if d.is_dir():
                found.append((pkg, d))
    return found


def classification_sets(folder: Path) -> dict[str, tuple[Path, Path]]:
    """NAME -> (TRAIN.ts, TEST.ts) for every set with class labels (regression sets and the
    packages' cut-down 'UnitTest' fixtures left out)."""
    sets = {}
    for d in sorted(p for p in folder.iterdir() if p.is_dir()):
        train, test = d / f"{d.name}_TRAIN.ts", d / f"{d.name}_TEST.ts"
        if not (train.is_file() and test.is_file()) or d.name.startswith("UnitTest"):
            continue
        try:
            if read_ts(train).class_labels is None:
                continue
        except Exception as exc:  # a file this reader refuses is reported, not skipped silently
            print(f"  {d.name}: cannot read {train.name}: {exc}")
            continue
        sets[d.name] = (train, test)
    return sets


def published() -> dict[str, dict[str, float]]:
    with open(PUBLISHED) as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        return {r["dataset"]: {k: float(v) for k, v in r.items() if k != "dataset"} for r in rows}


def parse_overrides(items: list[str]) -> dict:
    out = {}
    for item in items:
        k, _, v = item.partition("=")
        try:
            out[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            out[k] = v
    return out


def digits(seed: int):
    """The command's default data: the 8x8 digits with a stratified 20 % held out (seed ``seed``)."""
    from seqlab.classify.data import load_digits_sequences, stratified_split

    X, y = load_digits_sequences()
    tr, te = stratified_split(list(y), 0.2, seed)
    return (X[tr], None, list(y[tr])), (X[te], None, list(y[te]))


def resample(tr: tuple, te: tuple, k: int) -> tuple[tuple, tuple]:
    """Resample ``k``: TRAIN and TEST pooled and split again at random (generator seeded with
    ``k``), stratified so that each class keeps its number of training cases."""
    X = list(tr[0]) + list(te[0])
    y = list(tr[2]) + list(te[2])
    rng = np.random.default_rng(k)
    train_idx = []
    for c in sorted(set(tr[2])):
        pool = [i for i, v in enumerate(y) if v == c]
        train_idx += list(rng.choice(pool, size=list(tr[2]).count(c), replace=False))
    test_idx = sorted(set(range(len(y))) - set(train_idx))
    return ([X[i] for i in train_idx], None, [y[i] for i in train_idx]), ([X[i] for i in test_idx], None,
                                                                          [y[i] for i in test_idx])


def run(train, test, seed: int, threads: int, options: dict, k: int = 0) -> dict:
    if train == "digits":
        (Xtr, ltr, ytr), (Xte, lte, yte) = digits(seed)
    else:
        Xtr, ltr, ytr = load_data(train)
        Xte, lte, yte = load_data(test)
        if k:
            (Xtr, ltr, ytr), (Xte, lte, yte) = resample((Xtr, ltr, ytr), (Xte, lte, yte), k)
    import torch

    torch.set_num_threads(threads)
    load = os.getloadavg()[0]
    clf = SequenceClassifier(**options, seed=seed, threads=None, verbose=0, device="cpu")
    w0, c0 = time.perf_counter(), time.process_time()
    clf.fit(Xtr, ytr, ltr)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    acc = clf.evaluate(Xte, yte, lte)["accuracy"]
    h = clf.history
    return dict(acc=acc, wall=wall, cpu=cpu, load=load, steps=h.steps,
                epochs=len(h.epoch), n=len(ytr), T=max(len(x) for x in Xtr), C=int(np.asarray(Xtr[0]).shape[-1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--sets", default=None, help="comma-separated names (default: every set found)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1: steady on a shared machine)")
    ap.add_argument("--archive", default=None, help="a folder NAME/NAME_TRAIN.ts ... instead of sktime's or aeon's")
    ap.add_argument("--resample", type=int, default=0, metavar="K",
                    help="0: the default split; K > 0: TRAIN and TEST pooled and split again, stratified, with "
                         "generator seed K (the published columns stay those of the default split)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a default (experiments)")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    overrides = parse_overrides(args.overrides)
    options = estimator_options(**overrides)
    dirs = archive_dirs(args.archive)
    if not dirs:
        print("no archive found: pip install 'seqlab[archive]' (sktime ships the sets) or pass --archive DIR")
        return 1
    source, folder = dirs[0]
    sets = classification_sets(folder)
    found = len(sets)
    if args.sets:
        want = args.sets.split(",")
        missing = [s for s in want if s not in sets and s != "digits"]
        if missing:
            print(f"not in {folder}: {missing} (found {sorted(sets)})")
            return 1
        sets = {k: ("digits", None) if k == "digits" else sets[k] for k in want}
    else:
        sets["digits"] = ("digits", None)
    pub = published()
    print(f"machine: {machine_info()}")
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; torch threads {args.threads}")
    print(f"archive: {source} ({folder}): {found} classification sets; running {', '.join(sets)}; seeds {seeds}; "
          + (f"resample {args.resample} (TRAIN and TEST pooled and split again)" if args.resample else "default split"))
    print("options: " + ("seqlab classify train's defaults" if not overrides else f"defaults with {overrides}"))
    print(f"  {options}")
    print()
    print(f"{'set':18s} {'seed':>4s} {'train':>5s} {'T':>5s} {'C':>3s} {'acc':>7s} {'wall s':>7s} {'cpu s':>7s} "
          f"{'steps':>6s} {'load':>5s}")
    summary = {}
    for name, (train, test) in sets.items():
        accs, walls, cpus = [], [], []
        for seed in seeds:
            r = run(train, test, seed, args.threads, options, args.resample)
            accs.append(r["acc"])
            walls.append(r["wall"])
            cpus.append(r["cpu"])
            print(f"{name:18s} {seed:4d} {r['n']:5d} {r['T']:5d} {r['C']:3d} {r['acc']:7.4f} {r['wall']:7.1f} "
                  f"{r['cpu']:7.1f} {r['steps']:6d} {r['load']:5.2f}", flush=True)
        summary[name] = (float(np.mean(accs)), float(np.max(walls)), float(np.max(cpus)))
    print()
    print(f"{'set':18s} {'seqlab':>7s} {'bar':>6s} {'IT':>7s} {'IT30':>7s} {'HC2':>7s} {'HC2_30':>7s} "
          f"{'max wall s':>10s} {'max cpu s':>9s}")
    for name, (acc, wall, cpu) in summary.items():
        p = pub.get(name, {})
        bar = BARS.get(name)
        fmt = lambda k: f"{p[k]:7.4f}" if k in p else f"{'-':>7s}"  # noqa: E731
        mark = "" if bar is None else (" ok" if acc >= bar else " BELOW")
        print(f"{name:18s} {acc:7.4f} {(f'{bar:.3f}' if bar else '-'):>6s} {fmt('InceptionTime_default')} "
              f"{fmt('InceptionTime_mean30')} {fmt('HC2_default')} {fmt('HC2_mean30')} {wall:10.1f} {cpu:9.1f}{mark}")
    accs = [v[0] for k, v in summary.items() if k != "digits"]
    print(f"{'mean over sets':18s} {np.mean(accs):7.4f}  ({len(accs)} sets, mean of seeds {seeds} each)")
    both = [n for n in summary if n in pub]
    if both:
        print(f"{'  on the ' + str(len(both)) + ' with results':18s} {np.mean([summary[n][0] for n in both]):7.4f} "
              f"        InceptionTime {np.mean([pub[n]['InceptionTime_default'] for n in both]):.4f}, "
              f"HC2 {np.mean([pub[n]['HC2_default'] for n in both]):.4f} (default split)")
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
