"""Wire shapes of retrieval-only search."""

from __future__ import annotations

from pydantic import BaseModel, Field

from services.api.fields import QueryText


class SearchRequest(BaseModel):
    query: QueryText
    top_k: int = Field(default=5, ge=1, le=50)


class SearchHit(BaseModel):
    document_id: str
    title: str
    heading: str
    chunk_index: int
    score: float
    text: str
    location: dict[str, str | int] = Field(
        default_factory=dict, description="where in the file: page, slide, sheet or attachment"
    )


class SearchResponse(BaseModel):
    results: list[SearchHit]
