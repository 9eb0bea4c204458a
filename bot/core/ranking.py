"""The two small linear models that choose quotes and decide to refuse, and their features.

Both are fitted on public data by ``benchmarks/fit_ranking.py`` (squad-a and the project's own
question sets) and committed as ``weights.json`` beside this file; every feature has a
one-line reason below, so a score can be explained. They are fitted twice: with the semantic
features from the contextual encoder (:mod:`bot.core.encoder`, indexes of up to its
``MAX_CHARS``) and from the static word vectors (:mod:`bot.core.semantic`, larger ones).

* The **span model** scores each candidate quote (a window of one or two sentences) of the
  passages BM25 found; the best-scoring window of a passage is its quote, and quotes are shown
  best first. Trained listwise: per question, a softmax over every candidate window, the windows
  holding a gold answer being right.
* The **refusal model** estimates the probability that the corpus answers the question from
  how much of the question the best quote and passage hold, which words the corpus lacks, and
  how clearly the best quote stands out. Below its threshold the bot says the corpus does not
  answer. Trained as a logistic regression: questions about the corpus against questions
  about other subjects.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator

WEIGHTS_FILE = Path(__file__).with_name("weights.json")

SPAN_FEATURES: dict[str, str] = {
    "span_bm25": "BM25 of the window (sentence-length normalised) over the question's idf",
    "span_coverage": "idf-weighted share of the question's words the window holds",
    "passage_bm25": "BM25 of the passage holding the window, over the question's idf",
    "passage_relative": "the passage's BM25 over the best passage's for this question",
    "document_relative": "the best passage of the window's document over the best overall",
    "passage_coverage": "idf-weighted share of the question's words the passage holds",
    "document_coverage": "idf-weighted share of the question's words the document holds",
    "answer_type": "the window holds what the question asks for (a number, a date, a name)",
    "log_chars": "log of the window's length: shorter quotes are easier to check",
    "two_sentences": "the window is two sentences",
    "fragment": "the window does not end like a sentence (a headline, caption or link)",
    "proximity": "the question words the window holds are close together",
    "phrases": "share of the question's adjacent word pairs the window holds side by side",
    "rarest": "the window holds the question's rarest word",
    "word_share": "share of the question's words the window holds, each counted once",
    "semantic": "closeness in meaning of window and question (cosine of sentence vectors)",
    "semantic_relative": "the window's closeness in meaning minus the closest window's",
}

REFUSAL_FEATURES: dict[str, str] = {
    "top_score": "the span model's score of the best quote",
    "span_coverage": "idf-weighted share of the question the best quote holds",
    "passage_coverage": "idf-weighted share of the question the best passage holds",
    "document_coverage": "idf-weighted share of the question one document holds (the most)",
    "missing": "idf-weighted share of the question's words the corpus never uses",
    "missing_name": "a capitalised name in the question that the corpus never uses",
    "margin": "how far the best quote's score is ahead of the next passage's",
    "answer_type": "the best quote holds the kind of answer the question asks for",
    "log_words": "log of the number of content words in the question",
    "semantic": "closeness in meaning of the best quote and the question",
    "semantic_max": "the closest in meaning any candidate quote comes to the question",
}


class LinearModel(BaseModel):
    """``intercept + coef · (x - mean) / scale`` over named features."""

    model_config = ConfigDict(frozen=True)

    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float = 0.0

    @model_validator(mode="after")
    def _aligned(self) -> LinearModel:
        n = len(self.features)
        if not (len(self.mean) == len(self.scale) == len(self.coef) == n):
            raise ValueError("features, mean, scale and coef must have the same length")
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        """Scores of the rows of ``x`` (columns in ``self.features`` order)."""
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.coef) + self.intercept


class Models(BaseModel):
    """The span model, the refusal model and its threshold, fitted together."""

    model_config = ConfigDict(frozen=True)

    span: LinearModel
    refusal: LinearModel
    threshold: float  # refuse below this probability

    @model_validator(mode="after")
    def _known_features(self) -> Models:
        if self.span.features != list(SPAN_FEATURES):
            raise ValueError("span model features differ from SPAN_FEATURES: refit")
        if self.refusal.features != list(REFUSAL_FEATURES):
            raise ValueError("refusal model features differ from REFUSAL_FEATURES: refit")
        return self


class Weights(BaseModel):
    model_config = ConfigDict(frozen=True)

    contextual: Models  # semantic features from the contextual encoder
    static: Models  # from the static word vectors
    fitted_on: str = ""

    def models(self, contextual: bool) -> Models:
        return self.contextual if contextual else self.static


@cache
def load_weights(path: Path = WEIGHTS_FILE) -> Weights:
    return Weights.model_validate(json.loads(path.read_text(encoding="utf-8")))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))
