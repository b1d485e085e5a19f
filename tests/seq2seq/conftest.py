"""A tiny saved translator shared by the command tests: ``(path, Translator)``."""

import pytest
import torch

from seqlab.seq2seq import Translator
from seqlab.seq2seq.vocab import SPECIALS
from seqlab.vocab import Vocabulary


@pytest.fixture
def model_path(tmp_path):
    torch.manual_seed(0)
    tr = Translator.create(Vocabulary(list("abc 123train"), specials=SPECIALS, lowercase=True),
                           Vocabulary(list("xyz"), specials=SPECIALS), embed_size=4,
                           hidden_size=5, max_target_len=5)
    path = tmp_path / "m.safetensors"
    tr.save(path)
    return str(path), Translator.load(path)
