"""Wire shapes of chat."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from services.api.fields import History, QueryText, RetrievalMode, RewriteChoice, SearchFilterFields
from services.api.search.schemas import SearchHit


class ChatRequest(BaseModel):
    question: QueryText
    conversation_id: str | None = Field(default=None, max_length=36)
    stream: bool = False
    top_k: int = Field(default=5, ge=1, le=20)
    mode: RetrievalMode | None = Field(default=None, description="default: the server's retrieval_mode setting")
    filters: SearchFilterFields | None = None
    history: History = Field(default=[], description="earlier turns, for callers that keep the conversation themselves")
    rewrite: RewriteChoice = Field(
        default="auto", description="follow-up rewriting: auto (LLM when idle, else concat), llm, concat or off"
    )
    priority: Literal["interactive", "batch"] | None = Field(
        default=None,
        description="batch requests are shed first when the model server is saturated; "
        "default: batch for app keys, interactive for people",
    )


class Citation(SearchHit):
    """A numbered source the answer was given; `[n]` in the answer refers to `source` n."""

    source: int
    # Described as they were before citations shared SearchHit's fields (the OpenAPI snapshot keeps them).
    score: float
    similarity: float = Field(description="cosine similarity to the question, the relevance floor's scale")


class ChatResponse(BaseModel):
    conversation_id: str
    answer: str
    citations: list[Citation]
    refused: bool = Field(description="a policy rule answered instead of the model")
    answered_from_sources: bool = Field(description="false when nothing relevant was found and no model ran")
    nearest: list[dict[str, str | float]] = Field(
        default=[], description='with an "I don\'t know" answer: the closest documents the caller may read'
    )
    generated: bool = Field(description="true when the answer text came from the language model")
    prompt_version: str
    grounding: dict[str, int | bool] | None = Field(
        default=None,
        description="the grounding check of a generated answer: sentences checked, unsupported, removed, flagged, "
        "invalid_citations (markers naming a source not in the context, removed) and fell_back (nothing "
        'supported was left: the answer is "I don\'t know")',
    )
