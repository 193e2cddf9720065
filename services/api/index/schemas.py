"""Wire shapes of the index consistency report."""

from __future__ import annotations

from pydantic import BaseModel, Field


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
