"""Text generation with character- and word-level recurrent language models.

``vocab`` (tokenizers, vocabulary), ``data`` (corpora, stream batching for truncated BPTT),
``model`` (the language model, save/load), ``train`` (stateful TBPTT training, evaluation),
``sample`` (temperature, top-k, top-p, greedy, streaming), ``cli`` (``seqlab generate``).
"""

from .data import batchify, default_corpus, iter_chunks, read_text, split_train_val
from .model import LMConfig, RecurrentLM, detach_state, load_lm, save_lm
from .sample import SampleConfig, draw, filter_probs, sample, stream
from .train import TrainConfig, describe_loss, evaluate, train_lm
from .vocab import Vocabulary, detokenize, tokenize

__all__ = [
    "LMConfig", "RecurrentLM", "SampleConfig", "TrainConfig", "Vocabulary", "batchify", "default_corpus",
    "describe_loss", "detach_state", "detokenize", "draw", "evaluate", "filter_probs", "iter_chunks",
    "load_lm", "read_text", "sample", "save_lm", "split_train_val", "stream", "tokenize", "train_lm",
]
