"""Wire shapes of the documents API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.core.access.principals import Caller

DocumentStatus = Literal["queued", "processing", "ready", "failed"]


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    source: str | None
    title: str
    filename: str
    format: str
    content_type: str
    size_bytes: int
    groups: list[str]
    classification: str
    tags: list[str]
    status: DocumentStatus
    stage: Literal["queued", "parsing", "chunking", "embedding", "indexing", "done", "failed"]
    progress: int
    version: int
    indexed_version: int
    chunk_count: int
    error: str | None
    created_by: str | None
    updated_by: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def seen_by(cls, document: object, caller: Caller) -> DocumentOut:
        """The document as `caller` may see it: a reader learns only the groups of their own it is shared with,
        not the others' names, and not which admins uploaded it."""
        out = cls.model_validate(document)
        if caller.role == "admin":
            return out
        shared = sorted(set(out.groups) & set(caller.groups))
        return out.model_copy(update={"groups": shared, "created_by": None, "updated_by": None})


class DocumentUpdate(BaseModel):
    """PATCH body: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    groups: list[Annotated[str, Field(max_length=100)]] | None = Field(
        default=None, max_length=50, description="the groups allowed to read it (replaces the current ones)"
    )
    classification: Literal["public", "internal", "confidential", "restricted"] | None = None
    tags: list[Annotated[str, Field(max_length=100)]] | None = Field(default=None, max_length=50)
    title: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _something(self) -> DocumentUpdate:
        if self.groups is None and self.classification is None and self.tags is None and self.title is None:
            raise ValueError("give at least one of groups, classification, tags or title")
        return self


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    total: int
    limit: int
    offset: int


class DocumentVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    filename: str
    size_bytes: int
    sha256: str
    uploaded_by: str | None
    uploaded_at: datetime

    @classmethod
    def seen_by(cls, version: object, caller: Caller) -> DocumentVersionOut:
        out = cls.model_validate(version)
        return out if caller.role == "admin" else out.model_copy(update={"uploaded_by": None})
