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

    def __init__(self, model: str, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer  # heavy: imported only when built

        self._model = SentenceTransformer(resolve_model_path(model), device="cpu")
        self.batch_size = batch_size
        self.dimension = int(self._model.get_embedding_dimension() or 0)
        # torch releases the GIL while encoding; one encode at a time keeps two cores from thrashing.
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Normalised vectors, one per text, in order."""
        if not texts:
            return []
        with self._lock:
            vectors = self._model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
        return [vector.tolist() for vector in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]
