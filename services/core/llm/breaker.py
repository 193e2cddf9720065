"""A circuit breaker: after repeated LLM failures, fail fast for a while instead of piling up timeouts."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Literal

from services.core.errors import LLMUnavailable

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Closed: calls pass. Open: calls fail at once until the cooldown ends. Half-open: one probe decides."""

    def __init__(self, failure_threshold: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_in_flight = False
        self._lock = threading.Lock()

    @property
    def state(self) -> State:
        with self._lock:
            return self._state()

    def _state(self) -> State:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self._clock() - self._opened_at >= self.cooldown_s else "open"

    def before_call(self) -> None:
        """Raise LLMUnavailable while open; in half-open let exactly one probe through."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return
            if state == "half_open" and not self._probe_in_flight:
                self._probe_in_flight = True
                return
            assert self._opened_at is not None
            remaining = max(1, math.ceil(self.cooldown_s - (self._clock() - self._opened_at)))
            raise LLMUnavailable(
                "the language model is failing; requests are paused briefly (circuit open)",
                retry_after_s=remaining,
                kind="circuit_open",
            )

    def record_success(self) -> None:
        with self._lock:
            self._failures, self._opened_at, self._probe_in_flight = 0, None, False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._probe_in_flight or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
            self._probe_in_flight = False

    def release_probe(self) -> None:
        """A call that ended without a verdict (the client went away) frees the probe slot."""
        with self._lock:
            self._probe_in_flight = False
