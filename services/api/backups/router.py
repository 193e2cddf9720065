"""Admin routes for backups written by the running server (`docs/backup.md`)."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.concurrency import run_in_threadpool

from services.api.backups import service
from services.api.backups.schemas import BackupList, BackupOut, BackupRequest
from services.api.deps import AdminCaller, SessionsDep, SettingsDep, VectorStoreDep

router = APIRouter(prefix="/v1/admin/backups", tags=["admin"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=BackupOut)
async def create_backup(
    body: BackupRequest,
    settings: SettingsDep,
    sessions: SessionsDep,
    vector_store: VectorStoreDep,
    principal: AdminCaller,
) -> BackupOut:
    """Write a backup of everything (database, vector index, uploads, policies) into the server's backup folder
    while it keeps serving (admin); restore it with `steward restore`."""
    return await run_in_threadpool(
        lambda: service.create(
            settings=settings, sessions=sessions, vector_store=vector_store, principal=principal, name=body.name
        )
    )


@router.get("", response_model=BackupList)
async def list_backups(settings: SettingsDep, principal: AdminCaller) -> BackupList:
    """The backups in the server's backup folder, newest first (admin)."""
    backups = await run_in_threadpool(lambda: service.list_backups(settings=settings, principal=principal))
    return BackupList(backups=backups)
