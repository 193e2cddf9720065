"""PII: detector quality on generated sentences, stable placeholders, and the three places policy applies
them (ingestion, search/chat output, questions in the audit log). The detector loads once per process."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.core.db.models import AuditEvent, Chunk, UnansweredQuestion
from services.core.pii import Placeholders, ScopeBook, load_detector, redact
from services.eval.pii import GOAL_ENTITIES, evaluate, generate
from tests.fixtures.documents import make_markdown
from tests.support.api import ClientFactory, upload, wait_settled
from tests.support.settings import ADMIN_KEY, auth

EMAIL = "jane.doe@example.com"
PHONE = "+49 30 901820"
CONTACTS = make_markdown(
    "Payroll contacts",
    [("Payroll", f"Payroll questions go to Jane Doe at {EMAIL} or by phone on {PHONE}. Payslips arrive monthly.")],
)


def test_recall_and_precision_on_generated_sentences() -> None:
    scores = evaluate(load_detector(), generate(100, seed=11))
    for entity in GOAL_ENTITIES:
        s = scores[entity]
        assert s.gold >= 10, entity
        assert s.recall >= 0.95, (entity, s.recall, s.missed)
        assert s.precision >= 0.85, (entity, s.precision, s.false)
    assert scores["PERSON"].recall >= 0.8


def test_generated_sentences_are_reproducible() -> None:
    assert generate(20, seed=3) == generate(20, seed=3)
    assert generate(20, seed=3) != generate(20, seed=4)


def test_look_alikes_are_left_alone() -> None:
    text = "Order PO 4735379907 of €1234.56 ships on 04.09.2025; release v3.12.1, ref 4111 1111 1111 1112."
    assert load_detector().detect(text) == []


def test_placeholders_are_stable_within_a_conversation_and_independent_across() -> None:
    detector = load_detector()
    book = ScopeBook(capacity=10)

    def say(conversation: str, text: str) -> str:
        return redact(text, detector.detect(text), book.scope(conversation))

    first = say("c1", "Write to anna.berg@example.com or to tom.kent@example.org.")
    assert first == "Write to <EMAIL_1> or to <EMAIL_2>."
    # Same value, other spelling of the same number, later turn: same placeholder.
    second = say("c1", "Did tom.kent@example.org answer? Call +44 20 7946 0958.")
    assert second == "Did <EMAIL_2> answer? Call <PHONE_1>."
    assert say("c1", "Or 0044 20 7946 0958?") == "Or <PHONE_1>?"
    # Another conversation numbers its own values: no link between the two.
    assert say("c2", "Ask tom.kent@example.org.") == "Ask <EMAIL_1>."


def test_conversation_book_forgets_the_least_recently_used() -> None:
    book = ScopeBook(capacity=2)
    a = book.scope("a")
    a.for_value("EMAIL_ADDRESS", "x@example.com")
    book.scope("b")
    assert book.scope("a") is a  # used again: now b is the oldest
    book.scope("c")
    assert book.scope("a") is a and len(Placeholders()) == 0


def _search(api: TestClient, query: str) -> list[dict[str, Any]]:
    response = api.post("/v1/search", json={"query": query}, headers=auth(ADMIN_KEY))
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


def _chunk_texts(api: TestClient, document_id: str) -> list[str]:
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    with runtime.sessions() as session:
        return list(session.scalars(select(Chunk.text).where(Chunk.document_id == document_id)))


def test_redact_stored_keeps_personal_data_out_of_the_index(embedded_api: ClientFactory) -> None:
    api = embedded_api(pii_ingestion="redact_stored")
    document = upload(api, ADMIN_KEY, "contacts.md", CONTACTS).json()
    assert wait_settled(api, ADMIN_KEY, document["id"])["status"] == "ready"
    hits = _search(api, "Who answers payroll questions?")
    assert hits and hits[0]["document_id"] == document["id"]
    assert "<EMAIL_1>" in hits[0]["text"] and "<PHONE_1>" in hits[0]["text"] and "<PERSON_1>" in hits[0]["text"]
    stored = " ".join(_chunk_texts(api, document["id"]))
    assert EMAIL not in stored and "Jane Doe" not in stored and "<EMAIL_1>" in stored


@pytest.fixture(scope="module")
def output_api(embedded_api: ClientFactory) -> tuple[TestClient, str]:
    """Originals stored, output redacted, questions redacted in the audit log; the model is unreachable, so
    chat answers from sources only (the policy's fallback), which quotes the passage: a redaction target."""
    api = embedded_api(pii_ingestion="redact_output", pii_questions="redact")
    document = upload(api, ADMIN_KEY, "contacts.md", CONTACTS).json()
    assert wait_settled(api, ADMIN_KEY, document["id"])["status"] == "ready"
    return api, document["id"]


def test_redact_output_stores_originals_and_redacts_search_results(output_api: tuple[TestClient, str]) -> None:
    api, document_id = output_api
    assert EMAIL in " ".join(_chunk_texts(api, document_id))
    hits = _search(api, f"payroll {EMAIL}")  # the original is what is indexed, so it can be searched for
    assert hits[0]["document_id"] == document_id
    assert EMAIL not in hits[0]["text"] and "<EMAIL_1>" in hits[0]["text"]


def test_redact_output_redacts_chat_answers_and_citations_consistently(output_api: tuple[TestClient, str]) -> None:
    api, _ = output_api
    body = api.post("/v1/chat", json={"question": "Who answers payroll questions?"}, headers=auth(ADMIN_KEY)).json()
    assert body["citations"], body
    cited = body["citations"][0]["text"]
    assert EMAIL not in cited and PHONE not in cited and "<EMAIL_1>" in cited
    assert EMAIL not in body["answer"] and "<EMAIL_1>" in body["answer"]
    # The next turn of the same conversation, streamed: same numbering, nothing original in any event.
    follow_up = {"question": "Which e-mail address again?", "conversation_id": body["conversation_id"], "stream": True}
    with api.stream("POST", "/v1/chat", json=follow_up, headers=auth(ADMIN_KEY)) as response:
        text = response.read().decode()
    assert "event: done" in text and "<EMAIL_1>" in text and EMAIL not in text


def test_questions_are_redacted_in_the_audit_log(output_api: tuple[TestClient, str]) -> None:
    api, _ = output_api
    question = "Is jane.doe@example.com still on the payroll team?"
    assert api.post("/v1/chat", json={"question": question}, headers=auth(ADMIN_KEY)).status_code == 200
    unknown = "Where does max.mustermann@example.net park his bike?"
    assert api.post("/v1/chat", json={"question": unknown}, headers=auth(ADMIN_KEY)).status_code == 200
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    with runtime.sessions() as session:
        logged = [e.details for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "chat.request"))]
        unanswered = list(session.scalars(select(UnansweredQuestion.question)))
    questions = [d["question"] for d in logged]
    assert "Is <EMAIL_1> still on the payroll team?" in questions
    assert all(EMAIL not in q and "max.mustermann" not in q for q in questions)
    assert all("max.mustermann" not in q for q in unanswered)
