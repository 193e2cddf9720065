"""The engine factory: a SQLite connection that went read-only is replaced, not handed out again."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from services.core.db.session import make_engine
from tests.support.disks import own_tmpfs


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


@pytest.fixture
def data_disk(tmp_path: Path) -> Iterator[Path]:
    with own_tmpfs(tmp_path / "disk", 16, "a read-only disk") as folder:
        yield folder


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def test_a_read_only_disk_leaves_no_read_only_connection_behind(data_disk: Path) -> None:
    """The load test's read-only fault: a bind mount made read-only over the data folder, then writable again.

    Another process keeps the database open (so its WAL files stay), as a worker or the broker would. A
    connection SQLite opened during the fault shared a read-only WAL index with every later connection of the
    process, so writes failed for as long as any of them lived; now no connection is opened during the fault."""
    database = data_disk / "steward.sqlite"
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (body TEXT)"))
    engine.dispose()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"c = sqlite3.connect({str(database)!r}); c.execute('SELECT count(*) FROM notes').fetchall()\n"
            "print('open', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        _mount("--bind", str(data_disk), str(data_disk))
        _mount("-o", "remount,ro,bind", str(data_disk))
        try:
            with pytest.raises(OperationalError, match="readonly database"), engine.connect() as during:
                during.execute(text("SELECT count(*) FROM notes")).all()
        finally:
            _mount("-o", "remount,rw,bind", str(data_disk))
            subprocess.run(["umount", "--lazy", str(data_disk)], check=True)
        with engine.connect() as reader:  # a connection kept open across the recovery, as under load
            assert reader.execute(text("SELECT count(*) FROM notes")).scalar() == 0
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO notes VALUES ('kept')"))
            assert reader.execute(text("SELECT body FROM notes")).scalars().all() == ["kept"]
    finally:
        holder.kill()
        holder.wait()
        engine.dispose()
