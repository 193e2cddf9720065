"""HTTP route for retrieval-only search."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from services.api.deps import CurrentPrincipal, RewriterDep, RuntimeDep
from services.api.fields import to_turns
from services.api.search import service
from services.api.search.schemas import NearestDocumentOut, SearchHit, SearchRequest, SearchResponse

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchResponse)
async def search(
    body: SearchRequest, runtime: RuntimeDep, rewriter: RewriterDep, principal: CurrentPrincipal
) -> SearchResponse:
    """Ranked chunks the caller may read (document id, title, score, similarity, text), and whether any of
    them clears the relevance floor. A follow-up with `history` is first rewritten into a standalone query."""
    rewritten = await rewriter.rewrite(body.query, to_turns(body.history), body.rewrite)
    filters = body.filters.to_filters() if body.filters else None
    found = await run_in_threadpool(
        service.search, runtime, principal, rewritten.query, body.top_k, body.mode, filters, body.query
    )
    # With pii_ingestion=redact_output the index keeps originals and results show placeholders (numbered
    # across this response's results); the query was searched as typed.
    texts = [p.chunk.text for p in found.passages]
    if runtime.pii.redact_output and texts:
        texts = await run_in_threadpool(runtime.pii.redact_many, texts)
    return SearchResponse(
        query=found.query,
        rewrite=rewritten.method,
        mode=found.mode,
        answerable=found.answerable,
        best_similarity=None if found.best_similarity is None else round(found.best_similarity, 6),
        uncovered_terms=found.uncovered,
        nearest=[
            NearestDocumentOut(document_id=d.document_id, title=d.title, similarity=round(d.similarity, 6))
            for d in found.nearest
        ],
        results=[
            SearchHit(
                document_id=p.chunk.document_id,
                title=p.chunk.title,
                heading=p.chunk.heading,
                chunk_index=p.chunk.chunk_index,
                score=round(p.chunk.score, 6),
                similarity=round(p.similarity, 6),
                text=text,
                location=dict(p.chunk.location),
            )
            for p, text in zip(found.passages, texts, strict=True)
        ],
    )
