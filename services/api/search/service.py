"""Retrieval without generation, under the same ACL rule as chat."""

from __future__ import annotations

import time

from services.core import audit
from services.core.auth import PrincipalContext
from services.core.db.session import session_scope
from services.core.retrieval import Retrieval, retrieve
from services.core.runtime import Runtime
from services.core.vectorstore.port import SearchFilters, SearchMode


def search(
    runtime: Runtime,
    principal: PrincipalContext,
    query: str,
    top_k: int,
    mode: SearchMode | None = None,
    filters: SearchFilters | None = None,
    question: str | None = None,
) -> Retrieval:
    started = time.perf_counter()
    scope, decision = runtime.policy.read_scope(principal)
    found = retrieve(runtime, query, scope, top_k, mode, filters, question)
    with session_scope(runtime.sessions) as session:
        audit.record_decision(
            session,
            decision,
            principal.id,
            {"endpoint": "search", "hits": len(found.passages), "mode": found.mode, "answerable": found.answerable},
        )
        audit.record_search_request(
            session,
            principal_id=principal.id,
            query=query,
            question=question,
            mode=found.mode,
            chunk_ids=[p.chunk.id for p in found.passages],
            decisions=[decision],
            latency_ms=round((time.perf_counter() - started) * 1000),
        )
    return found
