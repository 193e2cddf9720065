"""API keys you can manage: create with scopes and expiry, list with last use, revoke, rotate; every scope
enforced; a revoked key refused by every process; failed authentication rate-limited; the placeholder admin key
good only on its own machine."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from services.core.db.models import ApiKey, AuditEvent
from services.core.settings import PLACEHOLDER_ADMIN_KEY
from services.server import create_app
from tests.fixtures.documents import make_markdown
from tests.support.api import ClientFactory, upload, wait_settled
from tests.support.server import ServerThread
from tests.support.settings import ADMIN_KEY, auth, make_settings


@pytest.fixture(scope="module")
def api(embedded_api: ClientFactory) -> TestClient:
    api = embedded_api(auth_failures_per_minute=5)
    document = upload(api, ADMIN_KEY, "guide.md", make_markdown("VPN guide", [("Setup", "Use port 8443 for the VPN.")]))
    wait_settled(api, ADMIN_KEY, document.json()["id"])
    return api


def create(api: TestClient, **body: Any) -> dict[str, Any]:
    response = api.post("/v1/admin/keys", json=body, headers=auth(ADMIN_KEY))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def search(api: TestClient, key: str) -> httpx.Response:
    return api.post("/v1/search", json={"query": "VPN port"}, headers=auth(key))


def test_create_list_revoke_and_rotate_a_key(api: TestClient) -> None:
    issued = create(api, name="crm-app", role="app", groups=["everyone"], label="CRM integration", expires_in_days=30)
    key, prefix = issued["key"], issued["prefix"]
    assert key.startswith(f"stw_{prefix}_") and issued["scopes"] == ["chat", "search"]
    assert search(api, key).status_code == 200

    listed = api.get("/v1/admin/keys", headers=auth(ADMIN_KEY)).json()
    mine = next(k for k in listed["keys"] if k["prefix"] == prefix)
    assert key not in str(listed) and mine["label"] == "CRM integration" and mine["last_used_at"] is not None
    assert datetime.fromisoformat(mine["expires_at"]) > datetime.now(UTC) + timedelta(days=29)

    rotated = api.post(f"/v1/admin/keys/{prefix}/rotate", headers=auth(ADMIN_KEY))
    assert rotated.status_code == 201, rotated.text
    new_key = rotated.json()["key"]
    assert rotated.json()["label"] == "CRM integration" and rotated.json()["scopes"] == ["chat", "search"]
    assert search(api, key).status_code == 401  # the old secret is dead at once
    assert search(api, new_key).status_code == 200

    revoked = api.delete(f"/v1/admin/keys/{rotated.json()['prefix']}", headers=auth(ADMIN_KEY))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    refused = search(api, new_key)
    assert refused.status_code == 401 and refused.json()["error"]["message"] == "invalid, revoked or expired API key"
    assert api.delete(f"/v1/admin/keys/{rotated.json()['prefix']}", headers=auth(ADMIN_KEY)).status_code == 200
    assert api.delete("/v1/admin/keys/000000000000", headers=auth(ADMIN_KEY)).status_code == 404

    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    with runtime.sessions() as session:
        actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("key.%"))))
    assert actions == {"key.create", "key.rotate", "key.revoke"}


def test_an_expired_key_is_refused(api: TestClient) -> None:
    issued = create(api, name="temp-user", role="user", groups=["everyone"], expires_in_days=1)
    assert search(api, issued["key"]).status_code == 200
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    with runtime.sessions() as session, session.begin():
        past = datetime.now(UTC) - timedelta(seconds=1)
        session.execute(update(ApiKey).where(ApiKey.prefix == issued["prefix"]).values(expires_at=past))
    assert search(api, issued["key"]).status_code == 401


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        (["search"], {"search"}),
        (["chat"], {"chat"}),
        (["ingest"], {"ingest"}),
        (["admin"], {"admin"}),
        (["search", "ingest"], {"search", "ingest"}),
    ],
)
def test_every_scope_is_enforced(api: TestClient, scopes: list[str], allowed: set[str]) -> None:
    key = create(api, name=f"admin-{'-'.join(scopes)}", role="admin", groups=["everyone"], scopes=scopes)["key"]
    tried = {
        "search": search(api, key),
        "chat": api.post("/v1/chat", json={"question": "Which VPN port?"}, headers=auth(key)),
        "ingest": upload(api, key, "note.md", make_markdown("Note", [("A", f"A note for {scopes}.")])),
        "admin": api.get("/v1/admin/keys", headers=auth(key)),
    }
    for scope, response in tried.items():
        if scope in allowed:
            assert response.status_code in (200, 202), (scope, response.text)
        else:
            assert response.status_code == 403 and f"'{scope}' scope" in response.json()["error"]["message"]
    # Reading the document list needs no particular scope: what is listed is what the key's principal may read.
    assert api.get("/v1/documents", headers=auth(key)).status_code == 200


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": "x", "role": "user", "scopes": ["admin"]}, "cannot have scope 'admin'"),
        ({"name": "x", "role": "user", "scopes": ["root"]}, "scopes"),
        ({"name": "x", "role": "user", "scopes": []}, "at least one scope"),
        ({"name": "x", "role": "wizard"}, "role"),
        ({"name": "", "role": "user"}, "name"),
        ({"name": "x", "expires_in_days": 0}, "expires_in_days"),
        ({"name": "x", "expires_in_days": 100_000}, "expires_in_days"),
        ({"name": "x", "groups": ["g"] * 51}, "groups"),
        ({"name": "x", "secret": "mine"}, "secret"),
    ],
)
def test_bad_key_requests_are_refused_clearly(api: TestClient, body: dict[str, Any], fragment: str) -> None:
    response = api.post("/v1/admin/keys", json=body, headers=auth(ADMIN_KEY))
    assert response.status_code == 422 and fragment in response.json()["error"]["message"], response.text


def test_key_management_is_for_admins(api: TestClient) -> None:
    user = create(api, name="plain-user", role="user", groups=["everyone"])["key"]
    assert api.get("/v1/admin/keys", headers=auth(user)).status_code == 403
    assert api.post("/v1/admin/keys", json={"name": "me", "role": "admin"}, headers=auth(user)).status_code == 403


def test_an_app_may_not_claim_interactive_priority(api: TestClient) -> None:
    app_key = create(api, name="batch-app", role="app", groups=["everyone"])["key"]
    claimed = api.post(
        "/v1/chat", json={"question": "Which VPN port?", "priority": "interactive"}, headers=auth(app_key)
    )
    assert claimed.status_code == 403 and "interactive" in claimed.json()["error"]["message"]
    user = create(api, name="person", role="user", groups=["everyone"])["key"]
    person = api.post("/v1/chat", json={"question": "Which VPN port?", "priority": "interactive"}, headers=auth(user))
    assert person.status_code == 200


def test_a_revoked_key_is_refused_by_another_process_within_a_second(tmp_path: Path, postgres_url: str) -> None:
    """The server runs here; `steward keys revoke` runs as a process of its own on the same database."""
    settings = make_settings(tmp_path, database_url=postgres_url, worker_mode="external")
    with TestClient(create_app(settings)) as api:
        issued = create(api, name="leaver", role="user", groups=["everyone"])
        assert search(api, issued["key"]).status_code == 200
        env = {**os.environ, "STEWARD_DATABASE_URL": postgres_url, "STEWARD_ADMIN_API_KEY": ADMIN_KEY}
        revoked = subprocess.run(
            [str(Path(sys.executable).with_name("steward")), "keys", "revoke", issued["prefix"]],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert revoked.returncode == 0, revoked.stderr
        finished = time.monotonic()
        refused = search(api, issued["key"])
        assert refused.status_code == 401 and time.monotonic() - finished < 1.0


def test_failed_authentication_is_rate_limited_per_client(embedded_api: ClientFactory) -> None:
    """Five invalid keys a minute from one client (this app's setting), then 429 even for a valid key."""
    api = embedded_api(auth_failures_per_minute=5)
    for n in range(5):
        assert search(api, f"stw_{n:012d}_guess").status_code == 401
    blocked = search(api, ADMIN_KEY)
    assert blocked.status_code == 429 and blocked.json()["error"]["code"] == "too_many_failed_authentications"
    assert 1 <= int(blocked.headers["Retry-After"]) <= 61
    # Another client (another address) is not affected: it has its own count.
    elsewhere = TestClient(api.app, client=("10.20.30.40", 51000))
    assert elsewhere.post("/v1/search", json={"query": "VPN"}, headers=auth(ADMIN_KEY)).status_code == 200


def test_the_placeholder_admin_key_works_only_from_this_machine(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, admin_api_key=PLACEHOLDER_ADMIN_KEY)
    app = create_app(settings)
    with TestClient(app) as remote:  # the test client's requests come from host "testclient", not loopback
        assert remote.get("/v1/admin/keys", headers=auth(PLACEHOLDER_ADMIN_KEY)).status_code == 401
    with ServerThread(create_app(settings)) as served:  # a real server on 127.0.0.1
        local = httpx.get(f"{served.url}/v1/admin/keys", headers=auth(PLACEHOLDER_ADMIN_KEY))
        assert local.status_code == 200, local.text


def test_two_first_keys_for_one_name_at_once_share_one_principal(postgres_url: str) -> None:
    """Two admins issue the first key for one name at the same moment: the second insert meets the first's
    uncommitted row, waits for it, then fails on the unique name; it must take that row, not answer 500."""
    from services.core.access.keys import create_key
    from services.core.db.migrate import upgrade
    from services.core.db.models import Principal
    from services.core.db.session import make_engine, make_session_factory, session_scope

    engine = make_engine(postgres_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    first_flushed, second_done = threading.Event(), threading.Event()
    results: dict[str, str] = {}

    def second() -> None:
        first_flushed.wait(30)
        with session_scope(sessions) as session:
            results["second"] = create_key(session, "at-once", "user", ["everyone"]).caller.id
        second_done.set()

    racer = threading.Thread(target=second)
    racer.start()
    with session_scope(sessions) as session:
        results["first"] = create_key(session, "at-once", "user", ["everyone"]).caller.id
        first_flushed.set()
        # The second now blocks on the unique index behind this uncommitted row; it finishes only after commit.
        assert not second_done.wait(1.0)
    racer.join(30)
    assert results["first"] == results["second"]
    with session_scope(sessions) as session:
        assert len(session.scalars(select(Principal).where(Principal.name == "at-once")).all()) == 1
    engine.dispose()


def test_a_revocation_is_committed_before_its_response_leaves(tmp_path: Path) -> None:
    """A 200 for a change means the change is stored: the console lists the key as revoked on its very next
    request. The commit is slowed here so that a response sent before it (FastAPI's default for a dependency
    with yield) would arrive while the transaction is still open, and the key would still read as active."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    committed_revocations: set[str] = set()

    def note_revocation(session: Session, _context: object, _instances: object) -> None:
        for row in session.dirty:
            if isinstance(row, ApiKey) and row.revoked_at is not None:
                session.info["revoking"] = row.prefix

    def slow_commit(session: Session) -> None:
        prefix = session.info.pop("revoking", None)
        if prefix is not None:
            time.sleep(0.5)
            committed_revocations.add(prefix)

    event.listen(Session, "before_flush", note_revocation)
    event.listen(Session, "before_commit", slow_commit)
    try:
        with ServerThread(create_app(make_settings(tmp_path))) as served:
            key = httpx.post(
                f"{served.url}/v1/admin/keys", json={"name": "leaver", "role": "user"}, headers=auth(ADMIN_KEY)
            ).json()
            revoked = httpx.delete(f"{served.url}/v1/admin/keys/{key['prefix']}", headers=auth(ADMIN_KEY))
            assert revoked.status_code == 200, revoked.text
            assert key["prefix"] in committed_revocations
            listed = httpx.get(f"{served.url}/v1/admin/keys?include_revoked=true", headers=auth(ADMIN_KEY)).json()
            assert [k["revoked_at"] is not None for k in listed["keys"] if k["prefix"] == key["prefix"]] == [True]
            refused = httpx.post(f"{served.url}/v1/search", json={"query": "VPN"}, headers=auth(key["key"]))
            assert refused.status_code == 401
    finally:
        event.remove(Session, "before_flush", note_revocation)
        event.remove(Session, "before_commit", slow_commit)
