"""The defaults of ``seqlab translate train`` live in seqlab.seq2seq.defaults alone: the command's
options, the workflow's signature, the date task's model and default_config read them (they were
written out in cli.py, run.py and train.py, free to drift apart)."""

import inspect
import subprocess
import sys

from seqlab.cli import main


def test_the_command_the_workflow_and_the_date_model_read_the_one_table(monkeypatch):
    import seqlab.seq2seq.run as workflows
    from seqlab.seq2seq.defaults import DEFAULTS, TRAINING
    from seqlab.seq2seq.train import DATE_MODEL, default_config

    changed = {"level": "word", "cell": "lstm", "attention": "bahdanau", "input_feeding": True, "hidden": 17,
               "embed": 5, "layers": 2, "dropout": 0.25, "epochs": 7, "minutes": 1.5, "lr": 0.02, "batch_size": 9,
               "teacher_forcing": 0.5, "target_accuracy": 0.9}
    assert set(changed) == set(DEFAULTS)
    # the workflow's signature and the date task's model (both made at import)
    params = inspect.signature(workflows.train).parameters
    assert {k: params[k].default for k in DEFAULTS} == DEFAULTS
    assert DATE_MODEL == {"embed_size": DEFAULTS["embed"], "hidden_size": DEFAULTS["hidden"], "cell": DEFAULTS["cell"],
                          "attention": DEFAULTS["attention"], "input_feeding": DEFAULTS["input_feeding"],
                          "max_target_len": 12}
    # the command's options, with the table changed in place: the parser reads it when built
    for key, value in changed.items():
        monkeypatch.setitem(DEFAULTS, key, value)
    calls = []
    monkeypatch.setattr(workflows, "train", lambda **kw: calls.append(kw))
    assert main(["translate", "train"]) == 0
    assert {k: calls[0][k] for k in DEFAULTS} == changed
    # the job's TrainConfig
    monkeypatch.setitem(TRAINING, "clipnorm", 2.5)
    cfg = default_config()
    assert (cfg.epochs, cfg.minutes, cfg.lr, cfg.clipnorm, cfg.lr_plateau_factor) == (7, 1.5, 0.02, 2.5, 0.7)


def test_the_defaults_and_the_command_line_import_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "from seqlab.seq2seq.defaults import DEFAULTS\n"
            "import seqlab.seq2seq.cli\n"
            "from seqlab.cli import build_parser\n"
            "args = build_parser().parse_args(['translate', 'train'])\n"
            "assert (args.hidden, args.embed, args.cell, args.attention, args.lr) == (64, 32, 'gru', 'luong', 3e-3)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
