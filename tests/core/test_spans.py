"""Sentences analysed at index time are exactly what analysing the text when asked gives."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import encoder, semantic
from bot.core.analysis import Analyzer
from bot.core.corpus import default_corpus_dir, load_folder
from bot.core.index import IndexSettings, SearchIndex, cache_path, load_or_build
from bot.core.models import Document
from bot.core.segment import paragraphs, sentences
from bot.core.spans import Sentence, SpanBuilder, Spans, analyse

SQUAD = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "squad-a" / "corpus"


def analysed_now(index: SearchIndex, pid: int) -> tuple[list[Sentence], int]:
    """Passage ``pid``'s sentences worked out from the text: those of its paragraphs inside
    it, then the first of the paragraph after it."""
    doc = index.document_of(pid)
    start, end = int(index.p_start[pid]), int(index.p_end[pid])
    out, inside = [], 0
    for para in paragraphs(doc.text):
        if para.end <= start:
            continue
        if para.start >= end:
            s, e = sentences(doc.text, para.start, para.end)[0]
            out.append(analyse(doc.text, s, e, para.paragraph, index.analyzer))
            break
        for s, e in sentences(doc.text, max(para.start, start), min(para.end, end)):
            out.append(analyse(doc.text, s, e, para.paragraph, index.analyzer))
            inside += 1
    return out, inside


def check(index: SearchIndex) -> None:
    for pid in range(len(index)):
        stored, inside = index.sentences(pid)
        assert (stored, inside) == analysed_now(index, pid)
        # the passage's terms (what BM25 indexed) are its inside sentences' terms
        doc = index.document_of(pid)
        terms = index.analyzer.terms(doc.text, int(index.p_start[pid]), int(index.p_end[pid]))
        assert [t for s in stored[:inside] for t in s.terms] == terms
        # and its sentences' meaning vectors, summed from stored token ids, are the texts'
        texts = [doc.text[s.start : s.end] for s in stored]
        assert np.array_equal(index.vectors(pid, False), semantic.token_sums(texts))
        if index.contextual and pid % 5 == 0:  # (a sample: encoding takes a while)
            stored_vectors = encoder.encode(texts).astype(np.float16).astype(np.float32)
            assert np.array_equal(index.vectors(pid, True), stored_vectors)


@pytest.mark.parametrize("folder", [default_corpus_dir(), SQUAD], ids=["default", "squad-a"])
def test_stored_sentences_equal_the_texts_analysis(folder, tmp_path):
    documents = load_folder(folder).documents
    built = SearchIndex.build(documents)
    check(built)
    loaded, cached = load_or_build(documents, IndexSettings(), tmp_path)
    loaded, cached = load_or_build(documents, IndexSettings(), tmp_path)
    assert cached and loaded.spans is not None
    check(loaded)
    # a joined index reads each passage's sentences from its own segment
    half = len(documents) // 2
    joined = SearchIndex.join(
        [SearchIndex.build(documents[:half]), SearchIndex.build(documents[half:])]
    )
    for pid in range(len(joined)):
        assert joined.sentences(pid) == built.sentences(pid)


_WORD = st.sampled_from(["Mr.", "Smith", "said", "1,400", "children", "in", "2014", "e.g.", "…"])
_SENTENCE = st.lists(_WORD, min_size=1, max_size=12).map(lambda ws: " ".join(ws) + ".")
_PARAGRAPH = st.lists(_SENTENCE, min_size=1, max_size=30).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(st.lists(_PARAGRAPH, min_size=1, max_size=8).map("\n\n".join))
def test_any_text_is_stored_as_analysed(text):
    check(SearchIndex.build([Document(id="d", text=text)]))


def test_a_next_sentence_not_stored_is_analysed_when_asked():
    text = "First one here. And more of it.\n\nThe next paragraph starts. It goes on."
    analyzer = Analyzer()
    paras = paragraphs(text)
    builder = SpanBuilder(analyzer)
    terms = builder.passage(text, paras, paras[0].start, paras[0].end)
    builder.end_document()  # the next paragraph's sentences were never stored
    no_vectors = np.zeros((0, encoder.DIMENSIONS), np.float16)
    arrays = {**builder.arrays(), "tokens": np.arange(len(terms)), "s_vec": no_vectors}
    spans = Spans(arrays, SimpleNamespace(terms=terms))
    stored, inside = spans.passage(0, text, analyzer)
    assert inside == 2
    expected = [analyse(text, s, e, 1, analyzer) for s, e in sentences(text, 0, paras[0].end)]
    s, e = sentences(text, paras[1].start, paras[1].end)[0]
    assert stored == [*expected, analyse(text, s, e, 2, analyzer)]
    texts = [text[x.start : x.end] for x in stored]
    assert np.array_equal(spans.vectors(0, text, False), semantic.token_sums(texts))


def test_a_large_segment_keeps_static_vectors_and_so_does_a_view_joining_it(monkeypatch):
    docs = load_folder(default_corpus_dir()).documents
    small = SearchIndex.build(docs[:1])
    monkeypatch.setattr(encoder, "MAX_CHARS", len(docs[1].text) - 1)
    large = SearchIndex.build(docs[1:2])
    assert small.contextual and small.spans is not None and small.spans.s_vec.shape[1] == 384
    assert not large.contextual and large.spans is not None and len(large.spans.s_vec) == 0
    assert not SearchIndex.join([small, large]).contextual
    assert SearchIndex.join([small, small]).contextual
    # a segment on a base without vectors gets none: a view joining the two could not use them
    assert SearchIndex.build(docs[:1], base=small).contextual
    assert not SearchIndex.build(docs[:1], base=large).contextual


def test_a_document_brought_without_vectors_is_encoded_here_unless_told_not_to(tmp_path):
    from bot.core.analysed import analyse as analyse_document

    docs = load_folder(default_corpus_dir()).documents
    settings = IndexSettings()
    plain = {
        d.id: analyse_document(d.text, Analyzer(settings.analysis), settings.passages, False)
        for d in docs
    }
    assert not any(a.contextual for a in plain.values())
    here = SearchIndex.build(docs, settings, known=lambda d: plain[d.id])
    assert here.contextual and not here.unencoded  # encoded where the segment is built
    assert here.spans is not None and len(here.spans.s_vec) == len(here.spans.s_start)
    # not encoded here: built without (to be encoded apart), and never cached
    later, cached = load_or_build(docs, settings, tmp_path, known=plain.get, encode=False)
    assert not later.contextual and later.unencoded and not cached
    assert not list(tmp_path.iterdir())
    # documents that bring their vectors need no encoding
    brought = {d.id: here.analysed(i) for i, d in enumerate(docs)}
    whole, _ = load_or_build(docs, settings, tmp_path, known=lambda d: brought[d.id], encode=False)
    assert whole.contextual and list(tmp_path.iterdir())
    again, cached = load_or_build(docs, settings, tmp_path, encode=False)
    assert again.contextual and cached
    # a segment an earlier release cached without vectors it may hold is built again
    later.save(cache_path(tmp_path, docs, settings))
    again, cached = load_or_build(docs, settings, tmp_path)
    assert again.contextual and not cached
