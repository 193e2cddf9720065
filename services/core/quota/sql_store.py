"""Quota counters in the SQL database (embedded profile): the `quota_counters` table, charged by upserts.

Charging is one transaction: each counter is upserted with the cost added (INSERT ... ON CONFLICT DO UPDATE
... RETURNING), which takes the row's write lock (PostgreSQL) or the database's (SQLite), so concurrent
requests see each other's charges; if any counter went over its limit, the transaction is rolled back and
nothing was charged. Counters are locked in key order, so two requests never deadlock on each other's rows.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Engine, Table, delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from services.core.db.models import QuotaCounter
from services.core.errors import ConfigurationError
from services.core.quota.plan import Cost, Counter, Usage, overflows
from services.core.quota.port import QuotaStoreUnavailable

# Ended windows are deleted at most this often, by whichever request comes along.
SWEEP_INTERVAL_S = 300.0
_table = cast(Table, QuotaCounter.__table__)


def _dialect_insert(engine: Engine) -> Any:
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    if engine.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    raise ConfigurationError(f"the database quota store needs SQLite or PostgreSQL, not {engine.dialect.name}")


class SqlQuotaStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = _dialect_insert(engine)
        self._next_sweep = 0.0

    def usage(self, counters: Sequence[Counter]) -> list[Usage]:
        if not counters:
            return []
        query = select(_table.c.scope_key, _table.c.window_start, _table.c.requests, _table.c.tokens).where(
            _table.c.scope_key.in_({c.key for c in counters})
        )
        try:
            with self.engine.connect() as conn:
                rows = {(r.scope_key, r.window_start): Usage(r.requests, r.tokens) for r in conn.execute(query)}
        except SQLAlchemyError as exc:
            raise QuotaStoreUnavailable(f"database: {exc}") from exc
        return [rows.get((c.key, c.window_start), Usage()) for c in counters]

    def _upsert(self, counter: Counter, cost: Cost) -> Any:
        stmt = self._insert(_table).values(
            scope_key=counter.key,
            window_start=counter.window_start,
            expires_at=counter.resets_at,
            requests=cost.requests,
            tokens=cost.tokens,
        )
        return stmt.on_conflict_do_update(
            index_elements=[_table.c.scope_key, _table.c.window_start],
            set_={
                "requests": _table.c.requests + stmt.excluded.requests,
                "tokens": _table.c.tokens + stmt.excluded.tokens,
            },
        ).returning(_table.c.requests, _table.c.tokens)

    def charge(self, counters: Sequence[Counter], cost: Cost) -> int | None:
        if not counters:
            return None
        ordered = sorted(range(len(counters)), key=lambda i: (counters[i].key, counters[i].window_start))
        try:
            with self.engine.connect() as conn:
                transaction = conn.begin()
                for index in ordered:
                    counter = counters[index]
                    requests, tokens = conn.execute(self._upsert(counter, cost)).one()
                    before = Usage(requests - cost.requests, tokens - cost.tokens)
                    if overflows(counter, before, cost):
                        transaction.rollback()
                        return index
                transaction.commit()
        except SQLAlchemyError as exc:
            raise QuotaStoreUnavailable(f"database: {exc}") from exc
        self._sweep(max(c.window_start for c in counters))
        return None

    def refund(self, counters: Sequence[Counter], tokens: int) -> None:
        if not counters or tokens <= 0:
            return
        try:
            with self.engine.begin() as conn:
                for counter in sorted(counters, key=lambda c: (c.key, c.window_start)):
                    conn.execute(
                        update(_table)
                        .where(_table.c.scope_key == counter.key, _table.c.window_start == counter.window_start)
                        .values(tokens=_table.c.tokens - tokens)
                    )
        except SQLAlchemyError as exc:
            raise QuotaStoreUnavailable(f"database: {exc}") from exc

    def _sweep(self, horizon: int) -> None:
        """Delete windows that ended before `horizon` (a current window's start, on the caller's clock)."""
        if time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + SWEEP_INTERVAL_S
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(_table).where(_table.c.expires_at <= horizon))
        except SQLAlchemyError:
            pass  # housekeeping only: the next sweep tries again

    def close(self) -> None:
        pass  # the engine belongs to the runtime
