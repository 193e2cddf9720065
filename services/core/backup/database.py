"""The database as JSON lines, one file a table, read and written through SQLAlchemy Core on either engine.

The tables are reflected, not taken from the models, so a backup made at an older schema revision is read
as it was written; a restore rebuilds that revision with Alembic, loads the rows, then migrates to head.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, Table, delete, func, insert, select, text

from services.core.db import migrate as migrations
from services.core.errors import BackupError

VERSION_TABLE = "alembic_version"
FOLDER = "database"
INSERT_BATCH = 500


def revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def dump(engine: Engine, staging: Path) -> tuple[str | None, dict[str, int]]:
    """Every table's rows as of one moment (one read transaction: a snapshot on PostgreSQL and on SQLite's
    WAL), to `staging/database/<table>.jsonl`; returns the schema revision and the row counts."""
    folder = staging / FOLDER
    folder.mkdir(parents=True)
    counts: dict[str, int] = {}
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        else:
            connection.exec_driver_sql("BEGIN")  # pysqlite opens no read transaction by itself
        schema_revision = revision(connection)
        if schema_revision is None:
            raise BackupError("the database has no Steward schema yet: nothing to back up (run `steward migrate`)")
        for table in _tables(connection):
            counts[table.name] = 0
            with (folder / f"{table.name}.jsonl").open("w", encoding="utf-8") as out:
                for row in connection.execute(select(table).order_by(*table.primary_key.columns)).mappings():
                    out.write(json.dumps(dict(row), default=_encode, ensure_ascii=False) + "\n")
                    counts[table.name] += 1
        connection.rollback()
    return schema_revision, counts


def known_revision(schema_revision: str) -> bool:
    """Whether this Steward's migrations include `schema_revision` (a backup from a newer Steward may not)."""
    scripts = ScriptDirectory.from_config(migrations.alembic_config("sqlite://"))
    try:
        return scripts.get_revision(schema_revision) is not None
    except Exception:  # alembic raises its own errors for unknown and malformed revision ids
        return False


def rows_held(engine: Engine) -> int:
    """Rows in the database's tables (the schema's own bookkeeping aside): 0 for a database fit to restore into."""
    with engine.connect() as connection:
        return sum(connection.execute(select(func.count()).select_from(t)).scalar_one() for t in _tables(connection))


def load(engine: Engine, staging: Path, schema_revision: str, counts: dict[str, int]) -> None:
    """Drop whatever schema the database has, rebuild the backup's revision, replace the rows its migrations
    seed with the backup's in one transaction (all or nothing), then migrate to head."""
    _drop_all(engine)
    config = migrations.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, schema_revision)
    with engine.begin() as connection:
        tables = {t.name: t for t in _tables(connection)}
        for table in reversed(tables.values()):  # rows the migrations seed (the audit chain's head) give way
            connection.execute(delete(table))
        unknown = sorted(set(counts) - set(tables))
        if unknown:
            raise BackupError(f"the backup has tables its schema revision does not: {', '.join(unknown)}")
        for name, table in tables.items():  # parents before children
            loaded = 0
            for batch in _batches(staging / FOLDER / f"{name}.jsonl"):
                connection.execute(insert(table), batch)
                loaded += len(batch)
            if loaded != counts.get(name, 0):
                raise BackupError(
                    f"table {name}: the archive holds {loaded} rows, its manifest says {counts.get(name)}"
                )
        if connection.dialect.name == "postgresql":
            _advance_sequences(connection, list(tables.values()))
    migrations.upgrade(engine)


def _tables(connection: Connection) -> list[Table]:
    metadata = MetaData()
    metadata.reflect(connection)
    return [t for t in metadata.sorted_tables if t.name != VERSION_TABLE]


def _drop_all(engine: Engine) -> None:
    with engine.begin() as connection:
        metadata = MetaData()
        metadata.reflect(connection)
        metadata.drop_all(connection)


def _advance_sequences(connection: Connection, tables: list[Table]) -> None:
    """Rows were loaded with their ids; a serial column's sequence must continue after the largest one."""
    for table in tables:
        for column in table.primary_key.columns:
            sequence = connection.execute(
                text("SELECT pg_get_serial_sequence(:table, :column)"), {"table": table.name, "column": column.name}
            ).scalar_one()
            if sequence:
                largest = f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0)"
                connection.execute(text(f"SELECT setval(:sequence, {largest} + 1, false)"), {"sequence": sequence})


def _batches(path: Path) -> Iterator[list[dict[str, Any]]]:
    if not path.exists():
        return
    batch: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            try:
                batch.append(json.loads(line, object_hook=_decode))
            except ValueError as exc:
                raise BackupError(f"{path.name} line {number} is not a row: {exc}") from exc
            if len(batch) == INSERT_BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


# Values JSON has no type for travel tagged, so a JSON column's own dicts are never mistaken for one.
def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, time):
        return {"$time": value.isoformat()}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"cannot back up a value of type {type(value).__name__}")


_DECODERS = {
    "$datetime": datetime.fromisoformat,
    "$date": date.fromisoformat,
    "$time": time.fromisoformat,
    "$bytes": base64.b64decode,
    "$decimal": Decimal,
}


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        ((key, value),) = obj.items()
        decoder = _DECODERS.get(key)
        if decoder is not None and isinstance(value, str):
            return decoder(value)
    return obj
