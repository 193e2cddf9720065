"""Retrieval without generation, under the same ACL rule as chat."""

from __future__ import annotations

import time

from services.core import audit
from services.core.access.principals import Caller
from services.core.audit.writer import AuditWriter
from services.core.pii import PiiGuard
from services.core.policy import ReloadablePolicies
from services.core.retrieval.search import Retrieval, Retriever
from services.core.vectorstore.port import SearchFilters, SearchMode


def search(
    *,
    audit_log: AuditWriter,
    retriever: Retriever,
    policies: ReloadablePolicies,
    pii: PiiGuard,
    principal: Caller,
    query: str,
    top_k: int,
    mode: SearchMode | None = None,
    filters: SearchFilters | None = None,
    question: str | None = None,
) -> Retrieval:
    """Ranked passages the caller may read; the request and its ACL decision are audited before it returns
    (committed with other requests' events, so concurrent searches do not queue behind each other's commits)."""
    started = time.perf_counter()
    scope, decision = policies.engine.read_scope(principal)
    found = retriever.retrieve(query, scope, top_k, mode, filters, question)
    details = {"endpoint": "search", "hits": len(found.passages), "mode": found.mode, "answerable": found.answerable}
    audit_log.append(
        [
            audit.decision_event(decision, principal.id, details),
            audit.search_request_event(
                principal_id=principal.id,
                query=pii.question(query),
                question=None if question is None else pii.question(question),
                mode=found.mode,
                chunk_ids=[p.chunk.id for p in found.passages],
                decisions=[decision],
                latency_ms=round((time.perf_counter() - started) * 1000),
            ),
        ]
    )
    return found
