"""The package surface: lazy exports resolve to the right objects, and `seqlab --help` stays light."""

import importlib
import pkgutil
import subprocess
import sys
import types

import pytest

import seqlab

PACKAGES = ["seqlab", "seqlab.text", "seqlab.seq2seq", "seqlab.classify", "seqlab.forecast", "seqlab.diagnostics"]


@pytest.mark.parametrize("name", PACKAGES)
def test_exports_are_objects_not_same_named_submodules(name):
    pkg = importlib.import_module(name)
    if name != "seqlab":  # load every submodule first: importing one sets a package attribute
        for info in pkgutil.iter_modules(pkg.__path__):
            importlib.import_module(f"{name}.{info.name}")
    for export in pkg.__all__:
        obj = getattr(pkg, export)
        assert not isinstance(obj, types.ModuleType), f"{name}.{export} is a module, not the exported object"


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        seqlab.nope  # noqa: B018


def test_help_imports_no_torch():
    code = "import sys, seqlab.cli as c; c.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_help_lists_every_job_and_exits_0():
    out = subprocess.run([sys.executable, "-m", "seqlab", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for job in ("forecast", "classify", "generate", "translate", "explain"):
        assert job in out.stdout


def test_usage_error_is_one_line_with_exit_2():
    out = subprocess.run([sys.executable, "-m", "seqlab", "forecast", "--horizon", "abc"],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "--horizon" in out.stderr


def test_output_piped_into_a_reader_that_stops_early_ends_quietly(tmp_path):
    # `seqlab generate sample ... | head -c 100`: no BrokenPipeError traceback, SIGPIPE's status
    import torch

    from seqlab.text import LMConfig, RecurrentLM, Vocabulary, save_lm

    vocab = Vocabulary.build("hello world, the cat sat on the mat.")
    torch.manual_seed(0)
    model = tmp_path / "lm.safetensors"
    save_lm(model, RecurrentLM(LMConfig(vocab_size=len(vocab), cell="lstm", hidden_size=8, num_layers=1)), vocab)
    proc = subprocess.Popen([sys.executable, "-m", "seqlab", "generate", "sample", "--model", str(model),
                             "--sample-length", "2000000", "--threads", "1", "--seed", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with proc.stderr:
        assert len(proc.stdout.read(100)) == 100
        proc.stdout.close()
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and err == "", err
