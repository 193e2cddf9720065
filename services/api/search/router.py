"""HTTP route for retrieval-only search."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from services.api.deps import AuditWriterDep, PiiDep, PoliciesDep, RetrieverDep, RewriterDep, SearchCaller
from services.api.fields import to_turns
from services.api.search import service
from services.api.search.schemas import NearestDocumentOut, SearchHit, SearchRequest, SearchResponse
from services.core.llm.admission import priority_of

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchResponse)
async def search(
    body: SearchRequest,
    audit_log: AuditWriterDep,
    retriever: RetrieverDep,
    policies: PoliciesDep,
    pii: PiiDep,
    rewriter: RewriterDep,
    principal: SearchCaller,
) -> SearchResponse:
    """Ranked chunks the caller may read (document id, title, score, similarity, text), and whether any of
    them clears the relevance floor. A follow-up with `history` is first rewritten into a standalone query."""
    rewritten = await rewriter.rewrite(
        body.query, to_turns(body.history), body.rewrite, caller=principal, priority=priority_of(principal)
    )
    found = await run_in_threadpool(
        lambda: service.search(
            audit_log=audit_log,
            retriever=retriever,
            policies=policies,
            pii=pii,
            principal=principal,
            query=rewritten.query,
            top_k=body.top_k,
            mode=body.mode,
            filters=body.filters.to_filters() if body.filters else None,
            question=body.query,
        )
    )
    # With pii_ingestion=redact_output the index keeps originals and results show placeholders (numbered
    # across this response's results); the query was searched as typed.
    texts = [p.chunk.text for p in found.passages]
    if pii.redact_output and texts:
        texts = await run_in_threadpool(pii.redact_many, texts)
    return SearchResponse(
        query=found.query,
        rewrite=rewritten.method,
        mode=found.mode,
        answerable=found.answerable,
        best_similarity=None if found.best_similarity is None else round(found.best_similarity, 6),
        uncovered_terms=found.uncovered,
        nearest=[NearestDocumentOut.of(d) for d in found.nearest],
        results=[SearchHit.of(p, text) for p, text in zip(found.passages, texts, strict=True)],
    )
