"""`AsyncStewardClient`: the document, search, chat and feedback methods of `StewardClient`, for asyncio."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from types import TracebackType

import httpx
from typing_extensions import Unpack

from services.client import calls
from services.client.calls import Call, ChatOptions, Endpoint, FileInput, Filters, History
from services.client.models import (
    ChatAnswer,
    ChatEvent,
    Document,
    DocumentList,
    Feedback,
    Rating,
    RetrievalMode,
    RewriteChoice,
    SearchResult,
    UploadedDocument,
)
from services.client.sse import EventAssembler, raise_if_error
from services.client.sync_client import DEFAULT_TIMEOUT_S


class AsyncStewardClient:
    """A client of one Steward server, as one API key, for asyncio; see `StewardClient` for each method.

    `http_client` lets a caller bring its own `httpx.AsyncClient`; the client does not close one it was given."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT_S,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._endpoint = Endpoint(base_url, api_key)
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.AsyncClient(timeout=timeout)

    async def __aenter__(self) -> AsyncStewardClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # Documents

    async def upload_document(
        self,
        file: FileInput,
        *,
        groups: Sequence[str],
        filename: str | None = None,
        title: str | None = None,
        source: str | None = None,
        tags: Sequence[str] | None = None,
        classification: str | None = None,
    ) -> UploadedDocument:
        call = calls.upload(
            file,
            filename=filename,
            groups=groups,
            title=title,
            source=source,
            tags=tags,
            classification=classification,
        )
        return calls.read_upload(await self._send(call))

    async def get_document(self, document_id: str) -> Document:
        return calls.read(await self._send(Call("GET", f"/v1/documents/{document_id}")), Document)

    async def list_documents(
        self,
        *,
        status: str | None = None,
        q: str | None = None,
        classification: str | None = None,
        tag: str | None = None,
        group: str | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[Document]:
        offset: int | None = 0
        while offset is not None:
            call = calls.documents_page(
                offset=offset,
                limit=min(page_size, calls.MAX_PAGE),
                status=status,
                q=q,
                classification=classification,
                tag=tag,
                group=group,
            )
            page = calls.read(await self._send(call), DocumentList)
            for document in page.documents:
                yield document
            offset = calls.next_offset(page.offset, len(page.documents), page.total)

    async def delete_document(self, document_id: str) -> None:
        calls.check(await self._send(Call("DELETE", f"/v1/documents/{document_id}")))

    async def wait_for_document(
        self, document_id: str, timeout: float = 120.0, *, poll_interval: float = 0.5
    ) -> Document:
        deadline = time.monotonic() + timeout
        while True:
            document = await self.get_document(document_id)
            if document.settled:
                return document
            if time.monotonic() >= deadline:
                raise TimeoutError(f"document {document_id} still {document.status} after {timeout}s")
            await asyncio.sleep(poll_interval)

    # Questions

    async def search(
        self,
        query: str,
        *,
        top_k: int = 5,
        mode: RetrievalMode | None = None,
        filters: Filters | None = None,
        history: History | None = None,
        rewrite: RewriteChoice | None = None,
    ) -> SearchResult:
        call = calls.search(query, top_k=top_k, mode=mode, filters=filters, history=history, rewrite=rewrite)
        return calls.read(await self._send(call), SearchResult)

    async def chat(self, question: str, **options: Unpack[ChatOptions]) -> ChatAnswer:
        call = calls.chat(question, stream=False, **options)
        return calls.read(await self._send(call), ChatAnswer)

    async def chat_stream(self, question: str, **options: Unpack[ChatOptions]) -> AsyncIterator[ChatEvent]:
        call = calls.chat(question, stream=True, **options)
        request = self._http.build_request(
            call.method, self._endpoint.url(call.path), headers=self._endpoint.headers(), **call.request_kwargs()
        )
        response = await self._http.send(request, stream=True)
        try:
            if response.status_code >= 400:
                await response.aread()
                calls.check(response)
            events = EventAssembler()
            async for line in response.aiter_lines():
                event = events.feed(line)
                if event is not None:
                    yield raise_if_error(event)
            last = events.finish()
            if last is not None:
                yield raise_if_error(last)
        finally:
            await response.aclose()

    async def give_feedback(self, message_id: str, rating: Rating, comment: str = "") -> Feedback:
        return calls.read(await self._send(calls.feedback(message_id, rating, comment)), Feedback)

    async def _send(self, call: Call) -> httpx.Response:
        return await self._http.request(
            call.method, self._endpoint.url(call.path), headers=self._endpoint.headers(), **call.request_kwargs()
        )
