"""Backup and restore: the database, the vector index, the uploaded originals and the policies, in one archive.

The archive is engine-neutral (rows as JSON lines, points with their vectors and payload), so a backup of
either profile restores into either profile: SQLite or PostgreSQL, Qdrant Edge or a Qdrant server.
"""

from services.core.backup.archive import MANIFEST, Manifest
from services.core.backup.service import (
    BackupReport,
    RestoreReport,
    Stores,
    check_backup,
    create_backup,
    default_name,
    restore_backup,
)
from services.core.errors import BackupError

__all__ = [
    "MANIFEST",
    "BackupError",
    "BackupReport",
    "Manifest",
    "RestoreReport",
    "Stores",
    "check_backup",
    "create_backup",
    "default_name",
    "restore_backup",
]
