"""The quota-store port: atomic counters per (budget, fixed window). Adapters: Redis and the SQL database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from services.core.quota.plan import Cost, Counter, Usage


class QuotaStoreUnavailable(Exception):
    """The counters cannot be read or written (Redis down, database locked too long)."""


class QuotaStore(Protocol):
    def usage(self, counters: Sequence[Counter]) -> list[Usage]:
        """What each counter has used so far in its window (zero when nothing has been charged)."""

    def charge(self, counters: Sequence[Counter], cost: Cost) -> int | None:
        """All or nothing, atomically: add `cost` to every counter if each has room for it and return None;
        otherwise charge nothing and return the index of the first counter that has no room."""

    def refund(self, counters: Sequence[Counter], tokens: int) -> None:
        """Give back tokens charged to these counters in their windows (an estimate that proved too high)."""

    def close(self) -> None: ...
