"""Can term coverage or word coverage tell unanswerable questions from answerable ones? A probe (issue 17, part 2).

For each single-turn eval question of one split (default: the tune half; the held-out half was never looked at),
the retriever's passages as a chat answer would get them, then two families of signals:

- term coverage: the question's specific terms (codes, years, names: services/core/retrieval/answerability.py)
  found in the *top* document, or in any document whose similarity is within δ of the best;
- word coverage: the share of the question's content words, weighted by IDF over the corpus files, found in the
  best-covering retrieved document.

Prints `name=value` per rule: unanswerable and answerable questions refused, counting what the retriever refuses
already. Reuses `steward eval`'s cached ingested corpus.

    .venv/bin/python bench/answerability_probe.py [--split tune]
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import CORPUS, DATASET, split_of
from bench.lexical import words as _words
from services.core.retrieval.answerability import _squash, specific_terms


@dataclass(frozen=True)
class Seen:
    similarity: float
    text: str


@dataclass(frozen=True)
class Row:
    answerable: bool
    engine_answerable: bool
    question: str
    terms: list[str]
    best: float
    documents: list[Seen]  # retrieved documents in rank order


def collect(split: str) -> list[Row]:
    from services.eval.corpus import corpus_files, ingest_corpus
    from services.eval.dataset import load_questions
    from services.eval.target import inprocess_target

    questions = [q for q in load_questions(DATASET) if not q.history and split_of(q.id) == split]
    files = corpus_files(CORPUS)
    rows = []
    with inprocess_target(files, generate=False) as api:
        ingest_corpus(api.client, files, show_progress=False)
        api.mark_ingested()
        assert api.runtime is not None
        retriever = api.runtime.retriever
        for q in questions:
            found = retriever.retrieve(q.question, None, 10)
            by_document: dict[str, tuple[float, list[str]]] = {}
            for p in found.passages[: retriever.config.answer_top_k]:
                similarity, texts = by_document.get(p.chunk.document_id, (p.similarity, []))
                texts += [p.chunk.title, p.chunk.heading, p.chunk.text]
                by_document[p.chunk.document_id] = (max(similarity, p.similarity), texts)
            documents = [Seen(sim, " ".join(texts)) for sim, texts in by_document.values()]
            terms = [t for t in specific_terms(q.question) if _squash(t)]
            best = max((d.similarity for d in documents), default=0.0)
            rows.append(Row(q.answerable, found.answerable, q.question, terms, best, documents))
    return rows


def covers(row: Row, document: Seen) -> bool:
    haystack = _squash(document.text)
    return all(_squash(t) in haystack for t in row.terms)


def within(delta: float) -> Callable[[Row], bool]:
    """Some document within `delta` of the best similarity names every specific term."""
    return lambda r: any(covers(r, d) and d.similarity >= r.best - delta for d in r.documents)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("tune", "held_out"), default="tune")
    args = parser.parse_args()
    rows = collect(args.split)
    corpus = [set(_words(p.read_text(errors="ignore"))) for p in CORPUS.rglob("*") if p.is_file()]
    df = Counter(w for words in corpus for w in words)

    def idf(word: str) -> float:
        return math.log((len(corpus) + 1) / (df.get(word, 0) + 0.5))

    def word_coverage(row: Row) -> float:
        asked = list(dict.fromkeys(_words(row.question)))
        total = sum(idf(w) for w in asked) or 1.0
        return max((sum(idf(w) for w in asked if w in set(_words(d.text))) / total for d in row.documents), default=0)

    rules = {
        "any_document": lambda r: any(covers(r, d) for d in r.documents),
        "top_document": lambda r: bool(r.documents) and covers(r, r.documents[0]),
        **{
            f"within_{delta}": (
                lambda r, delta=delta: any(covers(r, d) and d.similarity >= r.best - delta for d in r.documents)
            )
            for delta in (0.01, 0.02, 0.05, 0.1)
        },
        **{f"words_{floor}": (lambda r, floor=floor: word_coverage(r) >= floor) for floor in (0.3, 0.5, 0.7)},
    }
    answerable = [r for r in rows if r.answerable]
    unanswerable = [r for r in rows if not r.answerable]
    print(f"split={args.split}")
    print(f"answerable={len(answerable)}")
    print(f"unanswerable={len(unanswerable)}")
    for name, keeps in rules.items():
        for label, group in (("unanswerable", unanswerable), ("answerable", answerable)):
            refused = sum(
                not r.engine_answerable or ((bool(r.terms) or name.startswith("words")) and not keeps(r)) for r in group
            )
            print(f"refused_{label}_{name}={refused / max(len(group), 1):.3f}")


if __name__ == "__main__":
    main()
