"""The corpus: list its files, key a cache on them, upload them (or find them unchanged) and wait until searchable."""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from services.eval.client import EvalClient
from services.eval.errors import EvalError

GROUPS = ["everyone"]
POLL_S = 0.5
WAIT_TIMEOUT_S = 3 * 3600.0


@dataclass(frozen=True)
class CorpusFile:
    path: Path
    source: str  # path relative to the corpus dir, forward slashes: the document's stable name


def corpus_files(corpus_dir: Path) -> list[CorpusFile]:
    """Every regular, non-hidden file under `corpus_dir`, sorted by source."""
    if not corpus_dir.is_dir():
        raise EvalError(f"corpus directory {corpus_dir} does not exist")
    files = [
        CorpusFile(path, path.relative_to(corpus_dir).as_posix())
        for path in sorted(corpus_dir.rglob("*"))
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(corpus_dir).parts)
    ]
    if not files:
        raise EvalError(f"corpus directory {corpus_dir} has no files")
    return sorted(files, key=lambda f: f.source)


def cache_key(
    files: Sequence[CorpusFile], steward_version: str, chunk_size: int, chunk_overlap: int, embedding_model: str
) -> str:
    """sha256 over every file's source and bytes and what decides the index built from them."""
    digest = hashlib.sha256()
    for item in sorted(files, key=lambda f: f.source):
        data = item.path.read_bytes()
        digest.update(f"file\0{item.source}\0{len(data)}\0".encode())
        digest.update(data)
    settings = f"steward={steward_version}\0chunk={chunk_size}\0overlap={chunk_overlap}\0embedding={embedding_model}"
    digest.update(settings.encode())
    return digest.hexdigest()


@dataclass
class IngestSummary:
    document_ids: dict[str, str]  # source -> document id
    uploaded: int  # queued by this run
    unchanged: int  # already there with the same content


def ingest_corpus(
    client: EvalClient,
    files: Sequence[CorpusFile],
    *,
    show_progress: bool = True,
    timeout_s: float = WAIT_TIMEOUT_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> IngestSummary:
    """Upload every file under its source (unchanged ones cost nothing), then wait until all are ready."""
    ids: dict[str, str] = {}
    uploaded = unchanged = 0
    for item in tqdm(files, desc="uploading", unit="file", file=sys.stderr, disable=not show_progress):
        try:
            document, queued = client.upload(item.path, item.source, GROUPS)
        except EvalError as exc:
            raise EvalError(f"uploading {item.source} failed: {exc}") from exc
        ids[item.source] = str(document["id"])
        uploaded += queued
        unchanged += not queued
    _wait_ready(client, ids, show_progress, timeout_s, clock, sleep)
    return IngestSummary(ids, uploaded, unchanged)


def _wait_ready(
    client: EvalClient,
    ids: dict[str, str],
    show_progress: bool,
    timeout_s: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
    """Poll the document list until every document is ready or failed; fail listing the failed ones."""
    source_of = {document_id: source for source, document_id in ids.items()}
    deadline = clock() + timeout_s
    failures: dict[str, str] = {}
    with tqdm(total=len(ids), desc="ingesting", unit="doc", file=sys.stderr, disable=not show_progress) as bar:
        while True:
            listed = {str(d["id"]): d for d in client.documents() if str(d["id"]) in source_of}
            done, pending = 0, []
            for document_id, source in source_of.items():
                document = listed.get(document_id)
                if document is None:
                    failures[source] = "the document disappeared (deleted while being ingested?)"
                elif _failed(document):
                    failures[source] = str(document.get("error") or "failed")
                elif _ready(document):
                    done += 1
                else:
                    pending.append(source)
            bar.update(done + len(failures) - bar.n)
            if not pending:
                break
            if clock() > deadline:
                raise EvalError(
                    f"{len(pending)} documents not ready after {timeout_s:.0f} s, e.g. " + ", ".join(pending[:5])
                )
            sleep(POLL_S)
    if failures:
        lines = [f"{source}: {error}" for source, error in sorted(failures.items())]
        raise EvalError(f"{len(failures)} corpus documents failed to ingest:\n  " + "\n  ".join(lines))


def _failed(document: dict[str, Any]) -> bool:
    """Failed outright, or ready only at an older version because the current one failed."""
    if document.get("status") == "failed":
        return True
    return document.get("status") == "ready" and bool(document.get("error")) and not _current(document)


def _ready(document: dict[str, Any]) -> bool:
    return document.get("status") == "ready" and _current(document)


def _current(document: dict[str, Any]) -> bool:
    return bool(document.get("indexed_version") == document.get("version"))
