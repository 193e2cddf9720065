"""Retrieval without generation, under the same ACL rule as chat."""

from __future__ import annotations

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
    allowed_groups, decision = runtime.policy.retrieval_filter(principal)
    found = retrieve(runtime, query, allowed_groups, top_k, mode, filters, question)
    with session_scope(runtime.sessions) as session:
        audit.record_decision(
            session,
            decision,
            principal.id,
            {"endpoint": "search", "hits": len(found.passages), "mode": found.mode, "answerable": found.answerable},
        )
    return found
