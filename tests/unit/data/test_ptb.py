"""PTB-format language-model corpus: reading, errors, the synthetic corpus, batches."""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import pytest
import torch

from nasforge.data.ptb import (
    EOS,
    SPLITS,
    UNK,
    Corpus,
    batchify,
    bptt_batches,
    load_ptb,
    split_path,
    write_synthetic_corpus,
)
from nasforge.errors import ConfigError

GOOD = {"train": " the cat <unk> sat \n\n the dog\r\n", "valid": "the bird sat\n",
        "test": "   \ndog café\n"}


def write_corpus(directory: Path, texts: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for split, text in texts.items():
        split_path(directory, split).write_bytes(text.encode("utf-8"))
    return directory


def config_error(directory: Path) -> str:
    """The message of the ConfigError that loading ``directory`` raises (one line)."""
    with pytest.raises(ConfigError) as info:
        load_ptb(directory)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- reading -------------------------------------------------------------------------------


def test_round_trip_exact_ids(tmp_path: Path) -> None:
    corpus = load_ptb(write_corpus(tmp_path, GOOD))
    assert corpus.vocab == ["the", "cat", UNK, "sat", EOS, "dog"]
    assert corpus.vocab_size == 6
    assert corpus.train.tolist() == [0, 1, 2, 3, 4, 0, 5, 4]  # blank line: no <eos>
    assert corpus.valid.tolist() == [0, 2, 3, 4]  # bird -> <unk>
    assert corpus.test.tolist() == [5, 2, 4]  # whitespace-only line skipped, café -> <unk>
    for stream in (corpus.train, corpus.valid, corpus.test):
        assert stream.dtype == torch.long and stream.dim() == 1


def test_eos_per_non_empty_line(tmp_path: Path) -> None:
    lines = ["a b c", "", "b", "   ", "c a", "a"]
    texts = {split: "\n".join(lines) for split in SPLITS}  # no final newline
    corpus = load_ptb(write_corpus(tmp_path, texts))
    eos = corpus.index(EOS)
    assert corpus.train.tolist().count(eos) == 4
    assert corpus.train[-1].item() == eos
    words = [corpus.vocab[i] for i in corpus.train.tolist()]
    assert words == ["a", "b", "c", EOS, "b", EOS, "c", "a", EOS, "a", EOS]


def test_index_and_path_argument(tmp_path: Path) -> None:
    corpus = load_ptb(str(write_corpus(tmp_path, GOOD)))
    assert [corpus.index(w) for w in corpus.vocab] == list(range(corpus.vocab_size))
    with pytest.raises(KeyError, match="bird"):
        corpus.index("bird")


def test_non_ascii_words_are_kept(tmp_path: Path) -> None:
    texts = dict(GOOD, train="café naïve 東京\n", valid="東京 café\n", test="naïve\n")
    corpus = load_ptb(write_corpus(tmp_path, texts))
    assert corpus.vocab == ["café", "naïve", "東京", EOS]
    assert corpus.valid.tolist() == [2, 0, 3]


def test_corpus_constructed_directly() -> None:
    corpus = Corpus(["a", EOS], torch.tensor([0, 1]), torch.tensor([1]), torch.tensor([0]))
    assert corpus.vocab_size == 2 and corpus.index(EOS) == 1


# --- errors --------------------------------------------------------------------------------


def test_missing_directory(tmp_path: Path) -> None:
    assert "nowhere" in config_error(tmp_path / "nowhere")


def test_directory_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "ptb"
    path.write_text("x\n")
    assert str(path) in config_error(path)


@pytest.mark.parametrize("split", SPLITS)
def test_missing_file(tmp_path: Path, split: str) -> None:
    write_corpus(tmp_path, {s: t for s, t in GOOD.items() if s != split})
    assert f"ptb.{split}.txt" in config_error(tmp_path)


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("text", ["", "\n\n", "  \t \n \r\n"])
def test_empty_file(tmp_path: Path, split: str, text: str) -> None:
    write_corpus(tmp_path, dict(GOOD, **{split: text}))
    message = config_error(tmp_path)
    assert f"ptb.{split}.txt" in message and "empty" in message


@pytest.mark.parametrize("split", SPLITS)
def test_invalid_utf8(tmp_path: Path, split: str) -> None:
    write_corpus(tmp_path, GOOD)
    split_path(tmp_path, split).write_bytes(b"the cat\n\xff\xfe sat\n")
    message = config_error(tmp_path)
    assert f"ptb.{split}.txt" in message and "UTF-8" in message


def test_latin1_file_is_not_utf8(tmp_path: Path) -> None:
    write_corpus(tmp_path, GOOD)
    split_path(tmp_path, "valid").write_bytes("the café\n".encode("latin-1"))
    assert "ptb.valid.txt" in config_error(tmp_path)


def test_binary_file(tmp_path: Path) -> None:
    write_corpus(tmp_path, GOOD)
    split_path(tmp_path, "train").write_bytes(b"the\x00cat\x00\x00\n")
    message = config_error(tmp_path)
    assert "ptb.train.txt" in message and "not a text file" in message


@pytest.mark.parametrize("split", ["valid", "test"])
def test_unknown_word_without_unk(tmp_path: Path, split: str) -> None:
    texts = {"train": "the cat sat\n", "valid": "the cat\n", "test": "sat\n"}
    texts[split] = "the bird sat\nthe fish\n"
    message = config_error(write_corpus(tmp_path, texts))
    assert f"ptb.{split}.txt" in message and "'bird'" in message and "2 such words" in message


def test_known_words_without_unk(tmp_path: Path) -> None:
    texts = {"train": "the cat sat\n", "valid": "the cat\n", "test": "sat\n"}
    corpus = load_ptb(write_corpus(tmp_path, texts))
    assert UNK not in corpus.vocab and corpus.test.tolist() == [2, 3]


# --- the synthetic corpus ----------------------------------------------------------------------


def file_bytes(directory: Path) -> list[bytes]:
    return [split_path(directory, split).read_bytes() for split in SPLITS]


def test_synthetic_is_deterministic_per_seed(tmp_path: Path) -> None:
    sizes = {"n_train_words": 3000, "n_valid_words": 500, "n_test_words": 500}
    a = write_synthetic_corpus(tmp_path / "a", seed=3, **sizes)
    b = write_synthetic_corpus(tmp_path / "b", seed=3, **sizes)
    c = write_synthetic_corpus(tmp_path / "c", seed=4, **sizes)
    assert a == tmp_path / "a"
    assert file_bytes(a) == file_bytes(b)
    assert all(x != y for x, y in zip(file_bytes(a), file_bytes(c), strict=True))


def test_synthetic_format_and_sizes(tmp_path: Path) -> None:
    directory = write_synthetic_corpus(tmp_path / "ptb", 5000, 700, 800, vocab_size=30, seed=1)
    sizes = {"train": 5000, "valid": 700, "test": 800}
    for split in SPLITS:
        lines = split_path(directory, split).read_text(encoding="utf-8").splitlines()
        words = [word for line in lines for word in line.split(" ")]
        assert all(line.strip() == line and line for line in lines)
        assert len(words) == sizes[split]
        assert all(w == UNK or re.fullmatch(r"w([0-9]|[12][0-9])", w) for w in words)
        assert 6 < len(words) / len(lines) < 20  # sentences end with probability ~1/12
    train_words = split_path(directory, "train").read_text(encoding="utf-8").split()
    assert 0 < train_words.count(UNK) < 0.05 * len(train_words)
    corpus = load_ptb(directory)
    assert UNK in corpus.vocab and corpus.vocab_size <= 30 + 2
    assert [len(corpus.train), len(corpus.valid), len(corpus.test)] == [
        sizes[split] + len(split_path(directory, split).read_text().splitlines())
        for split in SPLITS]


def test_tiny_synthetic_corpus_is_loadable(tmp_path: Path) -> None:
    corpus = load_ptb(write_synthetic_corpus(tmp_path, 5, 3, 3, vocab_size=200, seed=7))
    assert UNK in corpus.vocab  # forced into the training file: unseen words can map to it
    assert len(corpus.valid) >= 4


def trigram_perplexity(train: list[int], valid: list[int], eos: int, vocab_size: int) -> float:
    """Validation perplexity of an interpolated trigram count model fitted on ``train``."""
    def events(stream: list[int]) -> list[tuple[int, int, int]]:
        padded = [eos, eos, *stream]
        return list(zip(padded, padded[1:], stream, strict=False))

    tri = Counter(events(train))
    ctx = Counter((a, b) for a, b, _ in events(train))
    bi = Counter((b, t) for _, b, t in events(train))
    uni = Counter(train)
    nll = 0.0
    for a, b, t in events(valid):
        p = (0.7 * tri[(a, b, t)] / max(ctx[(a, b)], 1) + 0.25 * bi[(b, t)] / max(uni[b], 1)
             + 0.05 * (uni[t] + 1) / (len(train) + vocab_size))
        nll -= math.log(p)
    return math.exp(nll / len(valid))


def test_synthetic_corpus_is_predictable(tmp_path: Path) -> None:
    """Sparse contexts: a count model already beats the vocabulary size by far."""
    corpus = load_ptb(write_synthetic_corpus(tmp_path))
    perplexity = trigram_perplexity(corpus.train.tolist(), corpus.valid.tolist(),
                                    corpus.index(EOS), corpus.vocab_size)
    assert perplexity < corpus.vocab_size / 4


@pytest.mark.parametrize("key", ["n_train_words", "n_valid_words", "n_test_words",
                                 "vocab_size"])
def test_synthetic_rejects_non_positive_sizes(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        write_synthetic_corpus(tmp_path, **{key: 0})


def test_synthetic_rejects_negative_seed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="seed"):
        write_synthetic_corpus(tmp_path, seed=-1)


# --- batches -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("length", "batch_size"), [(10, 3), (12, 4), (7, 7), (100, 1)])
def test_batchify_shape_and_contiguous_columns(length: int, batch_size: int) -> None:
    stream = torch.arange(length) * 10
    data = batchify(stream, batch_size)
    steps = length // batch_size
    assert data.shape == (steps, batch_size) and data.dtype == stream.dtype
    assert data.is_contiguous()
    for j in range(batch_size):
        assert torch.equal(data[:, j], stream[j * steps:(j + 1) * steps])
    assert torch.equal(data.t().reshape(-1), stream[: steps * batch_size])  # trimmed tail


def test_batchify_does_not_alias_the_stream() -> None:
    stream = torch.arange(6)
    batchify(stream, 2)[0, 0] = 99
    assert stream[0].item() == 0


def test_batchify_errors() -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        batchify(torch.arange(10), 0)
    with pytest.raises(ConfigError, match="shorter than batch_size 11"):
        batchify(torch.arange(10), 11)
    with pytest.raises(ConfigError, match="1-D"):
        batchify(torch.zeros(4, 2, dtype=torch.long), 2)


@pytest.mark.parametrize(("steps", "bptt"), [(11, 5), (10, 3), (6, 5), (4, 35), (2, 1)])
def test_bptt_windows_cover_the_stream(steps: int, bptt: int) -> None:
    data = batchify(torch.arange(steps * 3), 3)
    windows = list(bptt_batches(data, bptt))
    assert len(windows) == math.ceil((steps - 1) / bptt)
    for x, y in windows:
        assert x.shape == y.shape and 1 <= x.size(0) <= bptt and x.size(1) == 3
        assert torch.equal(x[1:], y[:-1])
    assert all(x.size(0) == bptt for x, _ in windows[:-1])
    assert torch.equal(torch.cat([x for x, _ in windows]), data[:-1])
    assert torch.equal(torch.cat([y for _, y in windows]), data[1:])
    for x, y in windows:  # within a column the target is the next token of the stream
        assert torch.equal(y, x + 1)


def test_bptt_on_a_single_step_yields_nothing() -> None:
    assert list(bptt_batches(torch.arange(3).reshape(1, 3), 5)) == []


def test_bptt_rejects_non_positive_length_eagerly() -> None:
    with pytest.raises(ConfigError, match="bptt"):
        bptt_batches(torch.arange(6).reshape(3, 2), 0)


def test_batches_of_a_loaded_corpus(tmp_path: Path) -> None:
    corpus = load_ptb(write_synthetic_corpus(tmp_path, 1000, 200, 200, seed=2))
    data = batchify(corpus.train, 4)
    seen = sum(x.numel() for x, _ in bptt_batches(data, 35))
    assert seen == (data.size(0) - 1) * 4
