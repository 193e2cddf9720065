"""The gate a new generation must pass before it goes live: it may not rank worse than the live one.

Scored on questions the training never saw: the held-out documents' pairs (pairs.split_by_document) and, when
the company has one, its own evaluation set. nDCG@10 over documents (each at its best chunk), in the mode
searches use, and dense alone (where an encoder change shows undiluted)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.core.embedding.sparse import SparseEncoder
from services.core.vectorstore.port import SearchMode, SearchQuery, VectorStore

# A new generation may lose this much nDCG and still pass: below it, differences are noise of a few questions.
TOLERANCE = 0.005


@dataclass(frozen=True)
class GateQuestion:
    query: str
    relevant: frozenset[str]  # document ids


@dataclass(frozen=True)
class GateScore:
    ndcg10: float
    ndcg10_dense: float
    questions: int
    # Each question's best dense similarity (None: no hit), in order: where the relevance floor is carried
    # over from (floor.py).
    best_dense: tuple[float | None, ...] = ()


def score(
    questions: Sequence[GateQuestion],
    *,
    store: VectorStore,
    embed_query: Callable[[str], list[float]],
    sparse_encoder: SparseEncoder,
    mode: SearchMode,
) -> GateScore:
    if not questions:
        return GateScore(float("nan"), float("nan"), 0)
    total = {mode: 0.0, "dense": 0.0}
    best: list[float | None] = []
    for question in questions:
        dense = embed_query(question.query)
        sparse = sparse_encoder.encode_query(question.query)
        for m in total:
            hits = store.search(SearchQuery(limit=50, allowed_groups=None, dense=dense, sparse=sparse, mode=m))
            total[m] += ndcg10([h.document_id for h in hits], question.relevant)
            if m == "dense":
                best.append(float(hits[0].score) if hits else None)
    n = len(questions)
    return GateScore(total[mode] / n, total["dense"] / n, n, tuple(best))


def ndcg10(ranked_documents: Sequence[str], relevant: frozenset[str]) -> float:
    ranked: list[str] = []
    for document_id in ranked_documents:
        if document_id not in ranked:
            ranked.append(document_id)
        if len(ranked) == 10:
            break
    dcg = sum(1 / math.log2(k + 2) for k, d in enumerate(ranked) if d in relevant)
    ideal = sum(1 / math.log2(k + 2) for k in range(min(len(relevant), 10)))
    return dcg / ideal if ideal else 0.0


def passes(before: GateScore, after: GateScore) -> bool:
    """No worse in the searched mode; with no question to judge by, nothing switches."""
    if not before.questions or math.isnan(after.ndcg10):
        return False
    return after.ndcg10 >= before.ndcg10 - TOLERANCE
