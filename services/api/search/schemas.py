"""Wire shapes of retrieval-only search."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=4000)
    top_k: int = Field(default=5, ge=1, le=50)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, query: str) -> str:
        if not query.strip():
            raise ValueError("query must not be blank")
        return query.strip()


class SearchHit(BaseModel):
    document_id: str
    title: str
    heading: str
    chunk_index: int
    score: float
    text: str


class SearchResponse(BaseModel):
    results: list[SearchHit]
