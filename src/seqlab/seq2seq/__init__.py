"""Sequence to sequence with attention: ``seqlab translate`` and its library.

``Translator`` (model + vocabularies: translate, n-best, save, load, plot), ``Seq2Seq`` and its
``Seq2SeqConfig``, ``Vocab``, decoding in :mod:`.search`, training in :mod:`.train` and the
embedded date-normalisation task in :mod:`.dates`.
"""

from .model import Seq2Seq, Seq2SeqConfig
from .search import Hypothesis, beam_search, greedy
from .train import TrainConfig, accuracy, read_pairs, train_dates, train_pairs
from .translator import Translation, Translator
from .vocab import Vocab

__all__ = ["Hypothesis", "Seq2Seq", "Seq2SeqConfig", "TrainConfig", "Translation", "Translator", "Vocab",
           "accuracy", "beam_search", "greedy", "read_pairs", "train_dates", "train_pairs"]
