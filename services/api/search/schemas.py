"""Wire shapes of retrieval-only search."""

from __future__ import annotations

from pydantic import BaseModel, Field

from services.api.fields import History, QueryText, RetrievalMode, RewriteChoice, SearchFilterFields


class SearchRequest(BaseModel):
    query: QueryText
    top_k: int = Field(default=5, ge=1, le=50)
    mode: RetrievalMode | None = Field(default=None, description="default: the server's retrieval_mode setting")
    filters: SearchFilterFields | None = None
    history: History = Field(default=[], description="earlier turns; a follow-up query is rewritten with them")
    rewrite: RewriteChoice = Field(
        default="auto", description="follow-up rewriting: auto (LLM when idle, else concat), llm, concat or off"
    )


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


class NearestDocumentOut(BaseModel):
    document_id: str
    title: str
    similarity: float


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
