"""Wire shapes of the index consistency report and of index generations (tuned encoders)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DriftOut(BaseModel):
    """Where the vector index and the database disagree: counts of points, except `missing_chunks`."""

    points_scanned: int
    documents_checked: int = Field(description="documents looked at again under their row lock")
    orphan_points: int = Field(description="points of documents that no longer exist")
    acl_drift_points: int = Field(description="points whose groups or classification differ from their document's")
    stale_staged_points: int = Field(description="points of a version no ingestion is working on any more")
    extra_points: int = Field(description="live points that are not one of their document's chunks")
    missing_chunks: int = Field(description="chunks of ready documents with no point in the index")
    drift: int = Field(description="the sum of the five above: 0 when the index agrees with the database")
    repaired: bool
    examples: dict[str, list[str]] = Field(description="up to 20 document ids per kind of drift")


class GenerationOut(BaseModel):
    """A collection and the encoder that filled it; searches use the `live` one."""

    id: str
    model: str
    collection: str
    state: str = Field(description="building | live | retired | rejected | failed")
    points: int
    error: str | None
    min_relevance: float | None = Field(
        description="the relevance floor on this encoder's scale; null: the configured one (STEWARD_MIN_RELEVANCE)"
    )
    report: dict[str, Any]
    created_at: datetime
    switched_at: datetime | None


class GateQuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=2000)
    relevant: list[str] = Field(
        min_length=1, max_length=20, description="the documents that answer it: ids or sources (stable names)"
    )


class TuneIn(BaseModel):
    """How to tune; the defaults fit ~1,000 documents in about 10 minutes on 2 cores."""

    model_config = ConfigDict(extra="forbid")

    max_pairs: int = Field(6000, ge=16, le=200_000, description="training pairs at most")
    epochs: int = Field(1, ge=1, le=10)
    learning_rate: float = Field(2e-5, gt=0, le=1e-3)
    time_budget_s: float = Field(600, gt=0, le=86_400, description="training stops here, keeping what it learned")
    held_out: float = Field(0.15, ge=0.05, le=0.5, description="share of documents kept out of training, to judge by")
    switch: bool = Field(True, description="build an index generation with the new encoder, switch if it is no worse")
    generated_questions: int = Field(
        0,
        ge=0,
        le=20_000,
        description="ask the configured LLM for a question about each of this many passages (drawn at random) and "
        "train on them too; pays with an instruction-tuned model (docs/adaptation.md). 0: none",
    )
    questions: list[GateQuestionIn] = Field(
        default_factory=list,
        max_length=2000,
        description="your own labelled questions for the gate (better than the default, held-out documents' "
        "sentences); keep some out to report on, they must not judge their own tuning",
    )


class TuneJobOut(BaseModel):
    state: str = Field(description="running | done | failed")
    stage: str
    progress: float
    started_at: datetime
    finished_at: datetime | None
    outcome: dict[str, Any]
    error: str | None


class RollbackOut(BaseModel):
    model: str
    generation_id: str | None
    state: str
    report: dict[str, Any]
