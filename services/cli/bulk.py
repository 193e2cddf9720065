"""`steward ingest FOLDER`: upload a tree of files, follow their ingestion with progress bars, report failures."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from services.client import Document, StewardClient, StewardError
from services.core.formats import SUPPORTED_EXTENSIONS

POLL_S = 0.5


@dataclass(frozen=True)
class SourceFile:
    path: Path
    source: str  # the document's stable name: path below the folder given, so re-runs make versions


@dataclass
class BulkReport:
    uploaded: int = 0
    unchanged: int = 0
    ready: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)

    def summary(self) -> str:
        lines = [
            f"{self.uploaded} uploaded, {self.unchanged} unchanged, {self.ready} ready, {len(self.failures)} failed"
        ]
        lines += [f"  FAILED {source}: {reason}" for source, reason in self.failures]
        return "\n".join(lines)


def find_files(paths: Iterable[Path]) -> list[SourceFile]:
    """Supported files under the given paths, each with its source name, in a stable order."""
    found: dict[str, SourceFile] = {}
    for given in paths:
        if given.is_file():
            candidates = [(given, given.name)]
        else:
            root = given.resolve()
            candidates = [(f, f"{root.name}/{f.relative_to(root).as_posix()}") for f in sorted(root.rglob("*"))]
        for path, source in candidates:
            if path.is_file() and path.suffix.lower() in SUPPORTED_EXTENSIONS and not path.name.startswith("."):
                found.setdefault(source, SourceFile(path, source))
    return sorted(found.values(), key=lambda f: f.source)


def run_bulk_ingest(client: StewardClient, files: list[SourceFile], groups: list[str], wait: bool) -> BulkReport:
    report = BulkReport()
    pending: dict[str, str] = {}  # document id -> source
    for item in tqdm(files, desc="uploading", unit="file", file=sys.stderr):
        try:
            document = client.upload_document(item.path, groups=groups, source=item.source)
        except (StewardError, OSError) as exc:
            report.failures.append((item.source, str(exc)))
            continue
        if document.queued:
            report.uploaded += 1
            pending[document.id] = item.source
        else:
            report.unchanged += 1
    if wait and pending:
        _follow(client, pending, report)
    return report


def _follow(client: StewardClient, pending: dict[str, str], report: BulkReport) -> None:
    """One bar for the documents finished, one for overall progress; the postfix counts documents by stage."""
    total = len(pending)
    with (
        tqdm(total=total, desc="documents", unit="doc", file=sys.stderr, position=0) as docs_bar,
        tqdm(total=100 * total, desc="progress ", unit="%", file=sys.stderr, position=1, bar_format=_PERCENT) as bar,
    ):
        done: set[str] = set()
        while len(done) < total:
            current = {d.id: d for d in client.list_documents(page_size=500) if d.id in pending}
            stages: Counter[str] = Counter()
            progress = 0
            for document_id, source in pending.items():
                document: Document | None = current.get(document_id)
                if document is None:  # deleted meanwhile
                    finished, percent = True, 100
                    if document_id not in done:
                        report.failures.append((source, "deleted while being ingested"))
                else:
                    finished = document.settled
                    percent = 100 if finished else document.progress
                    stages[document.stage] += 0 if finished else 1
                    if finished and document_id not in done:
                        if document.status == "failed" or document.error:
                            report.failures.append((source, document.error or "failed"))
                        else:
                            report.ready += 1
                if finished and document_id not in done:
                    done.add(document_id)
                    docs_bar.update(1)
                progress += percent
            bar.update(progress - bar.n)
            bar.set_postfix_str(", ".join(f"{stage} {n}" for stage, n in sorted(stages.items()) if n))
            if len(done) < total:
                time.sleep(POLL_S)


_PERCENT = "{desc}: {percentage:3.0f}%|{bar}| {postfix}"
