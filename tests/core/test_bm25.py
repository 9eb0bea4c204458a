import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rank_bm25 import BM25Okapi

from bot.core import kernels
from bot.core.bm25 import BM25Index, BM25Settings, Segment

words = st.sampled_from([f"w{i}" for i in range(25)])
corpora = st.lists(st.lists(words, min_size=0, max_size=30), min_size=1, max_size=40).filter(
    lambda docs: any(docs)
)


@settings(max_examples=300, deadline=None)
@given(
    corpora,
    st.lists(st.sampled_from([f"w{i}" for i in range(30)]), min_size=1, max_size=8),
    st.floats(0.05, 3.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
)
# k1 > 0: at k1 = 0 rank-bm25 divides 0 by 0 for documents without the term.
def test_okapi_scores_equal_rank_bm25(docs, query, k1, b, epsilon):
    reference = BM25Okapi(docs, k1=k1, b=b, epsilon=epsilon).get_scores(query)
    index = BM25Index.build(docs, BM25Settings(idf="okapi", k1=k1, b=b, epsilon=epsilon))
    ours = index.get_scores(query)
    # rank-bm25 gives NaN (0/0) for an empty document when b = 1; we give it 0.
    finite = np.isfinite(reference)
    assert np.isfinite(ours).all()
    np.testing.assert_allclose(ours[finite], reference[finite], rtol=0, atol=1e-9)
    assert (ours[~finite] == 0).all()


def test_repeated_query_terms_count_like_rank_bm25():
    docs = [["a", "b"], ["b", "c", "c"], ["d"], ["a", "d", "d"]]
    ref = BM25Okapi(docs).get_scores(["c", "c", "a"])
    got = BM25Index.build(docs, BM25Settings(idf="okapi")).get_scores(["c", "c", "a"])
    np.testing.assert_allclose(got, ref, atol=1e-12)
    assert got[1] > 0


def test_lucene_idf_ranks_rarer_words_higher_and_two_docs_work():
    # rank-bm25's okapi idf is zero for every word of a two-document corpus (its issue #43).
    docs = [["police", "report"], ["police", "survivor"]]
    okapi = BM25Index.build(docs, BM25Settings(idf="okapi"))
    lucene = BM25Index.build(docs, BM25Settings(idf="lucene"))
    assert okapi.get_scores(["survivor"]).tolist() == [0.0, 0.0]
    assert lucene.top(["survivor"], 2)[0][0] == 1
    assert lucene.term_idf("survivor") > lucene.term_idf("police") > 0


def test_lucene_idf_is_monotonic_where_okapi_floor_is_not():
    # 100 docs: 'common' in 60 (over half), 'mid' in 48. rank-bm25 floors 'common' to
    # epsilon * mean idf, which can exceed the idf of 'mid' (its issue #39).
    docs = [["common"] * (i < 60) + ["mid"] * (i < 48) + [f"u{i}"] for i in range(100)]
    lucene = BM25Index.build(docs, BM25Settings(idf="lucene"))
    assert lucene.term_idf("mid") > lucene.term_idf("common")
    okapi = BM25Index.build(docs, BM25Settings(idf="okapi"))
    assert okapi.term_idf("common") > okapi.term_idf("mid")  # the flaw, reproduced


def test_top_k_matches_full_sort_with_ties_to_lower_id():
    docs = [["x"], ["x"], ["x", "y"], ["y"], ["z"], ["x"]]
    index = BM25Index.build(docs, BM25Settings())
    full = index.get_scores(["x", "y"])
    expected = sorted((i for i in range(len(docs)) if full[i] > 0), key=lambda i: (-full[i], i))
    assert [i for i, _ in index.top(["x", "y"], 3)] == expected[:3]
    assert [i for i, _ in index.top(["x"], 2)] == [0, 1]


def test_unknown_terms_score_nothing_and_weigh_as_much_as_the_rarest():
    index = BM25Index.build([["a", "c"], ["b", "c"], ["c"]], BM25Settings())
    assert index.top(["nowhere"], 5) == []
    assert index.term_idf("nowhere") == index.term_idf("a") > index.term_idf("c")


def test_arrays_round_trip():
    docs = [["a", "b", "a"], ["c"], [], ["b", "c"]]
    index = BM25Index.build(docs, BM25Settings())
    again = BM25Index([Segment.from_arrays(index.segments[0].arrays())], index.settings)
    np.testing.assert_array_equal(again.get_scores(["a", "c"]), index.get_scores(["a", "c"]))
    assert again.top(["a", "c"], 3) == index.top(["a", "c"], 3)


queries = st.lists(st.sampled_from([f"w{i}" for i in range(30)]), min_size=1, max_size=6)


def ranked(scores: np.ndarray, matching: set[int], k: int) -> list[tuple[int, float]]:
    order = sorted(matching, key=lambda i: (-scores[i], i))[:k]
    return [(i, float(scores[i])) for i in order]


@settings(max_examples=300, deadline=None)
@given(corpora, queries, st.integers(1, 12), st.sampled_from(["okapi", "lucene"]))
def test_top_k_equals_sorting_every_score(docs, query, k, idf):
    # Pruning skips windows of documents; the result must be exactly the full sort's, ties
    # to the lower id.
    index = BM25Index.build(docs, BM25Settings(idf=idf))
    matching = {i for i, d in enumerate(docs) if set(d) & set(query)}
    expected = ranked(index.get_scores(query), matching, k)
    assert index.top(query, k) == expected


@settings(max_examples=100, deadline=None)
@given(corpora, queries)
def test_okapi_top_k_is_rank_bm25s_bit_for_bit(docs, query):
    reference = BM25Okapi(docs).get_scores(query)
    index = BM25Index.build(docs, BM25Settings(idf="okapi"))
    matching = {i for i, d in enumerate(docs) if set(d) & set(query)}
    expected = ranked(reference, matching, 10)
    assert index.top(query, 10) == expected


@settings(max_examples=200, deadline=None)
@given(corpora, queries, st.integers(1, 4), st.sampled_from(["okapi", "lucene"]), st.data())
def test_segments_score_like_one_index_over_the_same_passages(docs, query, n, idf, data):
    cuts = sorted(data.draw(st.lists(st.integers(0, len(docs)), min_size=n - 1, max_size=n - 1)))
    pieces = [docs[a:b] for a, b in zip([0, *cuts], [*cuts, len(docs)], strict=True)]
    conf = BM25Settings(idf=idf)
    one = BM25Index.build(docs, conf)
    split = BM25Index([Segment.build(p, conf) for p in pieces], conf)
    assert split.n_docs == one.n_docs and split.avgdl == one.avgdl
    # okapi's epsilon floor averages idf over the vocabulary: summed in another order
    np.testing.assert_allclose(split.get_scores(query), one.get_scores(query), rtol=1e-12)
    got, want = split.top(query, 5), one.top(query, 5)
    assert [d for d, _ in got] == [d for d, _ in want] or idf == "okapi"
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-12)
    assert all((t in split.vocab) == (t in one.vocab) for t in query)
    assert all(split.term_idf(t) == pytest.approx(one.term_idf(t), rel=1e-12) for t in query)
    assert len(split.vocab) == len(one.vocab)
    # later segments numbering their terms after the first's score the same, saved or not
    first = split.segments[0]
    on = [first, *(Segment.build(p, conf, base=first) for p in pieces[1:])]
    again = [first, *(Segment.from_arrays(s.arrays(), first) for s in on[1:])]
    for segs in (on, again):
        based = BM25Index(segs, conf)
        assert based.get_scores(query).tolist() == split.get_scores(query).tolist()
        assert based.top(query, 5) == split.top(query, 5)
        assert [based.postings(t).tolist() for t in query] == [
            split.postings(t).tolist() for t in query
        ]
        assert list(based.vocab) == list(split.vocab)
        assert all((t in based.vocab) == (t in split.vocab) for t in query)
        assert [sorted(s.terms) for s in segs] == [sorted(s.terms) for s in split.segments]
        assert [s.df(t) for s in segs for t in query] == [
            s.df(t) for s in split.segments for t in query
        ]


def test_prefix_relatives_look_in_every_segment():
    conf = BM25Settings()
    split = BM25Index([Segment.build([["police"]], conf), Segment.build([["polic"]], conf)], conf)
    assert split.prefix_relatives("polic", 4) == ("polic", "police")
    assert split.prefix_relatives("policem", 4) == ("police", "polic")


@pytest.mark.parametrize("idf", ["lucene", "okapi"])
def test_block_max_pruning_is_exact_on_a_zipf_corpus(idf):
    # Several windows, long posting lists and common words: the case pruning is for.
    rng = np.random.default_rng(5)
    ranks = np.minimum(rng.zipf(1.3, size=(12_000, 30)), 2000)
    docs = [[f"w{r}" for r in row[: rng.integers(3, 30)]] for row in ranks]
    index = BM25Index.build(docs, BM25Settings(idf=idf))
    for _ in range(100):
        query = [f"w{r}" for r in np.minimum(rng.zipf(1.2, size=rng.integers(1, 6)), 2000)]
        matching = {i for i, d in enumerate(docs) if set(d) & set(query)}
        for k in (1, 10):
            expected = ranked(index.get_scores(query), matching, k)
            assert index.top(query, k) == expected


@pytest.mark.parametrize("idf", ["lucene", "okapi"])
def test_dense_queries_and_weights_past_the_table_are_exact(idf):
    # Passages longer than the weight table's lengths and words repeated more often than its
    # term frequencies; queries of common words (scored densely: without a branch per
    # posting) and of rarer ones (sparsely), over several windows: rank-bm25's top-10, bit
    # for bit in okapi mode, and the full sort's in both.
    rng = np.random.default_rng(11)
    lengths = np.where(
        rng.random(9000) < 0.05, rng.integers(1030, 1300, 9000), rng.integers(3, 40, 9000)
    )
    docs = [[f"w{r}" for r in np.minimum(rng.zipf(1.25, size=n), 3000)] for n in lengths]
    for d in docs[::97]:
        d.extend(["w7"] * int(rng.integers(kernels.TABLE_TF, 20)))
    # rare words (scored sparsely) in long passages only, and many times in a few passages
    for i in np.flatnonzero(lengths > 1000)[::3].tolist():
        docs[i].append("long")
    for d in docs[5::450]:
        d.extend(["often"] * int(rng.integers(kernels.TABLE_TF, 20)))
    index = BM25Index.build(docs, BM25Settings(idf=idf))
    reference = BM25Okapi(docs) if idf == "okapi" else None
    modes = set()
    drawn = [
        [f"w{r}" for r in np.minimum(rng.zipf(1.15, size=rng.integers(1, 5)), 3000)]
        for _ in range(60)
    ]
    for query in [["long"], ["often", "w900"], ["long", "often"], *drawn]:
        expected_postings = sum(index.df(t) for t in query if t in index.vocab)
        positive = all(index.term_idf(t) > 0 for t in query if t in index.vocab)
        modes.add(positive and expected_postings * kernels.WINDOW >= kernels.DENSE * len(docs))
        matching = {i for i, d in enumerate(docs) if set(d) & set(query)}
        assert index.top(query, 10) == ranked(index.get_scores(query), matching, 10)
        if reference is not None:
            assert index.top(query, 10) == ranked(reference.get_scores(query), matching, 10)
    assert modes == {True, False}
