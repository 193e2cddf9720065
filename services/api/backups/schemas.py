"""Request and response bodies of the backup routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

BACKUP_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class BackupRequest(BaseModel):
    name: str | None = Field(
        default=None,
        pattern=BACKUP_NAME,
        description="file name without folder or extension (default steward-backup-<UTC time>)",
    )


class BackupOut(BaseModel):
    name: str = Field(description="the archive's file name in the server's backup folder")
    path: str = Field(description="where the server wrote it")
    size_bytes: int
    created_at: datetime
    documents: int | None = None
    rows: int | None = None
    points: int | None = None
    uploads: int | None = None
    seconds: float | None = Field(default=None, description="how long writing it took")


class BackupList(BaseModel):
    backups: list[BackupOut]
