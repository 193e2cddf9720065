"""`StewardClient`: the Steward API over HTTP, with typed answers and typed errors (what the CLI uses)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any

import httpx
from typing_extensions import Unpack

from services.client import calls
from services.client.calls import Call, ChatOptions, Endpoint, FileInput, Filters, History
from services.client.models import (
    Backup,
    ChatAnswer,
    ChatEvent,
    Document,
    DocumentList,
    Feedback,
    IndexDrift,
    IndexGeneration,
    Job,
    JobList,
    Rating,
    RetrievalMode,
    RewriteChoice,
    SearchResult,
    TuneJob,
    UploadedDocument,
)
from services.client.sse import EventAssembler, raise_if_error

DEFAULT_TIMEOUT_S = 300.0  # a chat answer from a busy model server can take minutes


class StewardClient:
    """A client of one Steward server, as one API key.

    `http_client` lets a caller bring its own `httpx.Client` (proxies, TLS, a test app's client); the client does
    not close one it was given, and `timeout` applies only to the one it makes itself."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT_S,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._endpoint = Endpoint(base_url, api_key)
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client(timeout=timeout)

    def __enter__(self) -> StewardClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    # Documents

    def upload_document(
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
        """Upload a file (a path, or bytes with a `filename`) for the `groups` to read (admin key).

        Uploading to an existing `source` makes a new version; `queued` is False when the identical file was
        already there and nothing will be ingested."""
        call = calls.upload(
            file,
            filename=filename,
            groups=groups,
            title=title,
            source=source,
            tags=tags,
            classification=classification,
        )
        return calls.read_upload(self._send(call))

    def get_document(self, document_id: str) -> Document:
        """Status, stage, progress, version and error of one document."""
        return calls.read(self._send(Call("GET", f"/v1/documents/{document_id}")), Document)

    def list_documents(
        self,
        *,
        status: str | None = None,
        q: str | None = None,
        classification: str | None = None,
        tag: str | None = None,
        group: str | None = None,
        page_size: int = 100,
    ) -> Iterator[Document]:
        """Every document the key may read, newest first, fetched a page at a time as it is iterated."""
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
            page = calls.read(self._send(call), DocumentList)
            yield from page.documents
            offset = calls.next_offset(page.offset, len(page.documents), page.total)

    def delete_document(self, document_id: str) -> None:
        """Remove the document, its chunks and every vector of it (admin key)."""
        calls.check(self._send(Call("DELETE", f"/v1/documents/{document_id}")))

    def retry_document(self, document_id: str) -> Document:
        """Queue a failed document again (admin key); ConflictError when it has not failed."""
        return calls.read(self._send(Call("POST", f"/v1/documents/{document_id}/retry")), Document)

    def wait_for_document(self, document_id: str, timeout: float = 120.0, *, poll_interval: float = 0.5) -> Document:
        """Poll until the document is ready or failed (see `Document.settled`); TimeoutError after `timeout` s.
        A failed document is returned, not raised: its `error` says why."""
        deadline = time.monotonic() + timeout
        while True:
            document = self.get_document(document_id)
            if document.settled:
                return document
            if time.monotonic() >= deadline:
                raise TimeoutError(f"document {document_id} still {document.status} after {timeout}s")
            time.sleep(poll_interval)

    # Questions

    def search(
        self,
        query: str,
        *,
        top_k: int = 5,
        mode: RetrievalMode | None = None,
        filters: Filters | None = None,
        history: History | None = None,
        rewrite: RewriteChoice | None = None,
    ) -> SearchResult:
        """The passages the key may read that best match `query`, without an answer."""
        call = calls.search(query, top_k=top_k, mode=mode, filters=filters, history=history, rewrite=rewrite)
        return calls.read(self._send(call), SearchResult)

    def chat(self, question: str, **options: Unpack[ChatOptions]) -> ChatAnswer:
        """An answer from the documents the key may read, with numbered citations and sentence verdicts."""
        call = calls.chat(question, stream=False, **options)
        return calls.read(self._send(call), ChatAnswer)

    def chat_stream(self, question: str, **options: Unpack[ChatOptions]) -> Iterator[ChatEvent]:
        """The answer as it is written: a MetaEvent, TokenEvents, SentenceEvents, then a DoneEvent (the whole
        answer, as chat() returns it). An error event is raised as its typed error; nothing follows it.
        Stopping the iteration early closes the connection, and the server stops generating."""
        call = calls.chat(question, stream=True, **options)
        request = self._http.build_request(
            call.method, self._endpoint.url(call.path), headers=self._endpoint.headers(), **call.request_kwargs()
        )
        response = self._http.send(request, stream=True)
        try:
            if response.status_code >= 400:
                response.read()
                calls.check(response)
            events = EventAssembler()
            for line in response.iter_lines():
                event = events.feed(line)
                if event is not None:
                    yield raise_if_error(event)
            last = events.finish()
            if last is not None:
                yield raise_if_error(last)
        finally:
            response.close()

    def give_feedback(self, message_id: str, rating: Rating, comment: str = "") -> Feedback:
        """Thumbs up or down on one of the key's answers (`ChatAnswer.message_id`); again replaces it."""
        return calls.read(self._send(calls.feedback(message_id, rating, comment)), Feedback)

    # Administration

    def list_jobs(self, *, status: str | None = None, limit: int = 100) -> list[Job]:
        """The newest `limit` ingestion jobs (admin key); `status="failed"` is the failed-jobs view."""
        jobs: list[Job] = []
        offset: int | None = 0
        while offset is not None and len(jobs) < limit:
            call = calls.jobs_page(offset=offset, limit=min(limit - len(jobs), calls.MAX_PAGE), status=status)
            page = calls.read(self._send(call), JobList)
            jobs.extend(page.jobs)
            offset = calls.next_offset(page.offset, len(page.jobs), page.total)
        return jobs[:limit]

    def index_drift(self) -> IndexDrift:
        """Where the vector index disagrees with the database (admin key); changes nothing."""
        return calls.read(self._send(Call("GET", "/v1/admin/index/drift")), IndexDrift)

    def repair_index(self) -> IndexDrift:
        """Repair every disagreement (admin key); returns what was found."""
        return calls.read(self._send(Call("POST", "/v1/admin/index/repair")), IndexDrift)

    def index_generations(self) -> list[IndexGeneration]:
        """Every index generation, newest first (admin key)."""
        response = self._send(Call("GET", "/v1/admin/index/generations"))
        calls.check(response)
        return [IndexGeneration.model_validate(item) for item in response.json()]

    def start_tuning(self, **options: Any) -> TuneJob:
        """Tune the encoder on the indexed documents in the server and switch when no worse (admin key)."""
        return calls.read(self._send(Call("POST", "/v1/admin/index/tune", json=options)), TuneJob)

    def tuning(self) -> TuneJob:
        """The latest tuning's stage and progress (admin key)."""
        return calls.read(self._send(Call("GET", "/v1/admin/index/tune")), TuneJob)

    def rollback_index(self) -> dict[str, Any]:
        """Make the previous index generation live again (admin key); returns which model is live now."""
        response = self._send(Call("POST", "/v1/admin/index/rollback"))
        calls.check(response)
        result: dict[str, Any] = response.json()
        return result

    def create_backup(self, name: str | None = None) -> Backup:
        """Have the server write a backup into its backup folder while it keeps serving (admin key)."""
        body = {"name": name} if name else {}
        return calls.read(self._send(Call("POST", "/v1/admin/backups", json=body)), Backup)

    def _send(self, call: Call) -> httpx.Response:
        return self._http.request(
            call.method, self._endpoint.url(call.path), headers=self._endpoint.headers(), **call.request_kwargs()
        )
