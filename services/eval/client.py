"""The public API calls the harness makes, and nothing else: upload, list documents, search, chat.

It wraps any httpx-style client that already carries the base URL and the Authorization header: an
`httpx.Client` for a running server, or FastAPI's `TestClient` (an httpx2 client) for the in-process app.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import httpx

from services.client.models import DoneEvent, ErrorEvent, MetaEvent, TokenEvent
from services.client.sse import EventAssembler
from services.eval.errors import EvalError

_TRANSPORT_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, OSError)
try:  # FastAPI's TestClient is built on httpx2
    import httpx2

    _TRANSPORT_ERRORS += (httpx2.HTTPError,)
except ImportError:  # pragma: no cover - only without starlette's test client
    pass

DOCUMENTS_PAGE = 500
CHAT_ATTEMPTS = 6  # 429 (shed) and 503 (model not ready) are retried after Retry-After


class ApiError(EvalError):
    """An error answer from the API, with its HTTP status and error code."""

    def __init__(self, call: str, status: int, code: str, message: str) -> None:
        super().__init__(f"{call}: {message} ({code}, HTTP {status})")
        self.status, self.code, self.message = status, code, message


class HttpResponse(Protocol):
    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def json(self, **kwargs: Any) -> Any: ...


class HttpClient(Protocol):
    def request(self, *args: Any, **kwargs: Any) -> HttpResponse: ...

    def close(self) -> None: ...


class EvalClient:
    def __init__(self, http: HttpClient, sleep: Any = time.sleep) -> None:
        self._http = http
        self._sleep = sleep

    def _call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        call = f"{method} {path}"
        try:
            response = self._http.request(method, path, **kwargs)
        except _TRANSPORT_ERRORS as exc:  # refused connection, timeout, ...
            raise EvalError(f"{call}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            code, message = "http_error", response.text[:300]
            try:
                error = response.json()["error"]
                code, message = str(error["code"]), str(error["message"])
            except (ValueError, KeyError, TypeError):
                pass
            raise ApiError(call, response.status_code, code, message)
        return response.status_code, response.json()

    def upload(self, path: Path, source: str, groups: list[str]) -> tuple[dict[str, Any], bool]:
        """POST /v1/documents; the document and whether this upload queued an ingestion (202; 200: unchanged)."""
        with path.open("rb") as handle:
            status, document = self._call(
                "POST",
                "/v1/documents",
                files={"file": (path.name, handle)},
                data={"groups": ",".join(groups), "source": source},
            )
        return document, status == 202

    def documents(self) -> list[dict[str, Any]]:
        """GET /v1/documents, every page."""
        found: list[dict[str, Any]] = []
        while True:
            _, page = self._call("GET", "/v1/documents", params={"limit": DOCUMENTS_PAGE, "offset": len(found)})
            found.extend(page["documents"])
            if not page["documents"] or len(found) >= page["total"]:
                return found

    def search(
        self, query: str, mode: str, top_k: int, rewrite: str, history: list[dict[str, str]] | None = None
    ) -> dict[str, Any]:
        """POST /v1/search."""
        body: dict[str, Any] = {"query": query, "top_k": top_k, "mode": mode, "rewrite": rewrite}
        if history:
            body["history"] = history
        _, result = self._call("POST", "/v1/search", json=body)
        return dict(result)

    def chat(self, question: str, history: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """POST /v1/chat without streaming; waits out 429/503 answers (Retry-After) a few times."""
        body: dict[str, Any] = {"question": question, "stream": False}
        if history:
            body["history"] = history
        for attempt in range(1, CHAT_ATTEMPTS + 1):
            try:
                _, result = self._call("POST", "/v1/chat", json=body)
                return dict(result)
            except ApiError as exc:
                if exc.status not in (429, 503) or attempt == CHAT_ATTEMPTS:
                    raise
                self._sleep(min(5.0 * attempt, 30.0))
        raise AssertionError("unreachable")

    def chat_raw(self, question: str, history: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """POST /v1/chat streamed, read whole: the `done` answer, plus `raw` (the text of its token events: the
        model's own words, citing the prompt's numbers) and `sources` (the `meta` event's: every source the
        model was given, under those numbers). What the grounding bench checks offline. The stream is read by
        the client's own parser (services/client/sse.py)."""
        body: dict[str, Any] = {"question": question, "stream": True}
        if history:
            body["history"] = history
        try:
            response = self._http.request("POST", "/v1/chat", json=body)
        except _TRANSPORT_ERRORS as exc:
            raise EvalError(f"POST /v1/chat: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise ApiError("POST /v1/chat", response.status_code, "http_error", response.text[:300])
        assembler = EventAssembler()
        events = [event for line in response.text.splitlines() if (event := assembler.feed(line)) is not None]
        if (last := assembler.finish()) is not None:
            events.append(last)
        for event in events:
            if isinstance(event, ErrorEvent):  # the stream had begun (200), then the answer failed
                raise ApiError("POST /v1/chat", 200, event.error.code, event.error.message)
        meta = next(e for e in events if isinstance(e, MetaEvent))
        done = next(e for e in events if isinstance(e, DoneEvent))
        return {
            **done.model_dump(mode="json"),
            "raw": "".join(e.text for e in events if isinstance(e, TokenEvent)),
            "sources": [source.model_dump(mode="json") for source in meta.sources],
        }

    def close(self) -> None:
        self._http.close()
