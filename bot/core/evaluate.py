"""Running a question set: hit@1 and hit@3 on answerable questions, accuracy of abstention
on unanswerable ones."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, model_validator

from bot.core.answers import Answerer


class EvalQuestion(BaseModel):
    text: str = Field(min_length=1)
    expect: list[str] = Field(default_factory=list)
    answerable: bool = True

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


class EvalReport(BaseModel):
    outcomes: list[Outcome]

    def _answerable(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.question.answerable]

    def hit_at(self, k: int) -> float:
        rows = self._answerable()
        return sum(o.rank is not None and o.rank <= k for o in rows) / len(rows) if rows else 0.0

    @property
    def abstention(self) -> float:
        """Share of unanswerable questions the bot declined to answer."""
        rows = [o for o in self.outcomes if not o.question.answerable]
        return sum(not o.answered for o in rows) / len(rows) if rows else 1.0

    @property
    def false_abstention(self) -> float:
        """Share of answerable questions the bot declined to answer."""
        rows = self._answerable()
        return sum(not o.answered for o in rows) / len(rows) if rows else 0.0


def load_question_set(path: Path) -> QuestionSet:
    try:
        return QuestionSet.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ValueError(f"{path}: {exc}") from None


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def evaluate(answerer: Answerer, questions: QuestionSet, k: int = 3) -> EvalReport:
    outcomes = []
    for q in questions.question:
        answer = answerer.answer(q.text, k=k)
        texts = [
            _norm(" ".join([c.quote.text, *(o.text for o in c.also_in)])) for c in answer.results
        ]
        expected = [_norm(e) for e in q.expect]
        rank = next((i + 1 for i, t in enumerate(texts) if any(e in t for e in expected)), None)
        outcomes.append(
            Outcome(
                question=q,
                answered=answer.answered,
                rank=rank,
                first_quote=answer.results[0].quote.text if answer.results else None,
            )
        )
    return EvalReport(outcomes=outcomes)
