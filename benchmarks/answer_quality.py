"""Answer quality on a public question set, Verbatim beside three rank-bm25 baselines, in one
run on the same corpus and questions. Run from the repository root:

    python benchmarks/answer_quality.py [--data benchmarks/data/squad-a] [--png FILE]
        [--manuals benchmarks/data/manuals | --no-manuals]

Prints hit@1, hit@3, MRR, false refusals, refusals of off-corpus questions and of SQuAD's
"impossible" questions, the top quote's mean length and the time per question, and draws the
answered-precision / coverage curve (matplotlib, a benchmark-only dependency: the `bench` extra).

Then a second table, "Real manuals (never fitted on)": for each question set of ``--manuals``
(``NAME.toml`` beside the corpus folder ``NAME/``: chapters of two Debian manuals, see its
README), Verbatim and the 2-sentence-window baseline: hit@1, hit@3, the share of answerable
questions refused, of off-topic and of near-topic ones refused, and the top quote's mean length.

Baselines (rank-bm25 ``BM25Okapi`` over Verbatim's analyzer: stems, stopwords): the unit is
the quote, ranked by BM25 over (a) single sentences, (b) windows of two adjacent sentences of a
paragraph, (c) whole paragraphs. A baseline never refuses; its curve ranks questions by its top
BM25 score.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rank_bm25 import BM25Okapi

from bot.core.answers import Answerer
from bot.core.corpus import load_folder
from bot.core.evaluate import (
    EvalQuestion,
    EvalReport,
    Outcome,
    evaluate,
    holds_answer,
    load_question_set,
)
from bot.core.index import SearchIndex
from bot.core.models import Document
from bot.core.segment import paragraphs, sentences

HERE = Path(__file__).resolve().parent
BASELINES = {
    "sentence": "BM25 sentences",
    "window": "BM25 2-sentence windows",
    "paragraph": "BM25 paragraphs",
}


@dataclass
class Unit:
    doc_id: str
    text: str


def units(docs: list[Document], kind: str) -> list[Unit]:
    out = []
    for doc in docs:
        for para in paragraphs(doc.text):
            if kind == "paragraph":
                out.append(Unit(doc.id, doc.text[para.start : para.end]))
                continue
            sents = sentences(doc.text, para.start, para.end)
            width = 1 if kind == "sentence" else 2
            for i in range(max(1, len(sents) - width + 1)):
                s, e = sents[i][0], sents[min(i + width, len(sents)) - 1][1]
                out.append(Unit(doc.id, doc.text[s:e]))
    return out


def baseline(index: SearchIndex, docs: list[Document], kind: str) -> Callable:
    """A ranker over ``kind`` units returning top-k (doc_id, text, score)."""
    pool = units(docs, kind)
    analyzer = index.analyzer
    bm25 = BM25Okapi([analyzer.terms(u.text) or ["\0"] for u in pool])

    def run(question: str, k: int) -> list[tuple[str, str, float]]:
        scores = bm25.get_scores(analyzer.terms(question))
        top = np.argsort(-scores, kind="stable")[:k]
        return [(pool[i].doc_id, pool[i].text, float(scores[i])) for i in top]

    return run


def score_baseline(run: Callable, questions: list[EvalQuestion], k: int = 3) -> EvalReport:
    outcomes = []
    for q in questions:
        t0 = time.perf_counter()
        top = run(q.text, k)
        ms = (time.perf_counter() - t0) * 1000
        rank = next(
            (i + 1 for i, (doc_id, text, _) in enumerate(top) if holds_answer(q, doc_id, text)),
            None,
        )
        outcomes.append(
            Outcome(
                question=q,
                answered=True,
                rank=rank,
                first_quote=top[0][1] if top else None,
                confidence=top[0][2] if top else 0.0,
                ms=ms,
            )
        )
    return EvalReport(outcomes=outcomes)


def systems_for(
    index: SearchIndex, docs: list[Document], kinds: tuple[str, ...] = tuple(BASELINES)
) -> dict[str, Callable[[list[EvalQuestion]], EvalReport]]:
    """Verbatim and the baselines of ``kinds`` over one corpus, each scoring a question list."""
    answerer = Answerer(index)
    systems: dict[str, Callable[[list[EvalQuestion]], EvalReport]] = {
        "Verbatim": lambda rows: evaluate(answerer.answer, rows),
    }
    for kind in kinds:
        run = baseline(index, docs, kind)
        systems[BASELINES[kind]] = lambda rows, run=run: score_baseline(run, rows)
    return systems


def quote_chars(report: EvalReport) -> float:
    """Mean length of the top quote, over answerable questions."""
    answerable = [o for o in report.outcomes if o.question.answerable]
    return EvalReport(outcomes=answerable).mean_quote_chars


def manuals_table(folder: Path) -> None:
    """The real-manual question sets: ``NAME.toml`` in ``folder``, asked of ``folder/NAME``."""
    sets = [(t.stem, folder / t.stem, t) for t in sorted(folder.glob("*.toml"))]
    sets = [s for s in sets if s[1].is_dir()]
    if not sets:
        print(f"\n(no manual question sets in {folder})")
        return
    rows = []
    print("\nReal manuals (never fitted on)\n")
    for name, corpus, path in sets:
        docs = list(load_folder(corpus).documents)
        index = SearchIndex.build(docs)
        qs = load_question_set(path).question
        n_ans = sum(q.answerable for q in qs)
        print(
            f"{name}: {len(docs)} documents, {len(index)} passages; "
            f"{n_ans} answerable, {len(qs) - n_ans} unanswerable"
        )
        for system, run in systems_for(index, docs, ("window",)).items():
            rows.append((name, system, run(qs)))
    print(
        "\n| set | system | hit@1 | hit@3 | false refusals | off-topic refused "
        "| near-topic refused | top quote, chars |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, system, report in rows:
        refuses = system == "Verbatim"  # a baseline never refuses
        shares = (
            [report.false_abstention, report.refused("off-topic"), report.refused("near-topic")]
            if refuses
            else []
        )
        cells = " | ".join(f"{v:.3f}" for v in shares) if shares else "– | – | –"
        print(
            f"| {name} | {system} | {report.hit_at(1):.3f} | {report.hit_at(3):.3f} "
            f"| {cells} | {quote_chars(report):.0f} |"
        )


def curve(report: EvalReport) -> tuple[np.ndarray, np.ndarray]:
    """Answered precision against coverage, answering questions in order of confidence.
    Precision: share of answered questions whose top quote holds the answer (an answered
    unanswerable question counts as wrong); coverage: share of all questions answered."""
    rows = sorted(report.outcomes, key=lambda o: -o.confidence)
    good = np.cumsum([o.question.answerable and o.rank == 1 for o in rows])
    n = np.arange(1, len(rows) + 1)
    return n / len(rows), good / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=HERE / "data" / "squad-a")
    ap.add_argument("--png", type=Path, default=HERE / "answer_quality.png")
    ap.add_argument("--limit", type=int, default=0, help="first N questions of each squad-a file")
    ap.add_argument("--manuals", type=Path, default=HERE / "data" / "manuals")
    ap.add_argument("--no-manuals", action="store_true", help="leave out the manuals table")
    args = ap.parse_args()

    docs = list(load_folder(args.data / "corpus").documents)
    index = SearchIndex.build(docs)
    qs = load_question_set(args.data / "questions.json").question
    off = load_question_set(args.data / "off_corpus.json").question
    if args.limit:
        qs, off = qs[: args.limit], off[: args.limit]
    answerable = [q for q in qs if q.answerable]
    impossible = [q for q in qs if not q.answerable]
    print(
        f"{args.data.name}: {len(docs)} documents, {len(index)} passages; "
        f"{len(answerable)} answerable, {len(impossible)} impossible, {len(off)} off-corpus\n"
    )

    systems = systems_for(index, docs)
    print(
        "| system | hit@1 | hit@3 | MRR@3 | false refusals | off-corpus refused "
        "| impossible refused | top quote, chars | ms / question |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    curves = {}
    for name, run in systems.items():
        report = run(answerable + impossible + off)
        print(
            f"| {name} | {report.hit_at(1):.3f} | {report.hit_at(3):.3f} | {report.mrr:.3f} "
            f"| {report.false_abstention:.3f} | {report.refused('off-corpus'):.3f} "
            f"| {report.refused('impossible'):.3f} | {quote_chars(report):.0f} "
            f"| {report.mean_ms:.2f} |"
        )
        shown = EvalReport(outcomes=[o for o in report.outcomes if o.question.kind != "impossible"])
        curves[name] = curve(shown)
        if name == "Verbatim":  # where the refusal threshold puts it
            answered = [o for o in shown.outcomes if o.answered]
            good = sum(o.question.answerable and o.rank == 1 for o in answered)
            point = (len(answered) / len(shown.outcomes), good / max(len(answered), 1))
    if not args.no_manuals:
        manuals_table(args.manuals)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(matplotlib is not installed: pip install -e '.[bench]' to draw the curve)")
        return
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for name, (cov, prec) in curves.items():
        ax.plot(cov, prec, label=name, linewidth=2 if name == "Verbatim" else 1)
    ax.plot(*point, "o", color="black", label="Verbatim's refusal threshold")
    ax.set_xlabel("coverage (share of answerable + off-corpus questions answered)")
    ax.set_ylabel("answered precision (top quote holds the answer)")
    ax.set_title(f"{args.data.name}: precision vs coverage")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(args.png)
    print(f"\ncurve: {args.png}")


if __name__ == "__main__":
    main()
