"""docs/train.md's task example runs as printed and learns."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "train.md"


def test_the_task_example_of_docs_train_runs_and_learns(capsys):
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    scope: dict = {}
    exec(compile(code, str(DOC), "exec"), scope)
    h = scope["history"]
    assert h.epoch == [0, 1, 2, 3, 4]
    assert h.history["val_loss"][-1] < 0.5 * h.history["val_loss"][0]
    assert capsys.readouterr().out.count("Epoch ") == 5
