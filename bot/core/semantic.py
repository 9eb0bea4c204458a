"""Static sentence vectors for the ``semantic`` features, for indexes too large for the
contextual encoder (:mod:`bot.core.encoder`): how close a quote's meaning is to the
question's, so "kids" comes close to "children" where BM25 sees no shared word (phrases with
no word in common, "fired" and "lost their job", stay far apart: the vectors are per word).

The vectors are static (model2vec, distilled from all-MiniLM-L6-v2 by
``benchmarks/distill_embeddings.py``; see ``data/minilm-static/README.md``): a text's vector is
the mean of its tokens' vectors, so answering runs no neural network; cosines need only its
direction, so texts are kept as sums of token vectors and a window of two sentences is the sum
of the two sentences' sums.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from bot.core.kernels import sum_rows

MODEL_DIR = Path(__file__).with_name("data") / "minilm-static"


# BERT's pre-tokeniser: runs of letters and digits; every punctuation mark (underscore
# included) on its own.
_WORD = re.compile(r"[^\W_]+|[^\w\s]|_")


@cache
def _vectors() -> np.ndarray:
    """The token vectors as float32 (stored as float16): summed many times per question."""
    from model2vec import StaticModel  # (0.5 s with its vectors: only where texts are summed)

    return StaticModel.from_pretrained(MODEL_DIR).embedding.astype(np.float32)


@cache
def _tokeniser() -> tuple[Tokenizer, int | None]:
    """The tokeniser alone (what indexing needs, loaded in 0.02 s) and its unknown token's
    id, which model2vec's ``StaticModel.tokenize`` drops: token ids are the same as its."""
    tokenizer = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
    unk = getattr(tokenizer.model, "unk_token", None)
    return tokenizer, None if unk is None else tokenizer.token_to_id(unk)


# Words whose token ids are kept: a corpus repeats its words, and the tokeniser's per-call
# cost, not the lookup, is what indexing and answering would otherwise wait for. Words are
# only ever added (so threads read it safely), up to this many.
WORDS_KEPT = 200_000
_word_cache: dict[str, tuple[int, ...]] = {}


def _word_ids(words: list[str]) -> list[tuple[int, ...]]:
    """Each word's token ids (the tokeniser called a word at a time: batches of a sentence's
    words are slower, its thread pool's overhead outweighing the work)."""
    cache = _word_cache
    try:
        return list(map(cache.__getitem__, words))
    except KeyError:
        pass
    tokenizer, unk = _tokeniser()
    encode = tokenizer.encode_batch_fast
    new = {
        w: tuple(i for i in encode([w], add_special_tokens=False)[0].ids if i != unk)
        for w in words
        if w not in cache
    }
    if len(cache) + len(new) <= WORDS_KEPT:
        cache.update(new)
    return [new[w] if w in new else cache[w] for w in words]


def load() -> None:
    """Load the vectors (and the summing kernel) now; they load on first use otherwise."""
    token_sums(["a"])


def token_ids(text: str) -> list[int]:
    """A text's token ids, word after word (what :func:`token_sums` sums; the index stores
    them for every sentence, see :mod:`bot.core.spans`)."""
    return list(itertools.chain.from_iterable(_word_ids(_WORD.findall(text))))


@cache
def fingerprint() -> str:
    """Names the tokeniser: token ids stored in an index are valid only for it."""
    return hashlib.sha256((MODEL_DIR / "tokenizer.json").read_bytes()).hexdigest()


def vocabulary_size() -> int:
    """How many token ids there are (a stored id is valid below it)."""
    return _tokeniser()[0].get_vocab_size()


def sums(ids: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per run ``ids[starts[i]:ends[i]]``, the sum of its tokens' vectors (float32, one row
    each), tokens added in order."""
    vectors = _vectors()
    out = np.zeros((len(starts), vectors.shape[1]), dtype=np.float32)
    sum_rows(vectors, ids, starts, ends, out)
    return out


def token_sums(texts: Sequence[str]) -> np.ndarray:
    """Per text, the sum of its tokens' vectors (float32, one row each): the direction of its
    mean, and the sum of two rows is the sum of the two texts together."""
    ids = [token_ids(text) for text in texts]
    bounds = np.zeros(len(ids) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, ids), np.int64, count=len(ids)), out=bounds[1:])
    flat = np.fromiter(itertools.chain.from_iterable(ids), np.int64, count=int(bounds[-1]))
    return sums(flat, bounds[:-1], bounds[1:])


def unit(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero)."""
    norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norm, 1e-12)


def embed(text: str) -> np.ndarray:
    """The unit vector of one text (the question)."""
    return unit(token_sums([text])[0])
