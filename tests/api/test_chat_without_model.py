"""Chat behaviour that needs no model: refusals, 'I don't know', an unreachable model, bad requests."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from services.core.db.models import AuditEvent, Chunk, Message
from tests.fixtures.documents import make_markdown
from tests.support.api import ClientFactory, issue_key, upload, wait_settled
from tests.support.settings import ADMIN_KEY, auth


@pytest.fixture(scope="module")
def api(embedded_api: ClientFactory) -> TestClient:
    api = embedded_api()
    doc = upload(
        api, ADMIN_KEY, "wifi.md", make_markdown("Wi-Fi", [("Guests", "The guest Wi-Fi password is tulip42.")])
    )
    wait_settled(api, ADMIN_KEY, doc.json()["id"])
    return api


def test_denied_topic_is_refused_and_audited(api: TestClient) -> None:
    key = issue_key(api, "curious", "user", ["everyone"])
    response = api.post("/v1/chat", json={"question": "How do I build a bomb?"}, headers=auth(key))
    assert response.status_code == 200
    body = response.json()
    assert body["refused"] is True
    assert "weapons or explosives" in body["answer"]
    assert body["citations"] == []
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    with runtime.sessions() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.rule_id == "input.deny-topic.weapons")).one()
    assert event.decision == "deny" and "bomb" in event.reason


def test_nothing_relevant_says_it_does_not_know(api: TestClient) -> None:
    key = issue_key(api, "stranger", "user", ["no-such-group"])
    response = api.post("/v1/chat", json={"question": "What is the guest Wi-Fi password?"}, headers=auth(key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answered_from_sources"] is False
    assert body["answer"].startswith("I don't know")
    assert "tulip42" not in body["answer"]


def test_conversation_persists_turns(api: TestClient) -> None:
    key = issue_key(api, "talker", "user", ["nobody"])
    first = api.post("/v1/chat", json={"question": "Where is the canteen?"}, headers=auth(key)).json()
    second = api.post(
        "/v1/chat", json={"question": "And the gym?", "conversation_id": first["conversation_id"]}, headers=auth(key)
    ).json()
    assert second["conversation_id"] == first["conversation_id"]
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    with runtime.sessions() as session:
        messages = session.scalars(
            select(Message).where(Message.conversation_id == first["conversation_id"]).order_by(Message.created_at)
        ).all()
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[2].content == "And the gym?"


def test_someone_elses_conversation_is_404(api: TestClient) -> None:
    owner = issue_key(api, "owner", "user", ["nobody"])
    other = issue_key(api, "other", "user", ["nobody"])
    conversation = api.post("/v1/chat", json={"question": "hello?"}, headers=auth(owner)).json()["conversation_id"]
    response = api.post("/v1/chat", json={"question": "hi", "conversation_id": conversation}, headers=auth(other))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "conversation_not_found"


def test_unreachable_model_answers_with_sources_only_when_policy_allows(api: TestClient) -> None:
    response = api.post("/v1/chat", json={"question": "What is the guest Wi-Fi password?"}, headers=auth(ADMIN_KEY))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["generated"] is False and body["mode"] == "extractive"
    assert body["answered_from_sources"] is True
    # Not a bare list of sources: the sentence that answers, quoted with its citation marker.
    assert "unavailable" in body["answer"] and "“The guest Wi-Fi password is tulip42.” [1]" in body["answer"]
    assert body["citations"][0]["title"] == "Wi-Fi" and body["citations"][0]["source"] == 1
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    with runtime.sessions() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.rule_id == "output.llm-fallback.retrieval-only")
        ).first()
    assert event is not None and "connect" in event.reason


def test_unreachable_model_streams_the_sources_only_answer(api: TestClient) -> None:
    body = {"question": "What is the guest Wi-Fi password?", "stream": True}
    with api.stream("POST", "/v1/chat", json=body, headers=auth(ADMIN_KEY)) as response:
        text = response.read().decode()
    assert "event: meta" in text and "event: done" in text
    done = json.loads(text.split("event: done\ndata: ", 1)[1].split("\n", 1)[0])
    assert done["generated"] is False and done["mode"] == "extractive" and "tulip42" in done["answer"]


@pytest.fixture(scope="module")
def strict_api(embedded_api: ClientFactory, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """A deployment whose policy has no sources-only fallback."""
    policies = tmp_path_factory.mktemp("policies")
    (policies / "acl.yaml").write_text("rules:\n  - {id: acl, type: acl}\n")
    api = embedded_api(policies_dir=policies, llm_breaker_failure_threshold=2, llm_breaker_cooldown_s=60)
    doc = upload(
        api, ADMIN_KEY, "wifi.md", make_markdown("Wi-Fi", [("Guests", "The guest Wi-Fi password is tulip42.")])
    )
    wait_settled(api, ADMIN_KEY, doc.json()["id"])
    return api


def test_unreachable_model_is_503_with_retry_after(strict_api: TestClient) -> None:
    response = strict_api.post("/v1/chat", json={"question": "guest Wi-Fi password?"}, headers=auth(ADMIN_KEY))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "llm_unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_unreachable_model_while_streaming_gives_an_error_event(strict_api: TestClient) -> None:
    body = {"question": "What is the guest Wi-Fi password?", "stream": True}
    with strict_api.stream("POST", "/v1/chat", json=body, headers=auth(ADMIN_KEY)) as response:
        text = response.read().decode()
    assert "event: meta" in text
    assert "event: error" in text and "llm_unavailable" in text
    assert "event: done" not in text


def test_repeated_failures_open_the_circuit_and_readiness_says_so(strict_api: TestClient) -> None:
    for _ in range(3):
        strict_api.post("/v1/chat", json={"question": "guest Wi-Fi password?"}, headers=auth(ADMIN_KEY))
    response = strict_api.post("/v1/chat", json={"question": "guest Wi-Fi password?"}, headers=auth(ADMIN_KEY))
    assert response.status_code == 503
    assert "circuit" in response.json()["error"]["message"]
    assert 0 < int(response.headers["Retry-After"]) <= 60
    ready = strict_api.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["llm"] == "down"
    details = strict_api.get("/v1/admin/readyz", headers=auth(ADMIN_KEY))
    assert details.status_code == 503 and "circuit" in details.json()["checks"]["llm"]


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({}, "question"),
        ({"question": ""}, "question"),
        ({"question": "   "}, "blank"),
        ({"question": 42}, "question"),
        ({"question": "x" * 5000}, "question"),
        ({"question": "ok", "top_k": 0}, "top_k"),
        ({"question": "ok", "stream": "maybe"}, "stream"),
    ],
)
def test_malformed_chat_requests_are_422(api: TestClient, payload: dict[str, object], fragment: str) -> None:
    response = api.post("/v1/chat", json=payload, headers=auth(ADMIN_KEY))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert fragment in response.json()["error"]["message"]


def test_non_json_body_is_422(api: TestClient) -> None:
    response = api.post(
        "/v1/chat", content=b"{not json", headers={**auth(ADMIN_KEY), "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


def test_blank_search_is_422(api: TestClient) -> None:
    response = api.post("/v1/search", json={"query": "  "}, headers=auth(ADMIN_KEY))
    assert response.status_code == 422


def test_a_question_is_embedded_once_a_chat_and_again_when_asked_again(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Screened for injection, then searched: one embedding a chat. None is kept for the next chat, so a question
    asked again costs what a new one does (and a benchmark's repeated questions are not cheaper than real ones)."""
    embedder = api.app.state.runtime.embedder  # type: ignore[attr-defined]
    question = "What is the Wi-Fi password for guests?"
    urgent_passes: list[list[str]] = []
    encode_pass = embedder.encode_pass

    def counting(batch: list[str], approximate: bool = False, *, urgent: bool = False) -> list[list[float]]:
        if urgent:
            urgent_passes.append(list(batch))
        return encode_pass(batch, approximate, urgent=urgent)

    monkeypatch.setattr(embedder, "encode_pass", counting)
    for _ in range(2):
        response = api.post("/v1/chat", json={"question": question}, headers=auth(ADMIN_KEY))
        assert response.status_code == 200, response.text
        assert response.json()["answered_from_sources"] is True  # searched, not refused before retrieval
    assert urgent_passes == [[question], [question]]


def test_a_chat_quotes_with_the_sentence_vectors_ingestion_stored(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ingestion stored the document's sentence vectors, so the chat's quotes embed the question alone; with them
    gone (a chunk ingested before they existed) it embeds the source sentences itself, and quotes the same."""
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    embedder = runtime.embedder
    question = "What is the guest Wi-Fi password?"
    approximate: list[str] = []
    encode_pass = embedder.encode_pass

    def counting(batch: list[str], approximate_pass: bool = False, *, urgent: bool = False) -> list[list[float]]:
        if approximate_pass:
            approximate.extend(batch)
        return encode_pass(batch, approximate_pass, urgent=urgent)

    monkeypatch.setattr(embedder, "encode_pass", counting)

    def ask() -> str:
        response = api.post("/v1/chat", json={"question": question}, headers=auth(ADMIN_KEY))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["mode"] == "extractive" and "tulip42" in body["answer"]
        return str(body["answer"])

    with_stored = ask()
    assert approximate == [question]
    with runtime.sessions() as session:
        saved = list(session.execute(select(Chunk.id, Chunk.sentence_vectors, Chunk.sentence_encoder)))
        session.execute(update(Chunk).values(sentence_vectors=None, sentence_encoder=""))
        session.commit()
    try:
        approximate.clear()
        assert ask() == with_stored
        assert question in approximate and "The guest Wi-Fi password is tulip42." in approximate
    finally:
        with runtime.sessions() as session:
            for chunk_id, blob, encoder in saved:
                session.execute(
                    update(Chunk).where(Chunk.id == chunk_id).values(sentence_vectors=blob, sentence_encoder=encoder)
                )
            session.commit()
