"""Backups made by the running server: the embedded profile's vector shard admits one process, so a live
backup of it is written by the process that holds it (`steward backup` asks for one when it cannot open it)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from services.api.backups.schemas import BackupOut
from services.core import audit
from services.core.access.principals import Caller
from services.core.backup import BackupReport, Stores, create_backup, default_name
from services.core.db.session import session_scope
from services.core.errors import Conflict
from services.core.settings import Settings
from services.core.vectorstore import VectorStore

SUFFIX = ".tar.gz"
_one_at_a_time = threading.Lock()


def folder(settings: Settings) -> Path:
    return settings.data_dir / "backups"


def create(
    *,
    settings: Settings,
    sessions: sessionmaker[Session],
    vector_store: VectorStore,
    principal: Caller,
    name: str | None,
) -> BackupOut:
    """Write a backup into the server's backup folder (admin); one at a time, audited."""
    principal.require_role("admin")
    stem = name or default_name()
    target = folder(settings) / f"{stem}{SUFFIX}"
    if not _one_at_a_time.acquire(blocking=False):
        raise Conflict("a backup is being written already; try again when it is done")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        stores = Stores.of(settings, engine=sessions.kw["bind"], vector_store=vector_store)
        report = create_backup(stores, target, steward_version=version("steward"))
    finally:
        _one_at_a_time.release()
    with session_scope(sessions) as session:
        audit.admin_action(session, principal.id, "backup.create", report.summary(), details={"path": str(target)})
    return described(report)


def list_backups(*, settings: Settings, principal: Caller) -> list[BackupOut]:
    """The archives in the server's backup folder, newest first (admin)."""
    principal.require_role("admin")
    if not folder(settings).is_dir():
        return []
    archives = sorted(folder(settings).glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
    return [
        BackupOut(
            name=p.name,
            path=str(p),
            size_bytes=p.stat().st_size,
            created_at=datetime.fromtimestamp(p.stat().st_mtime, UTC),
        )
        for p in archives
    ]


def described(report: BackupReport) -> BackupOut:
    m = report.manifest
    return BackupOut(
        name=report.path.name,
        path=str(report.path),
        size_bytes=report.path.stat().st_size,
        created_at=datetime.fromisoformat(m.created_at),
        documents=m.tables.get("documents", 0),
        rows=sum(m.tables.values()),
        points=m.points,
        uploads=m.uploads,
        seconds=round(report.seconds, 3),
    )
