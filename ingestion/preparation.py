"""Parse and chunk a document — in a separate process when the embedder shares this one.

Parsers (pypdf, openpyxl, python-pptx, BeautifulSoup) are pure Python. Run on threads beside the encoder,
they hold the GIL the encoder needs between every tensor operation, and a forward pass crawls: measured
on 300 mixed documents, ingestion reached 0.70 of plain encode throughput that way (bench/ingest.py).
A single helper process removes the contention, and bounds the memory a hostile file can take.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

from ingestion.chunker import Chunk, chunk_document
from ingestion.parsers import ParsedDocument, ParseLimits, parse_document
from ingestion.tokens import TokenCounter
from services.core.errors import CorruptDocument

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class PreparationRequest:
    data: bytes
    format: str
    filename: str
    limits: ParseLimits
    embedding_model: str
    size_tokens: int
    overlap_tokens: int


def parse(request: PreparationRequest) -> ParsedDocument:
    """Raises the parsers' StewardErrors for bad input."""
    return parse_document(request.data, request.format, request.filename, request.limits)


def chunk(request: PreparationRequest, parsed: ParsedDocument) -> list[Chunk]:
    tokens = TokenCounter.for_model(request.embedding_model)
    return chunk_document(parsed, tokens, request.size_tokens, request.overlap_tokens)


def warm(embedding_model: str) -> None:
    """Import every parser library and load the tokenizer, so the first document does not pay for it."""
    import importlib

    for library in ("bs4", "lxml.html", "pypdf", "docx", "pptx", "openpyxl", "email.parser"):
        importlib.import_module(library)
    parse_document(b"# Warm\n\nwarm up", "md", "warm.md", ParseLimits())
    TokenCounter.for_model(embedding_model).count("warm")


def _start_child(megabytes: int, parent_pid: int) -> None:
    """Each helper process: its memory limit, and an exit as soon as the process that started it is gone."""
    if megabytes > 0:
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), name="exit-with-parent", daemon=True).start()


def _exit_with_parent(parent_pid: int) -> None:
    # A SIGKILLed server cannot shut its pool down, and the helper never sees its call queue close (it holds
    # both ends of the pipe itself): each killed `steward serve` left one behind, for good. Being reparented
    # is the sign. (PR_SET_PDEATHSIG would fire when the *thread* that spawned it ends, any request thread.)
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os._exit(0)


class Preparer:
    """Runs `parse` and `chunk` in a pool of `processes` (0: on the calling thread), rebuilt if a child dies."""

    def __init__(self, processes: int, memory_mb: int) -> None:
        self._processes, self._memory_mb = processes, memory_mb
        self._pool: Executor | None = None
        self._lock = threading.Lock()

    def warm(self, embedding_model: str) -> None:
        """Start the helper process(es) and load what they need; call before taking work."""
        if self._processes <= 0:
            warm(embedding_model)
            return
        for future in [self._executor().submit(warm, embedding_model) for _ in range(self._processes)]:
            future.result()

    def parse(self, request: PreparationRequest) -> ParsedDocument:
        return self._run(request, parse, request)

    def chunk(self, request: PreparationRequest, parsed: ParsedDocument) -> list[Chunk]:
        return self._run(request, chunk, request, parsed)

    def _run(self, request: PreparationRequest, fn: Callable[..., T], *args: Any) -> T:
        if self._processes <= 0:
            return fn(*args)
        try:
            return self._executor().submit(fn, *args).result()
        except BrokenProcessPool:
            self._reset()
            # The child died on this file (out of memory, a crash inside a parser library): that is the
            # file's fault, so it fails for good instead of taking the next worker down with it.
            raise CorruptDocument(
                f"could not read {request.filename}: the parser ran out of its {self._memory_mb} MB "
                "memory limit or crashed on this file"
            ) from None
        except MemoryError:
            raise CorruptDocument(
                f"could not read {request.filename}: parsing it needs more than {self._memory_mb} MB"
            ) from None

    def close(self) -> None:
        self._reset()

    def _executor(self) -> Executor:
        with self._lock:
            if self._pool is None:
                # spawn: a fork of a process with live threads (Celery, the encoder) can deadlock.
                self._pool = ProcessPoolExecutor(
                    max_workers=self._processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_child,
                    initargs=(self._memory_mb, os.getpid()),
                )
            return self._pool

    def _reset(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
