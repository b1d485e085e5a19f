"""seqlab.vocab: tokenizers, the one Vocabulary, its configs (this layout and the three old ones), errors."""

import json
import re

import pytest

from seqlab.errors import SeqlabError
from seqlab.vocab import BOS, EOS, PAD, UNK, WORD_RE, VocabConfig, Vocabulary, detokenize, tokenize

TEXTS = [
    "Hello, world!\n\nSecond  line\twith tabs.",
    "Ünïcödé: naïve café — «quotes» 日本語のテキスト 🙂🚀 e\u0301 (combining accent)",
    "   leading and trailing spaces   \n",
    "don't stop... it's 3.14 - x=y+1; ¿qué? ¡sí!",
    "family 👨\u200d👩\u200d👧 flags 🇫🇷 and skin tones 👍🏽!!",
    "",
]


def json_round_trip(v: Vocabulary) -> Vocabulary:
    return Vocabulary.from_config(json.loads(json.dumps(v.to_config())))  # as a model file's header stores it


# -- tokenizers --------------------------------------------------------------------------------
@pytest.mark.parametrize("level", ["char", "word"])
@pytest.mark.parametrize("text", TEXTS)
def test_tokenize_round_trip(text, level):
    assert detokenize(tokenize(text, level)) == text
    assert "".join(tokenize(text, level, lowercase=True)) == text.lower()


def test_char_tokens_are_code_points():
    assert tokenize("a🙂e\u0301日", "char") == ["a", "🙂", "e", "\u0301", "日"]
    assert tokenize("👍🏽", "char") == ["👍", "🏽"]  # an emoji with a skin tone is two code points


def test_word_tokens_carry_leading_space():
    assert tokenize("The cat's  hat, ok.\n", "word") == ["The", " cat", "'", "s", " ", " hat", ",", " ok", ".", "\n"]
    assert tokenize("naïve 日本語", "word") == ["naïve", " 日本語"]
    assert tokenize("wow 🙂🚀!! ok", "word") == ["wow", " 🙂🚀!!", " ok"]  # emoji and marks: one run
    assert tokenize("a\tb", "word") == ["a", "\t", "b"]


def test_drop_spaces_gives_words_and_punctuation_runs():
    words = ["The", "cat", "'", "s", "hat", ",", "ok", "."]
    assert tokenize("The cat's  hat, ok.\n", "word", drop_spaces=True) == words
    assert tokenize("ÉCOLE Straße!", "word", lowercase=True, drop_spaces=True) == ["école", "straße", "!"]
    for text in TEXTS:  # the same split as the plain regex of words and runs of marks
        assert tokenize(text, "word", drop_spaces=True) == re.findall(r"\w+|[^\w\s]+", text)
    assert detokenize(["a", "cat", "."], "word", drop_spaces=True) == "a cat ."
    assert WORD_RE.pattern == r" ?\w+| ?[^\w\s]+|\s+(?!\S)|\s+"  # the one word regex, documented in the module


# -- building ----------------------------------------------------------------------------------
@pytest.mark.parametrize("level", ["char", "word"])
@pytest.mark.parametrize("text", TEXTS[:5])
def test_encode_decode_round_trip(text, level):
    v = Vocabulary.build(text, level=level)
    ids = v.encode(text)
    assert all(0 <= i < len(v) for i in ids) and len(ids) == len(tokenize(text, level))
    assert v.decode(ids) == text
    v2 = json_round_trip(v)
    assert v2 == v and v2.encode(text) == ids


def test_frequency_then_first_seen_order_is_deterministic():
    v = Vocabulary.build("abbccc")
    assert v.itos == ["c", "b", "a"] and v.unk_id is None and v.config.specials == ()
    texts = ["b a c", "c d", "d b"]  # counts: b 2, c 2, d 2, a 1: ties in order of first appearance
    cfg = VocabConfig("word", drop_spaces=True)
    assert Vocabulary.build(texts, cfg).itos == ["b", "c", "d", "a"]
    assert Vocabulary.build(iter(texts), cfg) == Vocabulary.build(list(texts), cfg)  # any iterable of texts


def test_specials_take_the_first_ids_in_order():
    v = Vocabulary.build(["the cat", "a cat"], level="word", specials=(PAD, BOS, EOS))
    assert v.itos[:3] == [PAD, BOS, EOS] and (v.pad_id, v.bos_id, v.eos_id, v.unk_id) == (0, 1, 2, None)
    c = Vocabulary(list("xyz"), specials=(PAD, UNK))
    assert c.itos == [PAD, UNK, "x", "y", "z"] and (c.pad_id, c.unk_id) == (0, 1) and c.tokens == ["x", "y", "z"]
    # repeats, and tokens that are specials, are dropped; the order given is kept
    assert Vocabulary(["b", "a", "b", PAD, "c"], specials=(PAD,)).itos == [PAD, "b", "a", "c"]
    assert Vocabulary(["<mask>", "a"], specials=("<mask>",)).itos == ["<mask>", "a"]  # any special name


def test_specials_are_never_read_from_text():
    # a whitespace split (kept for old seq2seq files) sees "<s>" as a word; it is not the start token
    v = Vocabulary.from_config({"itos": ["a"], "level": "word", "lowercase": False})
    with pytest.raises(SeqlabError, match=r"1 word not in the model's vocabulary: '<s>'"):
        v.encode("a <s>")
    assert v.encode("a <s>", unknown="skip") == [3]


def test_min_freq_and_max_size_cut_offs_with_ties():
    texts = ["a b c a", "b a d", "a e", "c"]  # counts: a 4, b 2, c 2, d 1, e 1
    cfg = VocabConfig("word", drop_spaces=True, specials=(PAD, UNK))
    assert Vocabulary.build(texts, cfg).itos == [PAD, UNK, "a", "b", "c", "d", "e"]
    assert Vocabulary.build(texts, cfg, min_freq=2).itos == [PAD, UNK, "a", "b", "c"]
    assert Vocabulary.build(texts, cfg, max_size=2).itos == [PAD, UNK, "a", "b"]  # b before c: seen first
    assert Vocabulary.build(texts, cfg, max_size=4).itos == [PAD, UNK, "a", "b", "c", "d"]  # d before e
    assert Vocabulary.build(texts, cfg, min_freq=2, max_size=10).itos == [PAD, UNK, "a", "b", "c"]
    with pytest.raises(SeqlabError, match=r"min_freq: no token appears 5 times \(the most frequent, 'a', 4 times\)"):
        Vocabulary.build(texts, cfg, min_freq=5)  # every text would read as <unk> only
    # without <unk> among the specials, a cut adds it (last), so that the left-out tokens have an id
    v = Vocabulary.build(texts, level="word", drop_spaces=True, specials=(PAD,), max_size=1)
    assert v.itos == [PAD, UNK, "a"] and v.config.specials == (PAD, UNK)
    assert v.encode("a zebra e") == [2, 1, 1]
    assert Vocabulary.build(texts, level="word", drop_spaces=True).unk_id is None  # nothing cut: no <unk>


def test_max_size_maps_rare_words_to_unk():
    text = "a the cat the dog the cat the"
    v = Vocabulary.build(text, level="word", max_size=2)
    assert v.itos == [UNK, " the", " cat"] and v.unk_id == 0
    assert v.decode(v.encode(" the bird", unknown="replace")) == " the" + UNK  # <unk> is written by name


# -- unknown tokens ----------------------------------------------------------------------------
def test_unknown_policies():
    v = Vocabulary.build("abc")
    with pytest.raises(SeqlabError, match=r"^text: 2 characters not in the model's vocabulary: 'x', 'é'; remove them, "
                                          r"or pass unknown='skip'$"):
        v.encode("axéb")  # no <unk>: the default is an error
    assert v.decode(v.encode("axéb", unknown="skip")) == "ab"
    with pytest.raises(SeqlabError, match=r"unknown='replace': this vocabulary has no unknown token \('<unk>'\), "
                                          r"so 'x' cannot be replaced"):
        v.encode("axb", unknown="replace")
    with pytest.raises(SeqlabError, match=r"unknown: expected one of \('error', 'replace', 'skip'\) or None, "
                                          r"got 'ignore'"):
        v.encode("a", unknown="ignore")
    with pytest.raises(SeqlabError, match=r"^--prime: 1 character not in .*: 'z'; .*'skip' or 'replace'$"):
        Vocabulary.build("abc", specials=(UNK,)).encode("az", "--prime", unknown="error")
    many = Vocabulary.build("a")
    with pytest.raises(SeqlabError, match=r"11 characters not in .*'i' and 3 more;"):
        many.encode("bcdefghijkl")


def test_unknown_tokens_read_as_unk_when_there_is_one():
    v = Vocabulary.build(["good film", "bad film"], level="word", drop_spaces=True, specials=(PAD, UNK))
    assert v.encode("good zebra film") == [v.stoi["good"], 1, v.stoi["film"]]  # default: replace
    assert v.encode("good zebra film", unknown="skip") == [v.stoi["good"], v.stoi["film"]]
    with pytest.raises(SeqlabError, match=r"1 word not in the model's vocabulary: 'zebra'; .*or 'replace'"):
        v.encode("good zebra", unknown="error")
    assert v.to_ids(["good", "zebra"]) == [v.stoi["good"], 1]
    assert v.to_tokens([2, 1, 0]) == [v.itos[2], UNK, PAD]


def test_decode_stops_at_end_and_leaves_out_padding_and_start():
    v = Vocabulary(["a", "b"], specials=(PAD, BOS, EOS, UNK))
    assert v.decode([1, 4, 3, 0, 5, 2, 4]) == "a<unk>b"
    assert Vocabulary(["hello", " world"], level="word").decode([0, 1]) == "hello world"
    assert Vocabulary(["hello", "world"], level="word", drop_spaces=True).decode([0, 1]) == "hello world"
    with pytest.raises(SeqlabError, match=r"ids: expected ids in \[0, 2\) for this vocabulary of 2 tokens, got 2"):
        Vocabulary(["a", "b"]).decode([0, 2])
    with pytest.raises(SeqlabError, match=r"got -1"):
        Vocabulary(["a", "b"]).to_tokens([-1])


def test_unicode_and_emoji_vocabularies():
    text = "Ça va? 🙂🙂 naïve 👨\u200d👩\u200d👧 日本語 e\u0301"
    for level in ("char", "word"):
        v = Vocabulary.build(text, level=level, lowercase=True)
        assert v.decode(v.encode(text)) == text.lower()
        assert json_round_trip(v).itos == v.itos
    c = Vocabulary.build(text)
    assert c.itos[:4] == [" ", "a", "v", "🙂"] and "\u200d" in c and c.encode("🙂") == [c.stoi["🙂"]]
    w = Vocabulary.build(text, level="word")
    assert w.encode(" 🙂🙂") == [w.stoi[" 🙂🙂"]]


# -- configs and model files -------------------------------------------------------------------
@pytest.mark.parametrize("options", [
    {},
    {"level": "word", "lowercase": True, "drop_spaces": True, "specials": (PAD, UNK), "min_freq": 2, "max_size": 3},
    {"level": "word", "specials": (PAD, BOS, EOS)},
])
def test_config_round_trip(options):
    v = Vocabulary.build(TEXTS[:4], **options)
    cfg = v.to_config()
    assert cfg["version"] == 2 and cfg["itos"] == v.itos and cfg["config"]["specials"] == list(v.config.specials)
    back = json_round_trip(v)
    assert back == v and back.config == v.config and back.stoi == v.stoi
    assert all(back.encode(t, unknown="skip") == v.encode(t, unknown="skip") for t in TEXTS)


def test_old_classify_config_loads_with_its_word_split():
    # what classify/vocab.py's Vocabulary.to_config wrote: <pad> = 0, <unk> = 1, then "tokens"
    old = {"text": {"tokenizer": "word", "lowercase": True, "min_freq": 1, "max_size": None},
           "tokens": ["great", "movie", "!", "bad"]}
    v = Vocabulary.from_config(old)
    assert v.itos == [PAD, UNK, "great", "movie", "!", "bad"] and (v.pad_id, v.unk_id) == (0, 1)
    assert v.config.level == "legacy-classify-word" and v.config.lowercase
    # single punctuation marks, no spaces, lower case; unknown words read as <unk> as before
    assert v.tokenize("GREAT movie!!") == ["great", "movie", "!", "!"]
    assert v.encode("Great movie!! Awful") == [2, 3, 4, 4, 1]
    assert json_round_trip(v) == v  # saved again in the new layout, it reads text the same way
    char = Vocabulary.from_config({"text": {"tokenizer": "char", "lowercase": True, "min_freq": 2, "max_size": 5},
                                   "tokens": ["a", " "]})
    assert char.encode("A b") == [2, 3, 1] and char.config.min_freq == 2 and char.config.max_size == 5


def test_old_text_config_loads_with_unk_last():
    # what text/vocab.py's Vocabulary.to_config wrote: the symbols in id order, <unk> (if any) last
    v = Vocabulary.from_config({"symbols": [" the", " cat", "a", UNK], "level": "word", "unk": UNK})
    assert v.unk_id == 3 and v.itos[3] == UNK and v.config.specials == (UNK,)
    assert v.encode("a the dog") == [2, 0, 3]
    assert v.decode([2, 0, 3]) == "a the" + UNK
    assert json_round_trip(v).encode("a the dog") == [2, 0, 3]  # ids are kept when saved again
    chars = Vocabulary.from_config({"symbols": ["b", "a", "\n"]})  # oldest files: no level, no unk
    assert chars.config.level == "char" and chars.encode("ab\n") == [1, 0, 2] and chars.unk_id is None
    with pytest.raises(SeqlabError, match="not in the model's vocabulary: 'c'"):
        chars.encode("abc")


def test_old_seq2seq_config_loads_with_whitespace_words():
    # what seq2seq/vocab.py's Vocab.to_config wrote: the tokens after <pad>, <s>, </s>, sorted
    v = Vocabulary.from_config({"itos": ["3/3/15", "march", "the"], "level": "word", "lowercase": True})
    assert v.itos == [PAD, BOS, EOS, "3/3/15", "march", "the"] and (v.pad_id, v.bos_id, v.eos_id) == (0, 1, 2)
    assert v.encode("The 3/3/15") == [5, 3]  # split on whitespace, lower case
    assert v.decode([1, 5, 3, 2, 4]) == "the 3/3/15"  # joined by spaces, up to </s>
    c = Vocabulary.from_config({"itos": ["-", "0", "1"], "level": "char", "lowercase": False})
    assert c.itos[3:] == ["-", "0", "1"] and c.decode(c.encode("1-0")) == "1-0"
    assert json_round_trip(v) == v


@pytest.mark.parametrize("cfg, match", [
    ({"tokens": ["a"]}, r"vocab config: unrecognised layout with keys \['tokens'\]"),
    ([1, 2], "vocab config: expected a mapping, got list"),
    ({"version": 3, "itos": ["a"], "config": {}}, "version 3, this seqlab reads version 2; upgrade seqlab"),
    ({"version": 2, "itos": ["a"]}, r"vocab config: missing or malformed entry \(KeyError\('config'\)\)"),
    ({"version": 2, "itos": ["a"], "config": {"colour": 1}}, "vocab config: missing or malformed entry"),
    ({"version": 2, "itos": ["a", "a"], "config": {}}, "vocabulary: expected distinct tokens, got 'a' more than once"),
    ({"version": 2, "itos": ["a"], "config": {"specials": [PAD]}}, r"the specials '<pad>' are not among its tokens"),
    ({"version": 2, "itos": [], "config": {}}, "vocabulary: expected at least one token, got none"),
    ({"symbols": ["a", "?"], "unk": "?"}, "unknown symbol '\\?' is not supported"),
    ({"text": {"tokenizer": "bpe", "lowercase": True, "min_freq": 1, "max_size": None}, "tokens": []},
     "level: expected one of"),
])
def test_bad_configs(cfg, match):
    with pytest.raises(SeqlabError, match=match):
        Vocabulary.from_config(cfg)


# -- argument errors ---------------------------------------------------------------------------
@pytest.mark.parametrize("call, match", [
    (lambda: Vocabulary.build(""), "texts: expected text with at least one token to build a vocabulary from"),
    (lambda: Vocabulary.build(["   "], level="word", drop_spaces=True), "at least one token"),
    (lambda: Vocabulary.build("abc", level="byte"), r"level: expected one of \('char', 'word'\), got 'byte'"),
    (lambda: Vocabulary.build("abc", max_size=0),
     r"max_size: expected a positive integer \(or None for no limit\), got 0"),
    (lambda: Vocabulary.build("abc", min_freq=0), "min_freq: expected a positive integer, got 0"),
    (lambda: Vocabulary.build(["ok", 3]), r"texts\[1\]: expected a string, got int"),
    (lambda: Vocabulary.build("abc", colour="red"), "vocabulary options: .*'colour'.*the fields of VocabConfig"),
    (lambda: Vocabulary.build("abc", {"level": "word"}), "config: expected a VocabConfig .*got dict"),
    (lambda: VocabConfig(specials="<pad>"), "specials: expected a sequence of non-empty strings"),
    (lambda: VocabConfig(specials=(PAD, PAD)), r"specials: expected distinct tokens, got \('<pad>', '<pad>'\)"),
    (lambda: VocabConfig(specials=("",)), "specials: expected a sequence of non-empty strings"),
    (lambda: VocabConfig(specials=5), "specials: expected a sequence of non-empty strings .*, got 5"),
    (lambda: VocabConfig(lowercase="yes"), "lowercase: expected True or False, got 'yes'"),
    (lambda: Vocabulary("abc"), "tokens: expected a list of tokens, got one string; pass list"),
    (lambda: Vocabulary(["a", ""]), "tokens: expected non-empty strings, got ''"),
    (lambda: Vocabulary(), "vocabulary: expected at least one token, got none"),
    (lambda: Vocabulary(["a"]).encode(None), "text: expected a string, got NoneType"),
    (lambda: Vocabulary(["a"]).encode(5, "--text"), "--text: expected a string, got int"),
    (lambda: tokenize(b"abc"), "text: expected a string, got bytes"),
])
def test_error_messages(call, match):
    with pytest.raises(SeqlabError, match=match):
        call()


def test_config_is_typed_and_frozen():
    cfg = VocabConfig("word", specials=[PAD, UNK])  # a list, as read from JSON, becomes a tuple
    assert cfg.specials == (PAD, UNK) and hash(cfg) == hash(VocabConfig("word", specials=(PAD, UNK)))
    with pytest.raises(AttributeError):
        cfg.level = "char"  # type: ignore[misc]
    v = Vocabulary(["a"], cfg, lowercase=True)  # keywords override the config's fields
    assert v.config.lowercase and v.config.level == "word"
    assert repr(v) == "Vocabulary(3 tokens, level='word', lowercase=True, specials=('<pad>', '<unk>'))"
    assert "a" in v and "b" not in v and len(v) == 3


# -- padding -----------------------------------------------------------------------------------
def test_pad_ids_is_the_one_padding_of_classify_and_seq2seq():
    """One function pads both jobs' batches (classify's NumPy pad_ids and seq2seq's torch pad_batch
    were two copies): seq2seq's tensors are its arrays, and classify's public name is it."""
    import numpy as np
    import torch

    import seqlab.classify
    from seqlab.seq2seq.model import pad_batch
    from seqlab.vocab import pad_ids

    seqs = [[5, 6, 7], [8], [9, 10]]
    ids, lens = pad_ids(seqs)
    assert ids.dtype == lens.dtype == np.int64
    np.testing.assert_array_equal(ids, [[5, 6, 7], [8, 0, 0], [9, 10, 0]])
    np.testing.assert_array_equal(lens, [3, 1, 2])
    np.testing.assert_array_equal(pad_ids(seqs, pad=-1)[0], [[5, 6, 7], [8, -1, -1], [9, 10, -1]])
    assert pad_ids([])[0].shape == (0, 0) and pad_ids([[], []])[0].shape == (2, 0)
    src, src_lens = pad_batch(seqs)
    assert src.dtype == src_lens.dtype == torch.long
    assert torch.equal(src, torch.from_numpy(ids)) and torch.equal(src_lens, torch.from_numpy(lens))
    assert seqlab.classify.pad_ids is pad_ids  # (padding_mask and classify.vocab.pad_ids: deprecated aliases)
