"""Sentence embeddings, loaded offline from a model that a Python package ships."""

from __future__ import annotations

import hashlib
import importlib
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from importlib import metadata
from pathlib import Path

from services.core.embedding.pool import ReplicaPool
from services.core.embedding.replica import ProcessReplica, Replica, ThreadReplica
from services.core.errors import ConfigurationError

# Replicas when the setting says "auto" (0): one per core, but no more than this.
MAX_AUTO_REPLICAS = 4
# The questions embedded so far in the current request (embed_query), if the request opened a scope for them.
_REQUEST_QUERIES: ContextVar[dict[tuple[int, str], list[float]] | None] = ContextVar(
    "steward_request_queries", default=None
)


@contextmanager
def one_request_queries() -> Iterator[None]:
    """Within this block (and the worker threads it hands work to, which copy its context), a question screened
    for injection and then searched is embedded once. Nothing outlives the request: a memo across requests made
    the benches' repeated questions skip the embedding every real question pays (bench/chat_cpu.py)."""
    token = _REQUEST_QUERIES.set({})
    try:
        yield
    finally:
        _REQUEST_QUERIES.reset(token)


def _torch_version() -> str:
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:  # a build without metadata: matches no other process's vectors
        return f"unknown-{os.getpid()}"


def _identity(path: str) -> str:
    """A short name for the model in a directory: a hash of its files' names and sizes (its weights among them),
    which tells two models apart without reading hundreds of megabytes."""
    files = sorted((p.relative_to(path).as_posix(), p.stat().st_size) for p in Path(path).rglob("*") if p.is_file())
    return hashlib.sha256(repr(files).encode()).hexdigest()[:16]


def resolve_model_path(name: str) -> str:
    """A model setting is either a local directory or the name of a package that ships one."""
    if Path(name).is_dir():
        return name
    module_name = name.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise ConfigurationError(
            f"embedding model {name!r} is neither a directory nor an installed model package"
        ) from None
    return str(module.get_model_path())


class Embedder:
    """Sentence embeddings on the CPU from `replicas` single-threaded copies of one model, each in a process of
    its own (`processes`, what a server runs: replica.py says why) or in this one.

    Measured here (bench/ingest.py and docs/ingestion.md): two single-threaded encoders side by side beat one
    encoder spread over two threads, and they keep going when another thread (a request, a parser)
    takes a core, where a two-thread pass stalls on its descheduled half. Each replica has its own
    tokenizer, which is not thread-safe, and its own lock.
    """

    def __init__(self, model: str, batch_size: int = 32, replicas: int = 0, *, processes: bool = False) -> None:
        count = replicas or min(os.cpu_count() or 1, MAX_AUTO_REPLICAS)
        path = resolve_model_path(model)
        self._replicas: list[Replica]
        if processes:
            # Started side by side: each imports torch and loads the weights in its own process.
            with ThreadPoolExecutor(max_workers=count) as starting:
                self._replicas = list(
                    starting.map(lambda n: ProcessReplica(path, name=f"steward-encoder-{n}"), range(count))
                )
        else:
            self._replicas = [ThreadReplica(path, single_thread=count > 1) for _ in range(count)]
        self._pool = ReplicaPool(self._replicas)
        self._passes = ThreadPoolExecutor(max_workers=count, thread_name_prefix="steward-encode")
        self.batch_size = batch_size
        self.dimension = self._replicas[0].dimension
        # What made embed_approximate's vectors, for the few that are stored (answers/sentence_vectors.py): the
        # int8 copy of this model as this torch quantises it. Another model or torch build makes other vectors.
        self.approximate_name = f"{_identity(path)}:int8:torch-{_torch_version()}:{self.dimension}"

    @property
    def replicas(self) -> int:
        return len(self._replicas)

    @property
    def process_ids(self) -> list[int]:
        """The replica processes' ids (none when the replicas live in this process): what to watch or account."""
        return [pid for replica in self._replicas if (pid := getattr(replica, "pid", None)) is not None]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Normalised vectors, one per text, in order."""
        return self._embed(texts, approximate=False)

    def embed_approximate(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors from the model's int8 copy, at about a third of the CPU: only ever compared with the copy's own
        vectors, never with the model's or the index's (replica.Models); the few that are stored carry
        `approximate_name`."""
        return self._embed(texts, approximate=True)

    def _embed(self, texts: Sequence[str], *, approximate: bool, urgent: bool = False) -> list[list[float]]:
        # Length order keeps padding low within each pass (what SentenceTransformer.encode does inside one
        # call). Passes go to whichever replica is free, so a chat query waits for at most one pass of an
        # ingestion window, never for the whole window.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        passes = [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        vectors: list[list[float]] = [[] for _ in texts]
        if len(passes) == 1:
            results = [self.encode_pass([texts[i] for i in passes[0]], approximate, urgent=urgent)]
        else:
            results = list(
                self._passes.map(
                    lambda batch: self.encode_pass([texts[i] for i in batch], approximate, urgent=urgent), passes
                )
            )
        for batch, encoded in zip(passes, results, strict=True):
            for i, vector in zip(batch, encoded, strict=True):
                vectors[i] = vector
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """A question's vector, embedded once a request (one_request_queries). A chat waits on it before anything
        else can start, so it goes ahead of the passes waiting for a replica (pool.py)."""
        known = _REQUEST_QUERIES.get()
        key = (id(self), text)  # a tuned encoder searching beside the shipped one that screens: never mixed
        if known is not None and key in known:
            return known[key]
        vector = self._embed([text], approximate=False, urgent=True)[0]
        if known is not None:
            known[key] = vector  # a dict's item assignment is atomic: the request's threads may share it
        return vector

    def encode_pass(self, batch: list[str], approximate: bool = False, *, urgent: bool = False) -> list[list[float]]:
        """One forward pass on whichever replica is free (blocks until one is; `urgent` goes first)."""
        with self._pool.lease(urgent=urgent) as replica:
            encoded = replica.encode(batch, approximate)
        return [vector.tolist() for vector in encoded]

    def close(self) -> None:
        """Stop the replica processes (nothing to do for replicas in this process)."""
        self._passes.shutdown(wait=False)
        for replica in self._replicas:
            replica.close()
