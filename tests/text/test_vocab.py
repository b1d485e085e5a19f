"""Tokenizers and vocabulary: lossless round trips on any Unicode text, unknown-symbol policy."""

import pytest

from seqlab.errors import SeqlabError
from seqlab.text.vocab import UNK, Vocabulary, detokenize, tokenize

TEXTS = [
    "Hello, world!\n\nSecond  line\twith tabs.",
    "Ünïcödé: naïve café — «quotes» 日本語のテキスト 🙂🚀 e\u0301 (combining accent)",
    "   leading and trailing spaces   \n",
    "don't stop... it's 3.14 - x=y+1; ¿qué? ¡sí!",
    "",
]


@pytest.mark.parametrize("level", ["char", "word"])
@pytest.mark.parametrize("text", TEXTS)
def test_tokenize_round_trip(text, level):
    assert detokenize(tokenize(text, level)) == text


def test_char_tokens_are_code_points():
    text = "a🙂e\u0301日"
    assert tokenize(text, "char") == ["a", "🙂", "e", "\u0301", "日"]


def test_word_tokens_carry_leading_space():
    assert tokenize("The cat's  hat, ok.\n", "word") == ["The", " cat", "'", "s", " ", " hat", ",", " ok", ".", "\n"]
    assert tokenize("naïve 日本語", "word") == ["naïve", " 日本語"]


@pytest.mark.parametrize("level", ["char", "word"])
@pytest.mark.parametrize("text", TEXTS[:4])
def test_vocab_encode_decode_round_trip(text, level):
    v = Vocabulary.build(text, level)
    ids = v.encode(text)
    assert all(0 <= i < len(v) for i in ids)
    assert v.decode(ids) == text
    v2 = Vocabulary.from_config(v.to_config())
    assert v2.symbols == v.symbols and v2.encode(text) == ids


def test_vocab_is_sorted_by_frequency():
    v = Vocabulary.build("abbccc", "char")
    assert v.symbols == ["c", "b", "a"] and v.unk is None


def test_max_size_maps_rare_words_to_unk():
    text = "a the cat the dog the cat the"
    v = Vocabulary.build(text, "word", max_size=3)
    assert len(v) == 3 and v.unk == UNK and v.symbols[-1] == UNK
    assert v.symbols[:2] == [" the", " cat"]
    ids = v.encode(" the bird", unknown="replace")
    assert v.decode(ids) == " the" + UNK


def test_unknown_policies():
    v = Vocabulary.build("abc", "char")
    with pytest.raises(SeqlabError, match=r"2 characters not in the model's vocabulary: 'x', 'é'"):
        v.encode("axéb")
    assert v.decode(v.encode("axéb", unknown="skip")) == "ab"
    with pytest.raises(SeqlabError, match="no unknown symbol"):
        v.encode("axb", unknown="replace")
    with pytest.raises(SeqlabError, match="unknown: expected one of"):
        v.encode("a", unknown="ignore")


def test_bad_vocabulary_arguments():
    with pytest.raises(SeqlabError, match="empty"):
        Vocabulary.build("", "char")
    with pytest.raises(SeqlabError, match="level: expected"):
        Vocabulary.build("abc", "byte")
    with pytest.raises(SeqlabError, match="max_size"):
        Vocabulary.build("abc", "char", max_size=1)
