"""Sentence embeddings, loaded offline from a model that a Python package ships."""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from services.core.errors import ConfigurationError


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
    """Wraps a sentence-transformers model; encodes in batches because that is where CPU time goes."""

    def __init__(self, model: str, batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer  # heavy: imported only when built

        self._model = SentenceTransformer(resolve_model_path(model), device="cpu")
        self.batch_size = batch_size
        self.dimension = int(self._model.get_embedding_dimension() or 0)
        # One encode at a time: two would thrash two cores, and the fast tokenizer is not thread-safe.
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Normalised vectors, one per text, in order."""
        # Encode in length order so each forward pass pads little (what SentenceTransformer.encode does
        # within one call); the lock is released between passes, so a chat query waits for one pass of
        # an ingestion window, not for the whole window.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            with self._lock:
                encoded = self._model.encode(
                    [texts[i] for i in batch],
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                )
            for i, vector in zip(batch, encoded, strict=True):
                vectors[i] = vector.tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]
