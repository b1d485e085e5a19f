"""The layering issue #13 asks for, checked on the source: one training loop, and the core
packages never depend on a job."""

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "seqlab"
JOBS = ("forecast", "classify", "text", "seq2seq", "diagnostics")
CORE = ("nn", "reference", "train")


def _imports(path: Path) -> set[str]:
    """Absolute names of the seqlab modules ``path`` imports (relative imports resolved)."""
    pkg = path.relative_to(SRC.parent).with_suffix("").parts[:-1]  # ('seqlab', 'nn')
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(pkg[: len(pkg) - node.level + 1]) if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            names.add(mod)
            names.update(f"{mod}.{a.name}" for a in node.names)
    return {n for n in names if n.startswith("seqlab")}


def test_core_packages_import_no_job():
    bad = []
    for core in CORE:
        for path in (SRC / core).rglob("*.py"):
            for name in _imports(path):
                if any(name == f"seqlab.{j}" or name.startswith(f"seqlab.{j}.") for j in JOBS):
                    bad.append(f"{path.relative_to(SRC)} imports {name}")
    assert not bad, bad


def test_every_job_trains_through_seqlab_train():
    for job in JOBS:
        names = set().union(*(_imports(p) for p in (SRC / job).rglob("*.py")))
        assert any(n == "seqlab.train" or n.startswith("seqlab.train.") for n in names), job


def test_no_training_step_outside_seqlab_train():
    pattern = re.compile(r"\.backward\(|(?<![a-z_])(opt|optim[a-z_]*|optimizer)\.step\(|clip_grad_norm_\(")
    bad = []
    for path in SRC.rglob("*.py"):
        if path.is_relative_to(SRC / "train"):
            continue
        for k, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if pattern.search(code) and "def backward" not in code and "ctx." not in code:
                bad.append(f"{path.relative_to(SRC)}:{k}: {line.strip()}")
    assert not bad, bad


def test_the_check_finds_a_planted_training_step(tmp_path):
    pattern = re.compile(r"\.backward\(|(?<![a-z_])(opt|optim[a-z_]*|optimizer)\.step\(|clip_grad_norm_\(")
    assert pattern.search("loss.backward()") and pattern.search("opt.step()")
    assert pattern.search("torch.nn.utils.clip_grad_norm_(p, 1)") and not pattern.search("sched.step_size")


# -- the per-family facts (gate names and counts) live in seqlab.nn.registry only -----------------
FAMILY_FACTS_HOME = SRC / "nn" / "registry.py"


def _family_tables(source: str) -> list[tuple[int, str]]:
    """``(line, text)`` of every dict literal that keys two or more cell families (as named by the
    registry) to per-family facts: gate counts (ints), gate names (tuples of strings), or pairs of
    functions (a cell table of its own)."""
    from seqlab.nn.registry import GATE_NAMES

    def fact(v: ast.expr) -> bool:
        if isinstance(v, ast.Constant):
            return isinstance(v.value, int) and not isinstance(v.value, bool)
        if isinstance(v, (ast.Tuple, ast.List)) and v.elts:
            return (all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in v.elts)
                    or all(isinstance(e, (ast.Name, ast.Attribute)) for e in v.elts))
        return False

    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict) and node.keys and all(k is not None for k in node.keys):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            if len(keys & set(GATE_NAMES)) >= 2 and all(fact(v) for v in node.values):
                found.append((node.lineno, ast.unparse(node)))
    return found


def test_gate_facts_are_written_once_in_the_registry():
    bad = [f"{path.relative_to(SRC)}:{line}: {text}" for path in SRC.rglob("*.py") if path != FAMILY_FACTS_HOME
           for line, text in _family_tables(path.read_text())]
    assert not bad, "per-family tables outside seqlab/nn/registry.py (read GATE_NAMES / gate_count there): " + str(bad)
    assert _family_tables(FAMILY_FACTS_HOME.read_text()), "the check no longer sees the registry's own table"


def test_the_check_finds_a_planted_family_table():
    planted = [
        'GATES = {"lstm": 4, "gru": 3, "rnn": 1}',
        'H = w.shape[0] // {"rnn": 1, "lstm": 4, "gru": 3, "mingru": 2, "minlstm": 3}[family]',
        'NAMES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}',
        'CELLS = {"rnn": (rnn_forward, rnn_backward), "lstm": (lstm_forward, lstm_backward)}',
    ]
    for code in planted:
        assert _family_tables(code), code
    # options per family, or a single family, are not copies of the gate facts
    assert not _family_tables('DEFAULTS = {"mingru": {"norm": True}, "minlstm": {"norm": True}}')
    assert not _family_tables('G = {"lstm": 4}')
