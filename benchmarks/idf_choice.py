"""Answer quality on a question set for each idf mode and coverage threshold, to choose the
defaults by measurement. Run from the repository root:

    python benchmarks/idf_choice.py [tests/data/dev_questions.toml]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.core.answers import Answerer, AnswerSettings
from bot.core.bm25 import BM25Settings
from bot.core.corpus import default_corpus_dir, load_folder
from bot.core.evaluate import evaluate, load_question_set
from bot.core.index import IndexSettings, SearchIndex


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/dev_questions.toml")
    questions = load_question_set(path)
    docs = load_folder(default_corpus_dir()).documents
    print(f"{path}: {len(questions.question)} questions\n")
    print("| idf | min_coverage | hit@1 | hit@3 | abstention | false abstention |")
    print("|---|---|---|---|---|---|")
    for idf in ("lucene", "okapi"):
        index = SearchIndex.build(docs, IndexSettings(bm25=BM25Settings(idf=idf)))
        for coverage in (0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
            report = evaluate(Answerer(index, AnswerSettings(min_coverage=coverage)), questions)
            print(
                f"| {idf} | {coverage:.2f} | {report.hit_at(1):.3f} | {report.hit_at(3):.3f} "
                f"| {report.abstention:.3f} | {report.false_abstention:.3f} |"
            )


if __name__ == "__main__":
    main()
