"""Sentence embeddings, loaded offline from a model that a Python package ships."""

from __future__ import annotations

import importlib
import os
import queue
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from services.core.embedding.replica import ProcessReplica, Replica, ThreadReplica
from services.core.errors import ConfigurationError

# Replicas when the setting says "auto" (0): one per core, but no more than this.
MAX_AUTO_REPLICAS = 4
# Single-text embeddings remembered (embed_query): enough for the questions in flight at once.
RECENT_QUERIES = 256


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
        self._free: queue.Queue[Replica] = queue.Queue()
        for replica in self._replicas:
            self._free.put(replica)
        self._passes = ThreadPoolExecutor(max_workers=count, thread_name_prefix="steward-encode")
        self.batch_size = batch_size
        self._recent: OrderedDict[str, list[float]] = OrderedDict()
        self._recent_lock = threading.Lock()
        self.dimension = self._replicas[0].dimension

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
        """Vectors from the model's int8 copy, at about a third of the CPU: only for texts compared with each
        other within one piece of work, never with stored vectors or fixed thresholds (replica.Models)."""
        return self._embed(texts, approximate=True)

    def _embed(self, texts: Sequence[str], *, approximate: bool) -> list[list[float]]:
        # Length order keeps padding low within each pass (what SentenceTransformer.encode does inside one
        # call). Passes go to whichever replica is free, so a chat query waits for at most one pass of an
        # ingestion window, never for the whole window.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        passes = [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        vectors: list[list[float]] = [[] for _ in texts]
        if len(passes) == 1:
            results = [self.encode_pass([texts[i] for i in passes[0]], approximate)]
        else:
            results = list(
                self._passes.map(lambda batch: self.encode_pass([texts[i] for i in batch], approximate), passes)
            )
        for batch, encoded in zip(passes, results, strict=True):
            for i, vector in zip(batch, encoded, strict=True):
                vectors[i] = vector
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """One text's vector; the last few are remembered, so a question screened for injection and then
        searched is embedded once."""
        with self._recent_lock:
            vector = self._recent.get(text)
            if vector is not None:
                self._recent.move_to_end(text)
                return vector
        vector = self.embed([text])[0]
        with self._recent_lock:
            self._recent[text] = vector
            while len(self._recent) > RECENT_QUERIES:
                self._recent.popitem(last=False)
        return vector

    def encode_pass(self, batch: list[str], approximate: bool = False) -> list[list[float]]:
        """One forward pass on whichever replica is free (blocks until one is)."""
        replica = self._free.get()
        try:
            encoded = replica.encode(batch, approximate)
        finally:
            self._free.put(replica)
        return [vector.tolist() for vector in encoded]

    def close(self) -> None:
        """Stop the replica processes (nothing to do for replicas in this process)."""
        self._passes.shutdown(wait=False)
        for replica in self._replicas:
            replica.close()
