"""Text generation with character- and word-level recurrent language models.

``seqlab.vocab`` (tokenizers, vocabulary; re-exported here), ``data`` (corpora, stream batching
for truncated BPTT), ``model`` (the language model, save/load), ``task`` (stateful TBPTT as a
task of the one loop, :mod:`seqlab.train`), ``train`` (training, evaluation), ``sampling``
(temperature, top-k, top-p, greedy, streaming), ``run`` (the workflows of the command line),
``cli`` (``seqlab generate``).
"""

from __future__ import annotations

from .._lazy import lazy_getattr

# Names load on first use, so that `seqlab --help` (which imports seqlab.text.cli) stays fast.
_LAZY = {
    "batchify": "data", "default_corpus": "data", "iter_chunks": "data", "read_text": "data",
    "split_train_val": "data", "LMConfig": "model", "RecurrentLM": "model",
    "detach_state": "model", "load_lm": "model", "save_lm": "model", "SampleConfig": "sampling",
    "draw": "sampling", "filter_probs": "sampling", "sample": "sampling", "stream": "sampling",
    "LMTask": "task", "default_config": "train", "describe_loss": "train", "evaluate": "train",
    "train_lm": "train",
    "VocabConfig": "seqlab.vocab", "Vocabulary": "seqlab.vocab", "detokenize": "seqlab.vocab",
    "tokenize": "seqlab.vocab",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = sorted(_LAZY)
