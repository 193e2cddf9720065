"""Wire shapes of retrieval-only search."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, Field

from services.api.fields import History, QueryText, RetrievalMode, RewriteChoice, SearchFilterFields
from services.core.retrieval.search import NearestDocument, Passage


class SearchRequest(BaseModel):
    query: QueryText
    top_k: int = Field(default=5, ge=1, le=50)
    mode: RetrievalMode | None = Field(default=None, description="default: the server's retrieval_mode setting")
    filters: SearchFilterFields | None = None
    history: History = Field(default=[], description="earlier turns; a follow-up query is rewritten with them")
    rewrite: RewriteChoice | None = Field(
        default=None,
        description="follow-up rewriting: auto (LLM when idle, else concat), llm, concat or off; "
        "default: the server's rewrite_mode setting",
    )


# A retrieved passage; a chat citation is the same thing with a number (services/api/chat/schemas.py).
# (A comment, not a docstring: the docstring would become the schema's description in /openapi.json.)
class SearchHit(BaseModel):
    document_id: str
    title: str
    heading: str
    chunk_index: int
    score: float = Field(description="the ranking score of the mode: cosine (dense), BM25 (sparse) or RRF (hybrid)")
    similarity: float = Field(description="cosine similarity to the query, the scale of the relevance floor")
    text: str
    location: dict[str, str | int] = Field(
        default_factory=dict, description="where in the file: page, slide, sheet or attachment"
    )

    @classmethod
    def of(cls, passage: Passage, text: str | None = None, **extra: Any) -> Self:
        """The wire form of a retrieved passage; `text` replaces its own (a redacted copy, say)."""
        chunk = passage.chunk
        return cls(
            document_id=chunk.document_id,
            title=chunk.title,
            heading=chunk.heading,
            chunk_index=chunk.chunk_index,
            score=round(chunk.score, 6),
            similarity=round(passage.similarity, 6),
            text=chunk.text if text is None else text,
            location=dict(chunk.location),
            **extra,
        )


class NearestDocumentOut(BaseModel):
    document_id: str
    title: str
    similarity: float

    @classmethod
    def of(cls, nearest: NearestDocument) -> NearestDocumentOut:
        return cls(document_id=nearest.document_id, title=nearest.title, similarity=round(nearest.similarity, 6))


class SearchResponse(BaseModel):
    query: str = Field(description="the query actually searched (the question rewritten when it was a follow-up)")
    rewrite: str = Field(description="how the query was made: none, off, concat or llm")
    mode: RetrievalMode
    answerable: bool = Field(description="false when no result reaches the relevance floor")
    best_similarity: float | None
    uncovered_terms: list[str] = Field(
        description="codes, numbers or names in the query that no retrieved document mentions (then not answerable)"
    )
    nearest: list[NearestDocumentOut]
    results: list[SearchHit]
