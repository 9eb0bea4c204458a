"""Sentence vectors for the ``semantic`` features: how close a quote's meaning is to the
question's, so "kids" comes close to "children" where BM25 sees no shared word (phrases with
no word in common, "fired" and "lost their job", stay far apart: the vectors are per word).

The vectors are static (model2vec, distilled from all-MiniLM-L6-v2 by
``benchmarks/distill_embeddings.py``; see ``data/minilm-static/README.md``): a text's vector is
the mean of its tokens' vectors, so answering runs no neural network; cosines need only its
direction, so texts are kept as sums of token vectors and a window of two sentences is the sum
of the two sentences' sums.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
from model2vec import StaticModel

from bot.core.kernels import sum_rows

MODEL_DIR = Path(__file__).with_name("data") / "minilm-static"


# BERT's pre-tokeniser: runs of letters and digits; every punctuation mark (underscore
# included) on its own.
_WORD = re.compile(r"[^\W_]+|[^\w\s]|_")


@cache
def _model() -> StaticModel:
    return StaticModel.from_pretrained(MODEL_DIR)


@cache
def _vectors() -> np.ndarray:
    """The token vectors as float32 (stored as float16): summed many times per question."""
    return _model().embedding.astype(np.float32)


@lru_cache(maxsize=200_000)
def _word_ids(word: str) -> tuple[int, ...]:
    """A word's token ids, tokenised once: a corpus repeats its words, and the tokeniser's
    per-call cost, not the lookup, is what answering would otherwise wait for."""
    return tuple(_model().tokenize([word])[0])


def load() -> None:
    """Load the vectors (and the summing kernel) now; they load on first use otherwise."""
    token_sums(["a"])


def token_sums(texts: Sequence[str]) -> np.ndarray:
    """Per text, the sum of its tokens' vectors (float32, one row each): the direction of its
    mean, and the sum of two rows is the sum of the two texts together."""
    vectors = _vectors()
    ids = [
        list(itertools.chain.from_iterable(map(_word_ids, _WORD.findall(text)))) for text in texts
    ]
    bounds = np.zeros(len(ids) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, ids), np.int64, count=len(ids)), out=bounds[1:])
    flat = np.fromiter(itertools.chain.from_iterable(ids), np.int64, count=int(bounds[-1]))
    sums = np.zeros((len(ids), vectors.shape[1]), dtype=np.float32)
    sum_rows(vectors, flat, bounds, sums)
    return sums


def unit(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero)."""
    norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norm, 1e-12)


def embed(text: str) -> np.ndarray:
    """The unit vector of one text (the question)."""
    return unit(token_sums([text])[0])
