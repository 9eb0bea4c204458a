import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from rank_bm25 import BM25Okapi

from bot.core.bm25 import BM25Index, BM25Settings

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
    again = BM25Index(**index.arrays(), settings=index.settings)
    np.testing.assert_array_equal(again.get_scores(["a", "c"]), index.get_scores(["a", "c"]))
