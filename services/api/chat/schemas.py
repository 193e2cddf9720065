"""Wire shapes of chat."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from services.api.fields import QueryText


class ChatRequest(BaseModel):
    question: QueryText
    conversation_id: str | None = Field(default=None, max_length=36)
    stream: bool = False
    top_k: int = Field(default=5, ge=1, le=20)
    priority: Literal["interactive", "batch"] | None = Field(
        default=None,
        description="batch requests are shed first when the model server is saturated; "
        "default: batch for app keys, interactive for people",
    )


class Citation(BaseModel):
    """A numbered source the answer was given; `[n]` in the answer refers to `source` n."""

    source: int
    document_id: str
    title: str
    heading: str
    chunk_index: int
    score: float
    text: str
    location: dict[str, str | int] = Field(
        default_factory=dict, description="where in the file: page, slide, sheet or attachment"
    )


class ChatResponse(BaseModel):
    conversation_id: str
    answer: str
    citations: list[Citation]
    refused: bool = Field(description="a policy rule answered instead of the model")
    answered_from_sources: bool = Field(description="false when nothing relevant was found and no model ran")
    generated: bool = Field(description="true when the answer text came from the language model")
    prompt_version: str
