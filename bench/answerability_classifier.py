"""Can a classifier trained on the corpus's own near misses tell unanswerable questions from answerable ones?
(issue 17, part 2). A probe, before anything ships.

Training data, with no labels: sentences of the indexed passages, made into queries, searched like a question.
- answerable: the sentence with some of its common words swapped for other common words (people paraphrase
  the words that carry no topic);
- near miss: the sentence with one specific term (a name, code or year) or one rare word swapped for one of the
  same kind from another document (another office, another year, another form) — the corpus then no longer
  answers it, though its topic is still there.
Features: the retriever's similarities, specific-term coverage, IDF-weighted word coverage in the retrieved
documents, and how rare the words no retrieved document mentions are. A logistic regression on them.

Scored on the eval set's single-turn questions: the decision threshold is picked on the tune half (the highest
share of unanswerable refused with <= 5% of answerable refused), and reported on the held-out half.

    .venv/bin/python bench/answerability_classifier.py [--synthetic 1500] [--seed 7]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import CORPUS, DATASET, split_of
from bench.lexical import stem as _stem
from bench.lexical import words
from services.core.retrieval.answerability import _squash, specific_terms


@dataclass(frozen=True)
class Seen:
    similarity: float
    text: str
    words: frozenset[str]


@dataclass
class Row:
    question: str
    answerable: bool
    documents: list[Seen]
    split: str = "synthetic"


class Vocabulary:
    def __init__(self, texts: list[str]) -> None:
        self.n = len(texts)
        self.df = Counter(w for t in texts for w in set(words(t)))

    def idf(self, word: str) -> float:
        return math.log((self.n + 1) / (self.df.get(word, 0) + 0.5))


FEATURES = (
    "best",
    "gap",
    "has_terms",
    "terms_missing_best",
    "terms_missing_top",
    "coverage_best",
    "coverage_top",
    "uncovered_idf_max",
    "unknown_share",
)


def features(row: Row, vocab: Vocabulary) -> list[float]:
    docs = row.documents
    best = docs[0].similarity if docs else 0.0
    second = docs[1].similarity if len(docs) > 1 else 0.0
    terms = [t for t in specific_terms(row.question) if _squash(t)]

    def missing(doc: Seen) -> float:
        hay = _squash(doc.text)
        return sum(_squash(t) not in hay for t in terms) / len(terms) if terms else 0.0

    asked = list(dict.fromkeys(words(row.question)))
    weights = {w: vocab.idf(w) for w in asked}
    total = sum(weights.values()) or 1.0

    def coverage(doc: Seen) -> float:
        return sum(weights[w] for w in asked if w in doc.words) / total

    best_doc = max(docs, key=coverage) if docs else None
    uncovered = [w for w in asked if best_doc is None or w not in best_doc.words]
    top_idf = math.log(vocab.n + 1)
    return [
        best,
        best - second,
        float(bool(terms)),
        min((missing(d) for d in docs), default=1.0),
        missing(docs[0]) if docs else 1.0,
        coverage(best_doc) if best_doc else 0.0,
        coverage(docs[0]) if docs else 0.0,
        max((weights[w] for w in uncovered), default=0.0) / top_idf,
        sum(weights[w] for w in asked if vocab.df.get(w, 0) == 0) / total,
    ]


def search(retriever, question: str) -> list[Seen]:  # type: ignore[no-untyped-def]
    found = retriever.retrieve(question, None, 10)
    by_document: dict[str, tuple[float, list[str]]] = {}
    for p in found.passages[: retriever.config.answer_top_k]:
        similarity, texts = by_document.get(p.chunk.document_id, (p.similarity, [p.chunk.title]))
        texts += [p.chunk.heading, p.chunk.text]
        by_document[p.chunk.document_id] = (max(similarity, p.similarity), texts)
    seen = [Seen(sim, " ".join(texts), frozenset(words(" ".join(texts)))) for sim, texts in by_document.values()]
    return sorted(seen, key=lambda s: s.similarity, reverse=True)


def synthesize(passages, vocab: Vocabulary, count: int, rng: random.Random) -> list[tuple[str, bool]]:  # type: ignore[no-untyped-def]
    """(query, answerable) pairs made from the passages' own sentences."""
    from services.core.adaptation.pairs import sentences

    by_doc: dict[str, list[str]] = {}
    for p in passages:
        by_doc.setdefault(p.document_id, []).extend(s for s in sentences(p.text) if 6 <= len(s.split()) <= 30)
    # Specific terms and rare words, by the documents that mention them: what a near miss swaps in.
    terms_of: dict[str, set[str]] = {}
    for doc, sents in by_doc.items():
        for s in sents:
            for t in specific_terms(s):
                terms_of.setdefault(t, set()).add(doc)
    common = [w for w, df in vocab.df.items() if df >= vocab.n * 0.02 and w.isalpha()]
    rare = [w for w, df in vocab.df.items() if 1 <= df <= 3 and w.isalpha() and len(w) >= 5]
    docs = [d for d, s in by_doc.items() if s]
    out: list[tuple[str, bool]] = []
    while len(out) < count:
        doc = rng.choice(docs)
        sentence = rng.choice(by_doc[doc])
        tokens = sentence.split()
        if len(out) % 2 == 0:  # answerable: common words paraphrased
            for i, tok in enumerate(tokens):
                w = _stem(tok.lower().strip(".,;:()"))
                if w in vocab.df and vocab.df[w] >= vocab.n * 0.02 and rng.random() < 0.3:
                    tokens[i] = rng.choice(common)
            out.append((" ".join(tokens), True))
            continue
        # near miss: one specific term, else the rarest word, swapped for one from another document
        here = [t for t in specific_terms(sentence) if t in terms_of]
        if here:
            old = rng.choice(here)
            kind = "code" if any(c.isdigit() for c in old) and any(c.isalpha() for c in old) else "other"
            pool = [
                t
                for t, where in terms_of.items()
                if doc not in where
                and t.lower() not in sentence.lower()
                and ("code" if any(c.isdigit() for c in t) and any(c.isalpha() for c in t) else "other") == kind
                and t[:1].isupper() == old[:1].isupper()
            ]
        else:
            candidates = [(vocab.idf(_stem(t.lower().strip(".,;:()"))), t) for t in tokens if t.isalpha()]
            if not candidates:
                continue
            old = max(candidates)[1]
            pool = rare
        if not pool:
            continue
        new = rng.choice(pool)
        out.append((sentence.replace(old, new, 1), False))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synthetic", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-false", type=float, default=0.05)
    args = parser.parse_args()

    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from services.core.adaptation.service import stored_passages
    from services.eval.corpus import corpus_files, ingest_corpus
    from services.eval.dataset import load_questions
    from services.eval.target import inprocess_target

    questions = [q for q in load_questions(DATASET) if not q.history]
    files = corpus_files(CORPUS)
    rng = random.Random(args.seed)
    with inprocess_target(files, generate=False) as api:
        ingest_corpus(api.client, files, show_progress=False)
        api.mark_ingested()
        assert api.runtime is not None
        retriever = api.runtime.retriever
        passages = stored_passages(api.runtime.vector_store)
        by_doc: dict[str, list[str]] = {}
        for p in passages:
            by_doc.setdefault(p.document_id, []).append(" ".join((p.title, p.heading, p.text)))
        vocab = Vocabulary([" ".join(t) for t in by_doc.values()])
        synthetic = [Row(q, a, search(retriever, q)) for q, a in synthesize(passages, vocab, args.synthetic, rng)]
        engine = {}
        evaluation = []
        for q in questions:
            evaluation.append(Row(q.question, q.answerable, search(retriever, q.question), split_of(q.id)))
            engine[q.question] = retriever.retrieve(q.question, None, 10).answerable

    x = np.array([features(r, vocab) for r in synthetic])
    y = np.array([r.answerable for r in synthetic])
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(x), y)
    print(f"synthetic_rows={len(synthetic)}")
    print(f"synthetic_accuracy={model.score(scaler.transform(x), y):.3f}")
    for name, coef in zip(FEATURES, model.coef_[0], strict=True):
        print(f"weight_{name}={coef:+.3f}")

    def scores(split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = [r for r in evaluation if r.split == split]
        p = model.predict_proba(scaler.transform(np.array([features(r, vocab) for r in rows])))[:, 1]
        return p, np.array([r.answerable for r in rows]), np.array([engine[r.question] for r in rows])

    def refused(p: np.ndarray, y: np.ndarray, eng: np.ndarray, threshold: float) -> tuple[float, float]:
        refuse = (p < threshold) | ~eng
        return float(refuse[~y].mean()), float(refuse[y].mean())

    p, y_tune, eng = scores("tune")
    best_t, best = 0.0, (-1.0, 1.0)
    for t in sorted(set(p.tolist()) | {0.0}):
        u, a = refused(p, y_tune, eng, t + 1e-9)
        if a <= args.max_false + 1e-9 and u > best[0]:
            best_t, best = t + 1e-9, (u, a)
    print(f"threshold={best_t:.4f}")
    print(f"tune_refused_unanswerable={best[0]:.3f}")
    print(f"tune_refused_answerable={best[1]:.3f}")
    print(f"tune_engine_refused_unanswerable={float((~eng)[~y_tune].mean()):.3f}")
    p, y_held, eng = scores("held_out")
    u, a = refused(p, y_held, eng, best_t)
    print(f"held_out_refused_unanswerable={u:.3f}")
    print(f"held_out_refused_answerable={a:.3f}")
    print(f"held_out_engine_refused_unanswerable={float((~eng)[~y_held].mean()):.3f}")
    print(f"held_out_engine_refused_answerable={float((~eng)[y_held].mean()):.3f}")
    print(f"held_out_unanswerable={int((~y_held).sum())}")
    print(f"held_out_answerable={int(y_held.sum())}")
    from sklearn.metrics import roc_auc_score

    for split in ("tune", "held_out"):
        p, yy, _ = scores(split)
        print(f"{split}_auc={roc_auc_score(yy, p):.3f}")
    # Each feature alone, on the tune half: 0.5 is chance, and below 0.5 it points the other way.
    rows = [r for r in evaluation if r.split == "tune"]
    single = np.array([features(r, vocab) for r in rows])
    labels = np.array([r.answerable for r in rows])
    for i, name in enumerate(FEATURES):
        print(f"tune_auc_{name}={roc_auc_score(labels, single[:, i]):.3f}")


if __name__ == "__main__":
    main()
