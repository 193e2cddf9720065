"""Engine and session factory; SQLite gets WAL and a busy timeout so API and worker threads can share it."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    """An engine for `url`, creating the SQLite file's folder when needed."""
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        # Request threads plus every ingestion thread of an in-process worker may hold one at once.
        kwargs.update(pool_size=10, max_overflow=30)
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        refuse_read_only_sqlite(engine, url)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "handle_error", _sqlite_stale_connection)
    return engine


def refuse_read_only_sqlite(engine: Engine, url: str) -> None:
    """Refuse to open a SQLite connection while its file or folder cannot be written.

    Asked for a read-write connection on a read-only disk, SQLite quietly opens the file read-only, and if the
    WAL's shared-memory file exists it maps that read-only too. That mapping is shared by every connection of
    the process to the database and lives until the last of them closes, which under load never happens: after
    the load test's read-only fault, the disk was writable again and every write still failed ("attempt to write
    a readonly database") for as long as the server ran. A refused connection is a clean 503 and leaves nothing
    behind. (The disk turning read-only between this check and the open is the one window left.)"""
    path = url.split("///", 1)[-1].split("?", 1)[0]
    if not path or path == ":memory:":
        return
    folder = os.path.dirname(os.path.abspath(path))

    def check(*_: Any) -> None:
        for target in (path, folder):
            if os.path.exists(target) and not os.access(target, os.W_OK):
                raise sqlite3.OperationalError(
                    f"attempt to write a readonly database: {target} is read-only, so no connection is opened"
                )

    event.listen(engine, "do_connect", check)


# A connection SQLite opened while the disk was read-only stays read-only after the disk is writable again, and
# one that met an I/O error may not recover: treat either as a lost connection, so the pool opens fresh ones.
SQLITE_STALE = ("attempt to write a readonly database", "disk i/o error")


def _sqlite_stale_connection(context: Any) -> None:
    if any(sign in str(context.original_exception).lower() for sign in SQLITE_STALE):
        context.is_disconnect = True


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def rows_affected(result: Result[Any]) -> int:
    """How many rows an UPDATE/DELETE matched: the compare-and-set primitive leases and the outbox use."""
    return cast(CursorResult[Any], result).rowcount
