"""Compiled loops of the BM25 index (numba), over its flat arrays.

* :func:`postings`: turn the term ids of every token (passage by passage) into CSR postings
  (documents and term frequencies per term) with a counting sort, in linear time.
* :func:`search`: the best ``k`` documents of one segment for a query, scored a window of
  document ids at a time, term after term, into a small accumulator that stays in cache; a
  window whose block-max bound (per 64 postings, the largest term-frequency weight) cannot
  beat the k-th best so far is skipped whole. Skipping never changes the result: a window is
  skipped only when every document in it scores strictly less than the k-th best. Weights
  come from a table (:func:`weight_table`, the same doubles); queries with many postings per
  window (common words) are scored without a branch per posting.
* :func:`sum_rows`: sums of a table's rows by runs of ids (texts' vectors from their tokens',
  :mod:`bot.core.semantic`), without gathering the rows first.

Every score is summed in query order, term by term, with rank-bm25's arithmetic:
``idf * (tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)))``, so ``okapi`` scores are
bit-for-bit those of ``BM25Okapi.get_scores``. Compiled on first use and cached on disk
(``cache=True``); ``nogil`` so searches on several threads run in parallel.
"""

from __future__ import annotations

import numpy as np
from numba import njit

BLOCK = 64  # postings per block of block_max (block-max pruning)
# Relative slack on upper bounds, far above float rounding (a few ulps), far below anything
# that would make pruning weaker in practice.
SLACK = 1e-9


@njit(cache=True, nogil=True, inline="always")
def tf_weight(tf: float, dl: float, k1: float, b: float, avgdl: float) -> float:
    return tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * dl / avgdl))


@njit(cache=True, nogil=True)
def postings(term_ids, doc_len, n_terms, k1, b, avgdl):
    """CSR postings from the term id of every token, passages one after another
    (``doc_len`` tokens each). Returns (indptr, doc_ids, tfs, block_max) where
    ``block_max[j]`` is the largest BM25 term-frequency part among postings ``j * BLOCK`` to
    ``(j + 1) * BLOCK - 1``."""
    n_tokens = term_ids.shape[0]
    starts = np.zeros(n_terms + 1, np.int64)
    for i in range(n_tokens):
        starts[term_ids[i] + 1] += 1
    for t in range(n_terms):
        starts[t + 1] += starts[t]
    # Scatter each token's passage into its term's run: passages arrive in order, so every
    # run is sorted and repeats of a (term, passage) pair are adjacent.
    fill = starts[:-1].copy()
    owners = np.empty(n_tokens, np.int32)
    pos = 0
    for d in range(doc_len.shape[0]):
        for _ in range(doc_len[d]):
            t = term_ids[pos]
            owners[fill[t]] = d
            fill[t] += 1
            pos += 1
    # Collapse repeats in place into (passage, count).
    tfs = np.empty(n_tokens, np.uint16)
    indptr = np.zeros(n_terms + 1, np.int64)
    block_max = np.zeros((n_tokens + BLOCK - 1) // BLOCK, np.float32)
    out = 0
    for t in range(n_terms):
        i, end = starts[t], starts[t + 1]
        while i < end:
            d = owners[i]
            j = i + 1
            while j < end and owners[j] == d:
                j += 1
            count = min(j - i, 65535)
            owners[out] = d
            tfs[out] = count
            w = tf_weight(float(count), float(doc_len[d]), k1, b, avgdl)
            if w > block_max[out // BLOCK]:
                block_max[out // BLOCK] = w
            out += 1
            i = j
        indptr[t + 1] = out
    blocks = (out + BLOCK - 1) // BLOCK
    return indptr, owners[:out].copy(), tfs[:out].copy(), block_max[:blocks].copy()


@njit(cache=True, nogil=True, inline="always")
def _gallop(doc_ids, pos, hi, target):
    """First position in ``doc_ids[pos:hi]`` (sorted) whose id is >= target."""
    step = 1
    lo = pos
    while pos < hi and doc_ids[pos] < target:
        lo = pos + 1
        pos += step
        step *= 2
    if pos > hi:
        pos = hi
    while lo < pos:
        mid = (lo + pos) // 2
        if doc_ids[mid] < target:
            lo = mid + 1
        else:
            pos = mid
    return pos


@njit(cache=True, nogil=True, inline="always")
def _worse(s1, d1, s2, d2):
    return s1 < s2 or (s1 == s2 and d1 > d2)


@njit(cache=True, nogil=True, inline="always")
def _sift_down(heap_s, heap_d, size, i):
    while True:
        left = 2 * i + 1
        if left >= size:
            return
        child = left
        right = left + 1
        if right < size and _worse(heap_s[right], heap_d[right], heap_s[left], heap_d[left]):
            child = right
        if _worse(heap_s[child], heap_d[child], heap_s[i], heap_d[i]):
            heap_s[i], heap_s[child] = heap_s[child], heap_s[i]
            heap_d[i], heap_d[child] = heap_d[child], heap_d[i]
            i = child
        else:
            return


@njit(cache=True, nogil=True, inline="always")
def _sift_up(heap_s, heap_d, i):
    while i > 0:
        parent = (i - 1) // 2
        if _worse(heap_s[i], heap_d[i], heap_s[parent], heap_d[parent]):
            heap_s[i], heap_s[parent] = heap_s[parent], heap_s[i]
            heap_d[i], heap_d[parent] = heap_d[parent], heap_d[i]
            i = parent
        else:
            return


@njit(cache=True, nogil=True)
def add_scores(out, doc_ids, tfs, doc_len, lo, hi, idf, k1, b, avgdl, base):
    """Add one query term's contribution to every document's score (``out``, by id)."""
    for p in range(lo, hi):
        d = doc_ids[p]
        out[base + d] += idf * tf_weight(float(tfs[p]), float(doc_len[d]), k1, b, avgdl)


WINDOW = 4096  # documents scored together in a cache-resident accumulator
# A query whose terms have this many postings per window on average (all terms together,
# repeats counted) is scored densely: no branch per posting, then a pass over the window.
DENSE = 512
# Term-frequency weights looked up (tf < TABLE_TF, length < TABLE_LEN) in a table made with
# tf_weight itself: exactly the same doubles, without its two divisions.
TABLE_TF = 8
TABLE_LEN = 1024


@njit(cache=True, nogil=True)
def weight_table(k1, b, avgdl):
    """``tf_weight(tf, length)`` at index ``length * TABLE_TF + tf`` (0 for tf 0), for
    :func:`search`: one per index (its average length), 64 KiB."""
    out = np.zeros(TABLE_LEN * TABLE_TF)
    for dl in range(TABLE_LEN):
        for tf in range(1, TABLE_TF):
            out[dl * TABLE_TF + tf] = tf_weight(float(tf), float(dl), k1, b, avgdl)
    return out


@njit(cache=True, nogil=True, inline="always")
def _weight(tf, dl, table, k1, b, avgdl):
    """``tf_weight(tf, dl)``, read from ``table`` (:func:`weight_table`) where it holds it."""
    t = np.uint64(tf)
    n = np.uint64(dl)
    if t < TABLE_TF and n < TABLE_LEN:
        return table[n * np.uint64(TABLE_TF) + t]
    return tf_weight(float(t), float(n), k1, b, avgdl)


@njit(cache=True, nogil=True)
def search(
    doc_ids,
    tfs,
    doc_len,
    indptr,
    block_max,
    tids,
    idf,
    count,
    positions,
    k1,
    b,
    avgdl,
    table,
    grow,
    n_docs,
    base,
    heap_s,
    heap_d,
    size,
):
    """Push the documents of one segment into a bounded min-heap of the best ``k`` (its
    capacity), returning the heap's new size. Documents are scored a window of ``WINDOW`` ids
    at a time, term after term in query order (so sums are rank-bm25's) into a small
    accumulator; a window is skipped whole when its block-max bound (every term's largest
    ``block_max`` among its postings there, times ``idf * count * grow``) cannot beat the
    k-th best (``grow`` 0: no skipping). ``tids``: the query's distinct terms in this segment
    (-1 if absent); ``positions``: the query's terms in query order, as indexes into them
    (each of them at least once); ``table``: :func:`weight_table` at ``k1, b, avgdl``.

    Sparse queries find a document's first posting in a window by a mark (a branch per
    posting) and list the touched documents. Dense ones (``DENSE``; only with positive
    idfs, so that every touched document scores above 0) add every posting's contribution
    without a branch into an accumulator that is zero outside this, then read the whole
    window, eight documents at a time, for those that can enter the heap. Both add the
    same contributions in the same order (``0.0 + c`` is ``c``), so scores are the same.
    Indexes are cast to unsigned integers, which spares numba's check for negative ones."""
    n = tids.shape[0]
    k = heap_s.shape[0]
    cur = np.empty(n, np.int64)
    hi = np.empty(n, np.int64)
    stop = np.empty(n, np.int64)
    scale = np.empty(n)
    for j in range(n):
        t = tids[j]
        if t < 0:
            cur[j] = 0
            hi[j] = 0
        else:
            cur[j] = indptr[t]
            hi[j] = indptr[t + 1]
        scale[j] = idf[j] * count[j] * grow
    acc = np.zeros(WINDOW)
    # Dense queries (many postings per window): scored without a branch per posting.
    expected = 0
    for q in range(positions.shape[0]):
        expected += hi[positions[q]] - cur[positions[q]]
    dense = grow > 0.0 and expected * WINDOW >= DENSE * max(n_docs, 1)
    mark = np.zeros(WINDOW, np.bool_)
    seen = np.empty(WINDOW, np.uint64)
    threshold = heap_s[0] if size == k else -np.inf
    while True:
        first = np.int64(n_docs)
        for j in range(n):
            if cur[j] < hi[j] and doc_ids[cur[j]] < first:
                first = doc_ids[cur[j]]
        if first >= n_docs:
            return size
        start = first - first % WINDOW
        end = start + WINDOW
        if size == k and grow > 0.0:
            ub = 0.0
            for j in range(n):
                p = cur[j]
                if p < hi[j] and doc_ids[p] < end:
                    block = p // BLOCK
                    best = block_max[block]
                    block += 1
                    while block * BLOCK < hi[j] and doc_ids[block * BLOCK] < end:
                        if block_max[block] > best:
                            best = block_max[block]
                        block += 1
                    ub += scale[j] * best
            if ub * (1.0 + SLACK) < threshold:
                for j in range(n):
                    cur[j] = _gallop(doc_ids, cur[j], hi[j], end)
                continue
        for j in range(n):
            stop[j] = -1  # the window's end in its postings, found by its first scoring
        touched = 0
        if dense:
            # no branch per posting: the accumulator is zero outside this, and the touched
            # documents are those with a positive score (every idf is positive)
            for q in range(positions.shape[0]):
                j = positions[q]
                w = idf[j]
                p = cur[j]
                last = stop[j] if stop[j] >= 0 else hi[j]
                while p < last:
                    d = doc_ids[p]
                    if d >= end:
                        break
                    c = w * _weight(tfs[p], doc_len[np.uint64(d)], table, k1, b, avgdl)
                    acc[np.uint64(d - start)] += c
                    p += 1
                stop[j] = p
            for j in range(n):
                cur[j] = stop[j]
            least = heap_s[0] if size == k else 0.0
            for g in range(0, WINDOW, 8):
                m = max(
                    max(max(acc[g], acc[g + 1]), max(acc[g + 2], acc[g + 3])),
                    max(max(acc[g + 4], acc[g + 5]), max(acc[g + 6], acc[g + 7])),
                )
                if m < least or m <= 0.0:
                    continue
                for d in range(g, g + 8):
                    s = acc[d]
                    if s > 0.0 and s >= least:
                        doc = start + d + base
                        if size < k:
                            heap_s[size] = s
                            heap_d[size] = doc
                            _sift_up(heap_s, heap_d, size)
                            size += 1
                        elif _worse(heap_s[0], heap_d[0], s, doc):
                            heap_s[0] = s
                            heap_d[0] = doc
                            _sift_down(heap_s, heap_d, size, 0)
                        if size == k:
                            least = heap_s[0]
            acc[:] = 0.0
            if size == k:
                threshold = heap_s[0]
            continue
        for q in range(positions.shape[0]):
            j = positions[q]
            w = idf[j]
            p = cur[j]
            last = stop[j] if stop[j] >= 0 else hi[j]
            while p < last:
                d = doc_ids[p]
                if d >= end:
                    break
                c = w * _weight(tfs[p], doc_len[np.uint64(d)], table, k1, b, avgdl)
                r = np.uint64(d - start)
                if mark[r]:
                    acc[r] += c
                else:
                    mark[r] = True
                    acc[r] = c
                    seen[touched] = r
                    touched += 1
                p += 1
            stop[j] = p
        for j in range(n):
            cur[j] = stop[j]
        for i in range(touched):
            r = seen[i]
            mark[r] = False
            s = acc[r]
            doc = start + np.int64(r) + base
            if size < k:
                heap_s[size] = s
                heap_d[size] = doc
                _sift_up(heap_s, heap_d, size)
                size += 1
            elif _worse(heap_s[0], heap_d[0], s, doc):
                heap_s[0] = s
                heap_d[0] = doc
                _sift_down(heap_s, heap_d, size, 0)
        if size == k:
            threshold = heap_s[0]


@njit(cache=True, nogil=True)
def sum_rows(table, ids, starts, ends, out):
    """``out[i] += table[ids[starts[i]:ends[i]]].sum(axis=0)``, rows added in order."""
    for i in range(out.shape[0]):
        for k in range(starts[i], ends[i]):
            row = ids[k]
            for c in range(table.shape[1]):
                out[i, c] += table[row, c]
