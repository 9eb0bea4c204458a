"""Answer-quality floors on public data (benchmarks/data/squad-a), just under the figures
`python benchmarks/answer_quality.py` measured when the ranking and refusal models were fitted:
no later change (to analysis, ranking or the engine) may lower answer quality silently."""

from pathlib import Path

import pytest

from bot.core.answers import Answerer
from bot.core.corpus import load_folder
from bot.core.evaluate import evaluate, load_question_set
from bot.core.index import SearchIndex

SQUAD = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "squad-a"


@pytest.fixture(scope="module")
def squad() -> Answerer:
    loaded = load_folder(SQUAD / "corpus")
    assert not loaded.issues and len(loaded.documents) == 8
    return Answerer(SearchIndex.build(loaded.documents))


def test_squad_a_answers_and_refusals_hold_their_floors(squad):
    answerable = [q for q in load_question_set(SQUAD / "questions.json").question if q.answerable]
    off_corpus = load_question_set(SQUAD / "off_corpus.json").question
    report = evaluate(squad.answer, answerable + off_corpus)
    # measured 2026-12-06: hit@1 0.822, hit@3 0.907, off-corpus refused 0.979, false 0.040
    assert report.hit_at(1) >= 0.815
    assert report.hit_at(3) >= 0.90
    assert report.refused("off-corpus") >= 0.96
    assert report.false_abstention <= 0.05


def test_the_question_set_formats_load_alike(tmp_path):
    qs = load_question_set(SQUAD / "questions.json").question
    assert any(q.kind == "impossible" and not q.answerable for q in qs)
    assert all(q.doc_id for q in qs if q.answerable)
    bad = tmp_path / "bad.json"
    bad.write_text('{"questions": [{"answers": ["x"]}]}')
    with pytest.raises(ValueError, match=r"bad\.json: not a SQuAD-style question set"):
        load_question_set(bad)
    with pytest.raises(ValueError, match=r"missing\.toml: cannot read question set"):
        load_question_set(tmp_path / "missing.toml")
