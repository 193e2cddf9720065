"""The archive: a gzip'd tar of a staging folder, with a manifest naming every member and its SHA-256.

A backup is staged in a folder beside the target and packed last, then renamed into place: a crash leaves
no archive at all rather than a short one. A restore unpacks into a scratch folder and checks every member
against the manifest before it touches anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from services.core.errors import BackupError

MANIFEST = "manifest.json"
FORMAT = "steward-backup"
FORMAT_VERSION = 1


@dataclass
class Manifest:
    """What an archive holds: where it came from, how much of everything, and each member's checksum."""

    created_at: str
    steward_version: str
    schema_revision: str | None
    source: dict[str, str]
    dimension: int | None
    tables: dict[str, int] = field(default_factory=dict)
    points: int = 0
    uploads: int = 0
    policies: int = 0
    models: int = 0  # files of the tuned encoder the backup was made with (0: the shipped one)
    members: dict[str, str] = field(default_factory=dict)
    format: str = FORMAT
    version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        try:
            data: Any = json.loads(text)
        except ValueError as exc:
            raise BackupError(f"the archive's manifest is not JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise BackupError("not a Steward backup: its manifest does not say format=steward-backup")
        if data.get("version") != FORMAT_VERSION:
            raise BackupError(
                f"backup format version {data.get('version')!r} is not one this Steward reads ({FORMAT_VERSION})"
            )
        try:
            return cls(**data)
        except TypeError as exc:
            raise BackupError(f"the archive's manifest is malformed: {exc}") from exc


def checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def seal(staging: Path, manifest: Manifest, target: Path) -> None:
    """Record every staged file's checksum in the manifest, pack the folder, and move the archive into place."""
    manifest.members = {
        path.relative_to(staging).as_posix(): checksum(path)
        for path in sorted(staging.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }
    (staging / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    partial = target.with_name(f".{target.name}.partial")
    try:
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(staging / MANIFEST, arcname=MANIFEST)  # first, so a reader finds it at once
            for name in manifest.members:
                tar.add(staging / name, arcname=name)
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def unpack(archive: Path, scratch: Path) -> Manifest:
    """Unpack into `scratch` and check every member against the manifest; any mismatch is a BackupError."""
    if not archive.is_file():
        raise BackupError(f"no backup archive at {archive}")
    try:
        with tarfile.open(archive, "r:*") as tar:
            # The "data" filter refuses absolute paths, links out of the folder and device files: a hostile
            # archive cannot write outside the scratch folder.
            tar.extractall(scratch, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"{archive} is not a readable backup archive: {exc}") from exc
    if not (scratch / MANIFEST).is_file():
        raise BackupError(f"{archive} has no {MANIFEST}: not a Steward backup")
    manifest = Manifest.from_json((scratch / MANIFEST).read_text(encoding="utf-8"))
    present = {
        path.relative_to(scratch).as_posix() for path in scratch.rglob("*") if path.is_file() and path.name != MANIFEST
    }
    missing = sorted(set(manifest.members) - present)
    extra = sorted(present - set(manifest.members))
    if missing or extra:
        raise BackupError(f"the archive does not match its manifest (missing: {missing[:5]}, unlisted: {extra[:5]})")
    damaged = [name for name, digest in manifest.members.items() if checksum(scratch / name) != digest]
    if damaged:
        raise BackupError(f"the archive is damaged: checksum mismatch in {', '.join(damaged[:5])}")
    return manifest
