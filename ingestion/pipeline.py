"""Parse -> chunk -> embed what changed -> index, for one version of one document.

Incremental and idempotent by construction: a chunk's point id is derived from the document and the hash
of exactly what is embedded, so an unchanged chunk keeps its vector across versions, a retried or
duplicated run rewrites the same ids, and whatever an interrupted run stored is reused by the next one.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from ingestion import lease
from ingestion.chunk_plan import PlannedChunk, chunk_payload, chunk_row, created_at, differs, plan
from ingestion.lease import Claim, LeaseLost, Leases, NotClaimed
from ingestion.parsers import ParseLimits
from ingestion.preparation import PreparationRequest, Preparer
from ingestion.redaction import redact_chunks
from services.core.access.index import index_payload
from services.core.db.models import Chunk, Document, utcnow
from services.core.db.session import session_scope
from services.core.embedding.sparse import SparseEncoder
from services.core.errors import StewardError
from services.core.jobs.blobs import BlobStore
from services.core.pii import PiiGuard
from services.core.vectorstore.port import ChunkPoint, SparseVector, VectorStore

log = logging.getLogger(__name__)

# Texts handed to the embedder at a time: small enough for steady progress and lease renewal.
EMBED_SLICE = 64
# Where each stage starts on the progress bar (embedding fills the span up to indexing).
PROGRESS = {"parsing": 2, "chunking": 10, "embedding": 15, "indexing": 92}


# The ingestion-time injection scan (services/core/policy/screening.InjectionScanner): chunk texts and their
# vectors in, (score, most suspicious window) out.
ScanInjection = Callable[[Sequence[str], Sequence[Sequence[float]]], Sequence[tuple[float | None, str]]]


@dataclass(frozen=True)
class Outcome:
    status: str  # ready | failed | deleted | up_to_date | busy | superseded | lost
    embedded: int = 0
    reused: int = 0
    removed: int = 0


@dataclass(frozen=True)
class IngestConfig:
    """The settings ingestion reads (services/core/settings.py documents each)."""

    limits: ParseLimits
    embedding_model: str
    chunk_size_tokens: int
    chunk_overlap_tokens: int


class TextEmbedder(Protocol):
    """Embeds chunk texts: the embedding batcher, or the live index's (adaptation/live.py)."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class SentenceEmbedder(Protocol):
    """Embeds the sentences of chunk texts for the chats that will cite them (answers/sentence_vectors.py)."""

    name: str

    def encode(self, texts: Sequence[str]) -> list[bytes]: ...


class Ingestor:
    """Ingests one version of one document at a time; many threads may share one."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        leases: Leases,
        blobs: BlobStore,
        vector_store: VectorStore,
        batcher: TextEmbedder,
        sparse_encoder: SparseEncoder,
        pii: PiiGuard,
        preparer: Preparer,
        config: IngestConfig,
        scan_injection: ScanInjection | None = None,
        sentences: SentenceEmbedder | None = None,
        pin: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
    ) -> None:
        self._sessions = sessions
        self._leases = leases
        self._blobs = blobs
        self._store = vector_store
        self._batcher = batcher
        self._sparse = sparse_encoder
        self._pii = pii
        self._preparer = preparer
        self._config = config
        self._scan = scan_injection
        self._sentences = sentences
        # One index generation (collection and encoder) for a whole job, whatever switches meanwhile.
        self._pin = pin

    def ingest(self, document_id: str, owner: str) -> Outcome:
        """Ingest the document's current version. Input problems fail it for good; other errors raise."""
        with self._pin():
            return self._ingest_pinned(document_id, owner)

    def _ingest_pinned(self, document_id: str, owner: str) -> Outcome:
        try:
            claim = self._leases.claim(document_id, owner)
        except NotClaimed as refused:
            return Outcome(refused.outcome)
        try:
            return self._ingest(claim)
        except LeaseLost:
            if self._deleted(document_id):
                # Deleted while we worked: whatever we stored (staged, so never searchable) goes with it.
                self._store.delete_document(document_id)
                log.info("document %s was deleted during its ingestion; its vectors are removed", document_id)
                return Outcome("deleted")
            log.warning("lost the lease on document %s to another worker; leaving it to them", document_id)
            return Outcome("lost")
        finally:
            self._leases.forget(claim)

    def _deleted(self, document_id: str) -> bool:
        with session_scope(self._sessions) as session:
            return session.get(Document, document_id) is None

    def fail_after_retries(self, document_id: str, owner: str, reason: str) -> None:
        """A transient error outlived every retry: fail the current version as if its input were bad."""
        try:
            claim = self._leases.claim(document_id, owner)
        except NotClaimed:
            return
        try:
            self._mark_failed(claim, reason)
        finally:
            self._leases.forget(claim)

    def _ingest(self, claim: Claim) -> Outcome:
        config = self._config
        try:
            request = PreparationRequest(
                data=self._blobs.read(claim.storage_path),
                format=claim.format,
                filename=claim.filename,
                limits=config.limits,
                embedding_model=config.embedding_model,
                size_tokens=config.chunk_size_tokens,
                overlap_tokens=config.chunk_overlap_tokens,
            )
            parsed = self._preparer.parse(request)
            self._leases.renew(claim, "chunking", PROGRESS["chunking"])
            chunks = redact_chunks(self._pii, self._preparer.chunk(request, parsed))  # settings.pii_ingestion
        except StewardError as exc:
            self._mark_failed(claim, exc.message)
            return Outcome("failed")
        except FileNotFoundError:
            self._mark_failed(claim, "the uploaded original is missing from storage; upload the file again")
            return Outcome("failed")
        title = claim.title or parsed.title
        planned = plan(claim.document_id, title, chunks)
        stored = self._store.document_points(claim.document_id)
        wanted = {p.point_id for p in planned}
        fresh = [p for p in planned if p.point_id not in stored]
        reused = [p for p in planned if p.point_id in stored]
        stale = [pid for pid in stored if pid not in wanted]

        # Vectors of unchanged chunks stay; only what describes them (position, ACL, title) may need updating.
        updates = {
            p.point_id: payload
            for p in reused
            if differs(stored[p.point_id], payload := chunk_payload(claim, title, p))
        }
        self._store.set_payloads(updates)
        self._refresh_sparse(claim, reused, stored)
        sentences = self._embed(claim, title, fresh)
        sentences.update(self._reused_sentences(claim.document_id, reused))

        # Vanished chunks go before the commit: a crash in between leaves the document unfinished, and the
        # next attempt (which reuses every stored vector) completes it; never a ready document with extras.
        # Deleting on a lost lease would remove another worker's vectors, so the lease is checked first; with
        # nothing to delete (every first version) `_finish` checks it anyway, and a transaction a document is
        # saved (short documents are mostly such bookkeeping: docs/ingestion.md).
        self._leases.renew(claim, "indexing", PROGRESS["indexing"], force=bool(stale))
        self._store.delete_points(stale)
        outcome = Outcome("ready", embedded=len(fresh), reused=len(reused), removed=len(stale))
        return self._finish(claim, title, planned, outcome, sentences)

    def _refresh_sparse(
        self, claim: Claim, reused: Sequence[PlannedChunk], stored: Mapping[str, Mapping[str, Any]]
    ) -> None:
        """Reused chunks indexed before sparse vectors existed, or by another encoder, get the current one's.

        BM25 needs no model pass (well under a millisecond a chunk), so this is cheap even for a whole document."""
        encoder = self._sparse
        vectors: dict[str, SparseVector] = {
            p.point_id: encoder.encode_document(p.text)
            for p in reused
            if stored[p.point_id].get("sparse_model") != encoder.version
        }
        if vectors:
            self._store.set_sparse_vectors(vectors, encoder.version)
            log.info("document %s: sparse vectors refreshed for %d reused chunks", claim.document_id, len(vectors))

    def _reused_sentences(self, document_id: str, reused: Sequence[PlannedChunk]) -> dict[str, tuple[bytes, str]]:
        """The sentence vectors of unchanged chunks: kept from their rows when the current encoder made them,
        else embedded now (chunks ingested before sentence vectors existed get them with the next version)."""
        if self._sentences is None or not reused:
            return {}
        name = self._sentences.name
        with self._sessions() as session:
            kept = {
                chunk_id: (blob, name)
                for chunk_id, blob in session.execute(
                    select(Chunk.id, Chunk.sentence_vectors).where(
                        Chunk.document_id == document_id, Chunk.sentence_encoder == name
                    )
                )
                if blob is not None
            }
        missing = [p for p in reused if p.point_id not in kept]
        blobs = self._sentences.encode([p.chunk.text for p in missing]) if missing else []
        found = {p.point_id: kept[p.point_id] for p in reused if p.point_id in kept}
        found.update((p.point_id, (blob, name)) for p, blob in zip(missing, blobs, strict=True))
        return found

    def _embed(self, claim: Claim, title: str, fresh: Sequence[PlannedChunk]) -> dict[str, tuple[bytes, str]]:
        """Embeds and stores (staged) the new chunks; returns their sentences' vectors, for their rows."""
        self._leases.renew(claim, "embedding", PROGRESS["embedding"])
        span = PROGRESS["indexing"] - PROGRESS["embedding"]
        encoder = self._sparse
        sentences: dict[str, tuple[bytes, str]] = {}
        for start in range(0, len(fresh), EMBED_SLICE):
            batch = fresh[start : start + EMBED_SLICE]
            vectors = self._batcher.embed([p.text for p in batch])
            if self._sentences is not None:
                # The chunk's text as a chat's prompt shows it (no title or heading path): what its check reads.
                blobs = self._sentences.encode([p.chunk.text for p in batch])
                sentences.update(
                    (p.point_id, (blob, self._sentences.name)) for p, blob in zip(batch, blobs, strict=True)
                )
            # Scanned for prompt injection as the model will read it: the chunk's text, with its own vector.
            scans = self._scan([p.chunk.text for p in batch], vectors) if self._scan else [(None, "")] * len(batch)
            self._store.upsert(
                [
                    ChunkPoint(
                        id=p.point_id,
                        vector=vector,
                        document_id=claim.document_id,
                        chunk_index=p.chunk.index,
                        groups=claim.groups,
                        title=title,
                        heading=p.chunk.heading,
                        text=p.chunk.text,
                        text_hash=p.chunk.text_hash,
                        location=p.chunk.location,
                        # Keywords of exactly what was embedded: title and heading path included.
                        sparse=encoder.encode_document(p.text),
                        sparse_model=encoder.version,
                        tags=claim.tags,
                        source_type=claim.format,
                        created_at=created_at(claim),
                        classification=claim.classification,
                        # Found by no search until the version is ready (see _finish).
                        state="staged",
                        injection_score=score,
                        injection_window=window,
                    )
                    for p, vector, (score, window) in zip(batch, vectors, scans, strict=True)
                ]
            )
            done = start + len(batch)
            self._leases.renew(claim, "embedding", PROGRESS["embedding"] + span * done // len(fresh))
        return sentences

    def _finish(
        self,
        claim: Claim,
        title: str,
        planned: Sequence[PlannedChunk],
        outcome: Outcome,
        sentences: Mapping[str, tuple[bytes, str]],
    ) -> Outcome:
        """Chunk rows, statistics and the ready status land in one transaction: never half a document."""
        with session_scope(self._sessions) as session:
            document = lease.hold(session, claim)
            job = lease.current_job(session, claim.document_id, claim.version)
            lease.release(session, document)
            job.finished_at = utcnow()
            if document.version != claim.version:
                # A newer upload arrived mid-way; its job (already queued) reconciles from what we stored.
                job.status = "superseded"
                document.status, document.stage, document.progress = "queued", "queued", 0
                return Outcome("superseded", outcome.embedded, outcome.reused, outcome.removed)
            session.execute(delete(Chunk).where(Chunk.document_id == claim.document_id))
            if planned:  # one executemany, not an ORM object per chunk
                session.execute(
                    insert(Chunk),
                    [chunk_row(claim.document_id, p, sentences.get(p.point_id, (None, ""))) for p in planned],
                )
            if document.title == claim.title:  # unless an admin retitled it meanwhile (PATCH)
                document.title = title[:500]
            # The version goes live with the access the row has now, under its lock: an access change made
            # while it was being ingested is in force from its first searchable moment.
            self._store.set_document_payload(claim.document_id, index_payload(document))
            document.status, document.stage, document.progress = "ready", "done", 100
            document.chunk_count, document.indexed_version, document.error = len(planned), claim.version, None
            job.status, job.error = "succeeded", None
            job.chunks_embedded, job.chunks_reused = outcome.embedded, outcome.reused
            job.chunks_removed = outcome.removed
        log.info(
            "document %s v%d ready: %d chunks (%d embedded, %d reused, %d removed)",
            claim.document_id,
            claim.version,
            len(planned),
            outcome.embedded,
            outcome.reused,
            outcome.removed,
        )
        return outcome

    def _mark_failed(self, claim: Claim, reason: str) -> None:
        """Record why this version failed. The version indexed before it, if any, stays searchable as it was."""
        with session_scope(self._sessions) as session:
            document = lease.hold(session, claim)
            keep = set(session.scalars(select(Chunk.id).where(Chunk.document_id == claim.document_id)))
            # Whatever this attempt stored beyond the indexed version goes; a document is never half-indexed.
            stored = self._store.document_points(claim.document_id)
            self._store.delete_points([pid for pid in stored if pid not in keep])
            job = lease.current_job(session, claim.document_id, claim.version)
            job.status, job.error, job.finished_at = "failed", reason, utcnow()
            lease.release(session, document)
            if document.indexed_version:
                document.status, document.stage, document.progress = "ready", "done", 100
                document.error = (
                    f"version {claim.version} failed: {reason}; version {document.indexed_version} is still indexed"
                )
            else:
                document.status, document.stage, document.error, document.chunk_count = "failed", "failed", reason, 0
        log.warning("document %s v%d failed: %s", claim.document_id, claim.version, reason)
