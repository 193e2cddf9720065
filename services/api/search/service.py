"""Retrieval without generation, under the same ACL rule as chat."""

from __future__ import annotations

from services.core import audit
from services.core.auth import PrincipalContext
from services.core.db.session import session_scope
from services.core.retrieval import retrieve
from services.core.runtime import Runtime
from services.core.vectorstore import ScoredChunk


def search(runtime: Runtime, principal: PrincipalContext, query: str, top_k: int) -> list[ScoredChunk]:
    allowed_groups, decision = runtime.policy.retrieval_filter(principal)
    hits = retrieve(runtime, query, allowed_groups, top_k)
    with session_scope(runtime.sessions) as session:
        audit.record_decision(session, decision, principal.id, {"endpoint": "search", "hits": len(hits)})
    return hits
