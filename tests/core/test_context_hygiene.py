"""Context hygiene on retrieved passages: near-duplicates dropped, MMR trading relevance for variety."""

from __future__ import annotations

import numpy as np
import pytest

from services.core.retrieval.search import Passage, drop_near_duplicates, mmr, nearest_documents
from services.core.vectorstore import ScoredChunk


def passage(n: int, document_id: str, text: str, similarity: float) -> Passage:
    chunk = ScoredChunk(
        id=str(n),
        score=similarity,
        document_id=document_id,
        chunk_index=n,
        title=f"T {document_id}",
        heading="",
        text=text,
    )
    return Passage(chunk, similarity)


def unit(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_near_duplicates_keep_only_the_best_ranked_copy() -> None:
    passages = [
        passage(0, "a", "Reset your password in the portal.", 0.9),
        passage(1, "b", "Reset   your password in the PORTAL.", 0.85),  # same text, other spacing and case
        passage(2, "c", "Badges are blocked by Facilities.", 0.8),
        passage(3, "d", "Reset the password from the portal page.", 0.7),  # nearly the same vector as 0
    ]
    vectors = np.stack([unit(1, 0, 0), unit(0.2, 1, 0), unit(0, 0, 1), unit(1, 0.05, 0)])
    assert drop_near_duplicates(passages, vectors, threshold=0.95) == [0, 2]
    assert drop_near_duplicates(passages, vectors, threshold=1.0) == [0, 2, 3]


def test_mmr_prefers_a_different_passage_over_a_redundant_one() -> None:
    vectors = np.stack([unit(1, 0, 0), unit(1, 0.1, 0), unit(0, 1, 0)])
    similarities = np.asarray([0.9, 0.88, 0.7], dtype=np.float32)
    assert mmr([0, 1, 2], similarities, vectors, lambda_=0.5, k=2) == [0, 2, 1]
    assert mmr([0, 1, 2], similarities, vectors, lambda_=1.0, k=2) == [0, 1, 2]  # pure relevance


def test_nearest_documents_are_distinct_and_best_first() -> None:
    passages = [passage(0, "a", "x", 0.3), passage(1, "b", "y", 0.5), passage(2, "a", "z", 0.6)]
    assert [(d.document_id, d.similarity) for d in nearest_documents(passages)] == [("a", 0.6), ("b", 0.5)]


def test_the_question_as_asked_wins_when_its_rewrite_is_unanswerable(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.core.retrieval import search as retrieval

    calls: list[str] = []
    retriever = retrieval.Retriever(
        index=None,  # type: ignore[arg-type]
        sparse_encoder=None,  # type: ignore[arg-type]
        config=retrieval.RetrievalConfig(),
    )

    def fake(ask: object, query: str) -> retrieval.Retrieval:
        calls.append(query)
        answerable = query == "as asked"
        return retrieval.Retrieval(query, "hybrid", [], answerable, 0.5 if answerable else 0.1)

    monkeypatch.setattr(retriever, "_search", fake)
    found = retriever.retrieve("rewritten", None, 5, "hybrid", question="as asked")
    assert (found.query, found.answerable, calls) == ("as asked", True, ["rewritten", "as asked"])
    calls.clear()
    monkeypatch.setattr(
        retriever, "_search", lambda ask, query: fake(ask, "as asked" if query == "rewritten" else query)
    )
    assert retriever.retrieve("rewritten", None, 5, "hybrid", question="as asked").answerable
    assert calls == ["as asked"]  # an answerable rewrite is used without a second search
