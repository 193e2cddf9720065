"""HTTP route for retrieval-only search."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from services.api.deps import CurrentPrincipal, RuntimeDep
from services.api.search import service
from services.api.search.schemas import SearchHit, SearchRequest, SearchResponse

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchResponse)
async def search(body: SearchRequest, runtime: RuntimeDep, principal: CurrentPrincipal) -> SearchResponse:
    """Ranked chunks the caller may read: document id, title, score and text."""
    hits = await run_in_threadpool(service.search, runtime, principal, body.query, body.top_k)
    return SearchResponse(
        results=[
            SearchHit(
                document_id=h.document_id,
                title=h.title,
                heading=h.heading,
                chunk_index=h.chunk_index,
                score=round(h.score, 6),
                text=h.text,
                location=dict(h.location),
            )
            for h in hits
        ]
    )
