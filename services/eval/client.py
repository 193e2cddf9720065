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

    def close(self) -> None:
        self._http.close()
