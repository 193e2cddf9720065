"""Keeps uploaded originals on disk, written atomically so a crash never leaves half a file."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


class BlobStore:
    """Originals under `root/<document id>/v<version>.<ext>`; every version is kept until the document goes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def save(self, document_id: str, extension: str, data: bytes, version: int = 1) -> str:
        folder = self.root / document_id
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"v{version}.{extension}"
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return str(target.relative_to(self.root))

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def delete_document(self, document_id: str) -> None:
        shutil.rmtree(self.root / document_id, ignore_errors=True)
