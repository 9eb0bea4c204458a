"""Running a question set: hit@1, hit@3 and MRR on answerable questions, and how often the
bot declines on each kind of question.

Two file formats are read:

* TOML (``[[question]]`` tables with ``text``, ``expect`` phrases, ``answerable``), as in
  ``tests/data/dev_questions.toml``;
* SQuAD-style JSON (``{"questions": [...]}`` with ``question``, ``answers``, ``doc_id``,
  ``is_impossible``), as in ``benchmarks/data/squad-a/``. Entries with no answers (and SQuAD's
  "impossible" ones) are unanswerable; ``doc_id``, when given, must match the quote's document.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator

from bot.core.models import Answer


class EvalQuestion(BaseModel):
    text: str = Field(min_length=1)
    expect: list[str] = Field(default_factory=list)
    answerable: bool = True
    doc_id: str | None = None  # the document an answer must come from, when known
    kind: str = ""  # e.g. "impossible" or "off-corpus", for reporting refusals separately

    @model_validator(mode="after")
    def _consistent(self) -> EvalQuestion:
        if self.answerable and not self.expect:
            raise ValueError("an answerable question needs 'expect' phrases")
        if not self.answerable and self.expect:
            raise ValueError("an unanswerable question cannot have 'expect' phrases")
        return self


class QuestionSet(BaseModel):
    question: list[EvalQuestion] = Field(min_length=1)


class Outcome(BaseModel):
    question: EvalQuestion
    answered: bool
    rank: int | None  # 1-based rank of the first quote holding an expected phrase
    first_quote: str | None
    confidence: float = 0.0
    ms: float = 0.0


class EvalReport(BaseModel):
    outcomes: list[Outcome]

    def _answerable(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.question.answerable]

    def hit_at(self, k: int) -> float:
        rows = self._answerable()
        return sum(o.rank is not None and o.rank <= k for o in rows) / len(rows) if rows else 0.0

    @property
    def mrr(self) -> float:
        rows = self._answerable()
        return sum(1 / o.rank for o in rows if o.rank) / len(rows) if rows else 0.0

    def refused(self, kind: str | None = None) -> float:
        """Share of unanswerable questions (of one ``kind``, or all) the bot declined."""
        rows = [
            o
            for o in self.outcomes
            if not o.question.answerable and (kind is None or o.question.kind == kind)
        ]
        return sum(not o.answered for o in rows) / len(rows) if rows else 1.0

    @property
    def abstention(self) -> float:
        """Share of unanswerable questions the bot declined to answer."""
        return self.refused()

    @property
    def false_abstention(self) -> float:
        """Share of answerable questions the bot declined to answer."""
        rows = self._answerable()
        return sum(not o.answered for o in rows) / len(rows) if rows else 0.0

    @property
    def mean_quote_chars(self) -> float:
        quotes = [len(o.first_quote) for o in self.outcomes if o.first_quote]
        return sum(quotes) / len(quotes) if quotes else 0.0

    @property
    def mean_ms(self) -> float:
        return sum(o.ms for o in self.outcomes) / len(self.outcomes) if self.outcomes else 0.0


def load_question_set(path: Path) -> QuestionSet:
    """A question set from a TOML or SQuAD-style JSON file; ValueError names the file."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read question set: {exc.strerror or exc}") from None
    try:
        if path.suffix.lower() == ".json":
            return QuestionSet(question=list(_squad_questions(json.loads(raw))))
        return QuestionSet.model_validate(tomllib.loads(raw))
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise ValueError(f"{path}: not a question set: {first}") from None
    except (TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"{path}: not a SQuAD-style question set ({exc!r})") from None


def _squad_questions(data: Any) -> Iterable[EvalQuestion]:
    rows = data["questions"] if isinstance(data, dict) else data
    for row in rows:
        answers = [] if row.get("is_impossible") else list(row.get("answers") or [])
        kind = "impossible" if row.get("is_impossible") else ("" if answers else "off-corpus")
        yield EvalQuestion(
            text=row["question"],
            expect=answers,
            answerable=bool(answers),
            doc_id=row.get("doc_id") if answers else None,
            kind=kind,
        )


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def holds_answer(question: EvalQuestion, doc_id: str, text: str) -> bool:
    """Whether ``text`` (from document ``doc_id``) holds one of the question's expected
    phrases (case and white space aside), from the expected document when one is named."""
    if question.doc_id and doc_id != question.doc_id:
        return False
    text = _norm(text)
    return any(_norm(e) in text for e in question.expect)


def rank_of(answer: Answer, question: EvalQuestion) -> int | None:
    """1-based rank of the first answer entry whose quote (or an "also in" quote) holds an
    expected phrase (:func:`holds_answer`)."""
    for i, cited in enumerate(answer.results):
        if any(holds_answer(question, q.doc_id, q.text) for q in (cited.quote, *cited.also_in)):
            return i + 1
    return None


def evaluate(
    ask: Callable[[str, int], Answer], questions: QuestionSet | Iterable[EvalQuestion], k: int = 3
) -> EvalReport:
    """Ask every question (``ask(text, k)``, e.g. ``Answerer.answer``) and score the answers."""
    rows = questions.question if isinstance(questions, QuestionSet) else questions
    outcomes = []
    for q in rows:
        answer = ask(q.text, k)
        outcomes.append(
            Outcome(
                question=q,
                answered=answer.answered,
                rank=rank_of(answer, q),
                first_quote=answer.results[0].quote.text if answer.results else None,
                confidence=answer.confidence,
                ms=answer.timings.total_ms,
            )
        )
    return EvalReport(outcomes=outcomes)
