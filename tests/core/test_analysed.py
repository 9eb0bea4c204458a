"""A document's analysis, made in another process or cut out of a segment, builds exactly the
index that analysing it on the spot builds; an inconsistent one is refused."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.analysed import Analysed, analyse, analyse_to_bytes
from bot.core.analysis import analyzer_for
from bot.core.corpus import default_corpus_dir, load_folder
from bot.core.index import PASSAGE_ARRAYS, IndexSettings, SearchIndex, load_or_build
from bot.core.models import Document
from bot.core.spans import FLAG_VALUES, Spans

SETTINGS = IndexSettings()
DEFAULT = load_folder(default_corpus_dir()).documents

_WORD = st.sampled_from(["Mr.", "Smith", "said", "1,400", "children", "in", "2014", "e.g.", "…"])
_SENTENCE = st.lists(_WORD, min_size=1, max_size=12).map(lambda ws: " ".join(ws) + ".")
_PARAGRAPH = st.lists(_SENTENCE, min_size=1, max_size=20).map(" ".join)
_TEXT = st.lists(_PARAGRAPH, min_size=1, max_size=6).map("\n\n".join)


def arrays(index: SearchIndex) -> dict[str, tuple[str, bytes]]:
    """Everything a single segment stores (what its cache file holds), as bytes."""
    (segment,) = index.bm25.segments
    assert index.spans is not None
    out = {n: np.asarray(getattr(index, n)) for n in PASSAGE_ARRAYS}
    out |= segment.arrays() | {n: getattr(index.spans, n) for n in Spans.ARRAYS}
    return {name: (a.dtype.str, a.tobytes()) for name, a in out.items()}


def same(a: Analysed, b: Analysed) -> bool:
    return a.terms == b.terms and all(
        np.array_equal(getattr(a, f.name), getattr(b, f.name)) for f in fields(a)
    )


def sent(text: str) -> Analysed:
    """``text``'s analysis as another process sends it, read back and checked."""
    return Analysed.from_bytes(analyse_to_bytes(text, SETTINGS.analysis, SETTINGS.passages), text)


@settings(max_examples=40, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=3))
def test_a_segment_from_analyses_made_elsewhere_is_the_segment_built_here(texts):
    docs = [Document(id=f"d{i}", collection="s", text=t) for i, t in enumerate(texts)]
    made = {d.id: sent(d.text) for d in docs}
    base = SearchIndex.build(DEFAULT)
    for on in (None, base):
        here = SearchIndex.build(docs, base=on)
        elsewhere = SearchIndex.build(docs, base=on, known=lambda d: made[d.id])
        assert arrays(elsewhere) == arrays(here)
        # and each document cut back out of the segment is its analysis
        for i, doc in enumerate(docs):
            assert same(here.analysed(i), made[doc.id])


def test_documents_cut_from_a_cached_segment_rebuild_it_exactly(tmp_path):
    first, _ = load_or_build(DEFAULT, SETTINGS, tmp_path)
    loaded, cached = load_or_build(DEFAULT, SETTINGS, tmp_path)  # memory-mapped
    assert cached
    analyzer = analyzer_for(SETTINGS.analysis)
    cut = {d.id: loaded.analysed(i) for i, d in enumerate(loaded.documents)}
    for doc in DEFAULT:
        assert same(cut[doc.id], analyse(doc.text, analyzer, SETTINGS.passages, True))
    # in another order, as when a collection loses a document
    docs = list(reversed(DEFAULT))
    rebuilt = SearchIndex.build(docs, known=lambda d: cut[d.id])
    assert arrays(rebuilt) == arrays(SearchIndex.build(docs))
    assert arrays(first) == arrays(loaded)


TEXT = "The keeper logged 312 storms in 1911. Mr. Smith said so.\n\nThe lamp was lit nightly."


def _broken() -> list[tuple[str, Analysed]]:
    good = sent(TEXT)
    n = len(TEXT)
    return [
        ("a passage past the end", replace(good, p_end=good.p_end + n)),
        ("a sentence before the start", replace(good, s_start=good.s_start - 100)),
        ("a sentence ending before it starts", replace(good, s_end=good.s_start - 1)),
        ("a token's unknown term", replace(good, tokens=good.tokens + len(good.terms))),
        ("sentences counted out of order", replace(good, p_sent=good.p_sent[::-1].copy())),
        ("too few token offsets", replace(good, s_tok=good.s_tok[:-1])),
        ("a name wider than its sentence", replace(good, names=good.names + n)),
        ("a next sentence out of range", replace(good, p_next=good.p_next + 1000)),
        ("flags out of range", replace(good, s_flags=good.s_flags + FLAG_VALUES)),
        ("an unknown semantic token", replace(good, pieces=good.pieces | np.uint16(0xFFF0))),
        ("too few semantic offsets", replace(good, s_piece=good.s_piece[:-1])),
        ("semantic offsets out of order", replace(good, s_piece=good.s_piece[::-1].copy())),
        ("semantic tokens past the last offset", replace(good, pieces=np.tile(good.pieces, 2))),
        (
            "a semantic token wider than 2 bytes",
            replace(good, pieces=good.pieces.astype(np.int64) + 65536),
        ),
        ("semantic tokens not integers", replace(good, pieces=good.pieces.astype(np.float32))),
        ("sentence vectors too narrow", replace(good, s_vec=good.s_vec[:, :100].copy())),
        ("a sentence without its vector", replace(good, s_vec=good.s_vec[:-1])),
        ("a vector not finite", replace(good, s_vec=np.full_like(good.s_vec, np.inf))),
        ("vectors not float16", replace(good, s_vec=good.s_vec.astype(np.float32))),
    ]


@pytest.mark.parametrize("what, bad", _broken(), ids=[w for w, _ in _broken()])
def test_an_inconsistent_analysis_is_refused(what, bad):
    with pytest.raises(ValueError):
        Analysed.from_bytes(bad.to_bytes(), TEXT)


def test_an_analysis_of_another_text_or_not_an_analysis_is_refused():
    analyzer = analyzer_for(SETTINGS.analysis)
    assert same(sent(TEXT), analyse(TEXT, analyzer, SETTINGS.passages, True))
    good = analyse_to_bytes(TEXT, SETTINGS.analysis, SETTINGS.passages)
    with pytest.raises(ValueError, match="outside the text"):
        Analysed.from_bytes(good, TEXT[:20])
    for junk in (b"", b"not an npz", good[: len(good) // 2]):
        with pytest.raises(ValueError):
            Analysed.from_bytes(junk, TEXT)


def test_the_parser_encodes_a_text_only_within_its_budget():
    def vectors(budget: int) -> int:
        made = analyse_to_bytes(TEXT, SETTINGS.analysis, SETTINGS.passages, budget=budget)
        return len(Analysed.from_bytes(made, TEXT).s_vec)

    assert vectors(len(TEXT)) == len(sent(TEXT).s_start) > 0
    assert vectors(len(TEXT) - 1) == 0
