"""The admin console's API: key-for-cookie sign-in with CSRF, feedback, usage, queue, audit log, paging."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.documents import make_markdown
from tests.support.api import ClientFactory, issue_key, upload, wait_settled
from tests.support.settings import ADMIN_KEY, auth


@pytest.fixture(scope="module")
def api(embedded_api: ClientFactory) -> TestClient:
    api = embedded_api()
    for name, text, tags in (
        ("canteen.md", "The canteen serves lunch from 11:45 until 14:00.", "food"),
        ("gym.md", "The gym on floor two opens at 06:00.", "sport,building"),
    ):
        doc = upload(api, ADMIN_KEY, name, make_markdown(name, [("Facts", text)]), tags=tags)
        wait_settled(api, ADMIN_KEY, doc.json()["id"])
    return api


def signed_in(api: TestClient, key: str = ADMIN_KEY) -> str:
    """Sign in; the client keeps the cookie. Returns the CSRF token."""
    response = api.post("/v1/admin/session", json={"key": key})
    assert response.status_code == 200, response.text
    csrf: str = response.json()["csrf_token"]
    return csrf


def test_sign_in_sets_an_httponly_strict_cookie_and_never_returns_the_key(api: TestClient) -> None:
    response = api.post("/v1/admin/session", json={"key": ADMIN_KEY})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"].lower()
    assert "steward_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert ADMIN_KEY not in response.text
    assert response.json()["principal"]["role"] == "admin"
    api.cookies.clear()


def test_a_session_reads_freely_but_changes_only_with_the_csrf_token(api: TestClient) -> None:
    csrf = signed_in(api)
    assert api.get("/v1/admin/sites").status_code == 200
    assert api.get("/v1/admin/session").json()["csrf_token"] == csrf
    body = {"name": "csrf-site", "origins": ["https://a.example.com"]}
    refused = api.post("/v1/admin/sites", json=body)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_rejected"
    assert api.post("/v1/admin/sites", json=body, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert api.post("/v1/admin/sites", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
    assert api.delete("/v1/admin/session").status_code == 204
    assert api.get("/v1/admin/sites").status_code == 401
    api.cookies.clear()


def test_revoking_the_key_ends_its_console_sessions(api: TestClient) -> None:
    key = issue_key(api, "console-admin", "admin", [])
    signed_in(api, key)
    assert api.get("/v1/admin/keys").status_code == 200
    prefix = key.split("_")[1]
    assert api.delete(f"/v1/admin/keys/{prefix}", headers=auth(ADMIN_KEY)).status_code == 200
    response = api.get("/v1/admin/keys")
    assert response.status_code == 401 and "no longer valid" in response.json()["error"]["message"]
    api.cookies.clear()


def test_people_cannot_open_console_sessions(api: TestClient) -> None:
    key = issue_key(api, "plain-person", "user", ["everyone"])
    assert api.post("/v1/admin/session", json={"key": key}).status_code == 403
    assert api.post("/v1/admin/session", json={"key": "stw_nope_nope"}).status_code == 401
    assert api.post("/v1/admin/session", json={"key": ""}).status_code == 422
    assert "set-cookie" not in api.post("/v1/admin/session", json={"key": key}).headers


def test_feedback_is_kept_with_the_answer_and_shown_to_admins(api: TestClient) -> None:
    key = issue_key(api, "rater", "user", ["everyone"])
    other = issue_key(api, "snoop", "user", ["everyone"])
    answer = api.post("/v1/chat", json={"question": "When does the canteen serve lunch?"}, headers=auth(key)).json()
    message_id = answer["message_id"]
    assert message_id
    body = {"message_id": message_id, "rating": "down", "comment": "too vague"}
    assert api.post("/v1/feedback", json=body, headers=auth(other)).status_code == 404
    assert api.post("/v1/feedback", json=body, headers=auth(key)).status_code == 201
    again = {"message_id": message_id, "rating": "up", "comment": ""}
    assert api.post("/v1/feedback", json=again, headers=auth(key)).status_code == 201
    listed = api.get("/v1/admin/feedback", headers=auth(ADMIN_KEY)).json()
    mine = [f for f in listed["feedback"] if f["message_id"] == message_id]
    assert len(mine) == 1 and mine[0]["rating"] == "up"
    assert mine[0]["question"] == "When does the canteen serve lunch?"
    assert mine[0]["answer"] == answer["answer"]
    assert [c["title"] for c in mine[0]["citations"]] == [c["title"] for c in answer["citations"]]
    assert api.get("/v1/admin/feedback", headers=auth(key)).status_code == 403
    for bad in ({"message_id": message_id, "rating": "meh"}, {"message_id": "", "rating": "up"}, {"rating": "up"}):
        assert api.post("/v1/feedback", json=bad, headers=auth(key)).status_code == 422


def test_usage_counts_what_the_audit_log_holds(api: TestClient) -> None:
    key = issue_key(api, "counter", "user", ["usage-group", "everyone"])
    before = api.get("/v1/admin/usage?days=1&group=usage-group", headers=auth(ADMIN_KEY)).json()
    assert before["days"][0]["requests"] == 0
    api.post("/v1/chat", json={"question": "When does the gym open?"}, headers=auth(key)).raise_for_status()
    api.post("/v1/chat", json={"question": "Who won the 1930 world cup?"}, headers=auth(key)).raise_for_status()
    usage = api.get("/v1/admin/usage?days=1&group=usage-group", headers=auth(ADMIN_KEY)).json()
    today = usage["days"][-1]
    assert today["requests"] == 2
    assert today["latency_p50_ms"] is not None and today["latency_p95_ms"] >= today["latency_p50_ms"]
    assert {"group": "usage-group", "requests": 2, "tokens": today["tokens"]} in usage["by_group"]
    assert any(d["title"] == "gym.md" for d in usage["top_documents"])
    assert api.get("/v1/admin/usage?days=0", headers=auth(ADMIN_KEY)).status_code == 422


def test_queue_reports_ready_documents_and_failures_with_reasons(api: TestClient) -> None:
    bad = upload(api, ADMIN_KEY, "broken.pdf", b"%PDF-1.4 not really a pdf")
    wait_settled(api, ADMIN_KEY, bad.json()["id"])
    queue = api.get("/v1/admin/queue", headers=auth(ADMIN_KEY)).json()
    assert queue["ready"] >= 2 and queue["failed"] >= 1
    failed = [j for j in queue["failed_jobs"] if j["document_id"] == bad.json()["id"]]
    assert failed and failed[0]["error"]


def test_audit_events_filter_by_person_and_action(api: TestClient) -> None:
    key = issue_key(api, "audited", "user", ["everyone"])
    api.post("/v1/search", json={"query": "gym"}, headers=auth(key)).raise_for_status()
    principal_id = api.get("/v1/admin/principals?q=audited", headers=auth(ADMIN_KEY)).json()["principals"][0]["id"]
    events = api.get(
        f"/v1/admin/audit/events?principal_id={principal_id}&action=search", headers=auth(ADMIN_KEY)
    ).json()
    assert events["total"] >= 1
    assert all(e["principal_id"] == principal_id and e["action"].startswith("search") for e in events["events"])
    assert events["events"][0]["principal_name"] == "audited"
    assert api.get("/v1/admin/audit/events?since=yesterday", headers=auth(ADMIN_KEY)).status_code == 422


def test_documents_page_by_text_tag_and_status(api: TestClient) -> None:
    def titles(query: str) -> list[str]:
        body = api.get(f"/v1/documents?{query}", headers=auth(ADMIN_KEY)).json()
        return sorted(d["title"] for d in body["documents"])

    assert titles("q=GYM") == ["gym.md"]
    assert titles("tag=food") == ["canteen.md"]
    assert "broken.pdf" not in titles("status=ready")
    assert titles("q=%25") == []  # a wildcard in the text is only a character
    page = api.get("/v1/documents?limit=1&offset=1", headers=auth(ADMIN_KEY)).json()
    assert len(page["documents"]) == 1 and page["total"] >= 2


def test_the_console_and_widget_answer_503_until_built(embedded_api: ClientFactory, tmp_path: object) -> None:
    api = embedded_api(web_dist_dir=tmp_path)
    response = api.get("/admin/")
    assert response.status_code == 503 and "make web" in response.json()["error"]["message"]
    assert api.get("/widget/steward.js").status_code == 503


def test_without_an_openid_provider_single_sign_on_is_off(api: TestClient) -> None:
    assert api.get("/v1/admin/sso").json() == {"enabled": False, "provider": None}
    for path in ("/v1/admin/sso/login", "/v1/admin/sso/callback?code=x&state=y"):
        response = api.get(path, follow_redirects=False)
        assert response.status_code == 404 and response.json()["error"]["code"] == "sso_not_configured"
