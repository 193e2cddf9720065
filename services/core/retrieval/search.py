"""Retrieval: one query in, the passages worth showing out, with an honest verdict on whether any is good enough.

Steps: embed the query (dense, and BM25 unless the mode is dense) -> one vector-store query with the ACL and
filters inside every branch -> cosine similarity of each hit to the question -> drop near-duplicates ->
optional MMR -> top k -> the relevance floor decides `answerable`.

The floor always reads the dense cosine similarity, whatever the mode: BM25 and RRF scores have no fixed
scale (they move with the corpus and the query length), so one calibrated threshold serves every mode.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from services.core.access.rules import ReadScope
from services.core.embedding.dense import Embedder
from services.core.embedding.sparse import SparseEncoder
from services.core.retrieval.answerability import uncovered_terms
from services.core.vectorstore.port import ScoredChunk, SearchFilters, SearchMode, SearchQuery, VectorStore

# Hits fetched before near-duplicates are dropped and MMR picks: enough to fill top_k after both.
OVERFETCH = 3
MIN_FETCH = 20
NEAREST_DOCUMENTS = 3


class IndexView(Protocol):
    """A collection and the encoder that filled it: a query must be embedded by the same one."""

    @property
    def embedder(self) -> Embedder: ...

    @property
    def store(self) -> VectorStore: ...

    @property
    def min_relevance(self) -> float | None:
        """The relevance floor on this encoder's scale; None: the configured one."""
        ...


class SearchIndex(Protocol):
    """Where searches go: pins one collection and its encoder for the length of a search (adaptation/live.py)."""

    def pinned(self) -> AbstractContextManager[IndexView]: ...


@dataclass(frozen=True)
class FixedIndex:
    """One collection and encoder that never change (tools and tests that open a store themselves)."""

    embedder: Embedder
    store: VectorStore
    min_relevance: float | None = None

    def pinned(self) -> AbstractContextManager[IndexView]:
        return contextlib.nullcontext(self)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its cosine similarity to the question (the relevance floor's scale)."""

    chunk: ScoredChunk
    similarity: float


@dataclass(frozen=True)
class NearestDocument:
    document_id: str
    title: str
    similarity: float


@dataclass(frozen=True)
class Retrieval:
    """What retrieval found. `passages` is empty only when nothing readable matched at all."""

    query: str
    mode: SearchMode
    passages: list[Passage]
    answerable: bool
    best_similarity: float | None
    nearest: list[NearestDocument] = field(default_factory=list)
    # The question's codes, numbers and names that no single retrieved document mentions (see answerability).
    uncovered: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RetrievalConfig:
    """The settings retrieval reads (services/core/settings.py documents each)."""

    default_mode: SearchMode = "hybrid"
    min_relevance: float = 0.25
    near_duplicate_similarity: float = 0.95
    mmr_lambda: float = 0.0
    # Passages a chat answer is given: coverage is judged on these whatever a search's own top_k.
    answer_top_k: int = 5


@dataclass(frozen=True)
class _Ask:
    """One retrieval request with its defaults resolved, searched once per query tried."""

    scope: ReadScope
    top_k: int
    mode: SearchMode
    filters: SearchFilters
    question: str | None  # what the user asked, when the query searched is its rewrite


class Retriever:
    """Embeds a query, searches the vector store under the caller's scope, and judges what it found."""

    def __init__(self, *, index: SearchIndex, sparse_encoder: SparseEncoder, config: RetrievalConfig) -> None:
        self._index = index
        self._sparse = sparse_encoder
        self.config = config

    def retrieve(
        self,
        query: str,
        scope: ReadScope | Sequence[str] | None,
        top_k: int,
        mode: SearchMode | None = None,
        filters: SearchFilters | None = None,
        question: str | None = None,
    ) -> Retrieval:
        """`question` is what the user asked when `query` is its rewrite; its specific terms must be covered.
        `scope` is what the principal may read (a bare list of groups, or None, is a scope without
        classification levels: callers that predate classifications, such as the retrieval bench).

        A rewrite must never make a question unanswerable that is answerable as asked (a conversation about
        something else, or pasted junk, in front of a self-contained question): then the question as asked wins."""
        if not isinstance(scope, ReadScope):
            scope = ReadScope(None if scope is None else tuple(scope), None)
        ask = _Ask(scope, top_k, mode or self.config.default_mode, filters or SearchFilters(), question)
        found = self._search(ask, query)
        if question and question != query and not found.answerable:
            as_asked = self._search(ask, question)
            if as_asked.answerable:
                return as_asked
        return found

    def _search(self, ask: _Ask, query: str) -> Retrieval:
        config = self.config
        mode, top_k = ask.mode, ask.top_k
        sparse = self._sparse.encode_query(query) if mode != "dense" else None
        with self._index.pinned() as index:  # the question embedded by the encoder of the collection searched
            floor = config.min_relevance if index.min_relevance is None else index.min_relevance
            dense = index.embedder.embed_query(query)
            hits = index.store.search(
                SearchQuery(
                    limit=max(top_k * OVERFETCH, MIN_FETCH),
                    allowed_groups=ask.scope.groups,
                    allowed_classifications=ask.scope.classifications,
                    dense=dense,
                    sparse=sparse,
                    mode=mode,
                    filters=ask.filters,
                    with_vectors=True,
                )
            )
        vectors = _unit_rows([hit.vector for hit in hits], len(dense))
        similarities = vectors @ _unit(np.asarray(dense, dtype=np.float32))
        passages = [Passage(hit, float(sim)) for hit, sim in zip(hits, similarities, strict=True)]
        keep = drop_near_duplicates(passages, vectors, config.near_duplicate_similarity)
        if config.mmr_lambda > 0:
            keep = mmr(keep, similarities, vectors, config.mmr_lambda, top_k)
        candidates = [passages[i] for i in keep]
        passages = candidates[:top_k]
        best = max((p.similarity for p in passages), default=None)
        # Coverage is judged on the passages a chat answer would be given, whatever this request's top_k,
        # so search and chat agree on what is answerable.
        shown = candidates[: config.answer_top_k]
        uncovered = uncovered_terms(ask.question or query, _texts_by_document(shown)) if shown else []
        return Retrieval(
            query=query,
            mode=mode,
            passages=passages,
            answerable=best is not None and best >= floor and not uncovered,
            best_similarity=best,
            nearest=nearest_documents(passages),
            uncovered=uncovered,
        )


def _texts_by_document(passages: Sequence[Passage]) -> list[list[str]]:
    texts: dict[str, list[str]] = {}
    for p in passages:
        texts.setdefault(p.chunk.document_id, [p.chunk.title]).extend((p.chunk.heading, p.chunk.text))
    return list(texts.values())


def drop_near_duplicates(passages: Sequence[Passage], vectors: np.ndarray, threshold: float) -> list[int]:
    """Indexes of the passages to keep: the first (best ranked) of any whose vectors are at least `threshold`
    similar or whose text is the same. A paragraph repeated across documents should not fill the context twice."""
    kept: list[int] = []
    seen_texts: set[str] = set()
    for i, passage in enumerate(passages):
        text = " ".join(passage.chunk.text.split()).lower()
        if text in seen_texts:
            continue
        if kept and float(np.max(vectors[kept] @ vectors[i])) >= threshold:
            continue
        seen_texts.add(text)
        kept.append(i)
    return kept


def mmr(candidates: Sequence[int], similarities: np.ndarray, vectors: np.ndarray, lambda_: float, k: int) -> list[int]:
    """Maximal marginal relevance: each pick maximises λ·sim(question) - (1-λ)·max sim(already picked).
    Returns every candidate, the k picks first."""
    pool = list(candidates)
    picked: list[int] = []
    while pool and len(picked) < k:
        redundancy = (
            np.max(vectors[pool] @ vectors[picked].T, axis=1) if picked else np.zeros(len(pool), dtype=np.float32)
        )
        gains = lambda_ * similarities[pool] - (1 - lambda_) * redundancy
        picked.append(pool.pop(int(np.argmax(gains))))
    return picked + pool


def nearest_documents(passages: Sequence[Passage], count: int = NEAREST_DOCUMENTS) -> list[NearestDocument]:
    """The most similar distinct documents: what "I don't know" points the user to."""
    best: dict[str, NearestDocument] = {}
    for p in passages:
        doc = best.get(p.chunk.document_id)
        if doc is None or p.similarity > doc.similarity:
            best[p.chunk.document_id] = NearestDocument(p.chunk.document_id, p.chunk.title, p.similarity)
    return sorted(best.values(), key=lambda d: d.similarity, reverse=True)[:count]


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def _unit_rows(vectors: Sequence[Sequence[float] | None], dimension: int) -> np.ndarray:
    """Hit vectors as unit rows (a hit without one gets zeros: similarity 0, never a near-duplicate)."""
    matrix = np.zeros((len(vectors), dimension), dtype=np.float32)
    for row, vector in enumerate(vectors):
        if vector is not None and len(vector) == dimension:
            matrix[row] = vector
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
