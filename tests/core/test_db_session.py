"""The engine factory: a SQLite connection that went read-only is replaced, not handed out again."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from services.core.db.session import make_engine


def test_a_sqlite_connection_left_read_only_is_discarded_so_writes_work_again(tmp_path: Path) -> None:
    # SQLite opens a connection read-only when the disk is read-only at that moment, and it stays so after the
    # disk is writable again. PRAGMA query_only puts a pooled connection in that very state.
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE notes (body TEXT)"))
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA query_only = ON")
            with pytest.raises(OperationalError, match="readonly database"):
                connection.execute(text("INSERT INTO notes VALUES ('lost')"))
        with engine.begin() as connection:  # without the fix: the same read-only connection, the same error
            connection.execute(text("INSERT INTO notes VALUES ('kept')"))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT body FROM notes")).scalars().all() == ["kept"]
    finally:
        engine.dispose()
