"""The server's wire shapes, as the client reads and sends them (the contract: tests/data/openapi.json).

Every answer model allows extra fields, so a newer server that adds one does not break an older client. For the
same reason, values the server may grow (a document's stage, an answer's mode) are typed `str`, and the values
known today are listed in a comment rather than a `Literal` that would reject a new one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class WireModel(BaseModel):
    """A shape the server answers with: unknown fields are kept, not refused."""

    model_config = ConfigDict(extra="allow")


# Documents


class Document(WireModel):
    id: str
    source: str | None = None
    title: str
    filename: str
    format: str
    content_type: str
    size_bytes: int
    groups: list[str]
    classification: str  # public, internal, confidential, restricted
    tags: list[str] = []
    status: str  # queued, processing, ready, failed
    stage: str  # queued, parsing, chunking, embedding, indexing, done, failed
    progress: int
    version: int
    indexed_version: int
    chunk_count: int
    error: str | None = None
    created_by: str | None = None
    updated_by: str | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def settled(self) -> bool:
        """Failed, or ready at the uploaded version (or ready at an older one because the new one failed):
        nothing more will happen to it without someone acting."""
        if self.status == "failed":
            return True
        return self.status == "ready" and (self.indexed_version == self.version or bool(self.error))


class UploadedDocument(Document):
    """The document an upload made or found; `queued` is False when the identical file was already there."""

    queued: bool


class DocumentList(WireModel):
    documents: list[Document]
    total: int
    limit: int
    offset: int


# Search


class SearchHit(WireModel):
    """A retrieved passage and the document it comes from."""

    document_id: str
    title: str
    heading: str
    chunk_index: int
    score: float  # the ranking score of the mode: cosine (dense), BM25 (sparse) or RRF (hybrid)
    similarity: float  # cosine similarity to the query, the scale of the relevance floor
    text: str
    location: dict[str, str | int] = {}  # page, slide, sheet or attachment


class NearestDocument(WireModel):
    document_id: str
    title: str
    similarity: float


class SearchResult(WireModel):
    query: str  # the query actually searched (a follow-up rewritten)
    rewrite: str  # none, off, concat or llm
    mode: str  # dense, sparse or hybrid
    answerable: bool
    best_similarity: float | None = None
    uncovered_terms: list[str] = []
    nearest: list[NearestDocument] = []
    results: list[SearchHit]


# Chat


class Passage(WireModel):
    """One passage of a cited document, as the model was given it."""

    heading: str
    chunk_index: int
    text: str
    location: dict[str, str | int] = {}


class Citation(SearchHit):
    """One cited document; `[n]` in the answer refers to `source` n. The hit fields describe its best passage."""

    source: int
    locations: list[dict[str, str | int]] = []
    passages: list[Passage] = []


class Sentence(WireModel):
    """The grounding verdict on one sentence of a generated answer."""

    index: int
    text: str
    supported: bool
    reason: str
    cited: list[int] = []
    source: int | None = None
    shown: bool = True


class Usage(WireModel):
    """Model tokens of the answer (0 when no model ran; None when the model server did not say)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class ChatAnswer(WireModel):
    conversation_id: str
    message_id: str | None = None  # give_feedback() rates the answer by it
    answer: str
    mode: str  # generated, extractive, refused, not_found
    citations: list[Citation]
    sentences: list[Sentence] = []
    refused: bool
    answered_from_sources: bool
    nearest: list[NearestDocument] = []
    generated: bool
    prompt_version: str
    usage: Usage | None = None
    grounding: dict[str, int | bool] | None = None


# The chat stream: one model per SSE event, told apart by `event` (the SSE event name).


class MetaEvent(WireModel):
    """First: the conversation and the sources the model was given, under the prompt's numbers."""

    event: Literal["meta"] = "meta"
    conversation_id: str
    sources: list[Citation] = []


class TokenEvent(WireModel):
    """A piece of the answer text, to append to what came before."""

    event: Literal["token"] = "token"
    text: str


class SentenceEvent(Sentence):
    """The grounding verdict on a finished sentence."""

    event: Literal["sentence"] = "sentence"


class DoneEvent(ChatAnswer):
    """Last, on success: the whole answer, exactly as chat() returns it."""

    event: Literal["done"] = "done"


class ErrorDetail(WireModel):
    code: str
    message: str


class ErrorEvent(WireModel):
    """Last, on failure: chat_stream() raises it as the typed error instead of yielding it."""

    event: Literal["error"] = "error"
    error: ErrorDetail


ChatEvent = Annotated[MetaEvent | TokenEvent | SentenceEvent | DoneEvent | ErrorEvent, Field(discriminator="event")]


# Admin: jobs, the index, feedback


class Job(WireModel):
    id: str
    document_id: str
    filename: str
    version: int
    status: str  # queued, running, retrying, succeeded, failed, superseded
    attempts: int
    error: str | None = None
    chunks_embedded: int = 0
    chunks_reused: int = 0
    chunks_removed: int = 0
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class JobList(WireModel):
    jobs: list[Job]
    total: int
    limit: int
    offset: int


class IndexDrift(WireModel):
    """Where the vector index disagrees with the database (counts of points, except `missing_chunks`)."""

    points_scanned: int
    documents_checked: int
    orphan_points: int
    acl_drift_points: int
    stale_staged_points: int
    extra_points: int
    missing_chunks: int
    drift: int
    repaired: bool
    examples: dict[str, list[str]] = {}


class IndexGeneration(WireModel):
    """A vector collection and the encoder that filled it; searches use the `live` one."""

    id: str
    model: str
    collection: str
    state: str
    points: int
    error: str | None = None
    min_relevance: float | None = None  # the relevance floor on this encoder's scale; None: the configured one
    report: dict[str, Any] = {}
    created_at: datetime
    switched_at: datetime | None = None


class TuneJob(WireModel):
    """A tuning in the server: `state` running, done or failed; `stage` pairs, training, reindex or gate."""

    state: str
    stage: str
    progress: float
    started_at: datetime
    finished_at: datetime | None = None
    outcome: dict[str, Any] = {}
    error: str | None = None


class Backup(WireModel):
    """A backup archive the server wrote into its backup folder (POST /v1/admin/backups)."""

    name: str
    path: str
    size_bytes: int
    created_at: datetime
    documents: int | None = None
    rows: int | None = None
    points: int | None = None
    uploads: int | None = None
    seconds: float | None = None


class Feedback(WireModel):
    id: str
    message_id: str
    rating: str  # up, down
    comment: str = ""
    created_at: datetime


# What the client sends


RetrievalMode = Literal["dense", "sparse", "hybrid"]
RewriteChoice = Literal["auto", "off", "concat", "llm"]
Priority = Literal["interactive", "batch"]
Rating = Literal["up", "down"]


class HistoryTurn(BaseModel):
    """An earlier turn, for callers that keep the conversation themselves (the server takes the last 20)."""

    role: Literal["user", "assistant"]
    content: str


class SearchFilters(BaseModel):
    """Restrict retrieval; each given field must hold, and a list matches any of its values."""

    model_config = ConfigDict(extra="forbid")

    document_ids: list[str] = []
    tags: list[str] = []
    source_types: list[str] = []  # pdf, docx, pptx, xlsx, csv, html, md, txt, eml
    created_from: datetime | None = None  # timezone-aware
    created_to: datetime | None = None
