"""One document analysed for the index: its passages, their sentences, and the term of every
token, as flat arrays relative to the document (no Python object per passage or sentence).

An index segment is assembled from its documents' analyses (:meth:`SearchIndex.build
<bot.core.index.SearchIndex.build>`), which need not be made where it is assembled: an
upload's text is analysed in the parser process that extracted it (:func:`analyse_to_bytes`,
run by :class:`~bot.core.ingest.ExtractionWorker`), and the documents already in a segment
are cut back out of it (:meth:`SearchIndex.analysed <bot.core.index.SearchIndex.analysed>`)
when their collection changes, so the bot's own process never tokenises an upload.

What comes from another process is checked before use (:meth:`Analysed.from_bytes`): every
span inside the text, every count consistent, every token a known term. Quotes stay checked
where they are made (:meth:`Quote.from_document <bot.core.models.Quote.from_document>`).
"""

from __future__ import annotations

import io
import itertools
import operator
import zipfile
from array import array
from collections import defaultdict
from dataclasses import dataclass, fields

import numpy as np

from bot.core import encoder, semantic
from bot.core.analysis import AnalysisSettings, Analyzer, analyzer_for
from bot.core.segment import SegmentSettings, paragraphs, passages
from bot.core.spans import FLAG_VALUES, SpanBuilder

NEXT_MIN = -2  # p_next: a sentence of the document, or NEXT_NONE (-1) / NEXT_LIVE (-2)


@dataclass(frozen=True)
class Analysed:
    """Passages ``p_*`` (as in :class:`~bot.core.index.SearchIndex`) and their sentences
    (as in :class:`~bot.core.spans.Spans`), numbered from the document's first; ``tokens``:
    the index of every token's term in ``terms`` (distinct, in order of first use)."""

    p_start: np.ndarray
    p_end: np.ndarray
    p_para: np.ndarray
    s_start: np.ndarray
    s_end: np.ndarray
    s_para: np.ndarray
    s_flags: np.ndarray
    s_tok: np.ndarray  # sentence i's tokens are tokens[s_tok[i]:s_tok[i + 1]]
    s_name: np.ndarray  # its name spans names[s_name[i]:s_name[i + 1]]
    names: np.ndarray  # (n, 2): spans relative to the sentence's start
    s_piece: np.ndarray  # its semantic token ids pieces[s_piece[i]:s_piece[i + 1]]
    pieces: np.ndarray
    p_sent: np.ndarray  # passage j's sentences are p_sent[j]:p_sent[j + 1]
    p_next: np.ndarray
    tokens: np.ndarray
    s_vec: np.ndarray  # (n, 384) float16: each sentence's contextual vector, or (0, 384)
    terms: tuple[str, ...]

    @property
    def contextual(self) -> bool:
        """Every sentence has its contextual vector (:mod:`bot.core.encoder`)."""
        return len(self.s_vec) == len(self.s_start)

    @property
    def passage_lengths(self) -> np.ndarray:
        """Tokens of each passage (its inside sentences' tokens)."""
        return np.diff(self.s_tok[self.p_sent]).astype(np.int32)

    def to_bytes(self) -> bytes:
        """The arrays as an uncompressed ``.npz`` (read back with no pickle)."""
        out = io.BytesIO()
        arrays = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "terms"}
        blob = np.frombuffer("\n".join(self.terms).encode(), np.uint8)
        np.savez(out, terms=blob, **arrays)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, text: str) -> Analysed:
        """An analysis of ``text`` sent by another process, checked; raises ValueError when
        it is not a consistent analysis of a text that long."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            blob = bytes(arrays.pop("terms")).decode()
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"unreadable analysis ({type(exc).__name__})") from None
        names = {f.name for f in fields(cls)} - {"terms"}
        if set(arrays) != names:
            raise ValueError("an analysis needs exactly the arrays " + ", ".join(sorted(names)))
        made = cls(**_typed(arrays), terms=tuple(blob.split("\n")) if blob else ())
        made.check(len(text))
        return made

    def check(self, text_len: int) -> None:
        """Raise ValueError unless the arrays are consistent and every span lies inside a
        text of ``text_len`` characters."""
        n_pass, n_sent = len(self.p_start), len(self.s_start)
        lengths_ok = (
            len(self.p_end) == len(self.p_para) == len(self.p_next) == n_pass
            and len(self.s_end) == len(self.s_para) == len(self.s_flags) == n_sent
            and len(self.p_sent) == n_pass + 1
            and len(self.s_tok) == len(self.s_name) == len(self.s_piece) == n_sent + 1
            and self.names.ndim == 2
            and self.names.shape[1] == 2
            and self.s_vec.shape in ((0, encoder.DIMENSIONS), (n_sent, encoder.DIMENSIONS))
        )
        if not lengths_ok:
            raise ValueError("an analysis's arrays disagree in length")
        _offsets_into(self.p_sent, n_sent, "p_sent")
        _offsets_into(self.s_tok, len(self.tokens), "s_tok")
        _offsets_into(self.s_name, len(self.names), "s_name")
        _offsets_into(self.s_piece, len(self.pieces), "s_piece")
        for lo, hi, what in (
            (self.p_start, self.p_end, "passage"),
            (self.s_start, self.s_end, "sentence"),
        ):
            if len(lo) and (lo.min() < 0 or (hi < lo).any() or hi.max() > text_len):
                raise ValueError(f"a {what} span lies outside the text")
        if n_sent and (
            self.s_flags.max() >= FLAG_VALUES
            or min(self.s_para.min(), self.p_para.min(initial=1)) < 1
        ):
            raise ValueError("a sentence's flags or paragraph are out of range")
        if len(self.names):
            owner = np.repeat(np.arange(n_sent), np.diff(self.s_name))
            width = (self.s_end - self.s_start)[owner]
            a, b = self.names[:, 0], self.names[:, 1]
            if a.min() < 0 or (b < a).any() or (b > width).any():
                raise ValueError("a name span lies outside its sentence")
        if n_pass and (self.p_next.min() < NEXT_MIN or self.p_next.max() >= n_sent):
            raise ValueError("a passage's next sentence is out of range")
        if len(self.tokens) and (self.tokens.min() < 0 or self.tokens.max() >= len(self.terms)):
            raise ValueError("a token's term is out of range")
        if len(self.pieces) and self.pieces.max() >= semantic.vocabulary_size():
            raise ValueError("a semantic token id is out of range")
        if len(self.s_vec) and not np.isfinite(self.s_vec).all():
            raise ValueError("a sentence vector is not finite")


_DTYPES = {
    "p_start": np.int64,
    "p_end": np.int64,
    "p_para": np.int32,
    "s_flags": np.uint8,
    "names": np.int32,
    "tokens": np.int32,
    "pieces": np.uint16,
}


def _typed(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each array as its field's type (integers, and the vectors as float16; a value that
    does not fit raises)."""
    out = {}
    for name, a in arrays.items():
        if name == "s_vec":
            if a.dtype != np.float16:
                raise ValueError("an analysis's s_vec is not float16")
            out[name] = a
            continue
        if a.dtype.kind not in "iu":
            raise ValueError(f"an analysis's {name} is not integers")
        dtype = np.dtype(_DTYPES.get(name, np.int64))
        if len(a.ravel()) and (a.min() < np.iinfo(dtype).min or a.max() > np.iinfo(dtype).max):
            raise ValueError(f"an analysis's {name} is out of range")
        out[name] = a.astype(dtype)
    return out


def _offsets_into(offsets: np.ndarray, total: int, name: str) -> None:
    if offsets[0] != 0 or offsets[-1] != total or (np.diff(offsets) < 0).any():
        raise ValueError(f"an analysis's {name} does not count its items in order")


def analyse(text: str, analyzer: Analyzer, settings: SegmentSettings, contextual: bool) -> Analysed:
    """Split ``text`` into passages and analyse them (see :mod:`bot.core.spans`);
    ``contextual``: encode every sentence too (:mod:`bot.core.encoder`)."""
    builder = SpanBuilder(analyzer)
    paras = paragraphs(text)
    units = passages(text, settings)
    words: list[str] = []
    for unit in units:
        words += builder.passage(text, paras, unit.start, unit.end)
    builder.end_document()
    vocab: defaultdict[str, int] = defaultdict(itertools.count().__next__)
    found = operator.itemgetter(*words)(vocab) if len(words) > 1 else [vocab[w] for w in words]
    table = np.asarray([(u.start, u.end, u.paragraph) for u in units], np.int64).reshape(-1, 3)
    arrays = builder.arrays()
    return Analysed(
        p_start=table[:, 0].copy(),
        p_end=table[:, 1].copy(),
        p_para=table[:, 2].astype(np.int32),
        **arrays,
        tokens=np.frombuffer(array("i", found), np.int32),
        s_vec=sentence_vectors(text, arrays["s_start"], arrays["s_end"], contextual),
        terms=tuple(vocab),
    )


def sentence_vectors(
    text: str, starts: np.ndarray, ends: np.ndarray, contextual: bool = True
) -> np.ndarray:
    """The contextual vectors of the sentences ``text[starts[i]:ends[i]]`` as stored (float16),
    or none (a (0, 384) array) unless ``contextual``."""
    if not contextual:
        return np.zeros((0, encoder.DIMENSIONS), np.float16)
    spans = zip(np.asarray(starts).tolist(), np.asarray(ends).tolist(), strict=True)
    texts = [text[s:e] for s, e in spans]
    return encoder.encode(texts).astype(np.float16)


def analyse_to_bytes(
    text: str,
    analysis: AnalysisSettings,
    segments: SegmentSettings,
    budget: int = encoder.MAX_CHARS,
) -> bytes:
    """:func:`analyse` for another process (the parser's): its arrays as bytes, with contextual
    vectors when the text fits ``budget`` (what its segment has left of the encoder's)."""
    contextual = len(text) <= budget
    return analyse(text, analyzer_for(analysis), segments, contextual).to_bytes()
