"""Folders of files (the uploaded originals, the policies) copied into a backup and swapped back on restore."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path


def copy_in(source: Path, staging: Path, name: str) -> int:
    """Copy every file below `source` to `staging/name`; returns how many (a missing folder holds none)."""
    target = staging / name
    target.mkdir(parents=True)
    count = 0
    if not source.is_dir():
        return count
    for path in sorted(source.rglob("*")):
        # Hidden files are the blob store's half-written uploads (".upload-*"): never part of a document.
        if path.is_file() and not path.name.startswith("."):
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
            count += 1
    return count


def differ(one: Path, other: Path) -> bool:
    """Whether two folders hold different files (by relative name and content)."""
    return _contents(one) != _contents(other)


def _contents(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def holds_files(folder: Path) -> bool:
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))


def swap_in(staged: Path, target: Path) -> None:
    """Make `target` hold exactly what `staged` holds. The new tree is built beside the target and renamed
    over it, so a crash leaves either the old folder or the new one (and perhaps a stray copy), never a mix."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.restore-"))
    shutil.copytree(staged, fresh, dirs_exist_ok=True)
    old = target.with_name(f".{target.name}.replaced")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    fresh.rename(target)
    shutil.rmtree(old, ignore_errors=True)
