"""Training: pairs files, and a small model whose year digits attend to the year in the input."""

import pytest
import torch

from seqlab.errors import SeqlabError
from seqlab.seq2seq import Translator, default_config, read_pairs, train_pairs
from seqlab.seq2seq import dates
from seqlab.seq2seq.train import date_vocabs, fit

# formats that put the year first, last and in between
FORMATS = ["d month yyyy", "yyyy-mm-dd", "mm/dd/yyyy", "month d, yyyy", "yyyy mon dd", "dth of month yyyy"]


def year_span(d, fmt):
    """Start and end of the year's characters in the rendered source (from the pattern)."""
    start = len(dates.FORMATS[fmt].split("{yyyy}")[0].format(**dates.fields(d)))
    return start, start + 4


def test_year_digits_attend_to_the_year():
    split = dates.split_dates()
    src, tgt = date_vocabs()
    torch.manual_seed(0)
    tr = Translator.create(src, tgt, embed_size=16, hidden_size=32, attention="luong", input_feeding=False,
                           max_target_len=12)
    cfg = default_config(epochs=1, minutes=None, lr=0.01, verbose=0, seed=0)
    fit(tr, lambda e: dates.make_pairs(split.train, 100 * 64, seed=3, formats=FORMATS), None, cfg, batch_size=64)

    rng = __import__("random").Random(5)
    tests = [(d, rng.choice(FORMATS)) for d in split.test[:150]]  # held-out days
    outs = tr.translate_batch([dates.render(d, f) for d, f in tests])
    correct = sum(o.text == d.isoformat() for o, (d, _) in zip(outs, tests))
    assert correct >= 0.9 * len(tests)
    on_year, mass, month_on_year, n = 0, 0.0, 0, 0
    for o, (d, f) in zip(outs, tests):
        a, b = year_span(d, f)
        att = o.attention  # (11, S): rows 0-3 are the year digits, 5-6 the month
        assert o.target_tokens[4] == "-"
        on_year += sum(a <= int(j) < b for j in att[:4].argmax(-1))
        mass += float(att[:4, a:b].sum()) / 4
        month_on_year += sum(a <= int(j) < b for j in att[5:7].argmax(-1))
        n += 1
    assert on_year >= 0.97 * 4 * n  # each year digit looks at the year's characters
    assert mass / n >= 0.8  # with most of its weight
    assert month_on_year <= 0.05 * 2 * n  # while the month digits look elsewhere


def test_read_pairs(tmp_path):
    p = tmp_path / "pairs.tsv"
    p.write_text("hello\tbonjour\n\n cat \tchat\n", encoding="utf-8")
    assert read_pairs(p) == [("hello", "bonjour"), ("cat", "chat")]
    cases = {
        "no tab here\tx\nmissing tab\n": "line 2 .* 0 tabs, expected exactly one",
        "a\tb\tc\n": "line 1 .* 2 tabs",
        "a\tb\n\tb\n": "line 2 .* empty source side",
        "a\tb\nx\t  \n": "line 2 .* empty target side",
        "a\tb\n": "holds 1 pairs",
    }
    for text, msg in cases.items():
        p.write_text(text, encoding="utf-8")
        with pytest.raises(SeqlabError, match=msg):
            read_pairs(p)
    p.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(SeqlabError, match="not UTF-8"):
        read_pairs(p)
    with pytest.raises(SeqlabError, match="does not exist"):
        read_pairs(tmp_path / "none.tsv")


def test_train_pairs_learns_a_word_mapping(tmp_path, capsys):
    """Word level: a tiny lookup task is learnt, and the vocabularies come from the pairs."""
    words = {"one": "un", "two": "deux", "three": "trois", "four": "quatre"}
    pairs = [(f"{a} {b}", f"{words[a]} {words[b]}") for a in words for b in words] * 8
    cfg = default_config(epochs=40, minutes=None, lr=0.01, verbose=0, seed=0)
    tr, hist = train_pairs(pairs, cfg, level="word", val_fraction=0.1, batch_size=16, target_accuracy=1.0,
                           embed_size=8, hidden_size=16)
    # word tokens carry their leading space (lossless): each word is seen first and second
    assert set(tr.src_vocab.tokens) == {*words, *(" " + w for w in words)}
    assert set(tr.tgt_vocab.tokens) == {*words.values(), *(" " + w for w in words.values())}
    assert hist["val_accuracy"][-1] == 1.0 and "target accuracy 100% reached" in hist.stopped
    assert tr.translate("three one").text == "trois un"
    # a word-level source has <unk> (id 3): a word the pairs never held reads as it, in every entry point
    assert tr.src_vocab.itos[:4] == ["<pad>", "<s>", "</s>", "<unk>"] and tr.src_vocab.unk_id == 3
    out = tr.translate("five one")
    assert out.source_tokens == ["<unk>", " one"] and out.text  # a translation, not an error
    assert tr.nbest("five one", beam=2)[0].source_tokens == ["<unk>", " one"]
    assert tr.translate_batch(["five one", "three one"])[1].text == "trois un"
    # no training pair holds <unk>: its encoder vector started at zero and stayed there
    assert torch.count_nonzero(tr.model.encoder.embed.weight[tr.src_vocab.unk_id]) == 0
    assert tr.tgt_vocab.unk_id is None  # targets come from the pairs: nothing unseen to read
    path = tmp_path / "words.safetensors"
    tr.save(path)
    from seqlab.cli import main

    capsys.readouterr()
    assert main(["translate", "predict", "--model", str(path), "five", "one"]) == 0  # the command, from the file
    assert capsys.readouterr().out == out.text + "\n"
    for bad, msg in [(dict(batch_size=0), "batch_size"),
                     (dict(teacher_forcing=1.5), r"teacher_forcing: expected a number in \[0, 1\]"),
                     (dict(target_accuracy=float("nan")), "target_accuracy")]:
        with pytest.raises(SeqlabError, match=msg):
            train_pairs(pairs, cfg, **bad)


def _old_word_translator():
    """A word-level translator as seqlab wrote them before sources had <unk>: specials <pad>, <s>,
    </s> only (untrained: only the vocabulary matters here)."""
    from seqlab.seq2seq.vocab import SPECIALS
    from seqlab.vocab import Vocabulary

    src = Vocabulary.build(["three one", "one two"], level="word", specials=SPECIALS)
    tgt = Vocabulary.build(["trois un", "un deux"], level="word", specials=SPECIALS)
    torch.manual_seed(0)
    return Translator.create(src, tgt, embed_size=4, hidden_size=8, max_target_len=6)


def test_old_word_level_models_without_unk_load_and_refuse_unseen_words_as_before(tmp_path, capsys):
    from seqlab.cli import main
    from seqlab.io import load_file, save_file

    old = _old_word_translator()
    path = tmp_path / "old.safetensors"
    old.save(path)
    tr = Translator.load(path)
    assert tr.src_vocab.unk_id is None and tr.src_vocab.itos == old.src_vocab.itos
    assert tr.translate("three one").text == old.translate("three one").text
    with pytest.raises(SeqlabError, match="1 word not in the model's vocabulary: 'five'; remove them$"):
        tr.translate("five one")
    assert main(["translate", "predict", "--model", str(path), "five", "one"]) == 2
    assert "1 word not in the model's vocabulary: 'five'" in capsys.readouterr().err
    # the layout written before the shared vocabulary (sorted tokens, whitespace split) too
    config, tensors = load_file(path, "seq2seq")
    config["src_vocab"] = {"itos": ["<pad>", "<s>", "</s>", "four", "one", "three", "two"], "level": "word",
                           "lowercase": False}  # as many tokens as the model's embedding has rows
    legacy = tmp_path / "legacy.safetensors"
    save_file(legacy, "seq2seq", config, tensors)
    tr = Translator.load(legacy)
    assert tr.src_vocab.unk_id is None and tr.translate("three one").text
    with pytest.raises(SeqlabError, match="1 word not in the model's vocabulary: 'five'"):
        tr.translate("five one")
