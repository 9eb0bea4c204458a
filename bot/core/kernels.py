"""Compiled loops of the BM25 index (numba), over its flat arrays.

* :func:`postings`: turn the term ids of every token (passage by passage) into CSR postings
  (documents and term frequencies per term) with a counting sort, in linear time.
* :func:`search`: the best ``k`` documents of one segment for a query, document at a time with
  MaxScore pruning: query terms are ordered by their score upper bound, and once the k-th best
  score exceeds the bounds of the weakest terms, those terms only *check* the candidates
  found by the others (skipping ahead with galloping search) instead of proposing their own.
  Pruning never changes the result: a document is skipped only when its upper bound cannot
  beat the k-th best (ties go to the lower id, and ids only grow).

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
    (``doc_len`` tokens each). Returns (indptr, doc_ids, tfs, max_weight) where
    ``max_weight[t]`` is the largest BM25 term-frequency part among term ``t``'s postings."""
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
    max_weight = np.zeros(n_terms, np.float32)
    block_max = np.zeros((n_tokens + BLOCK - 1) // BLOCK, np.float32)
    out = 0
    for t in range(n_terms):
        i, end = starts[t], starts[t + 1]
        best = 0.0
        while i < end:
            d = owners[i]
            j = i + 1
            while j < end and owners[j] == d:
                j += 1
            count = min(j - i, 65535)
            owners[out] = d
            tfs[out] = count
            w = tf_weight(float(count), float(doc_len[d]), k1, b, avgdl)
            if w > best:
                best = w
            if w > block_max[out // BLOCK]:
                block_max[out // BLOCK] = w
            out += 1
            i = j
        indptr[t + 1] = out
        max_weight[t] = best
    blocks = (out + BLOCK - 1) // BLOCK
    return indptr, owners[:out].copy(), tfs[:out].copy(), max_weight, block_max[:blocks].copy()


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
def search(
    doc_ids,
    tfs,
    doc_len,
    indptr,
    max_weight,
    block_max,
    tids,
    idf,
    count,
    positions,
    k1,
    b,
    avgdl,
    grow,
    base,
    heap_s,
    heap_d,
    size,
):
    """Push the documents of one segment into a bounded min-heap of the best ``k`` (its
    capacity), returning the heap's new size. The query's distinct terms are ``tids`` (ids in
    this segment, -1 if absent) with their ``idf`` and ``count`` (times in the query);
    ``positions`` lists the query's terms in query order, repeats included, as indexes into
    those arrays. A term's contribution is bounded by ``idf * count * max_weight * grow``
    (``grow``: how much weights can exceed the segment's own ``max_weight``; 0 turns pruning
    off), and within a block of postings by the same with ``block_max``: when the current
    blocks of every essential term together cannot beat the k-th best, the search skips past
    the first of those blocks to end. Document ids are offset by ``base``; the heap may hold
    earlier segments' best."""
    n = tids.shape[0]
    k = heap_s.shape[0]
    # The segment's terms, sorted by ascending bound (insertion sort: queries are short).
    slot = np.empty(n, np.int64)  # slot[j]: where query term j sits in the sorted order
    order = np.empty(n, np.int64)
    bound = np.empty(n)
    m = 0
    for j in range(n):
        slot[j] = -1
        t = tids[j]
        if t < 0 or indptr[t + 1] == indptr[t]:
            continue
        ub = np.inf if grow == 0.0 else idf[j] * count[j] * max_weight[t] * grow
        i = m
        while i > 0 and bound[i - 1] > ub:
            bound[i] = bound[i - 1]
            order[i] = order[i - 1]
            i -= 1
        bound[i] = ub
        order[i] = j
        m += 1
    if m == 0:
        return size
    lo = np.empty(m, np.int64)
    hi = np.empty(m, np.int64)
    weight = np.empty(m)  # idf of the sorted terms
    times = np.empty(m)
    scale = np.empty(m)  # a posting's weight times scale bounds its term's contribution
    for i in range(m):
        j = order[i]
        slot[j] = i
        lo[i] = indptr[tids[j]]
        hi[i] = indptr[tids[j] + 1]
        weight[i] = idf[j]
        times[i] = count[j]
        scale[i] = idf[j] * count[j] * grow
    cur = lo.copy()
    contrib = np.zeros(m + 1)  # contrib[m] stays 0: the slot of terms absent here
    for j in range(n):
        if slot[j] < 0:
            slot[j] = m
    prefix = np.empty(m)  # prefix[i]: bound of terms 0..i together
    acc = 0.0
    for i in range(m):
        acc += bound[i]
        prefix[i] = acc * (1.0 + SLACK)
    first = 0  # terms first..m-1 are essential: a document must contain one to be a candidate
    threshold = -np.inf
    if size == k:
        threshold = heap_s[0]
        while first < m and prefix[first] < threshold:
            first += 1
    while first < m:
        cand = np.int64(2**62)
        for i in range(first, m):
            if cur[i] < hi[i] and doc_ids[cur[i]] < cand:
                cand = doc_ids[cur[i]]
        if cand == 2**62:
            break
        if size == k and grow > 0.0:
            # Block-max: bound every document up to the end of the nearest current block.
            ub = prefix[first - 1] if first > 0 else 0.0
            end = np.int64(2**62)
            for i in range(first, m):
                p = cur[i]
                if p < hi[i]:
                    block = p // BLOCK
                    ub += scale[i] * block_max[block]
                    last = doc_ids[min((block + 1) * BLOCK, hi[i]) - 1]
                    if last < end:
                        end = last
            if ub * (1.0 + SLACK) < threshold:
                for i in range(first, m):
                    cur[i] = _gallop(doc_ids, cur[i], hi[i], end + 1)
                continue
        dl = float(doc_len[cand])
        partial = 0.0
        for i in range(m):
            contrib[i] = 0.0
        for i in range(first, m):
            p = cur[i]
            if p < hi[i] and doc_ids[p] == cand:
                contrib[i] = weight[i] * tf_weight(float(tfs[p]), dl, k1, b, avgdl)
                partial += times[i] * contrib[i]
                cur[i] = p + 1
        skip = False
        for i in range(first - 1, -1, -1):
            if (partial + prefix[i]) * (1.0 + SLACK) < threshold:
                skip = True
                break
            p = _gallop(doc_ids, cur[i], hi[i], cand)
            cur[i] = p
            if p < hi[i] and doc_ids[p] == cand:
                contrib[i] = weight[i] * tf_weight(float(tfs[p]), dl, k1, b, avgdl)
                partial += times[i] * contrib[i]
                cur[i] = p + 1
        if skip:
            continue
        score = 0.0
        for j in range(positions.shape[0]):
            score += contrib[slot[positions[j]]]
        doc = cand + base
        if size < k:
            heap_s[size] = score
            heap_d[size] = doc
            _sift_up(heap_s, heap_d, size)
            size += 1
        elif score > heap_s[0]:
            heap_s[0] = score
            heap_d[0] = doc
            _sift_down(heap_s, heap_d, size, 0)
        else:
            continue
        if size == k:
            threshold = heap_s[0]
            while first < m and prefix[first] < threshold:
                first += 1
    return size


@njit(cache=True, nogil=True)
def add_scores(out, doc_ids, tfs, doc_len, lo, hi, idf, k1, b, avgdl, base):
    """Add one query term's contribution to every document's score (``out``, by id)."""
    for p in range(lo, hi):
        d = doc_ids[p]
        out[base + d] += idf * tf_weight(float(tfs[p]), float(doc_len[d]), k1, b, avgdl)


@njit(cache=True, nogil=True)
def accumulate(
    doc_ids, tfs, doc_len, indptr, tids, idf, positions, k1, b, avgdl, acc, stamp, epoch, touched, n
):
    """Term at a time: add each query position's contribution to the documents of one segment
    in ``acc`` (scratch, by document; a document is live in this query when its ``stamp``
    equals ``epoch``, so nothing is cleared between queries), in query order as rank-bm25
    does. Appends newly touched documents to ``touched[n:]``; returns the new ``n``."""
    for j in range(positions.shape[0]):
        q = positions[j]
        t = tids[q]
        if t < 0:
            continue
        w = idf[q]
        for p in range(indptr[t], indptr[t + 1]):
            d = doc_ids[p]
            c = w * tf_weight(float(tfs[p]), float(doc_len[d]), k1, b, avgdl)
            if stamp[d] != epoch:
                stamp[d] = epoch
                acc[d] = c
                touched[n] = d
                n += 1
            else:
                acc[d] += c
    return n


@njit(cache=True, nogil=True)
def select(acc, touched, n, base, heap_s, heap_d, size):
    """Push the touched documents (ids offset by ``base``) into the bounded heap of the best
    ``k``, in any order; returns the heap's new size."""
    k = heap_s.shape[0]
    for i in range(n):
        d = touched[i]
        s = acc[d]
        doc = d + base
        if size < k:
            heap_s[size] = s
            heap_d[size] = doc
            _sift_up(heap_s, heap_d, size)
            size += 1
        elif _worse(heap_s[0], heap_d[0], s, doc):
            heap_s[0] = s
            heap_d[0] = doc
            _sift_down(heap_s, heap_d, size, 0)
    return size
