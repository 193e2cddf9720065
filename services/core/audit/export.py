"""Exporting the audit log as JSON Lines or CSV, streamed row by row in chain order.

Every stored field is exported, hashes and salts included, so an auditor can re-check the chain offline
with nothing but the export and docs/governance.md."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.core.audit.hashing import timestamp, to_utc
from services.core.db.models import AuditEvent

ExportFormat = Literal["jsonl", "csv"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("jsonl", "csv")
MEDIA_TYPES: dict[ExportFormat, str] = {"jsonl": "application/x-ndjson", "csv": "text/csv"}
FIELDS = (
    "id",
    "created_at",
    "principal_id",
    "action",
    "rule_id",
    "decision",
    "reason",
    "details",
    "erased_at",
    "payload_salt",
    "payload_digest",
    "prev_hash",
    "row_hash",
)
BATCH_ROWS = 1000


def export(
    session: Session, fmt: ExportFormat, since: datetime | None = None, until: datetime | None = None
) -> Iterator[str]:
    """One line per row (CSV: a header first), oldest first; `since` is inclusive, `until` exclusive."""
    query = select(*(AuditEvent.__table__.columns[name] for name in FIELDS)).order_by(AuditEvent.id)
    if since is not None:
        query = query.where(AuditEvent.created_at >= to_utc(since))
    if until is not None:
        query = query.where(AuditEvent.created_at < to_utc(until))
    rows = (_as_record(row._mapping) for row in session.execute(query.execution_options(yield_per=BATCH_ROWS)))
    if fmt == "jsonl":
        for record in rows:
            yield json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n"
        return
    yield _csv_line(list(FIELDS))
    for record in rows:
        yield _csv_line([json.dumps(record[f], ensure_ascii=False) if f == "details" else record[f] for f in FIELDS])


def _as_record(row: Any) -> dict[str, Any]:
    record = {name: row[name] for name in FIELDS}
    record["created_at"] = timestamp(record["created_at"])
    if record["erased_at"] is not None:
        record["erased_at"] = timestamp(record["erased_at"])
    return record


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(["" if v is None else v for v in values])
    return buffer.getvalue()
