"""The vector-store port: what retrieval and ingestion need from a vector database, nothing more."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

# dense: cosine similarity of the embedding; sparse: BM25 over the "bm25" sparse vector;
# hybrid: both, fused by reciprocal rank fusion inside the engine.
SearchMode = Literal["dense", "sparse", "hybrid"]
SEARCH_MODES: tuple[SearchMode, ...] = ("dense", "sparse", "hybrid")
PointState = Literal["live", "staged"]

# Candidates each branch hands to fusion when the caller does not say: deep enough that a chunk one branch
# ranks well but the other misses still reaches the fusion (see SearchQuery.candidates).
MIN_CANDIDATES = 50
CANDIDATES_PER_RESULT = 4


@dataclass(frozen=True)
class SparseVector:
    """Non-zero dimensions of a sparse vector (BM25 term weights); indices are unique."""

    indices: tuple[int, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.indices) != len(self.values):
            raise ValueError("a sparse vector needs exactly one value per index")


@dataclass(frozen=True)
class ChunkPoint:
    """One embedded chunk as stored: its id is deterministic (document id + content hash + occurrence)."""

    id: str
    vector: Sequence[float]
    document_id: str
    chunk_index: int
    groups: Sequence[str]
    title: str
    heading: str
    text: str
    text_hash: str
    location: Mapping[str, Any] = field(default_factory=dict)
    sparse: SparseVector | None = None
    # Which encoder made `sparse` (SparseEncoder.version); stored so re-indexing can spot missing or stale ones.
    sparse_model: str = ""
    tags: Sequence[str] = ()
    source_type: str = ""  # the document's format: pdf, docx, md, html, eml, ...
    created_at: float | None = None  # the document's creation time, epoch seconds (a numeric range filter)
    # The document's classification (services/core/access/rules.py): searches carry the levels a principal may read.
    classification: str = "internal"
    # `staged` while its version is being ingested: stored, but no search finds it until the version is ready
    # and the point is made `live` with the document's access at that moment (ingestion/pipeline.py).
    state: PointState = "live"
    # The learned injection detector's windowed score, taken at ingestion (services/core/policy/screening.py
    # InjectionScanner), and the sentence or lines that scored highest; None when the chunk was not scanned.
    injection_score: float | None = None
    injection_window: str = ""


@dataclass(frozen=True)
class StoredPoint:
    """A point exactly as the engine holds it (vectors and raw payload): what a backup carries from one
    store to another, of either adapter, without re-embedding or re-deriving anything."""

    id: str
    dense: Sequence[float]
    sparse: SparseVector | None
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class ScoredChunk:
    """A search hit: the stored chunk payload and its score (higher is better).

    What the score means depends on the mode: cosine similarity (dense), BM25 with IDF (sparse, unbounded),
    or the reciprocal-rank-fusion score (hybrid: rank-based, at most about 1.1; see plan.RRF_K). Only dense
    scores are comparable across questions, e.g. against a relevance floor."""

    id: str
    score: float
    document_id: str
    chunk_index: int
    title: str
    heading: str
    text: str
    groups: tuple[str, ...] = field(default_factory=tuple)
    location: Mapping[str, Any] = field(default_factory=dict)
    # The stored dense vector, when the query asked for it (SearchQuery.with_vectors): lets the caller measure
    # a hit's cosine similarity to the question in any mode, and compare hits with each other.
    vector: Sequence[float] | None = None
    # What the ingestion-time injection scan found (ChunkPoint.injection_score); None when not scanned.
    injection_score: float | None = None
    injection_window: str = ""


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions a caller adds to a search; every given one must hold, each matches any of its values.

    `created_from` and `created_to` are inclusive; a naive datetime is taken as UTC (like the database)."""

    document_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    source_types: tuple[str, ...] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None


@dataclass(frozen=True)
class SearchQuery:
    """One search. `allowed_groups=None` means unrestricted (admin); an empty list means nothing is readable.
    `allowed_classifications` likewise: None unrestricted, else only chunks of documents classified at one of
    these levels (services/core/access/rules.py; both ACL conditions go into every branch of the query).

    `dense` is needed for dense and hybrid, `sparse` for sparse and hybrid. An empty sparse vector (a query of
    stopwords) finds nothing in sparse mode and leaves hybrid with its dense branch alone.
    `candidates` is how many hits each branch of a hybrid search hands to fusion (0: max(4 * limit, 50)).
    `with_vectors` returns each hit's dense vector (ScoredChunk.vector)."""

    limit: int
    allowed_groups: Sequence[str] | None
    dense: Sequence[float] | None = None
    sparse: SparseVector | None = None
    mode: SearchMode = "dense"
    filters: SearchFilters = field(default_factory=SearchFilters)
    candidates: int = 0
    with_vectors: bool = False
    allowed_classifications: Sequence[str] | None = None

    def __post_init__(self) -> None:
        if self.mode not in SEARCH_MODES:
            raise ValueError(f"unknown search mode {self.mode!r}; choose one of {', '.join(SEARCH_MODES)}")
        if self.limit < 1:
            raise ValueError("a search needs a limit of at least 1")
        if self.mode in ("dense", "hybrid") and self.dense is None:
            raise ValueError(f"a {self.mode} search needs the dense query vector")
        if self.mode in ("sparse", "hybrid") and self.sparse is None:
            raise ValueError(f"a {self.mode} search needs the sparse query vector")
        if self.candidates <= 0:
            object.__setattr__(self, "candidates", max(CANDIDATES_PER_RESULT * self.limit, MIN_CANDIDATES))
        elif self.candidates < self.limit:
            object.__setattr__(self, "candidates", self.limit)


class VectorStore(Protocol):
    """Stores chunk vectors with an ACL payload; every adapter must pass tests/contract/test_vectorstore.py."""

    def ensure_collection(self, dimension: int) -> None:
        """Create the collection if missing (cosine dense vector + "bm25" sparse vector with IDF) and its payload
        indexes; idempotent. A collection from before sparse vectors gets the sparse vector added in place."""

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        """Insert or overwrite points by id, so re-running an ingestion never duplicates."""

    def search(self, query: SearchQuery) -> list[ScoredChunk]:
        """The best chunks for the query, best first. The ACL (`allowed_groups`, `allowed_classifications`) and
        the filters are part of
        the query itself, in every branch of it: never applied to results afterwards."""

    def delete_document(self, document_id: str) -> None:
        """Remove every point of a document; a no-op when there is none."""

    def document_points(self, document_id: str) -> dict[str, dict[str, Any]]:
        """Every stored point of a document: id -> payload without the text (for incremental re-indexing)."""

    def set_payloads(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        """Merge the given payload fields into existing points, by id; vectors are untouched."""

    def set_document_payload(self, document_id: str, payload: Mapping[str, Any]) -> None:
        """Merge the given payload fields into every point of a document, in one operation (by filter): how an
        access change reaches all of a document's chunks at once, with no re-embedding."""

    def scan(self, batch: int = 1000) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every stored point (id, payload without the text), a page at a time: for the reconciler."""

    def export_points(self, batch: int = 256) -> Iterator[StoredPoint]:
        """Every stored point with its vectors and whole payload, a page at a time (for backups)."""

    def points(self, ids: Sequence[str]) -> list[StoredPoint]:
        """The points with these ids, with vectors and whole payload; unknown ids are left out. For copying a
        few points (a re-index's catch-up) without reading the whole collection."""

    def import_points(self, points: Sequence[StoredPoint]) -> None:
        """Insert or overwrite points exactly as exported (ensure_collection() first); idempotent by id."""

    def set_sparse_vectors(self, vectors: Mapping[str, SparseVector], model: str) -> None:
        """Give existing points (by id) a new sparse vector made by encoder `model`; dense vectors are untouched.
        For points indexed before sparse vectors existed, or by an older encoder."""

    def delete_points(self, ids: Sequence[str]) -> None:
        """Remove points by id; unknown ids are ignored."""

    def count(self, document_id: str | None = None) -> int:
        """Exact number of points, overall or of one document."""

    def optimize(self) -> bool:
        """Build pending indexes now (HNSW, payload) if the engine does not do it by itself; True if it did work.
        Searches keep working while it runs."""

    def drop(self) -> None:
        """Delete the whole collection and its files, then close: for an index generation no one will use
        (a rejected or removed re-index). Never called on the live collection."""

    def close(self) -> None:
        """Release files and connections (Qdrant Edge holds an exclusive WAL lock until then)."""
