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
from typing import Any

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
    """Sentence embeddings on the CPU from `replicas` single-threaded copies of one model.

    Measured here (bench/ingest.py and docs/ingestion.md): two single-threaded encoders side by side beat one
    encoder spread over two threads, and they keep going when another thread (a request, a parser)
    takes a core, where a two-thread pass stalls on its descheduled half. Each replica has its own
    tokenizer, which is not thread-safe, and its own lock.
    """

    def __init__(self, model: str, batch_size: int = 32, replicas: int = 0) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch  # heavy: imported only when built
        from sentence_transformers import SentenceTransformer

        count = replicas or min(os.cpu_count() or 1, MAX_AUTO_REPLICAS)
        if count > 1:
            torch.set_num_threads(1)  # one core per replica; together they use them all
        path = resolve_model_path(model)
        self._replicas = [SentenceTransformer(path, device="cpu") for _ in range(count)]
        self._free: queue.Queue[Any] = queue.Queue()
        for replica in self._replicas:
            self._free.put(replica)
        self._passes = ThreadPoolExecutor(max_workers=count, thread_name_prefix="steward-encode")
        self.batch_size = batch_size
        self._recent: OrderedDict[str, list[float]] = OrderedDict()
        self._recent_lock = threading.Lock()
        self.dimension = int(self._replicas[0].get_embedding_dimension() or 0)

    @property
    def replicas(self) -> int:
        return len(self._replicas)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Normalised vectors, one per text, in order."""
        # Length order keeps padding low within each pass (what SentenceTransformer.encode does inside one
        # call). Passes go to whichever replica is free, so a chat query waits for at most one pass of an
        # ingestion window, never for the whole window.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        passes = [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        vectors: list[list[float]] = [[] for _ in texts]
        if len(passes) == 1:
            results = [self.encode_pass([texts[i] for i in passes[0]])]
        else:
            results = list(self._passes.map(lambda batch: self.encode_pass([texts[i] for i in batch]), passes))
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

    def encode_pass(self, batch: list[str]) -> list[list[float]]:
        """One forward pass on whichever replica is free (blocks until one is)."""
        replica = self._free.get()
        try:
            encoded = replica.encode(
                batch,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        finally:
            self._free.put(replica)
        return [vector.tolist() for vector in encoded]
