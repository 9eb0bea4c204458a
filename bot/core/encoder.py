"""Contextual sentence vectors for the ``semantic`` features: all-MiniLM-L6-v2, a small
transformer trained to put sentences that mean the same close together, whole sentences at a
time ("lost their job" comes close to "was dismissed", which per-word vectors cannot see).

The model is an ONNX graph with int8 weights (``data/minilm-onnx``, written from the original
weights by ``benchmarks/export_encoder.py``), run by onnxruntime on one thread per call: about
1.3 ms for a question and 2.5 ms for a sentence on this project's 2-core test machine. So
sentences are encoded once, when a segment is built (:mod:`bot.core.analysed`; the bot's
library builds a segment without them first and encodes in the background), and only for
segments of up to :data:`MAX_CHARS` characters; larger ones, and views that join one, use
the static vectors of :mod:`bot.core.semantic` (the span and refusal models are fitted for
each kind, :mod:`bot.core.ranking`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

MODEL_DIR = Path(__file__).with_name("data") / "minilm-onnx"
DIMENSIONS = 384
MAX_TOKENS = 256  # what the model was trained on; longer sentences are cut
# A segment of more text keeps only static vectors: encoding costs ~2.9 ms a sentence (about
# 36 s of one core at this size, some 1,000 pages, once: segments are cached) and storing
# them 768 bytes a sentence (~10 MB).
MAX_CHARS = 2_000_000
# An upload is encoded by its parser process up to this length (~5 s: well within the
# parser's time limit, which encoding counts against); a longer one is answered with the
# static vectors until its server's segment is encoded in the background (bot.core.library).
UPLOAD_CHARS = 250_000


@cache
def _session():
    import onnxruntime  # (0.1 s: only where something is encoded)

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # one call, one core: callers run in pools of their own
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(
        str(MODEL_DIR / "model.onnx"), options, providers=["CPUExecutionProvider"]
    )


@cache
def _tokeniser():
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
    tokenizer.no_padding()  # (its file pads every text to 128 tokens: 4x the work)
    tokenizer.enable_truncation(MAX_TOKENS)
    return tokenizer


@cache
def fingerprint() -> str:
    """Names the model: vectors stored in an index are valid only for it."""
    h = hashlib.sha256()
    for name in ("model.onnx", "tokenizer.json"):
        h.update((MODEL_DIR / name).read_bytes())
    return h.hexdigest()


def load() -> None:
    """Load the model now; it loads on first use otherwise."""
    encode(["a"])


def encode(texts: Sequence[str]) -> np.ndarray:
    """Each text's unit vector (float32, one row each)."""
    out = np.zeros((len(texts), DIMENSIONS), np.float32)
    for i, text in enumerate(texts):
        out[i] = _encode_one(text)
    return out


# Texts one at a time: batches pad every text to the longest and measured slower per text.
# The last few thousand are kept (1.5 KB each): a PDF repeats its page headers and footers.
@lru_cache(maxsize=4096)
def _encode_one(text: str) -> np.ndarray:
    ids = np.asarray([_tokeniser().encode(text).ids], np.int32)
    vector = _session().run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]
    vector.flags.writeable = False  # (shared by every caller)
    return vector


def forget() -> None:
    """Drop the kept vectors of recent texts (a benchmark comparing cold builds)."""
    _encode_one.cache_clear()


def embed(text: str) -> np.ndarray:
    """The unit vector of one text (the question)."""
    return encode([text])[0]
