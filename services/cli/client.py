"""A small HTTP client of the Steward API for the CLI (the server owns the data; the CLI only talks to it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx


class ApiError(Exception):
    """An error answer from the API, with its code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} ({code}, HTTP {status})")
        self.status, self.code, self.message = status, code, message


class StewardClient:
    def __init__(self, base_url: str, api_key: str, timeout_s: float = 300.0) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout_s
        )

    def _check(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                raise ApiError(response.status_code, error["code"], error["message"])
            except (ValueError, KeyError, TypeError):
                raise ApiError(response.status_code, "http_error", response.text[:200]) from None
        return response.json() if response.content else None

    def upload(
        self, path: Path, groups: list[str], title: str | None = None, source: str | None = None
    ) -> dict[str, Any]:
        """The document; `queued` tells whether this upload started an ingestion (False: unchanged)."""
        data: dict[str, Any] = {"groups": groups}
        if title:
            data["title"] = title
        if source:
            data["source"] = source
        with path.open("rb") as handle:
            response = self._http.post("/v1/documents", files={"file": (path.name, handle)}, data=data)
        result: dict[str, Any] = self._check(response)
        return {**result, "queued": response.status_code == 202}

    def documents(self, status: str | None = None) -> list[dict[str, Any]]:
        """Every document the key can read (all pages)."""
        found: list[dict[str, Any]] = []
        while True:
            params: dict[str, Any] = {"limit": 500, "offset": len(found)}
            if status:
                params["status"] = status
            page = self._check(self._http.get("/v1/documents", params=params))
            found.extend(page["documents"])
            if not page["documents"] or len(found) >= page["total"]:
                return found

    def jobs(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit, **({"status": status} if status else {})}
        result: list[dict[str, Any]] = self._check(self._http.get("/v1/admin/jobs", params=params))["jobs"]
        return result

    def retry(self, document_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._check(self._http.post(f"/v1/documents/{document_id}/retry"))
        return result

    def document(self, document_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._check(self._http.get(f"/v1/documents/{document_id}"))
        return result

    def chat(self, question: str, conversation_id: str | None = None) -> dict[str, Any]:
        body = {"question": question, "conversation_id": conversation_id}
        result: dict[str, Any] = self._check(self._http.post("/v1/chat", json=body))
        return result

    def chat_stream(self, question: str, conversation_id: str | None = None) -> Iterator[tuple[str, Any]]:
        """Yields (event, payload) pairs from the SSE stream."""
        body = {"question": question, "conversation_id": conversation_id, "stream": True}
        with self._http.stream("POST", "/v1/chat", json=body) as response:
            if response.status_code >= 400:
                response.read()
                self._check(response)
            event = "message"
            for line in response.iter_lines():
                if line.startswith("event:"):
                    event = line.removeprefix("event:").strip()
                elif line.startswith("data:"):
                    yield event, json.loads(line.removeprefix("data:").strip())

    def index_drift(self, repair: bool = False) -> dict[str, Any]:
        """Where the vector index disagrees with the database; with `repair`, after putting it right."""
        if repair:
            result: dict[str, Any] = self._check(self._http.post("/v1/admin/index/repair"))
        else:
            result = self._check(self._http.get("/v1/admin/index/drift"))
        return result

    def close(self) -> None:
        self._http.close()
