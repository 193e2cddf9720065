"""`StewardRetriever`: Steward's search (`POST /v1/search`) as a LangChain retriever."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import Field

from services.client import SearchHit
from services.client.models import RetrievalMode
from services.integrations.langchain.connection import StewardConnection


class StewardRetriever(StewardConnection, BaseRetriever):
    """The passages the API key may read that best match the query, best first, one Document each.

    `top_k`, `mode` and `filters` may also be given per call: `retriever.invoke(query, top_k=3)`."""

    top_k: int = Field(default=5, ge=1, le=50)
    mode: RetrievalMode | None = Field(default=None, description="dense, sparse or hybrid (default: the server's)")
    filters: dict[str, Any] | None = Field(
        default=None, description="document_ids, tags, source_types, created_from, created_to"
    )

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        top_k: int | None = None,
        mode: RetrievalMode | None = None,
        filters: dict[str, Any] | None = None,
    ) -> list[Document]:
        with self.client() as steward:
            found = steward.search(
                query, top_k=top_k or self.top_k, mode=mode or self.mode, filters=filters or self.filters
            )
        return [to_document(hit) for hit in found.results]

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        top_k: int | None = None,
        mode: RetrievalMode | None = None,
        filters: dict[str, Any] | None = None,
    ) -> list[Document]:
        async with self.async_client() as steward:
            found = await steward.search(
                query, top_k=top_k or self.top_k, mode=mode or self.mode, filters=filters or self.filters
            )
        return [to_document(hit) for hit in found.results]


def to_document(hit: SearchHit) -> Document:
    """A hit as a LangChain Document; `source` is the title, which is what a chain shows people as the source."""
    metadata = {
        "document_id": hit.document_id,
        "title": hit.title,
        "heading": hit.heading,
        "chunk_index": hit.chunk_index,
        "location": dict(hit.location),
        "score": hit.score,
        "similarity": hit.similarity,
        "source": hit.title,
    }
    return Document(page_content=hit.text, metadata=metadata, id=f"{hit.document_id}:{hit.chunk_index}")
