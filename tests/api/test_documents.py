"""The documents API on the embedded profile: upload, ingest, status, list, delete, and every bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.documents import CORRUPT_PDF, FAKE_EXE, make_docx, make_markdown, make_pdf
from tests.support.api import ClientFactory, issue_key, upload, wait_settled
from tests.support.settings import ADMIN_KEY, auth

MAX_UPLOAD = 64 * 1024


@pytest.fixture(scope="module")
def api(embedded_api: ClientFactory) -> TestClient:
    return embedded_api(max_upload_bytes=MAX_UPLOAD)


def assert_error(response, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def test_uploaded_pdf_becomes_ready_with_chunks(api: TestClient) -> None:
    pdf = make_pdf(["The parking garage opens at six.", "Bicycles go in the basement."], title="Parking guide")
    response = upload(api, ADMIN_KEY, "parking.pdf", pdf, groups="everyone")
    assert response.status_code == 202, response.text
    assert response.json()["status"] in ("queued", "processing", "ready")
    document = wait_settled(api, ADMIN_KEY, response.json()["id"])
    assert document["status"] == "ready", document
    assert document["progress"] == 100
    assert document["chunk_count"] == 2
    assert document["title"] == "Parking guide"
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    assert runtime.vector_store.count(document["id"]) == 2


def test_identical_reupload_returns_the_existing_document_and_a_renamed_copy_is_its_own(api: TestClient) -> None:
    markdown = make_markdown("Lunch", [("Canteen", "The canteen serves lunch from noon to two.")])
    first = upload(api, ADMIN_KEY, "lunch.md", markdown)
    wait_settled(api, ADMIN_KEY, first.json()["id"])
    second = upload(api, ADMIN_KEY, "lunch.md", markdown)
    assert second.status_code == 200
    assert (second.json()["id"], second.json()["version"]) == (first.json()["id"], 1)
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    assert runtime.vector_store.count(first.json()["id"]) == second.json()["chunk_count"]
    # The document is named by its source (default: the file name); another name is another document.
    copy = upload(api, ADMIN_KEY, "lunch-copy.md", markdown)
    assert copy.status_code == 202 and copy.json()["id"] != first.json()["id"]


def test_documents_list_and_get_show_status(api: TestClient) -> None:
    docx = make_docx("Travel policy", [("Trains", "Book second class for trips under four hours.")])
    created = upload(api, ADMIN_KEY, "travel.docx", docx).json()
    wait_settled(api, ADMIN_KEY, created["id"])
    listing = api.get("/v1/documents", headers=auth(ADMIN_KEY)).json()
    assert created["id"] in [d["id"] for d in listing["documents"]]
    assert listing["total"] >= 1
    shown = api.get(f"/v1/documents/{created['id']}", headers=auth(ADMIN_KEY)).json()
    assert shown["status"] == "ready" and shown["format"] == "docx" and shown["error"] is None


def test_delete_removes_document_and_every_vector(api: TestClient) -> None:
    markdown = make_markdown("Temporary", [("Note", "This memo about the old fax machine will be deleted.")])
    created = upload(api, ADMIN_KEY, "temp.md", markdown).json()
    wait_settled(api, ADMIN_KEY, created["id"])
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    assert runtime.vector_store.count(created["id"]) > 0
    assert api.delete(f"/v1/documents/{created['id']}", headers=auth(ADMIN_KEY)).status_code == 204
    assert runtime.vector_store.count(created["id"]) == 0
    assert_error(api.get(f"/v1/documents/{created['id']}", headers=auth(ADMIN_KEY)), 404, "document_not_found")
    hits = api.post("/v1/search", json={"query": "old fax machine memo"}, headers=auth(ADMIN_KEY)).json()
    assert created["id"] not in [h["document_id"] for h in hits["results"]]
    assert_error(api.delete(f"/v1/documents/{created['id']}", headers=auth(ADMIN_KEY)), 404, "document_not_found")


def test_corrupt_pdf_fails_with_reason_and_leaves_no_vectors(api: TestClient) -> None:
    response = upload(api, ADMIN_KEY, "broken.pdf", CORRUPT_PDF)
    assert response.status_code == 202
    document = wait_settled(api, ADMIN_KEY, response.json()["id"])
    assert document["status"] == "failed"
    assert "PDF" in document["error"]
    assert document["chunk_count"] == 0
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    assert runtime.vector_store.count(document["id"]) == 0


def test_scanned_pdf_without_text_fails_readably(api: TestClient) -> None:
    document = wait_settled(api, ADMIN_KEY, upload(api, ADMIN_KEY, "scan.pdf", make_pdf(["   "])).json()["id"])
    assert document["status"] == "failed"
    assert "text" in document["error"]


def test_unsupported_type_is_415(api: TestClient) -> None:
    assert_error(upload(api, ADMIN_KEY, "setup.exe", FAKE_EXE), 415, "unsupported_media_type")


def test_executable_renamed_to_txt_is_415(api: TestClient) -> None:
    assert_error(upload(api, ADMIN_KEY, "notes.txt", FAKE_EXE), 415, "unsupported_media_type")


def test_too_large_is_413(api: TestClient) -> None:
    assert_error(upload(api, ADMIN_KEY, "big.txt", b"a" * (MAX_UPLOAD + 1)), 413, "payload_too_large")


def test_body_far_over_the_limit_is_rejected_before_parsing(api: TestClient) -> None:
    response = api.post(
        "/v1/documents",
        headers={**auth(ADMIN_KEY), "Content-Type": "multipart/form-data; boundary=x"},
        content=b"x" * (MAX_UPLOAD * 4),
    )
    assert_error(response, 413, "payload_too_large")


def test_empty_file_is_422(api: TestClient) -> None:
    assert_error(upload(api, ADMIN_KEY, "empty.txt", b""), 422, "invalid_input")


def test_missing_groups_is_422(api: TestClient) -> None:
    assert_error(upload(api, ADMIN_KEY, "a.txt", b"hello", groups=" , "), 422, "invalid_input")


def test_missing_file_field_is_422(api: TestClient) -> None:
    response = api.post("/v1/documents", headers=auth(ADMIN_KEY), data={"groups": "everyone"})
    assert_error(response, 422, "invalid_request")


def test_no_key_is_401(api: TestClient) -> None:
    response = api.get("/v1/documents")
    assert_error(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_wrong_key_is_401(api: TestClient) -> None:
    assert_error(api.get("/v1/documents", headers=auth("stw_0000_nope")), 401, "not_authenticated")
    assert_error(api.get("/v1/documents", headers={"Authorization": "Basic abc"}), 401, "not_authenticated")


def test_user_cannot_upload_or_delete_403(api: TestClient) -> None:
    user_key = issue_key(api, "uploader-wannabe", "user", ["everyone"])
    assert_error(upload(api, user_key, "a.txt", b"hello there"), 403, "permission_denied")
    app_key = issue_key(api, "some-app", "app", ["everyone"])
    listing = api.get("/v1/documents", headers=auth(ADMIN_KEY)).json()["documents"]
    assert_error(api.delete(f"/v1/documents/{listing[0]['id']}", headers=auth(app_key)), 403, "permission_denied")


def test_unknown_route_and_method_use_the_error_shape(api: TestClient) -> None:
    assert_error(api.get("/v1/nope", headers=auth(ADMIN_KEY)), 404, "not_found")
    assert_error(api.put("/v1/documents", headers=auth(ADMIN_KEY)), 405, "method_not_allowed")


def test_health_and_metrics(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    # The LLM points at a closed port in this module, so readiness says exactly that, and no more.
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "ok", "vector_store": "ok", "llm": "down"}
    assert "127.0.0.1" not in ready.text and "error" not in ready.text
    # An admin learns why (the address it tried); anyone else may not ask.
    details = api.get("/v1/admin/readyz", headers=auth(ADMIN_KEY))
    assert details.status_code == 503 and details.json()["checks"]["llm"].startswith("error: no healthy LLM server at")
    reader = issue_key(api, "ready-reader", "user", ["everyone"])
    assert api.get("/v1/admin/readyz", headers=auth(reader)).status_code == 403
    metrics = api.get("/metrics")
    assert "steward_http_requests_total" in metrics.text


def test_upload_while_the_queue_is_down_is_kept_and_published_when_it_returns(
    embedded_api: ClientFactory, tmp_path: Path
) -> None:
    import redis

    from tests.support.processes import free_port, redis_server

    port = free_port()
    api = embedded_api(broker_url=f"redis://127.0.0.1:{port}/0", worker_mode="external")
    response = upload(api, ADMIN_KEY, "notes.md", make_markdown("Notes", [("A", "Some notes to keep.")]))
    assert response.status_code == 202  # the job row is the outbox: accepted even though it is not sent yet
    document = response.json()
    assert document["status"] == "queued"
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    assert runtime.outbox.sweep() == 0  # still down: nothing sent, nothing lost
    with redis_server(tmp_path, port) as url:
        assert runtime.outbox.sweep() == 1
        queued = redis.Redis.from_url(url).lrange("steward.ingest", 0, -1)
        assert len(queued) == 1 and document["id"].encode() in queued[0]
        assert runtime.outbox.sweep() == 0  # published once; not again until it looks lost


def test_timestamps_are_utc(api: TestClient) -> None:
    listing = api.get("/v1/documents", headers=auth(ADMIN_KEY)).json()["documents"]
    assert listing and all(d["created_at"].endswith("Z") or d["created_at"].endswith("+00:00") for d in listing)
