"""Word-level language-model corpora in the Penn Treebank (PTB) text format.

The format is that of the Mikolov PTB files used by most LM and NAS papers (ENAS, DARTS): a
directory holds ``ptb.train.txt``, ``ptb.valid.txt`` and ``ptb.test.txt``, UTF-8 text with one
sentence per line and words separated by whitespace, e.g.::

     the company said <unk> shares rose N %
     mr. <unk> is chairman

Rare words are already replaced by ``<unk>`` in the files and numbers by ``N``. Reading a file
splits each line on whitespace and appends ``<eos>`` to every line that has at least one word
(blank and whitespace-only lines are skipped), so a split is one stream of tokens. The
vocabulary is the training file's tokens in order of first appearance; a validation or test
word outside it becomes ``<unk>`` (an error when the vocabulary has no ``<unk>``).

``batchify`` lays a stream out as ``batch_size`` contiguous columns and ``bptt_batches`` cuts
that into (input, target) windows for truncated back-propagation through time.
``write_synthetic_corpus`` writes a small seeded corpus in the same format (no download).
Nothing here downloads.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from nasforge.data.transforms import check_positive
from nasforge.errors import ConfigError

EOS = "<eos>"
UNK = "<unk>"
SPLITS = ("train", "valid", "test")


def split_path(directory: str | Path, split: str) -> Path:
    """The file of one split (``train``, ``valid`` or ``test``): ``ptb.<split>.txt``."""
    return Path(directory) / f"ptb.{split}.txt"


@dataclass(eq=False)  # tensors have no truth value, so the generated __eq__ would raise
class Corpus:
    """A tokenised corpus: ``vocab[i]`` is the word of id ``i``; ``train``, ``valid`` and
    ``test`` are 1-D int64 (``torch.long``) token-id streams."""

    vocab: list[str]
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    _ids: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._ids = {word: i for i, word in enumerate(self.vocab)}

    @property
    def vocab_size(self) -> int:
        """The number of distinct tokens (``<eos>`` included)."""
        return len(self.vocab)

    def index(self, word: str) -> int:
        """The id of ``word``; KeyError if it is not in the vocabulary."""
        try:
            return self._ids[word]
        except KeyError:
            raise KeyError(f"{word!r} is not in the vocabulary") from None


# --- reading ------------------------------------------------------------------------------


def tokenize(text: str) -> list[str]:
    """The tokens of PTB text: each line's whitespace-separated words then ``<eos>``; lines
    without words contribute nothing."""
    tokens: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if words:
            tokens.extend(words)
            tokens.append(EOS)
    return tokens


def _read_text(path: Path) -> str:
    """The file's text; ConfigError if it is missing, unreadable or not UTF-8 text."""
    if not path.is_file():
        raise ConfigError(f"PTB file {path} not found (expected ptb.train.txt, ptb.valid.txt "
                          f"and ptb.test.txt)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"PTB file {path} cannot be read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"PTB file {path} is not valid UTF-8 text "
                          f"(byte {exc.start}: {exc.reason})") from None
    if "\x00" in text:
        raise ConfigError(f"PTB file {path} is not a text file (it holds NUL bytes)")
    return text


def read_tokens(path: Path) -> list[str]:
    """The tokens of one PTB file; ConfigError if it has none."""
    tokens = tokenize(_read_text(path))
    if not tokens:
        raise ConfigError(f"PTB file {path} is an empty corpus (no words)")
    return tokens


def encode(tokens: Sequence[str], ids: dict[str, int], path: Path) -> torch.Tensor:
    """Token ids as a 1-D long tensor; a word outside ``ids`` becomes ``<unk>``, or a
    ConfigError naming ``path`` when there is no ``<unk>``."""
    unk = ids.get(UNK)
    if unk is None:
        unknown = [word for word in tokens if word not in ids]
        if unknown:
            raise ConfigError(
                f"PTB file {path}: word {unknown[0]!r} is not in the training vocabulary "
                f"({len(set(unknown))} such words) and the vocabulary has no {UNK}")
        return torch.tensor([ids[word] for word in tokens], dtype=torch.long)
    return torch.tensor([ids.get(word, unk) for word in tokens], dtype=torch.long)


def load_ptb(directory: str | Path) -> Corpus:
    """Read ``ptb.{train,valid,test}.txt`` from ``directory`` (see the module docstring).
    Raises ConfigError naming the directory or file that is missing, empty, not UTF-8 text,
    or (valid/test) holds a word outside the training vocabulary when there is no ``<unk>``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"PTB directory {directory} not found")
    tokens = {split: read_tokens(split_path(directory, split)) for split in SPLITS}
    vocab = list(dict.fromkeys(tokens["train"]))
    ids = {word: i for i, word in enumerate(vocab)}
    streams = {split: encode(tokens[split], ids, split_path(directory, split))
               for split in SPLITS}
    return Corpus(vocab, streams["train"], streams["valid"], streams["test"])


# --- a synthetic corpus ---------------------------------------------------------------------

SUCCESSORS = 3  # likely next words per (prev2, prev1) context
NOISE = 0.05  # probability that the next word is uniform over the vocabulary instead
END_PROB = 1 / 12  # probability that a sentence ends after a word
UNK_PROB = 0.02  # probability that a word is written as <unk>
START = -1  # the context symbol before a sentence's first word


class _Chain:
    """A sparse second-order Markov chain over words ``0 .. n_words - 1``. Each context
    ``(prev2, prev1)`` gets ``SUCCESSORS`` likely next words with random weights, drawn
    lazily from a generator seeded by ``(seed, prev2, prev1)``, so a context's row depends
    only on the seed, not on the order contexts are met."""

    def __init__(self, n_words: int, seed: int) -> None:
        self.n_words, self.seed = n_words, seed
        self._rows: dict[tuple[int, int], tuple[list[int], list[float]]] = {}

    def _row(self, context: tuple[int, int]) -> tuple[list[int], list[float]]:
        row = self._rows.get(context)
        if row is None:
            rng = np.random.default_rng((self.seed, 0, context[0] + 1, context[1] + 1))
            k = min(SUCCESSORS, self.n_words)
            words = rng.choice(self.n_words, size=k, replace=False)
            cumulative = np.cumsum(rng.dirichlet(np.ones(k)))
            row = self._rows[context] = ([int(w) for w in words], cumulative.tolist())
        return row

    def next_word(self, context: tuple[int, int], u_noise: float, u_pick: float) -> int:
        """The next word, given two uniform draws in [0, 1)."""
        if u_noise < NOISE:
            return min(int(u_pick * self.n_words), self.n_words - 1)
        words, cumulative = self._row(context)
        return words[min(bisect.bisect_right(cumulative, u_pick), len(words) - 1)]


def _sample_sentences(chain: _Chain, n_words: int, rng: np.random.Generator) -> list[list[str]]:
    """Sentences of exactly ``n_words`` words in total, sampled from ``chain``."""
    draws = rng.random((n_words, 4)).tolist()  # noise, pick, end of sentence, <unk>
    sentences: list[list[str]] = [[]]
    context = (START, START)
    for u_noise, u_pick, u_end, u_unk in draws:
        word = chain.next_word(context, u_noise, u_pick)
        sentences[-1].append(UNK if u_unk < UNK_PROB else f"w{word}")
        context = (context[1], word)
        if u_end < END_PROB:
            sentences.append([])
            context = (START, START)
    return [sentence for sentence in sentences if sentence]


def _write_lines(path: Path, sentences: list[list[str]]) -> None:
    text = "".join(" ".join(sentence) + "\n" for sentence in sentences)
    path.write_text(text, encoding="utf-8", newline="\n")


def write_synthetic_corpus(directory: str | Path, n_train_words: int = 20000,
                           n_valid_words: int = 2000, n_test_words: int = 2000,
                           vocab_size: int = 50, seed: int = 0) -> Path:
    """Write ``ptb.{train,valid,test}.txt`` into ``directory`` (created if needed) and return
    it. The words ``w0 .. w{vocab_size - 1}`` come from a seeded sparse second-order Markov
    chain: each pair of previous words has 3 likely next words (a uniform word with
    probability 0.05), a sentence ends after each word with probability 1/12 and a word is
    written as ``<unk>`` with probability 0.02 (the training file always holds one). A split
    has exactly its number of words (``<eos>`` not counted); the loaded vocabulary has at
    most ``vocab_size + 2`` tokens. The same arguments write the same files. A small LSTM
    reaches a perplexity far below ``vocab_size``."""
    for key, value in (("n_train_words", n_train_words), ("n_valid_words", n_valid_words),
                       ("n_test_words", n_test_words), ("vocab_size", vocab_size)):
        check_positive(key, value)
    if seed < 0:
        raise ConfigError(f"seed must be non-negative, got {seed}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    chain = _Chain(vocab_size, seed)
    sizes = {"train": n_train_words, "valid": n_valid_words, "test": n_test_words}
    for number, split in enumerate(SPLITS):
        rng = np.random.default_rng((seed, 1, number))
        sentences = _sample_sentences(chain, sizes[split], rng)
        if split == "train" and not any(UNK in s for s in sentences):
            sentences[-1][-1] = UNK  # valid/test may hold <unk>: keep it in the vocabulary
        _write_lines(split_path(directory, split), sentences)
    return directory


# --- batches ----------------------------------------------------------------------------------


def batchify(stream: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Lay a 1-D stream out as ``(steps, batch_size)``: the stream is cut to a multiple of
    ``batch_size`` and column ``j`` holds its ``j``-th contiguous chunk of ``steps`` tokens,
    so each column reads on in time from row to row."""
    check_positive("batch_size", batch_size)
    if stream.dim() != 1:
        raise ConfigError(f"batchify needs a 1-D token stream, got shape {tuple(stream.shape)}")
    steps = stream.numel() // batch_size
    if steps == 0:
        raise ConfigError(f"a stream of {stream.numel()} tokens is shorter than "
                          f"batch_size {batch_size}")
    return stream[: steps * batch_size].reshape(batch_size, steps).t().contiguous()


def bptt_batches(data: torch.Tensor, bptt: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Consecutive ``(input, target)`` windows over the rows of ``data`` (``(steps, batch)``
    from ``batchify``): ``input = data[i : i + n]``, ``target = data[i + 1 : i + 1 + n]``
    with ``n = min(bptt, steps - 1 - i)``. The inputs cover rows ``0 .. steps - 2`` once and
    the targets rows ``1 .. steps - 1``."""
    check_positive("bptt", bptt)
    return _windows(data, bptt)


def _windows(data: torch.Tensor, bptt: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    last = data.size(0) - 1
    for start in range(0, last, bptt):
        length = min(bptt, last - start)
        yield data[start:start + length], data[start + 1:start + 1 + length]
