"""Retrieval: embed the question, search with the principal's ACL inside the vector query."""

from __future__ import annotations

from services.core.runtime import Runtime
from services.core.vectorstore import ScoredChunk


def retrieve(runtime: Runtime, query: str, allowed_groups: list[str] | None, top_k: int) -> list[ScoredChunk]:
    """The `top_k` most similar readable chunks at or above the relevance floor, best first."""
    vector = runtime.embedder.embed_query(query)
    hits = runtime.vector_store.search(vector, top_k, allowed_groups)
    return [hit for hit in hits if hit.score >= runtime.settings.min_relevance]
