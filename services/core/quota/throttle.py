"""Failed authentication, rate-limited per client: guessing keys costs the guesser, not the server.

Failures are counted per client address and minute in the quota counters (Redis or the database, so every API
process sees the same count). A client past the limit is refused with 429 before its key is even looked at.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from services.core.errors import TooManyFailedLogins
from services.core.quota.plan import Cost, Counter
from services.core.quota.port import QuotaStore, QuotaStoreUnavailable

log = logging.getLogger(__name__)

RULE_ID = "auth.failed"
WINDOW_S = 60


class FailedAuthThrottle:
    def __init__(self, store: QuotaStore, max_per_minute: int, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._max = max_per_minute
        self._clock = clock

    def _counter(self, client: str) -> tuple[Counter, float]:
        now = self._clock()
        start = int(now // WINDOW_S) * WINDOW_S
        # Unlimited as a quota: a failure is always counted; check() decides what the count means.
        key = f"authfail:{client}"[:200]
        return Counter(RULE_ID, key, "minute", start, WINDOW_S, None, None), now

    def check(self, client: str) -> None:
        """Refuse a client that failed too often this minute; fails open when the counters are unreachable."""
        counter, now = self._counter(client)
        try:
            (used,) = self._store.usage([counter])
        except QuotaStoreUnavailable as exc:
            log.warning("cannot read failed-authentication counts (%s); not throttling", exc)
            return
        if used.requests >= self._max:
            retry = max(1, int(counter.resets_at - now) + 1)
            raise TooManyFailedLogins(
                f"too many failed authentications from this client; try again in {retry} s", retry_after_s=retry
            )

    def failed(self, client: str) -> None:
        counter, _ = self._counter(client)
        try:
            self._store.charge([counter], Cost(1, 0))
        except QuotaStoreUnavailable as exc:
            log.warning("cannot count a failed authentication (%s)", exc)
