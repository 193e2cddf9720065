"""Hands the encoder replicas out one pass at a time, a question being answered before everything else.

Why an order: at 16 concurrent chats every replica is busy with grounding checks and extractive quotes (a few
texts each, many passes), and an ingestion window adds more. A plain queue served waiters first come, first
served, so a new question's single-text embedding waited behind all of them, and its chat sat outside vLLM's
batch until it was searched (`steward_chat_stage_seconds{stage="plan"}`: 133 to 268 ms a chat at 16 streams,
bench/llm_gateway.py). An urgent lease goes to the next free replica ahead of every waiting non-urgent one; among
themselves, each kind is served in arrival order. Urgent passes are single questions, so they cannot starve
the rest for long.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class ReplicaPool(Generic[T]):
    """Thread-safe: any number of threads may wait for a lease."""

    def __init__(self, replicas: Sequence[T]) -> None:
        self._free: list[T] = list(replicas)
        self._changed = threading.Condition()
        self._urgent: deque[object] = deque()
        self._normal: deque[object] = deque()

    @contextmanager
    def lease(self, *, urgent: bool = False) -> Iterator[T]:
        """A free replica for one pass; blocks until it is this caller's turn."""
        ticket = object()
        line = self._urgent if urgent else self._normal
        with self._changed:
            line.append(ticket)
            try:
                while not (self._free and self._first() is ticket):
                    self._changed.wait()
            finally:
                line.remove(ticket)  # served, or interrupted while waiting: out of the line either way
            replica = self._free.pop()
            self._changed.notify_all()  # whoever is first now may find another replica free
        try:
            yield replica
        finally:
            with self._changed:
                self._free.append(replica)
                self._changed.notify_all()

    @property
    def waiting(self) -> tuple[int, int]:
        """(urgent, other) callers waiting for a replica."""
        with self._changed:
            return len(self._urgent), len(self._normal)

    def _first(self) -> object | None:
        if self._urgent:
            return self._urgent[0]
        return self._normal[0] if self._normal else None
