"""Helpers for driving the API the way a client would."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from services.core.access.keys import create_key
from services.core.db.session import session_scope

# Builds an API client on the embedded profile with settings overrides (the `embedded_api` fixture).
ClientFactory = Callable[..., TestClient]


def issue_key(client: TestClient, name: str, role: str, groups: list[str]) -> str:
    """A new API key for a principal, made through the same service `steward keys create` uses."""
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with session_scope(runtime.sessions) as session:
        key = create_key(session, name, role, groups).key
    return key


def upload(client: TestClient, key: str, filename: str, data: bytes, groups: str = "everyone", **form: str) -> Any:
    return client.post(
        "/v1/documents",
        headers={"Authorization": f"Bearer {key}"},
        files={"file": (filename, data)},
        data={"groups": groups, **form},
    )


def wait_settled(client: TestClient, key: str, document_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
    """Poll until the document is ready or failed, as `steward ingest` does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        document: dict[str, Any] = client.get(
            f"/v1/documents/{document_id}", headers={"Authorization": f"Bearer {key}"}
        ).json()
        if document["status"] in ("ready", "failed"):
            return document
        time.sleep(0.1)
    raise TimeoutError(f"document {document_id} still {document['status']} after {timeout_s}s")
