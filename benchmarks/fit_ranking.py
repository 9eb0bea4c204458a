"""Fit the span model and the refusal model (bot/core/ranking.py) and write
bot/core/weights.json. Run from the repository root:

    python benchmarks/fit_ranking.py [--data benchmarks/data/squad-a] [--dry-run]

Span model: per answerable question, a softmax over every candidate window of the passages
BM25 found; the windows holding a gold answer (from the gold article) are right. Refusal
model: logistic regression, questions about the corpus (squad-a's answerable questions and the
project's own answerable questions) against questions it does not answer (squad-a's
off-corpus questions and the project's own unanswerable ones). The threshold is the highest
that keeps false refusals of answerable questions at or under --max-false-refusal.

Both are checked first by leave-one-article-out cross-validation (the models never see the
article they are scored on), so the printed estimates are honest about questions and
documents nobody here wrote. Everything is done twice: with the semantic features from the
contextual encoder and from the static word vectors (bot/core/ranking.py says when each is
used).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.core.answers import Answerer
from bot.core.corpus import default_corpus_dir, load_folder
from bot.core.evaluate import EvalQuestion, holds_answer, load_question_set
from bot.core.index import SearchIndex
from bot.core.ranking import (
    REFUSAL_FEATURES,
    SPAN_FEATURES,
    WEIGHTS_FILE,
    LinearModel,
    Models,
    Weights,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
L2 = 1e-3
OWN_SHARE = 0.05  # share of the refusal model's training weight given to the own questions


@dataclass
class Asked:
    """One question's candidates, labelled."""

    group: str  # the article (or set) it belongs to, for cross-validation
    answerable: bool
    x: np.ndarray  # candidate windows' span features
    y: np.ndarray  # which windows hold a gold answer
    cands: object


def placeholder() -> Weights:
    """Weights that score every window 0: only the features are read while fitting."""
    zero = {"intercept": 0.0}
    m = len(SPAN_FEATURES)
    span = LinearModel(
        features=list(SPAN_FEATURES), mean=[0.0] * m, scale=[1.0] * m, coef=[0.0] * m, **zero
    )
    n = len(REFUSAL_FEATURES)
    refusal = LinearModel(
        features=list(REFUSAL_FEATURES), mean=[0.0] * n, scale=[1.0] * n, coef=[0.0] * n, **zero
    )
    models = Models(span=span, refusal=refusal, threshold=0.5)
    return Weights(contextual=models, static=models)


def collect(answerer: Answerer, questions: list[EvalQuestion], group: str | None) -> list[Asked]:
    out = []
    for q in questions:
        cands = answerer.candidates(q.text)
        y = np.asarray(
            [holds_answer(q, w.doc.id, w.doc.text[w.start : w.end]) for w in cands.windows],
            dtype=bool,
        )
        out.append(Asked(group or q.doc_id or q.kind, q.answerable, cands.features, y, cands))
    return out


def standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    return mean, scale


def fit_span(rows: list[Asked]) -> LinearModel:
    """Listwise softmax over each question's windows (Adam on the mean log-likelihood of
    the right windows)."""
    rows = [r for r in rows if r.answerable and r.y.any() and len(r.y) > 1]
    x = np.concatenate([r.x for r in rows])
    y = np.concatenate([r.y for r in rows]).astype(np.float64)
    starts = np.cumsum([0] + [len(r.y) for r in rows])[:-1]
    sizes = np.asarray([len(r.y) for r in rows])
    mean, scale = standardise(x)
    z = (x - mean) / scale
    w = np.zeros(z.shape[1])
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for step in range(1, 1501):
        s = z @ w
        s = s - np.repeat(np.maximum.reduceat(s, starts), sizes)
        e = np.exp(s)
        p = e / np.repeat(np.add.reduceat(e, starts), sizes)
        pos = p * y
        r = pos / np.repeat(np.add.reduceat(pos, starts), sizes)
        grad = z.T @ (p - r) / len(rows) + L2 * w
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        w -= 0.05 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return LinearModel(
        features=list(SPAN_FEATURES),
        mean=mean.round(6).tolist(),
        scale=scale.round(6).tolist(),
        coef=w.round(6).tolist(),
    )


def refusal_rows(answerer: Answerer, rows: list[Asked], span: LinearModel):
    xs, ys, keep = [], [], []
    for r in rows:
        if not len(r.y):
            keep.append(False)
            continue
        scores = span.score(r.x)
        order = list(np.argsort(-scores, kind="stable"))
        xs.append(answerer.refusal_features(r.cands, scores, order))
        ys.append(r.answerable)
        keep.append(True)
    return np.asarray(xs), np.asarray(ys, dtype=np.float64), np.asarray(keep)


def fit_logistic(x: np.ndarray, y: np.ndarray, own: int = 0) -> LinearModel:
    """Logistic regression by Newton's method, classes weighted equally. The last ``own``
    rows (the project's own questions, a different kind of corpus) weigh OWN_SHARE of the
    whole, so the model is not calibrated to Wikipedia alone."""
    mean, scale = standardise(x)
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    cw = np.where(y > 0, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    if own:
        cw[-own:] *= OWN_SHARE * (len(y) - own) / ((1 - OWN_SHARE) * own)
    w = np.zeros(z.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(z @ w, -60, 60)))
        grad = z.T @ (cw * (p - y)) / len(y) + L2 * np.r_[w[:-1], 0]
        h = (z * (cw * p * (1 - p))[:, None]).T @ z / len(y) + L2 * np.eye(len(w))
        step = np.linalg.solve(h, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return LinearModel(
        features=list(REFUSAL_FEATURES),
        mean=mean.round(6).tolist(),
        scale=scale.round(6).tolist(),
        coef=w[:-1].round(6).tolist(),
        intercept=round(float(w[-1]), 6),
    )


def threshold_for(probs: np.ndarray, answerable: np.ndarray, max_false: float) -> float:
    """The highest probability threshold refusing at most ``max_false`` of answerable ones."""
    pos = np.sort(probs[answerable > 0])
    return float(pos[int(np.floor(max_false * len(pos)))]) if len(pos) else 0.5


def probabilities(model: LinearModel, x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(model.score(x), -60, 60)))


def hit_at_1(rows: list[Asked], span: LinearModel) -> float:
    """Share of answerable questions whose best window holds the answer (before refusal)."""
    ans = [r for r in rows if r.answerable]
    return sum(bool(len(r.y)) and bool(r.y[int(np.argmax(span.score(r.x)))]) for r in ans) / len(
        ans
    )


def fit_models(
    contextual: bool,
    squad_index: SearchIndex,
    own_index: SearchIndex,
    questions: list[EvalQuestion],
    off: list[EvalQuestion],
    own_questions: list[EvalQuestion],
    args: argparse.Namespace,
) -> Models:
    kind = "contextual" if contextual else "static"
    squad = Answerer(squad_index, weights=placeholder(), contextual=contextual)
    rows = collect(squad, [q for q in questions if q.answerable], None)
    off_rows = collect(squad, off, "off-corpus")
    # The project's own questions about the default corpus (news articles): a second kind of
    # document and of question, so the refusal model is not fitted to one corpus alone.
    own = Answerer(own_index, weights=placeholder(), contextual=contextual)
    own_rows = collect(own, own_questions, "own")

    # Leave-one-article-out: span model hit@1 and refusal rates on the held-out article.
    articles = [] if args.no_cv else sorted({r.group for r in rows})
    print(f"{kind} vectors, leave-one-article-out (fitted without the article scored on):")
    print("| held-out article | questions | hit@1 | false refusals | off-corpus refused |")
    print("|---|---|---|---|---|")
    totals = np.zeros(4)
    off_groups = np.arange(len(off_rows)) % max(len(articles), 1)
    for n, article in enumerate(articles):
        train = [r for r in rows if r.group != article]
        test = [r for r in rows if r.group == article]
        span = fit_span(train + own_rows)
        off_train = [r for i, r in enumerate(off_rows) if off_groups[i] != n]
        off_test = [r for i, r in enumerate(off_rows) if off_groups[i] == n]
        x, y, _ = refusal_rows(squad, train + off_train, span)
        ox, oy, _ = refusal_rows(own, own_rows, span)
        refusal = fit_logistic(np.vstack([x, ox]), np.r_[y, oy], own=len(oy))
        t = threshold_for(probabilities(refusal, x), y, args.max_false_refusal)
        tx, _ty, keep = refusal_rows(squad, test, span)
        fx, _, fkeep = refusal_rows(squad, off_test, span)
        false_ref = (np.sum(probabilities(refusal, tx) < t) + np.sum(~keep)) / len(test)
        off_ref = (np.sum(probabilities(refusal, fx) < t) + np.sum(~fkeep)) / len(off_test)
        h1 = hit_at_1(test, span)
        totals += [len(test), h1 * len(test), false_ref * len(test), off_ref * len(off_test)]
        print(f"| {article} | {len(test)} | {h1:.3f} | {false_ref:.3f} | {off_ref:.3f} |")
    if articles:
        print(
            f"| all | {int(totals[0])} | {totals[1] / totals[0]:.3f} | {totals[2] / totals[0]:.3f} "
            f"| {totals[3] / len(off_rows):.3f} |\n"
        )

    span = fit_span(rows + own_rows)
    x, y, _ = refusal_rows(squad, rows + off_rows, span)
    ox, oy, _ = refusal_rows(own, own_rows, span)
    refusal = fit_logistic(np.vstack([x, ox]), np.r_[y, oy], own=len(oy))
    threshold = threshold_for(probabilities(refusal, x), y, args.max_false_refusal)
    print(f"{kind} span model (standardised coefficients):")
    for name, c in zip(span.features, span.coef, strict=True):
        print(f"  {name:18} {c:+.3f}  {SPAN_FEATURES[name]}")
    print(f"{kind} refusal model (standardised coefficients):")
    for name, c in zip(refusal.features, refusal.coef, strict=True):
        print(f"  {name:18} {c:+.3f}  {REFUSAL_FEATURES[name]}")
    print(f"  threshold {threshold:.4f}; fitted-set hit@1 {hit_at_1(rows, span):.3f}\n")
    return Models(span=span, refusal=refusal, threshold=round(threshold, 4))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=HERE / "data" / "squad-a")
    ap.add_argument("--max-false-refusal", type=float, default=0.04)
    ap.add_argument("--dry-run", action="store_true", help="print, do not write weights.json")
    ap.add_argument("--no-cv", action="store_true", help="skip the cross-validation")
    args = ap.parse_args()

    squad_index = SearchIndex.build(list(load_folder(args.data / "corpus").documents))
    own_index = SearchIndex.build(load_folder(default_corpus_dir()).documents)
    if not (squad_index.contextual and own_index.contextual):
        raise SystemExit("the corpora must be small enough for contextual vectors")
    questions = load_question_set(args.data / "questions.json").question
    off = load_question_set(args.data / "off_corpus.json").question
    own_questions = load_question_set(ROOT / "tests/data/dev_questions.toml").question
    fitted = {
        kind: fit_models(
            kind == "contextual", squad_index, own_index, questions, off, own_questions, args
        )
        for kind in ("contextual", "static")
    }
    weights = Weights(
        **fitted,
        fitted_on="squad-a (answerable + off_corpus) and tests/data/dev_questions.toml, "
        f"by benchmarks/fit_ranking.py, max false refusal {args.max_false_refusal}",
    )
    if not args.dry_run:
        WEIGHTS_FILE.write_text(json.dumps(weights.model_dump(), indent=1) + "\n")
        print(f"wrote {WEIGHTS_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
