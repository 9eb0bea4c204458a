import numpy as np

from bot.core.corpus import default_corpus_dir, load_folder
from bot.core.index import IndexSettings, SearchIndex, cache_key, load_or_build
from bot.core.models import Document


def docs(n: int = 300) -> list[Document]:
    return [
        Document(id=f"d{i}", text=f"Paragraph {i} about officers and reports.\n\nMore {i % 7}.")
        for i in range(n)
    ]


def test_cache_round_trip_and_invalidation(tmp_path):
    corpus = docs()
    built, cached = load_or_build(corpus, IndexSettings(), tmp_path)
    assert not cached
    again, cached = load_or_build(corpus, IndexSettings(), tmp_path)
    assert cached
    assert again.bm25.top(["offic"], 5) == built.bm25.top(["offic"], 5)
    # a changed document or setting misses the cache
    changed = [*corpus[:-1], corpus[-1].model_copy(update={"text": "Changed."})]
    assert not load_or_build(changed, IndexSettings(), tmp_path)[1]
    other = IndexSettings.model_validate({"bm25": {"k1": 1.2}})
    assert not load_or_build(corpus, other, tmp_path)[1]
    assert cache_key(corpus, other) != cache_key(corpus, IndexSettings())


def test_corrupt_cache_is_rebuilt(tmp_path):
    corpus = docs(5)
    load_or_build(corpus, IndexSettings(), tmp_path)
    files = list(tmp_path.glob("index-*.bin"))
    assert files
    for f in files:
        f.write_bytes(b"not an index")
    index, cached = load_or_build(corpus, IndexSettings(), tmp_path)
    assert not cached and len(index) > 0
    assert not list(tmp_path.glob(".tmp-*"))


def test_a_fresh_cache_is_loaded_not_rebuilt(tmp_path, monkeypatch):
    corpus = docs(50)
    built, _ = load_or_build(corpus, IndexSettings(), tmp_path)

    def no_rebuild(*args, **kwargs):
        raise AssertionError("rebuilt although the cache was fresh")

    monkeypatch.setattr(SearchIndex, "build", no_rebuild)
    loaded, cached = load_or_build(corpus, IndexSettings(), tmp_path)
    assert cached and len(loaded) == len(built)
    assert loaded.bm25.get_scores(["offic"]).tolist() == built.bm25.get_scores(["offic"]).tolist()


def test_passages_point_into_their_documents():
    index = SearchIndex.build(load_folder(default_corpus_dir()).documents)
    for i in range(len(index)):
        p = index.passage(i)
        doc = index.by_id[p.doc_id]
        text = doc.text[p.start : p.end]
        assert text and text == text.strip()


def test_joined_segments_answer_like_one_index():
    corpus = docs(40)
    one = SearchIndex.build(corpus)
    joined = SearchIndex.join([SearchIndex.build(corpus[:25]), SearchIndex.build(corpus[25:])])
    assert len(joined) == len(one) and joined.documents == one.documents
    assert [joined.passage(i) for i in range(len(one))] == [one.passage(i) for i in range(len(one))]
    assert joined.document_of(len(one) - 1) == one.document_of(len(one) - 1)
    assert joined.by_id["d30"] == one.by_id["d30"]
    assert joined.passages_of("d30") == one.passages_of("d30") >= 1
    for query in (["offic"], ["paragraph", "3"], ["report", "offic", "39"]):
        assert joined.bm25.top(query, 10) == one.bm25.top(query, 10)
        assert joined.bm25.postings(query[-1]).tolist() == one.bm25.postings(query[-1]).tolist()
    np.testing.assert_array_equal(np.asarray(joined.p_doc), one.p_doc)
    assert np.searchsorted(joined.p_doc, 30) == np.searchsorted(one.p_doc, 30)


def test_cache_is_memory_mapped(tmp_path):
    load_or_build(docs(20), IndexSettings(), tmp_path)
    loaded, cached = load_or_build(docs(20), IndexSettings(), tmp_path)
    assert cached
    # a plain ndarray view of the map (element reads are faster than through np.memmap)
    assert isinstance(loaded.bm25.segments[0].doc_ids.base.base, np.memmap)
    assert isinstance(loaded.spans.tokens.base.base, np.memmap)


def test_a_segment_rebased_onto_its_base_once_encoded_answers_as_if_built_on_it():
    import pytest

    from bot.core.answers import Answerer

    operator = load_folder(default_corpus_dir()).documents
    own = [Document(id="log", text="The lighthouse keeper logged 312 storms in 1911.")]
    plain = SearchIndex.build(operator, encode=False)
    encoded = SearchIndex.build(operator)
    assert encoded.key == plain.key and encoded.contextual and not plain.contextual
    on_plain = SearchIndex.build(own, base=plain, encode=False)
    rebased = on_plain.rebased(encoded)
    built = SearchIndex.build(own, base=encoded, encode=False)
    assert rebased.base is encoded and rebased.key == built.key
    assert rebased.unencoded and built.unencoded  # (its own sentences still to be encoded)
    view, fresh = SearchIndex.join([encoded, rebased]), SearchIndex.join([encoded, built])
    for query in (["lighthous", "storm"], ["offic", "report"], ["1911"]):
        assert view.bm25.top(query, 10) == fresh.bm25.top(query, 10)
    question = "How many storms did the lighthouse keeper log?"
    assert Answerer(view).answer(question).results == Answerer(fresh).answer(question).results
    other = SearchIndex.build(operator[:1], encode=False)
    with pytest.raises(ValueError):
        on_plain.rebased(other)  # another base numbers its terms otherwise
