"""The live index: which collection and encoder searches and ingestion use right now.

Every process holds one LiveIndex. It reads the live generation from the database (records.py) at most once a
`check_every_s`, so a switch made by any process reaches all of them within that time, with no restart.

- A search pins one generation for its whole length (`pinned()`): its question is embedded by the same encoder
  that embedded the collection it searches, whatever switches meanwhile. Nothing ever mixes two encoders.
- An ingestion job pins one too: it embeds and writes with one generation from start to end. A job that started
  before a switch finishes on the old one; the build's final catch-up and the reconciler carry its chunks over.
- Writes go through a barrier that a switch closes for its last catch-up pass, so in this process no write
  lands in the old collection between that pass and the switch.

The LiveIndex is itself a VectorStore (every call goes to the live generation's store), so everything that
writes access changes, deletes or repairs the index needs no change to follow a switch."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from services.core.adaptation import records
from services.core.adaptation.records import GenerationRef
from services.core.db.session import session_scope
from services.core.embedding.batcher import EmbeddingBatcher
from services.core.embedding.dense import Embedder
from services.core.errors import Conflict
from services.core.vectorstore.port import (
    ChunkPoint,
    ScoredChunk,
    SearchQuery,
    SparseVector,
    StoredPoint,
    VectorStore,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Generation:
    """One collection and the encoder that filled it, opened."""

    ref: GenerationRef
    store: VectorStore
    embedder: Embedder
    # Ingestion's way to the encoder: pools texts of concurrently ingested documents (embedding/batcher.py).
    batcher: EmbeddingBatcher

    @property
    def model(self) -> str:
        return self.ref.model

    @property
    def collection(self) -> str:
        return self.ref.collection

    @property
    def min_relevance(self) -> float | None:
        """The relevance floor on this encoder's scale; None: the configured one."""
        return self.ref.min_relevance


# Opens a generation's store (its collection created if missing) and encoder.
GenerationOpener = Callable[[GenerationRef], Generation]


class _WriteBarrier:
    """Many writers at once, or one switch: a switch waits for writes in flight and holds new ones back."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._writers = 0
        self._closed = False

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._closed)
            self._writers += 1
        try:
            yield
        finally:
            with self._cond:
                self._writers -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def closed(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._closed)
            self._closed = True
            self._cond.wait_for(lambda: self._writers == 0)
        try:
            yield
        finally:
            with self._cond:
                self._closed = False
                self._cond.notify_all()


class LiveIndex:
    """The live generation of this process, and every generation it has opened (kept until close())."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        base: Generation,
        open_generation: GenerationOpener,
        open_store: Callable[[str], VectorStore],
        check_every_s: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._base = base.ref
        self._open_generation = open_generation
        self._open_store = open_store
        self._check_every_s = check_every_s
        self._opened: dict[str, Generation] = {base.collection: base}
        self.base_store = base.store
        self._live = base
        self._next_check = 0.0
        self._lock = threading.Lock()
        self._pins = threading.local()
        self._barrier = _WriteBarrier()

    @property
    def base(self) -> GenerationRef:
        """The installation's first collection and the shipped encoder (what no generation row means)."""
        return self._base

    def current(self) -> Generation:
        """The generation this thread pinned, else the live one (re-read from the database when due)."""
        pinned = getattr(self._pins, "generation", None)
        if pinned is not None:
            return pinned
        if time.monotonic() >= self._next_check:
            try:
                self.refresh()
            except SQLAlchemyError:
                # The database is down: searches go on with the generation last seen live (a switch needs the
                # database, so none can have happened unseen for longer than the outage), and retry next check.
                log.warning("cannot read the live index generation; keeping %s", self._live.collection)
                self._next_check = time.monotonic() + self._check_every_s
        return self._live

    def refresh(self) -> Generation:
        """Read the live generation now; open it if this process has not yet."""
        with session_scope(self._sessions) as session:
            ref = records.live_ref(session, self._base)
        with self._lock:
            if ref != self._live.ref:
                self._live = self._generation_locked(ref)
            self._next_check = time.monotonic() + self._check_every_s
            return self._live

    def generation(self, ref: GenerationRef) -> Generation:
        """A generation opened once per process (an embedded shard admits one holder), live or not."""
        with self._lock:
            return self._generation_locked(ref)

    def _generation_locked(self, ref: GenerationRef) -> Generation:
        opened = self._opened.get(ref.collection)
        if opened is None:
            opened = self._opened[ref.collection] = self._open_generation(ref)
        elif opened.ref != ref:  # the same collection and encoder; its row (id, floor) is newer than we knew
            opened = self._opened[ref.collection] = dataclasses.replace(opened, ref=ref)
        return opened

    @contextlib.contextmanager
    def pinned(self) -> Iterator[Generation]:
        """Use one generation for everything this thread does inside (nested pins keep the outer one)."""
        outer = getattr(self._pins, "generation", None)
        generation = outer or self.current()
        self._pins.generation = generation
        try:
            yield generation
        finally:
            self._pins.generation = outer

    @contextlib.contextmanager
    def writes_paused(self) -> Iterator[None]:
        """Hold back this process's writes (they wait, they do not fail) while a switch completes."""
        with self._barrier.closed():
            yield

    def made_live(self, ref: GenerationRef) -> None:
        """This process switched: use the new generation at once, without waiting for the next check."""
        with self._lock:
            self._live = self._generation_locked(ref)
            self._next_check = time.monotonic() + self._check_every_s

    def forget(self, collection: str, *, drop: bool = False) -> None:
        """Close a generation this process will not use again (a rejected one), and with `drop` delete its
        collection; never the live one or the base one."""
        with self._lock:
            if collection in (self._live.collection, self._base.collection):
                return
            generation = self._opened.pop(collection, None)
        if generation is not None:
            _close(generation, keep=self._opened.get(self._base.collection), drop=drop)

    def discard(self, collection: str) -> None:
        """Delete a collection no generation will use (a crashed build's), opened here or not."""
        with self._lock:
            if collection in (self._live.collection, self._base.collection):
                return
            opened = collection in self._opened
        if opened:
            self.forget(collection, drop=True)
            return
        try:
            self._open_store(collection).drop()
        except Exception:  # held by a process still running: its files stay, the row already says failed
            log.warning("could not delete the abandoned collection %s", collection, exc_info=True)

    # Ingestion embeds through the live index like through an EmbeddingBatcher.
    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.current().batcher.embed(texts)

    # --- VectorStore: every call goes to the current generation's store --------------------------------------
    def ensure_collection(self, dimension: int) -> None:
        self.current().store.ensure_collection(dimension)

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        with self._barrier.write():
            self.current().store.upsert(points)

    def search(self, query: SearchQuery) -> list[ScoredChunk]:
        return self.current().store.search(query)

    def delete_document(self, document_id: str) -> None:
        with self._barrier.write():
            self.current().store.delete_document(document_id)

    def document_points(self, document_id: str) -> dict[str, dict[str, Any]]:
        return self.current().store.document_points(document_id)

    def set_payloads(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        with self._barrier.write():
            self.current().store.set_payloads(updates)

    def set_document_payload(self, document_id: str, payload: Mapping[str, Any]) -> None:
        with self._barrier.write():
            self.current().store.set_document_payload(document_id, payload)

    def scan(self, batch: int = 1000) -> Iterator[tuple[str, dict[str, Any]]]:
        return self.current().store.scan(batch)

    def export_points(self, batch: int = 256) -> Iterator[StoredPoint]:
        return self.current().store.export_points(batch)

    def points(self, ids: Sequence[str]) -> list[StoredPoint]:
        return self.current().store.points(ids)

    def import_points(self, points: Sequence[StoredPoint]) -> None:
        with self._barrier.write():
            self.current().store.import_points(points)

    def set_sparse_vectors(self, vectors: Mapping[str, SparseVector], model: str) -> None:
        with self._barrier.write():
            self.current().store.set_sparse_vectors(vectors, model)

    def delete_points(self, ids: Sequence[str]) -> None:
        with self._barrier.write():
            self.current().store.delete_points(ids)

    def count(self, document_id: str | None = None) -> int:
        return self.current().store.count(document_id)

    def optimize(self) -> bool:
        return self.current().store.optimize()

    def drop(self) -> None:
        """Never: the live collection is what searches use (a rejected generation is dropped by forget())."""
        raise Conflict("the live index cannot be dropped; switch to another generation first")

    def close(self) -> None:
        """Close every generation but the base one, whose store and encoder the runtime closes."""
        with self._lock:
            opened, self._opened = dict(self._opened), {}
        base = opened.pop(self._base.collection, None)
        for generation in opened.values():
            _close(generation, keep=base)


def _close(generation: Generation, *, keep: Generation | None, drop: bool = False) -> None:
    if drop:
        generation.store.drop()
    else:
        generation.store.close()
    if keep is None or generation.embedder is not keep.embedder:
        generation.batcher.close()
        generation.embedder.close()
