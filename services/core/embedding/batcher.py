"""Pools the texts of documents being ingested concurrently into full passes for every encoder replica.

One document rarely has enough chunks for an efficient forward pass; a bulk load has thousands. Worker
threads hand their texts here and block. One feeder thread per encoder replica takes the next pass from
the shared pool whenever its replica is free — continuous batching, as vLLM does for tokens — so no
replica waits for another's pass to finish, and a document's texts may be spread over several passes.

Measured (bench/ingest.py, docs/ingestion.md): the previous design encoded one window at a time, split in
passes of 32; a window of 44 texts became passes of 32 and 12, and the replicas sat idle half the time.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future, InvalidStateError
from typing import Protocol

log = logging.getLogger(__name__)


class PassEncoder(Protocol):
    """What the batcher drives: `replicas` encoders that may run `encode_pass` side by side."""

    @property
    def replicas(self) -> int: ...

    batch_size: int

    def encode_pass(self, texts: list[str]) -> list[list[float]]: ...


class _Request:
    """One caller's texts; its future resolves when the last of its texts is encoded."""

    def __init__(self, count: int) -> None:
        self.future: Future[list[list[float]]] = Future()
        self.vectors: list[list[float] | None] = [None] * count
        self.remaining = count


class _Item:
    __slots__ = ("index", "request", "seq", "text")

    def __init__(self, seq: int, request: _Request, index: int, text: str) -> None:
        self.seq, self.request, self.index, self.text = seq, request, index, text


class EmbeddingBatcher:
    """Thread-safe: `embed` may be called from any number of threads; each replica encodes on its own."""

    def __init__(self, encoder: PassEncoder, linger_s: float = 0.005) -> None:
        self._encoder = encoder
        self._pass_size = encoder.batch_size
        self._linger_s = linger_s  # a short wait lets texts of documents parsed a moment later fill a pass
        self._pending: list[_Item] = []
        self._seq = itertools.count()
        self._changed = threading.Condition()
        self._closed = False
        self._feeders = [
            threading.Thread(target=self._feed, name=f"steward-embedding-feeder-{n}", daemon=True)
            for n in range(max(1, encoder.replicas))
        ]
        for feeder in self._feeders:
            feeder.start()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors for `texts`, in order; blocks until all are encoded. Raises what the model raised."""
        if not texts:
            return []
        request = _Request(len(texts))
        with self._changed:
            if self._closed:
                raise RuntimeError("the embedding batcher is closed")
            self._pending.extend(_Item(next(self._seq), request, i, text) for i, text in enumerate(texts))
            self._changed.notify_all()
        return request.future.result()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            orphans, self._pending = self._pending, []
            self._changed.notify_all()
        for item in orphans:
            _fail(item.request, RuntimeError("the embedding batcher closed"))
        for feeder in self._feeders:
            feeder.join(timeout=30)

    def _feed(self) -> None:
        while True:
            batch = self._next_pass()
            if batch is None:
                return
            self._encode(batch)

    def _next_pass(self) -> list[_Item] | None:
        with self._changed:
            while not self._pending and not self._closed:
                self._changed.wait()
            if self._closed:
                return None
            if len(self._pending) < self._pass_size:
                self._changed.wait(self._linger_s)
                if self._closed or not self._pending:
                    return None if self._closed else []
            return self._take_pass()

    def _take_pass(self) -> list[_Item]:
        """The pass holding the oldest waiting text, made of texts of similar length.

        Length order keeps padding low within a pass (as one big `encode` call does); anchoring on the
        oldest text means a long text never starves behind a stream of shorter ones.
        """
        pending = self._pending
        if len(pending) <= self._pass_size:
            self._pending = []
            return pending
        by_length = sorted(pending, key=lambda item: (len(item.text), item.seq))
        oldest = min(range(len(by_length)), key=lambda i: by_length[i].seq)
        start = max(0, min(oldest - self._pass_size // 2, len(by_length) - self._pass_size))
        batch = by_length[start : start + self._pass_size]
        self._pending = by_length[:start] + by_length[start + self._pass_size :]
        return batch

    def _encode(self, batch: list[_Item]) -> None:
        if not batch:
            return
        try:
            vectors = self._encoder.encode_pass([item.text for item in batch])
        except BaseException as exc:  # every caller with a text in this pass must learn of it, or block forever
            for item in batch:
                _fail(item.request, exc)
            return
        with self._changed:  # requests span passes on several feeders
            finished = []
            for item, vector in zip(batch, vectors, strict=True):
                request = item.request
                request.vectors[item.index] = vector
                request.remaining -= 1
                if request.remaining == 0:
                    finished.append(request)
        for request in finished:
            # A failed pass of the same request, or close(), may have resolved it first.
            with contextlib.suppress(InvalidStateError):
                request.future.set_result([v for v in request.vectors if v is not None])


def _fail(request: _Request, exc: BaseException) -> None:
    with contextlib.suppress(InvalidStateError):  # already resolved by another pass or by close()
        request.future.set_exception(exc)
