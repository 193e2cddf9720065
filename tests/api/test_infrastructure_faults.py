"""When the machinery under Steward fails — the disk full or read-only, the database dropping connections —
clients get a clean 503 with Retry-After (or a stream `error` event), never a 500 or a cut stream, and nothing
half-done is kept. bench/load.py injects the real faults (a full tmpfs, a read-only mount, a PostgreSQL restart)
under load; here each is reproduced at the boundary where the kernel or the driver reports it."""

from __future__ import annotations

import errno
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from services.api.chat.recording import Recorder
from services.core.jobs.blobs import BlobStore
from tests.fixtures.documents import make_markdown
from tests.support.api import ClientFactory, upload, wait_settled
from tests.support.settings import ADMIN_KEY, auth

WIFI = make_markdown("Wi-Fi", [("Guests", "The guest Wi-Fi password is tulip42.")])


@pytest.fixture(scope="module")
def api(embedded_api: ClientFactory) -> TestClient:
    api = embedded_api()
    assert wait_settled(api, ADMIN_KEY, upload(api, ADMIN_KEY, "wifi.md", WIFI).json()["id"])["status"] == "ready"
    return api


def documents(api: TestClient) -> int:
    total: int = api.get("/v1/documents", headers=auth(ADMIN_KEY)).json()["total"]
    return total


def refuse_with(error: OSError) -> Any:
    def save(*_: Any, **__: Any) -> str:
        raise error

    return save


@pytest.mark.parametrize(
    "error",
    [OSError(errno.ENOSPC, "No space left on device"), OSError(errno.EROFS, "Read-only file system")],
    ids=["disk-full", "read-only"],
)
def test_an_upload_the_disk_cannot_take_is_a_503_that_keeps_nothing(
    api: TestClient, monkeypatch: pytest.MonkeyPatch, error: OSError
) -> None:
    before = documents(api)
    monkeypatch.setattr(BlobStore, "save", refuse_with(error))
    name = f"notes-{error.errno}.md"
    response = upload(api, ADMIN_KEY, name, make_markdown("Notes", [("Body", "Meeting notes.")]))
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "storage_unavailable"
    assert error.strerror in response.json()["error"]["message"]
    assert int(response.headers["Retry-After"]) > 0
    assert documents(api) == before  # no row for a file that was never stored
    monkeypatch.undo()
    again = upload(api, ADMIN_KEY, name, make_markdown("Notes", [("Body", "Meeting notes.")]))
    assert again.status_code == 202, again.text  # the same upload, retried once the disk is back
    assert wait_settled(api, ADMIN_KEY, again.json()["id"])["status"] == "ready"


def test_other_os_errors_are_still_bugs_not_retryable_faults(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(BlobStore, "save", refuse_with(OSError(errno.EISDIR, "Is a directory")))
    response = upload(api, ADMIN_KEY, "odd.md", make_markdown("Odd", [("Body", "Odd.")]))
    assert response.status_code == 500 and response.json()["error"]["code"] == "internal_error"


def test_a_dropped_database_connection_is_a_503_and_the_write_is_rolled_back(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = documents(api)
    original = Session.commit

    def lost(self: Session) -> None:
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(Session, "commit", lost)
    response = upload(api, ADMIN_KEY, "lost.md", make_markdown("Lost", [("Body", "Never stored.")]))
    monkeypatch.setattr(Session, "commit", original)
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "database_unavailable"
    assert int(response.headers["Retry-After"]) > 0
    assert documents(api) == before


def test_a_sqlite_disk_full_is_reported_as_storage(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self: Session) -> None:
        raise OperationalError("INSERT", {}, Exception("database or disk is full"))

    monkeypatch.setattr(Session, "commit", full)
    response = upload(api, ADMIN_KEY, "full.md", make_markdown("Full", [("Body", "Never stored.")]))
    monkeypatch.undo()
    assert response.status_code == 503 and response.json()["error"]["code"] == "storage_unavailable"


def test_the_database_failing_after_the_answer_streamed_ends_the_stream_with_an_error_event(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lost(*_: Any) -> str:
        raise OperationalError("INSERT", {}, Exception("terminating connection due to administrator command"))

    monkeypatch.setattr(Recorder, "answered", lost)
    body = {"question": "What is the guest Wi-Fi password?", "stream": True}
    with api.stream("POST", "/v1/chat", json=body, headers=auth(ADMIN_KEY)) as response:
        assert response.status_code == 200
        text = response.read().decode()
    assert "event: meta" in text and "event: done" not in text
    error = json.loads(text.split("event: error\ndata: ", 1)[1].split("\n", 1)[0])
    assert error["error"]["code"] == "database_unavailable", error
    monkeypatch.undo()
    with api.stream("POST", "/v1/chat", json=body, headers=auth(ADMIN_KEY)) as response:
        assert "event: done" in response.read().decode()  # the next answer is recorded as usual
