"""The static word vectors behind the ``semantic`` features."""

from __future__ import annotations

from functools import cache

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from model2vec import StaticModel

from bot.core import semantic


def cosine(a: str, b: str) -> float:
    return float(semantic.embed(a) @ semantic.embed(b))


def test_synonyms_are_closer_than_unrelated_words() -> None:
    assert cosine("kids", "children") > cosine("kids", "weather") + 0.3
    assert cosine("how young were the victims", "girls as young as 11") > cosine(
        "how young were the victims", "the report was published on Wednesday"
    )


def test_vectors_equal_model2vec_encode() -> None:
    """The word-cached tokenisation gives model2vec's own sentence vectors."""
    texts = [
        "More than 1,400 children were abused between 1997 and 2013.",
        "Don't stop_me now — café naïve Dvořák 3.5% (IOPC)!",
        "South Yorkshire Police (SYP) admitted “we got it wrong”.",
    ]
    ours = semantic.unit(semantic.token_sums(texts))
    theirs = _model().encode(texts, normalize=True)
    np.testing.assert_allclose(ours, theirs, atol=2e-3)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80) | st.text(alphabet="abcé_-'1", min_size=600, max_size=3000))
def test_token_ids_are_model2vecs(text: str) -> None:
    """The tokeniser loaded alone (what a parser process loads) gives model2vec's token
    ids, unknown tokens dropped, long words cut as it cuts them."""
    theirs = _model().tokenize(semantic._WORD.findall(text))
    assert semantic.token_ids(text) == [i for ids in theirs for i in ids]
    assert all(i < semantic.vocabulary_size() for i in semantic.token_ids(text))


@cache
def _model() -> StaticModel:
    return StaticModel.from_pretrained(semantic.MODEL_DIR)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(max_size=60), min_size=1, max_size=4))
def test_a_window_is_the_sum_of_its_sentences(texts: list[str]) -> None:
    """Two sentences' sums add up to the sums of their joined text (windows are built so)."""
    parts = semantic.token_sums(texts)
    joined = semantic.token_sums([" ".join(texts)])[0]
    np.testing.assert_allclose(parts.sum(axis=0), joined, rtol=1e-4, atol=1e-3)


def test_empty_text_has_a_zero_vector() -> None:
    assert not semantic.embed("").any()
    assert not semantic.embed("   ").any()
