"""Tuned encoders, versioned in the data directory: <models dir>/<version>/{encoder/, report.json}.

A version appears whole or not at all: it is written under a temporary name and renamed into place, so a crash
mid-training leaves only a temporary folder, removed by the next `steward tune`."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.core.errors import GenerationNotFound, InvalidInput

ENCODER = "encoder"
REPORT = "report.json"
_PARTIAL = ".partial-"


class ModelCatalog:
    """The shipped encoder (by package name) and the tuned versions beside it."""

    def __init__(self, root: Path, shipped: str) -> None:
        self.root = root
        self.shipped = shipped

    def is_tuned(self, model: str) -> bool:
        return model != self.shipped

    def encoder_path(self, model: str) -> str:
        """What the Embedder loads for `model`: the shipped package name, or a tuned version's folder."""
        if not self.is_tuned(model):
            return model
        path = self._version_dir(model) / ENCODER
        if not path.is_dir():
            raise GenerationNotFound(f"no tuned encoder {model!r} in {self.root}")
        return str(path)

    def versions(self) -> list[str]:
        """Tuned versions, oldest first."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def report(self, model: str) -> dict[str, Any]:
        if not self.is_tuned(model):
            return {"model": model, "tuned": False}
        path = self._version_dir(model) / REPORT
        if not path.is_file():
            raise GenerationNotFound(f"no tuned encoder {model!r} in {self.root}")
        report: dict[str, Any] = json.loads(path.read_text())
        return report

    def new_version(self) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        version, n = f"tuned-{stamp}", 1
        while (self.root / version).exists():
            n += 1
            version = f"tuned-{stamp}-{n}"
        return version

    def staging(self, version: str) -> Path:
        """Where a version is written before it is published; removed first if a crash left it."""
        path = self.root / f"{_PARTIAL}{version}"
        shutil.rmtree(path, ignore_errors=True)
        (path / ENCODER).mkdir(parents=True)
        return path

    def publish(self, version: str, report: dict[str, Any]) -> Path:
        """Move a staged version into place with its report (one rename)."""
        staged = self.root / f"{_PARTIAL}{version}"
        (staged / REPORT).write_text(json.dumps(report, indent=2, sort_keys=True))
        target = self._version_dir(version)
        staged.rename(target)
        return target

    def folder(self, version: str) -> Path | None:
        """A tuned version's folder (encoder and report), None for the shipped encoder or a version not here."""
        if not self.is_tuned(version):
            return None
        path = self._version_dir(version)
        return path if (path / ENCODER).is_dir() else None

    def install(self, version: str, source: Path) -> bool:
        """Add a version from a copy of its folder (a backup's) unless it is here already; as whole as a
        published one (copied under a temporary name, then renamed). Returns whether it was added."""
        if self.folder(version) is not None:
            return False
        if not (source / ENCODER).is_dir():
            raise InvalidInput(f"{source} holds no encoder for {version!r}")
        staged = self.root / f"{_PARTIAL}{version}"
        shutil.rmtree(staged, ignore_errors=True)
        shutil.copytree(source, staged)
        staged.rename(self._version_dir(version))
        return True

    def clean_partial(self) -> int:
        """Remove what crashed trainings left; returns how many."""
        if not self.root.is_dir():
            return 0
        partial = [p for p in self.root.iterdir() if p.name.startswith(_PARTIAL)]
        for path in partial:
            shutil.rmtree(path, ignore_errors=True)
        return len(partial)

    def _version_dir(self, version: str) -> Path:
        if not version or "/" in version or "\\" in version or version.startswith("."):
            raise InvalidInput(f"{version!r} is not a model version")
        return self.root / version
