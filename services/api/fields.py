"""Field types shared by request schemas."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from services.core.llm.prompt import Turn
from services.core.vectorstore.port import SearchFilters


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    return text.strip()


# Paging of every listing. Bounded, so no number reaches the database that it cannot hold (an offset of 10^26
# once answered 500 on SQLite); no listing is longer than a million rows deep anyway.
MAX_OFFSET = 1_000_000
Limit = Annotated[int, Query(ge=1, le=500, description="how many to return (1-500)")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="how many to skip (0-1,000,000)")]

# A question or query: 1-4000 characters, not only whitespace, stripped.
QueryText = Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(_not_blank)]


class HistoryTurn(BaseModel):
    """An earlier turn of the conversation, for follow-up questions ("and in Hamburg?")."""

    role: Literal["user", "assistant"]
    content: Annotated[str, Field(max_length=8000)]


def to_turns(history: list[HistoryTurn]) -> list[Turn]:
    return [Turn(turn.role, turn.content) for turn in history]


# At most 20 earlier turns: only the last few matter for a rewrite, and the list is bounded like any input.
History = Annotated[list[HistoryTurn], Field(max_length=20)]

RetrievalMode = Literal["dense", "sparse", "hybrid"]
RewriteChoice = Literal["auto", "off", "concat", "llm"]


class SearchFilterFields(BaseModel):
    """Restrict retrieval; each given field must hold, and a list matches any of its values."""

    model_config = ConfigDict(extra="forbid")

    document_ids: Annotated[list[Annotated[str, Field(max_length=36)]], Field(max_length=100)] = []
    tags: Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=50)] = []
    source_types: Annotated[list[Annotated[str, Field(max_length=16)]], Field(max_length=20)] = Field(
        default=[], description="document formats: pdf, docx, pptx, xlsx, csv, html, md, txt, eml"
    )
    created_from: AwareDatetime | None = Field(default=None, description="documents created at or after")
    created_to: AwareDatetime | None = Field(default=None, description="documents created at or before")

    def to_filters(self) -> SearchFilters:
        return SearchFilters(
            document_ids=tuple(self.document_ids),
            tags=tuple(self.tags),
            source_types=tuple(t.lower() for t in self.source_types),
            created_from=self.created_from,
            created_to=self.created_to,
        )

    @model_validator(mode="after")
    def _ordered(self) -> SearchFilterFields:
        if self.created_from and self.created_to and self.created_from > self.created_to:
            raise ValueError("created_from is after created_to")
        return self
