"""The audit log's hash chain: concurrent appends, tamper detection, purge, erasure, export, CLI and API."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import JSON, DateTime, Integer, String, Text, column, func, insert, select, table, text, update
from sqlalchemy.orm import Session, sessionmaker

from services.cli.main import cli
from services.core import audit
from services.core.audit.chain import VerifyResult, purge, verify
from services.core.audit.erasure import erase_principal
from services.core.audit.export import export
from services.core.audit.writer import AuditWriter
from services.core.db import migrate
from services.core.db.models import AuditEvent, Conversation, Message, Principal
from services.core.db.session import make_engine, make_session_factory, session_scope
from services.core.errors import AuditChainBroken
from services.core.policy import PolicyDecision
from tests.fixtures.documents import make_markdown
from tests.support.api import ClientFactory, issue_key, upload
from tests.support.audit_writer import write_events
from tests.support.processes import postgres_database
from tests.support.settings import ADMIN_KEY, auth


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database per test: tampering in one test must not leak into the next."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.sqlite'}"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()


def write(sessions: sessionmaker[Session], count: int, principal_id: str | None = "p-1") -> list[int]:
    ids = []
    for n in range(count):
        with session_scope(sessions) as session:
            ids.append(
                audit.record(
                    session,
                    action="test.write",
                    decision="info",
                    principal_id=principal_id,
                    reason=f"event {n}",
                    details={"n": n, "tags": ("a", "b"), "when": datetime(2026, 1, 1, tzinfo=UTC)},
                )
            )
    return ids


def execute(sessions: sessionmaker[Session], sql: str, **params: object) -> None:
    with session_scope(sessions) as session:
        session.execute(text(sql), params)


def check(sessions: sessionmaker[Session]) -> VerifyResult:
    with session_scope(sessions) as session:
        return verify(session)


def test_chain_is_intact_after_many_events_from_several_threads(sessions: sessionmaker[Session]) -> None:
    errors: list[BaseException] = []

    def writer(tag: str) -> None:
        try:
            write(sessions, 25, tag)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"t{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # A rolled-back append takes its id with it: no gap follows.
    with pytest.raises(RuntimeError), session_scope(sessions) as session:
        audit.record(session, action="test.write", decision="info", principal_id=None)
        raise RuntimeError("the caller's work failed")
    write(sessions, 1)
    result = check(sessions)
    assert result.ok, result.summary()
    assert result.rows == 151 and result.head_id == 151
    assert result.summary().startswith("chain intact: 151 rows")


def test_a_group_commit_of_several_threads_events_chains_each_once_in_order(
    sessions: sessionmaker[Session],
) -> None:
    """The audit writer appends many requests' events in one transaction: each is its own link, in order."""
    write(sessions, 2)
    writer = AuditWriter(sessions)
    try:
        threads = [
            threading.Thread(
                target=writer.append,
                args=(
                    [
                        {
                            "action": "test.batch",
                            "decision": "info",
                            "principal_id": f"t{i}",
                            "reason": f"{i} {k}",
                            "details": {"k": k},
                        }
                        for k in range(3)
                    ],
                ),
            )
            for i in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        writer.close()
    with session_scope(sessions) as session:
        rows = session.execute(
            select(AuditEvent.id, AuditEvent.principal_id, AuditEvent.reason).order_by(AuditEvent.id)
        ).all()
    assert [row.id for row in rows] == list(range(1, 27))
    for i in range(8):  # one request's events stay together and in its order
        mine = [row for row in rows if row.principal_id == f"t{i}"]
        assert [row.reason for row in mine] == [f"{i} {k}" for k in range(3)]
        assert mine[-1].id - mine[0].id == 2
    result = check(sessions)
    assert result.ok and result.rows == 26, result.summary()


def test_several_processes_share_one_chain(sessions: sessionmaker[Session], database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes writing at once is the PostgreSQL deployment")
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=write_events, args=(database_url, 20, f"proc{i}")) for i in range(3)]
    for process in processes:
        process.start()
    write(sessions, 20, "parent")
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    result = check(sessions)
    assert result.ok, result.summary()
    assert result.rows == 80


def test_modified_reason_fails_verify_naming_the_row(sessions: sessionmaker[Session]) -> None:
    write(sessions, 5)
    assert check(sessions).ok
    execute(sessions, "UPDATE audit_events SET reason = 'nothing to see' WHERE id = 3")
    result = check(sessions)
    assert not result.ok
    assert result.bad_row_id == 3
    assert "modified" in result.problem
    assert "row 3" in result.summary()


def test_modified_skeleton_field_fails_verify_naming_the_row(sessions: sessionmaker[Session]) -> None:
    write(sessions, 5)
    execute(sessions, "UPDATE audit_events SET decision = 'allow' WHERE id = 2")
    result = check(sessions)
    assert (result.ok, result.bad_row_id) == (False, 2)
    assert "hash" in result.problem


def test_deleted_middle_row_fails_verify_naming_the_gap(sessions: sessionmaker[Session]) -> None:
    write(sessions, 5)
    execute(sessions, "DELETE FROM audit_events WHERE id = 3")
    result = check(sessions)
    assert (result.ok, result.bad_row_id) == (False, 3)
    assert "missing" in result.problem and "row 2 to row 4" in result.problem


def test_deleted_last_row_is_detected(sessions: sessionmaker[Session]) -> None:
    write(sessions, 5)
    execute(sessions, "DELETE FROM audit_events WHERE id = 5")
    result = check(sessions)
    assert (result.ok, result.bad_row_id) == (False, 5)
    assert "missing" in result.problem


def test_row_written_outside_the_chain_is_detected(sessions: sessionmaker[Session]) -> None:
    write(sessions, 3)
    with session_scope(sessions) as session:
        session.execute(
            insert(AuditEvent).values(
                id=4,
                created_at=datetime.now(UTC),
                action="forged",
                decision="info",
                details={},
                payload_digest="",
                prev_hash="",
                row_hash="",
            )
        )
    result = check(sessions)
    assert (result.ok, result.bad_row_id) == (False, 4)


def test_purge_removes_old_rows_and_keeps_the_chain_verifiable(sessions: sessionmaker[Session]) -> None:
    write(sessions, 4)
    time.sleep(0.01)
    cutoff = datetime.now(UTC)
    time.sleep(0.01)
    write(sessions, 3)
    with session_scope(sessions) as session:
        result = purge(session, cutoff)
    assert (result.removed, result.anchor_id) == (4, 4)
    with session_scope(sessions) as session:
        ids = list(session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))
        purge_event = session.get(AuditEvent, result.event_id)
    assert ids == [5, 6, 7, 8]
    assert purge_event is not None and purge_event.action == "audit.purge"
    assert purge_event.details["removed"] == 4
    verified = check(sessions)
    assert verified.ok, verified.summary()
    assert (verified.rows, verified.anchor_id) == (4, 4)
    # Purging again removes nothing; tampering after a purge is still caught.
    with session_scope(sessions) as session:
        assert purge(session, cutoff).removed == 0
    execute(sessions, "DELETE FROM audit_events WHERE id = 5")
    assert check(sessions).bad_row_id == 5


def test_purge_refuses_to_destroy_evidence_of_tampering(sessions: sessionmaker[Session]) -> None:
    write(sessions, 4)
    execute(sessions, "UPDATE audit_events SET reason = 'edited' WHERE id = 2")
    with pytest.raises(AuditChainBroken, match="row 2"), session_scope(sessions) as session:
        purge(session, datetime.now(UTC))
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 4


def _chat_history(sessions: sessionmaker[Session], name: str) -> str:
    """A principal with one conversation of two messages and a chat.request audit record."""
    with session_scope(sessions) as session:
        principal = Principal(name=name, role="user", groups=["everyone"])
        session.add(principal)
        session.flush()
        conversation = Conversation(principal_id=principal.id)
        session.add(conversation)
        session.flush()
        session.add(Message(conversation_id=conversation.id, role="user", content=f"{name}'s secret question"))
        session.add(Message(conversation_id=conversation.id, role="assistant", content="an answer"))
        decision = PolicyDecision("acl", "retrieval", "filter", "restricted to groups ['everyone']")
        audit.record_decision(session, decision, principal.id, {"query": f"{name}'s secret question"})
        audit.record_chat_request(
            session,
            principal_id=principal.id,
            conversation_id=conversation.id,
            question=f"{name}'s secret question",
            query=f"{name}'s secret question",
            chunk_ids=["c1"],
            context_chunk_ids=["c1"],
            decisions=[decision],
            model="steward-gemma",
            prompt_version="v",
            answer="an answer",
            prompt_tokens=10,
            completion_tokens=3,
            latency_ms=12,
            outcome="answered",
        )
        return principal.id


def test_erasure_removes_one_principals_data_and_keeps_the_chain_verifiable(
    sessions: sessionmaker[Session],
) -> None:
    alice, bob = _chat_history(sessions, "alice"), _chat_history(sessions, "bob")
    with session_scope(sessions) as session:
        result = erase_principal(session, alice, actor_id=None, reason="data-subject request")
    assert (result.conversations, result.messages, result.audit_rows) == (1, 2, 2)
    verified = check(sessions)
    assert verified.ok, verified.summary()
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count()).select_from(Conversation).filter_by(principal_id=alice)) == 0
        assert session.scalar(select(func.count()).select_from(Conversation).filter_by(principal_id=bob)) == 1
        alice_rows = list(session.scalars(select(AuditEvent).filter_by(principal_id=alice)))
        bob_rows = list(session.scalars(select(AuditEvent).filter_by(principal_id=bob)))
        erasure = session.get(AuditEvent, result.event_id)
    assert all(r.erased_at is not None and r.reason == "" and r.details == {} for r in alice_rows)
    assert all(r.erased_at is None and "bob's secret question" in json.dumps(r.details) for r in bob_rows)
    assert erasure is not None and erasure.action == "audit.erase"
    assert erasure.details["subject_principal_id"] == alice
    # Blanking someone's payload without a recorded erasure is tampering.
    bob_row = bob_rows[0].id
    with session_scope(sessions) as session:
        session.execute(
            update(AuditEvent)
            .where(AuditEvent.id == bob_row)
            .values(reason="", details={}, payload_salt=None, erased_at=datetime.now(UTC))
        )
    result_after = check(sessions)
    assert (result_after.ok, result_after.bad_row_id) == (False, bob_row)
    assert "erase" in result_after.problem


def test_export_jsonl_and_csv_parse_back(sessions: sessionmaker[Session]) -> None:
    principal = _chat_history(sessions, "carol")
    with session_scope(sessions) as session:
        jsonl = [json.loads(line) for line in export(session, "jsonl")]
        rows = list(csv.DictReader(io.StringIO("".join(export(session, "csv")))))
        later = list(export(session, "jsonl", since=datetime.now(UTC)))
    assert [r["id"] for r in jsonl] == [1, 2] and [r["id"] for r in rows] == ["1", "2"]
    request = jsonl[1]
    assert request["action"] == "chat.request" and request["principal_id"] == principal
    assert request["details"]["question"] == "carol's secret question"
    assert request["row_hash"] == rows[1]["row_hash"]
    assert json.loads(rows[1]["details"]) == request["details"]
    assert later == []


def test_migration_chains_rows_written_before_it(database_url: str) -> None:
    from alembic import command

    engine = make_engine(database_url)
    config = migrate.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
    legacy = table(
        "audit_events",
        column("id", Integer()),
        column("created_at", DateTime(timezone=True)),
        column("principal_id", String()),
        column("action", String()),
        column("decision", String()),
        column("reason", Text()),
        column("details", JSON()),
    )
    with engine.begin() as connection:
        for legacy_id in (1, 2, 5):  # a gap, as rolled-back inserts leave on PostgreSQL
            connection.execute(
                insert(legacy).values(
                    id=legacy_id,
                    created_at=datetime.now(UTC),
                    principal_id="p",
                    action="policy.input",
                    decision="deny",
                    reason="legacy",
                    details={"legacy": legacy_id, "floats": [0.1, 1e-7]},
                )
            )
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    write(sessions, 1)
    result = check(sessions)
    engine.dispose()
    assert result.ok, result.summary()
    assert result.rows == 4


def test_cli_verify_exit_codes_and_the_other_commands(tmp_path: Path) -> None:
    env = {"STEWARD_DATA_DIR": str(tmp_path), "STEWARD_CONFIG": "", "STEWARD_DATABASE_URL": ""}
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "chain intact: 0 rows" in ok.output
    engine = make_engine(f"sqlite:///{tmp_path / 'steward.sqlite'}")
    sessions = make_session_factory(engine)
    principal = _chat_history(sessions, "dave")
    write(sessions, 2)
    assert "chain intact: 4 rows" in runner.invoke(cli, ["audit", "verify"], env=env).output

    out = tmp_path / "audit.csv"
    exported = runner.invoke(cli, ["audit", "export", "--format", "csv", "--out", str(out)], env=env)
    assert exported.exit_code == 0, exported.output
    assert [r["action"] for r in csv.DictReader(out.open())][-1] == "audit.export"
    jsonl = runner.invoke(cli, ["audit", "export"], env=env)
    assert any(json.loads(line)["action"] == "chat.request" for line in jsonl.output.splitlines())

    kept = runner.invoke(cli, ["audit", "purge"], env=env)
    assert kept.exit_code == 0 and "keep forever" in kept.output
    erased = runner.invoke(cli, ["audit", "erase", principal, "--reason", "left the company"], env=env)
    assert erased.exit_code == 0 and "2 audit payloads blanked" in erased.output, erased.output
    missing = runner.invoke(cli, ["audit", "erase", "no-such-principal", "--reason", "test"], env=env)
    assert missing.exit_code == 1 and "no principal" in missing.output

    execute(sessions, "DELETE FROM audit_events WHERE id = 2")
    broken = runner.invoke(cli, ["audit", "verify"], env=env)
    engine.dispose()
    assert broken.exit_code == 1
    assert "row 2" in broken.output and "missing" in broken.output


# --- through the API: the request records chat and search write, and the admin endpoints ---


@pytest.fixture(scope="module")
def api(embedded_api: ClientFactory) -> TestClient:
    return embedded_api()


def _export(api: TestClient, fmt: str) -> str:
    response = api.get("/v1/admin/audit/export", params={"format": fmt}, headers=auth(ADMIN_KEY))
    assert response.status_code == 200, response.text
    return response.text


def test_chat_and_search_requests_are_recorded_and_exported(api: TestClient) -> None:
    key = issue_key(api, "erin", "user", ["no-such-group"])
    question = "What is the guest Wi-Fi password?"
    answer = api.post("/v1/chat", json={"question": question}, headers=auth(key))
    assert answer.status_code == 200 and answer.json()["answer"].startswith("I don't know")
    with api.stream("POST", "/v1/chat", json={"question": question, "stream": True}, headers=auth(key)) as stream:
        assert "event: done" in stream.read().decode()
    assert api.post("/v1/search", json={"query": "parking rules"}, headers=auth(key)).status_code == 200

    records = [json.loads(line) for line in _export(api, "jsonl").splitlines()]
    chats = [r for r in records if r["action"] == "chat.request" and r["details"]["question"] == question]
    assert len(chats) == 2  # the JSON and the SSE request, once each
    details = chats[0]["details"]
    assert details["outcome"] == "no_sources"
    assert details["decisions"][0]["rule_id"] and details["decisions"][0]["decision"] == "filter"
    assert details["prompt_version"] and details["model"] is None  # answered without the model
    assert details["answer_sha256"] == audit.answer_hash(answer.json()["answer"])
    assert isinstance(details["chunk_ids"], list) and details["latency_ms"] >= 0
    assert {"prompt_tokens", "completion_tokens", "conversation_id", "query"} <= set(details)
    assert chats[0]["principal_id"] == chats[1]["principal_id"] is not None
    searches = [r for r in records if r["action"] == "search.request" and r["details"]["query"] == "parking rules"]
    assert len(searches) == 1 and "latency_ms" in searches[0]["details"]

    rows = list(csv.DictReader(io.StringIO(_export(api, "csv"))))
    by_id = {int(r["id"]): r for r in rows}
    assert json.loads(by_id[chats[0]["id"]]["details"]) == details
    verified = api.post("/v1/admin/audit/verify", headers=auth(ADMIN_KEY)).json()
    assert verified["ok"] is True, verified
    assert verified["rows"] >= len(records)


def test_erasure_endpoint_erases_and_keeps_the_chain(api: TestClient) -> None:
    key = issue_key(api, "frank", "user", ["nobody"])
    conversation = api.post("/v1/chat", json={"question": "frank's question"}, headers=auth(key)).json()
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    with session_scope(runtime.sessions) as session:
        frank = session.get(Conversation, conversation["conversation_id"]).principal_id  # type: ignore[union-attr]
    response = api.delete(f"/v1/admin/principals/{frank}/data?reason=GDPR+request", headers=auth(ADMIN_KEY))
    assert response.status_code == 200, response.text
    assert response.json()["conversations"] == 1 and response.json()["audit_rows"] >= 2
    assert "frank's question" not in _export(api, "jsonl")
    assert api.post("/v1/admin/audit/verify", headers=auth(ADMIN_KEY)).json()["ok"] is True
    missing = api.delete("/v1/admin/principals/no-such-principal/data?reason=x", headers=auth(ADMIN_KEY))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "principal_not_found"


def test_audit_endpoints_are_admin_only(api: TestClient) -> None:
    key = issue_key(api, "grace", "user", ["everyone"])
    responses = [
        api.get("/v1/admin/audit/export", params={"format": "csv"}, headers=auth(key)),
        api.post("/v1/admin/audit/verify", headers=auth(key)),
        api.delete("/v1/admin/principals/someone/data?reason=x", headers=auth(key)),
    ]
    assert [r.status_code for r in responses] == [403, 403, 403]
    assert {r.json()["error"]["code"] for r in responses} == {"permission_denied"}


def test_erasure_never_removes_admin_actions_and_needs_a_reason(api: TestClient) -> None:
    """What a person asked goes; what anyone did as an admin stays, and no admin erases their own data."""
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    admin_key = issue_key(api, "ivy-admin", "admin", ["everyone"])
    uploaded = upload(api, admin_key, "ivy.md", make_markdown("Ivy notes", [("A", "Ivy wrote these notes.")]))
    assert uploaded.status_code == 202
    asked = api.post("/v1/chat", json={"question": "ivy's own private question"}, headers=auth(admin_key))
    assert asked.status_code == 200
    with session_scope(runtime.sessions) as session:
        ivy = session.scalar(select(Principal.id).where(Principal.name == "ivy-admin"))
    # Ivy cannot erase her own trail; another admin can erase her questions, never her upload.
    own = api.delete(f"/v1/admin/principals/{ivy}/data?reason=cleanup", headers=auth(admin_key))
    assert own.status_code == 403 and "another admin" in own.json()["error"]["message"]
    assert api.delete(f"/v1/admin/principals/{ivy}/data", headers=auth(ADMIN_KEY)).status_code == 422
    blank = api.delete(f"/v1/admin/principals/{ivy}/data?reason=", headers=auth(ADMIN_KEY))
    assert blank.status_code == 422
    erased = api.delete(f"/v1/admin/principals/{ivy}/data?reason=left+the+company", headers=auth(ADMIN_KEY))
    assert erased.status_code == 200, erased.text
    exported = _export(api, "jsonl")
    assert "ivy's own private question" not in exported
    rows = [json.loads(line) for line in exported.splitlines()]
    upload_row = next(r for r in rows if r["action"] == "document.upload" and r["principal_id"] == ivy)
    assert upload_row["erased_at"] is None and "ivy.md" in upload_row["reason"]
    erasure = next(r for r in reversed(rows) if r["action"] == "audit.erase")
    assert erasure["details"]["reason"] == "left the company" and erasure["details"]["subject_principal_id"] == ivy
    assert api.post("/v1/admin/audit/verify", headers=auth(ADMIN_KEY)).json()["ok"] is True


def test_concurrent_searches_are_each_recorded_once_in_a_chain_that_verifies(api: TestClient) -> None:
    """Searches' audit events are committed in groups (services/core/audit/writer.py): none is lost, none is
    written twice, and the chain stays gapless."""
    from concurrent.futures import ThreadPoolExecutor

    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    marker = f"concurrent-{time.time_ns()}"

    def search(n: int) -> int:
        body = {"query": f"{marker} question {n}", "top_k": 1}
        return api.post("/v1/search", json=body, headers=auth(ADMIN_KEY)).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(search, range(64)))
    assert statuses == [200] * 64
    with runtime.sessions() as session:
        queries = [
            d["query"] for d in session.scalars(select(AuditEvent.details).where(AuditEvent.action == "search.request"))
        ]
    recorded = sorted(q for q in queries if q.startswith(marker))
    assert recorded == sorted(f"{marker} question {n}" for n in range(64))
    assert api.post("/v1/admin/audit/verify", headers=auth(ADMIN_KEY)).json()["ok"] is True
