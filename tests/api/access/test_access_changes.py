"""Access changes take effect at once: a new version's narrower groups, PATCH, a change or a delete while the
document is being ingested. After each, a reader who lost access gets nothing of the document from search, chat
(whose sources-only fallback would print any source it was given) or the documents API, and every chunk in the
index carries exactly the document row's access."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from services.core.db.models import AuditEvent, IngestJob
from services.core.runtime import Runtime
from tests.fixtures.documents import make_markdown
from tests.support.api import ClientFactory, issue_key, upload, wait_settled
from tests.support.settings import ADMIN_KEY, auth


@pytest.fixture(scope="module")
def api(embedded_api: ClientFactory) -> TestClient:
    return embedded_api()


@pytest.fixture(scope="module")
def runtime(api: TestClient) -> Runtime:
    return api.app.state.runtime  # type: ignore[attr-defined, no-any-return]


@pytest.fixture(scope="module")
def keys(api: TestClient) -> dict[str, str]:
    return {
        "everyone": issue_key(api, "eve", "user", ["everyone"]),
        "hr": issue_key(api, "hal", "user", ["hr"]),
    }


def memo(canary: str) -> bytes:
    return make_markdown(
        "Merger Plan",
        [("Codeword", f"The secret merger codeword is {canary}. Keep the merger codeword private.")],
    )


def new_canary() -> str:
    return f"CANARY{secrets.token_hex(5).upper()}"


def seen_by(api: TestClient, key: str, canary: str, document_id: str) -> list[str]:
    """Every way a reader could get at the document: what came back, where the canary or the id showed."""
    leaks = []
    search = api.post("/v1/search", json={"query": "secret merger codeword", "top_k": 20}, headers=auth(key))
    narrowed = api.post(
        "/v1/search",
        json={"query": "secret merger codeword", "filters": {"document_ids": [document_id]}},
        headers=auth(key),
    )
    chat = api.post("/v1/chat", json={"question": "What is the secret merger codeword?"}, headers=auth(key))
    stream = api.post(
        "/v1/chat", json={"question": "What is the secret merger codeword?", "stream": True}, headers=auth(key)
    )
    listed = api.get("/v1/documents?limit=500", headers=auth(key))
    responses = (("search", search), ("narrowed", narrowed), ("chat", chat), ("stream", stream), ("list", listed))
    for name, response in responses:
        assert response.status_code == 200, (name, response.text)
        if canary in response.text or document_id in response.text:
            leaks.append(name)
    if api.get(f"/v1/documents/{document_id}", headers=auth(key)).status_code != 404:
        leaks.append("get")
    return leaks


def finds(api: TestClient, key: str, canary: str, document_id: str) -> bool:
    """Whether the reader's search shows the canary. The tests upload near-identical memos and search drops
    near-duplicates, so the search is narrowed to the document (another memo cannot stand in for it) and asks
    for the canary itself by keyword (one version's chunk cannot stand in for the other's)."""
    body = {"query": f"codeword {canary}", "mode": "sparse", "top_k": 20, "filters": {"document_ids": [document_id]}}
    found = api.post("/v1/search", json=body, headers=auth(key))
    return canary in json.dumps(found.json()["results"])


def payload_access(runtime: Runtime, document_id: str) -> set[tuple[tuple[str, ...], str, str]]:
    points = runtime.vector_store.document_points(document_id)
    return {(tuple(p["groups"]), p["classification"], p["state"]) for p in points.values()}


def put(api: TestClient, data: bytes, source: str, groups: str, filename: str = "merger.md", **form: str) -> Any:
    response = upload(api, ADMIN_KEY, filename, data, groups=groups, source=source, **form)
    assert response.status_code in (200, 202), response.text
    return response.json()


def test_a_new_version_that_narrows_access_takes_effect_before_it_is_parsed_and_after_it_fails(
    api: TestClient, runtime: Runtime, keys: dict[str, str]
) -> None:
    canary = new_canary()
    document = wait_settled(api, ADMIN_KEY, put(api, memo(canary), "merger-plan", "everyone")["id"])
    assert finds(api, keys["everyone"], canary, document["id"])  # readable before: the checks below are not vacuous
    # Version 2 for hr only, a PDF the parser cannot read.
    queued = put(api, b"%PDF-1.4\nnot really a pdf", "merger-plan", "hr", filename="merger.pdf")
    assert queued["id"] == document["id"] and queued["version"] == 2
    assert seen_by(api, keys["everyone"], canary, document["id"]) == []  # at once, before the worker ran
    settled = wait_settled(api, ADMIN_KEY, document["id"])
    assert settled["indexed_version"] == 1 and "version 2 failed" in settled["error"]
    assert seen_by(api, keys["everyone"], canary, document["id"]) == []
    assert finds(api, keys["hr"], canary, document["id"])
    assert payload_access(runtime, document["id"]) == {(("hr",), "internal", "live")}


def test_patch_changes_access_labels_and_title_at_once_without_re_embedding(
    api: TestClient, runtime: Runtime, keys: dict[str, str]
) -> None:
    canary = new_canary()
    document = wait_settled(api, ADMIN_KEY, put(api, memo(canary), "patch-plan", "everyone")["id"])
    points_before = set(runtime.vector_store.document_points(document["id"]))
    path = f"/v1/documents/{document['id']}"

    narrowed = api.patch(path, json={"groups": ["hr"]}, headers=auth(ADMIN_KEY))
    assert narrowed.status_code == 200 and narrowed.json()["groups"] == ["hr"]
    assert seen_by(api, keys["everyone"], canary, document["id"]) == []
    assert finds(api, keys["hr"], canary, document["id"])
    assert payload_access(runtime, document["id"]) == {(("hr",), "internal", "live")}

    restricted = api.patch(path, json={"classification": "restricted"}, headers=auth(ADMIN_KEY))
    assert restricted.status_code == 200
    assert not finds(api, keys["hr"], canary, document["id"])  # hr's clearance (internal) no longer covers it

    widened = api.patch(
        path,
        json={"groups": ["everyone", "hr"], "classification": "internal", "tags": ["deals"], "title": "Deal Memo"},
        headers=auth(ADMIN_KEY),
    )
    assert widened.status_code == 200 and widened.json()["title"] == "Deal Memo"
    assert finds(api, keys["everyone"], canary, document["id"]) and finds(api, keys["hr"], canary, document["id"])
    tagged = api.post(
        "/v1/search", json={"query": "merger codeword", "filters": {"tags": ["deals"]}}, headers=auth(keys["hr"])
    ).json()["results"]
    assert tagged and {hit["title"] for hit in tagged} == {"Deal Memo"}

    assert set(runtime.vector_store.document_points(document["id"])) == points_before  # same vectors
    with runtime.sessions() as session:
        jobs = session.scalar(
            select(func.count()).select_from(IngestJob).where(IngestJob.document_id == document["id"])
        )
        changes = session.scalars(select(AuditEvent.details).where(AuditEvent.action == "document.update")).all()
    assert jobs == 1  # no ingestion ran for any of the changes
    assert sum(1 for d in changes if d["document_id"] == document["id"]) == 3
    # The reader sees only their own group among the document's, and no admin ids.
    shown = api.get(path, headers=auth(keys["hr"])).json()
    assert shown["groups"] == ["hr"] and shown["created_by"] is None and shown["updated_by"] is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"classification": "secret"}, 422),
        ({"groups": []}, 422),
        ({"groups": [" "]}, 422),
        ({"groups": [f"g{n}" for n in range(51)]}, 422),
        ({"title": "x" * 501}, 422),
        ({"owner": "me"}, 422),
        ({"groups": "hr"}, 422),
    ],
)
def test_patch_refuses_bad_input_and_changes_nothing(
    api: TestClient, runtime: Runtime, body: dict[str, Any], status: int
) -> None:
    document = wait_settled(api, ADMIN_KEY, put(api, memo(new_canary()), f"bad-{len(str(body))}", "everyone")["id"])
    response = api.patch(f"/v1/documents/{document['id']}", json=body, headers=auth(ADMIN_KEY))
    assert response.status_code == status and response.json()["error"]["message"]
    assert payload_access(runtime, document["id"]) == {(("everyone",), "internal", "live")}


def test_patch_is_for_admins_and_unknown_documents_are_404(api: TestClient, keys: dict[str, str]) -> None:
    document = wait_settled(api, ADMIN_KEY, put(api, memo(new_canary()), "patch-auth", "everyone")["id"])
    denied = api.patch(f"/v1/documents/{document['id']}", json={"groups": ["hr"]}, headers=auth(keys["everyone"]))
    assert denied.status_code == 403
    missing = api.patch("/v1/documents/no-such-document", json={"groups": ["hr"]}, headers=auth(ADMIN_KEY))
    assert missing.status_code == 404


Hold = Callable[..., tuple[threading.Event, threading.Event]]


@pytest.fixture
def held(runtime: Runtime) -> Iterator[Hold]:
    """Holds ingestion of texts containing a marker, until the test releases it: before they are embedded
    (`at="embed"`), or right after their vectors were stored (`at="stored"`)."""
    batcher, store = runtime.embedding_batcher, runtime.vector_store
    original_embed, original_upsert = batcher.embed, store.upsert
    gates: dict[tuple[str, str], tuple[threading.Event, threading.Event]] = {}

    def wait(at: str, texts: Sequence[str]) -> None:
        for (marker, where), (entered, release) in gates.items():
            if where == at and any(marker in text for text in texts):
                entered.set()
                assert release.wait(60), "the test never released the ingestion"

    def embed(texts: Sequence[str]) -> list[list[float]]:
        wait("embed", texts)
        return original_embed(texts)

    def upsert(points: Sequence[Any]) -> None:
        original_upsert(points)
        wait("stored", [p.text for p in points])

    def hold(marker: str, at: str = "embed") -> tuple[threading.Event, threading.Event]:
        gates[(marker, at)] = (threading.Event(), threading.Event())
        return gates[(marker, at)]

    batcher.embed = embed  # type: ignore[method-assign]
    store.upsert = upsert  # type: ignore[method-assign]
    yield hold
    for _, release in gates.values():
        release.set()
    batcher.embed = original_embed  # type: ignore[method-assign]
    store.upsert = original_upsert  # type: ignore[method-assign]


def test_an_access_change_during_ingestion_is_in_force_when_the_version_goes_live(
    api: TestClient,
    runtime: Runtime,
    keys: dict[str, str],
    held: Hold,
) -> None:
    canary = new_canary()
    entered, release = held(canary)
    document = put(api, memo(canary), "in-flight", "everyone")
    assert entered.wait(60)
    patched = api.patch(f"/v1/documents/{document['id']}", json={"groups": ["hr"]}, headers=auth(ADMIN_KEY))
    assert patched.status_code == 200
    release.set()
    assert wait_settled(api, ADMIN_KEY, document["id"])["status"] == "ready"
    assert payload_access(runtime, document["id"]) == {(("hr",), "internal", "live")}
    assert seen_by(api, keys["everyone"], canary, document["id"]) == []
    assert finds(api, keys["hr"], canary, document["id"])


def test_a_new_version_is_found_by_no_one_until_it_is_ready(api: TestClient, keys: dict[str, str], held: Hold) -> None:
    old, new = new_canary(), new_canary()
    document = wait_settled(api, ADMIN_KEY, put(api, memo(old), "staged-plan", "everyone")["id"])
    entered, release = held(new, at="stored")  # its vectors are in the index, the version is not ready
    put(api, memo(new), "staged-plan", "everyone")
    assert entered.wait(60)
    # Mid-ingestion the index answers with the version that is ready, not a mix.
    assert finds(api, ADMIN_KEY, old, document["id"]) and not finds(api, ADMIN_KEY, new, document["id"])
    release.set()
    assert wait_settled(api, ADMIN_KEY, document["id"])["indexed_version"] == 2
    assert finds(api, keys["everyone"], new, document["id"]) and not finds(api, keys["everyone"], old, document["id"])


def test_a_document_deleted_during_ingestion_leaves_nothing_searchable(
    api: TestClient, runtime: Runtime, held: Hold
) -> None:
    canary = new_canary()
    embedding, embedded = held(canary)
    stored, resume = held(canary, at="stored")
    document = put(api, memo(canary), "deleted-in-flight", "everyone")
    assert embedding.wait(60)
    assert api.delete(f"/v1/documents/{document['id']}", headers=auth(ADMIN_KEY)).status_code == 204
    embedded.set()  # the worker now stores the vectors it embedded for a document that is gone...
    assert stored.wait(60)
    assert runtime.vector_store.count(document["id"]) > 0
    assert not finds(api, ADMIN_KEY, canary, document["id"])  # ...which no search finds
    resume.set()
    deadline = time.monotonic() + 30
    while runtime.vector_store.count(document["id"]) and time.monotonic() < deadline:
        assert not finds(api, ADMIN_KEY, canary, document["id"])  # never searchable, not even for a moment
        time.sleep(0.05)
    assert runtime.vector_store.count(document["id"]) == 0
    assert not finds(api, ADMIN_KEY, canary, document["id"])


def test_a_follow_up_never_brings_back_a_document_the_caller_lost(embedded_api: ClientFactory) -> None:
    """The model here repeats its whole prompt (the worst a model can do): whatever history reached the prompt
    shows in the answer. After the reader loses the document, their follow-up in the same conversation must not
    carry the earlier answer (which quoted it) into the prompt."""
    api = embedded_api(grounding_action="off")

    async def parrot(prompt: Any, usage: Any = None) -> Any:
        yield " ".join(message["content"] for message in prompt.messages)

    api.app.state.llm.gateway.stream = parrot  # type: ignore[attr-defined]
    canary = new_canary()
    reader = issue_key(api, "ada", "user", ["everyone"])
    document = wait_settled(api, ADMIN_KEY, put(api, memo(canary), "history-plan", "everyone")["id"])
    # Something the reader keeps reading, so the follow-up is answered by the model (with its history).
    policy = make_markdown("Codeword Policy", [("Codewords", "Every merger codeword is announced to staff by email.")])
    wait_settled(api, ADMIN_KEY, put(api, policy, "codeword-policy", "everyone", filename="policy.md")["id"])
    first = api.post("/v1/chat", json={"question": "What is the secret merger codeword?"}, headers=auth(reader))
    assert first.status_code == 200 and canary in first.json()["answer"]  # the reader had it, legitimately
    conversation = first.json()["conversation_id"]

    narrowed = api.patch(f"/v1/documents/{document['id']}", json={"groups": ["hr"]}, headers=auth(ADMIN_KEY))
    assert narrowed.status_code == 200
    for stream in (False, True):
        question = {"question": "And how is the merger codeword announced?", "conversation_id": conversation}
        follow_up = api.post("/v1/chat", json={**question, "stream": stream}, headers=auth(reader))
        assert follow_up.status_code == 200 and "announced to staff by email" in follow_up.text  # the model ran
        assert canary not in follow_up.text and document["id"] not in follow_up.text
