"""Pools the texts of documents being ingested concurrently into large windows for the embedder.

One document rarely has enough chunks for an efficient forward pass; a bulk load has thousands. Worker
threads hand their texts here and block; one thread takes whatever is waiting (up to a window), encodes
it in length-sorted passes, and hands each caller its vectors. Throughput then tracks one big
`SentenceTransformer.encode` over the whole corpus instead of many small ones.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)


class TextEmbedder(Protocol):
    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


@dataclass
class _Request:
    texts: Sequence[str]
    future: Future[list[list[float]]] = field(default_factory=Future)


class EmbeddingBatcher:
    """Thread-safe: `embed` may be called from any number of threads; encoding happens on one."""

    def __init__(self, embedder: TextEmbedder, window: int = 512, linger_s: float = 0.005) -> None:
        self._embedder = embedder
        self._window = window
        self._linger_s = linger_s  # a short wait lets texts of documents parsed a moment later join in
        self._requests: queue.Queue[_Request | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="steward-embedding-batcher", daemon=True)
        self._closed = False
        self._thread.start()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors for `texts`, in order; blocks until its window is encoded. Raises what the model raised."""
        if not texts:
            return []
        if self._closed:
            raise RuntimeError("the embedding batcher is closed")
        request = _Request(texts)
        self._requests.put(request)
        return request.future.result()

    def close(self) -> None:
        self._closed = True
        self._requests.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._requests.get()
            if first is None:
                return
            window = [first]
            size = len(first.texts)
            stop = False
            while size < self._window:
                try:
                    nxt = self._requests.get(timeout=self._linger_s)
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                window.append(nxt)
                size += len(nxt.texts)
            self._encode(window)
            if stop:
                return

    def _encode(self, window: list[_Request]) -> None:
        texts = [text for request in window for text in request.texts]
        try:
            vectors = self._embedder.embed(texts)
        except BaseException as exc:  # every waiting caller must learn of it, or it would block forever
            for request in window:
                request.future.set_exception(exc)
            return
        start = 0
        for request in window:
            request.future.set_result(vectors[start : start + len(request.texts)])
            start += len(request.texts)
