"""ACL leak suite: hundreds of adversarial requests, and not one byte of an unreadable document comes back.

The corpus spans four read groups and four classifications. Every document carries a secret canary string that
no request ever contains; each attacker asks for what they may not read by title, by quoted phrase, by document
id (paths and filters), through tag and format filters, through follow-ups (caller history and their own
conversation), through someone else's conversation, in every search mode and in chat (no model is running: the
"I don't know" path, sources-only fallbacks and citations). Every response body, header and error is scanned for
the canaries and chunk ids of the documents that attacker may not read, and for their document ids and titles
wherever the request did not itself contain them. A 404 for an unreadable document must be byte-identical to the
404 for a document that does not exist.
"""

from __future__ import annotations

import itertools
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.core.access.rules import CLASSIFICATIONS, rank
from services.core.db.models import Chunk, Principal
from services.core.db.session import session_scope
from tests.fixtures.documents import make_markdown
from tests.support.api import ClientFactory, issue_key, upload, wait_settled
from tests.support.settings import ADMIN_KEY, auth

CLEARANCES = {
    "everyone": "internal",
    "eng": "internal",
    "hr": "confidential",
    "finance": "restricted",
    "guests": "public",
}


@dataclass(frozen=True)
class Doc:
    key: str
    title: str
    groups: tuple[str, ...]
    classification: str
    tags: str
    filename: str  # its format is what source_types filters on
    phrase: str  # a distinctive sentence an attacker may quote
    canary: str = field(default_factory=lambda: f"CNRY{secrets.token_hex(6).upper()}")

    def body(self) -> bytes:
        text = f"{self.phrase} The reference code is {self.canary}, do not share it."
        detail = f"Only the {', '.join(self.groups)} group may read about the {self.title}. {self.canary} again."
        if self.filename.endswith(".md"):
            return make_markdown(self.title, [("Summary", text), ("Details", detail)])
        return f"{self.title}\n\n{text}\n\n{detail}\n".encode()


CORPUS = [
    Doc("holidays", "Holiday Allowance", ("everyone",), "internal", "policy", "holidays.md",
        "Every employee gets 27 days of paid holiday per year."),
    Doc("notice", "Visitor Parking Notice", ("everyone", "guests"), "public", "facilities", "notice.txt",
        "Visitors park on level minus two of the garage."),
    Doc("handbook", "Engineering Handbook", ("eng",), "internal", "policy", "handbook.md",
        "Deployments happen on Tuesdays after the change review."),
    Doc("nightjar", "Nightjar Roadmap", ("eng",), "confidential", "roadmap", "nightjar.md",
        "The Nightjar satellite launch slips to the third quarter."),
    Doc("salaries", "Salary Bands Kestrel", ("hr",), "confidential", "policy", "salaries.md",
        "The salary band for a senior engineer is 91,000 to 118,000 euros."),
    Doc("investigation", "Osprey Investigation File", ("hr",), "restricted", "case", "osprey.txt",
        "The Osprey investigation concerns expense fraud in the Lisbon office."),
    Doc("forecast", "Heron Revenue Forecast", ("finance",), "restricted", "forecast", "heron.md",
        "Heron revenue is forecast to fall by eleven percent next year."),
    Doc("merger", "Albatross Merger Memo", ("everyone", "finance"), "restricted", "policy", "albatross.txt",
        "The Albatross merger closes on the first of March for 2.4 billion."),
]  # fmt: skip

# Who attacks, as which groups (their clearance is the highest of their groups').
ATTACKERS = {"erik": ("eng", "everyone"), "hanna": ("hr", "everyone"), "gus": ("guests",)}


def readable(groups: tuple[str, ...], doc: Doc) -> bool:
    """The rule, written out independently of services/core/access/rules.py."""
    clearance = max((CLEARANCES[g] for g in groups), key=CLASSIFICATIONS.index)
    return bool(set(groups) & set(doc.groups)) and rank(doc.classification) <= rank(clearance)


@dataclass
class Attacker:
    name: str
    key: str
    readable: list[Doc]
    unreadable: list[Doc]


@dataclass
class World:
    api: TestClient
    ids: dict[str, str]  # doc key -> document id
    chunks: dict[str, list[str]]  # doc key -> chunk ids
    attackers: list[Attacker]
    owner_conversations: list[str]  # conversations in which an admin asked about every document
    requests: int = 0


@pytest.fixture(scope="module")
def world(embedded_api: ClientFactory) -> World:
    api = embedded_api()
    admin = auth(ADMIN_KEY)
    for name, clearance in CLEARANCES.items():
        assert (
            api.post("/v1/admin/groups", json={"name": name, "clearance": clearance}, headers=admin).status_code == 201
        )
    ids: dict[str, str] = {}
    for doc in CORPUS:
        response = upload(
            api, ADMIN_KEY, doc.filename, doc.body(), ",".join(doc.groups),
            title=doc.title, tags=doc.tags, classification=doc.classification,
        )  # fmt: skip
        assert response.status_code == 202, response.text
        ids[doc.key] = response.json()["id"]
    for document_id in ids.values():
        assert wait_settled(api, ADMIN_KEY, document_id)["status"] == "ready"
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    with session_scope(runtime.sessions) as session:
        chunks = {k: list(session.scalars(select(Chunk.id).where(Chunk.document_id == i))) for k, i in ids.items()}
    attackers = []
    for name, groups in ATTACKERS.items():
        key = _issue(api, name, groups)
        attackers.append(
            Attacker(
                name,
                key,
                [d for d in CORPUS if readable(groups, d)],
                [d for d in CORPUS if not readable(groups, d)],
            )
        )
    conversations = []
    for doc in CORPUS:
        answer = api.post("/v1/chat", json={"question": f"What is the {doc.title} about?"}, headers=admin)
        assert answer.status_code == 200, answer.text  # sources only: no model runs here
        conversations.append(answer.json()["conversation_id"])
    return World(api, ids, chunks, attackers, conversations)


def _issue(api: TestClient, name: str, groups: tuple[str, ...]) -> str:
    """A user key whose groups come from membership set through the admin API."""
    key = issue_key(api, name, "user", [])
    me = api.get("/v1/documents", headers=auth(key))
    assert me.status_code == 200 and me.json()["total"] == 0  # no groups yet: nothing is readable
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    with session_scope(runtime.sessions) as session:
        principal_id = session.scalar(select(Principal.id).where(Principal.name == name))
    for group in groups:
        added = api.put(f"/v1/admin/groups/{group}/members/{principal_id}", headers=auth(ADMIN_KEY))
        assert added.status_code == 200, added.text
    return key


def test_the_corpus_is_a_real_test(world: World) -> None:
    """Each attacker is denied at least one document through groups and one through clearance alone, and an
    admin's search finds every secret: the leak checks below would see them if the filter failed."""
    for attacker in world.attackers:
        assert len(attacker.unreadable) >= 3
    erik = next(a for a in world.attackers if a.name == "erik")
    assert any(set(d.groups) & {"eng", "everyone"} for d in erik.unreadable)  # shares a group, lacks clearance
    for doc in CORPUS:
        hits = world.api.post(
            "/v1/search",
            json={"query": doc.phrase, "top_k": 3, "mode": "hybrid", "filters": {"document_ids": [world.ids[doc.key]]}},
            headers=auth(ADMIN_KEY),
        ).json()["results"]
        assert hits and doc.canary in json.dumps(hits)


def _attacks(world: World, attacker: Attacker) -> Iterator[tuple[str, str, dict[str, Any] | None]]:
    """(method, path, json body) requests an attacker makes for what they may not read."""
    modes = ("dense", "sparse", "hybrid")
    readable_tags = sorted({d.tags for d in attacker.readable})
    for doc in attacker.unreadable:
        document_id = world.ids[doc.key]
        questions = [
            f"What does the {doc.title} say?",
            f'Find the passage "{doc.phrase}"',
            f"What is the reference code in {doc.title}?",
            f"{doc.phrase} What is the code?",
        ]
        # The quoted phrase in every mode; the other questions each in one (all modes are covered across docs).
        asks = [(questions[1], m) for m in modes] + list(zip(questions[::2] + questions[3:], itertools.cycle(modes)))
        for question, mode in asks:
            yield "POST", "/v1/search", {"query": question, "mode": mode, "top_k": 20}
        yield "POST", "/v1/search", {"query": doc.phrase, "filters": {"document_ids": [document_id]}}
        yield "POST", "/v1/search", {"query": doc.phrase, "mode": "sparse", "filters": {"tags": [doc.tags]}}
        yield "POST", "/v1/search", {"query": doc.phrase, "filters": {"source_types": [doc.filename.split(".")[-1]]}}
        yield "POST", "/v1/search", {"query": doc.phrase, "filters": {"tags": [*readable_tags, doc.tags]}}
        yield (
            "POST",
            "/v1/search",
            {
                "query": "and what is its reference code?",
                "history": [{"role": "user", "content": f"Tell me about the {doc.title}"}],
                "rewrite": "concat",
            },
        )
        yield "POST", "/v1/chat", {"question": f"What does the {doc.title} say?"}
        yield "POST", "/v1/chat", {"question": f'Quote "{doc.phrase}" and the code after it', "mode": "sparse"}
        yield "POST", "/v1/chat", {"question": doc.phrase, "filters": {"document_ids": [document_id]}}
        yield "POST", "/v1/chat", {"question": doc.phrase, "stream": True}
        yield (
            "POST",
            "/v1/chat",
            {
                "question": "and the reference code?",
                "history": [
                    {"role": "user", "content": f"What is in the {doc.title}?"},
                    {"role": "assistant", "content": f"The {doc.title} says: {doc.phrase}"},
                ],
                "rewrite": "concat",
            },
        )
        yield "GET", f"/v1/documents/{document_id}", None
        yield "GET", f"/v1/documents/{document_id}/versions", None
        yield "POST", f"/v1/documents/{document_id}/retry", None
        yield "DELETE", f"/v1/documents/{document_id}", None
        yield "GET", f"/v1/admin/documents/{document_id}/access?principal_id=x", None
    for conversation_id in world.owner_conversations:
        yield "POST", "/v1/chat", {"question": "and the reference code?", "conversation_id": conversation_id}
    yield "GET", "/v1/documents?limit=500", None
    yield "GET", "/v1/documents?status=ready", None
    yield "POST", "/v1/search", {"query": "reference code do not share", "top_k": 50, "mode": "hybrid"}
    yield "POST", "/v1/search", {"query": "CNRY", "top_k": 50, "mode": "sparse"}
    yield "POST", "/v1/search", {"query": "x", "filters": {"document_ids": list(world.ids.values())}}


def _send(world: World, attacker: Attacker, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
    world.requests += 1
    return world.api.request(method, path, json=body, headers=auth(attacker.key))


def _forbidden(world: World, attacker: Attacker, request_text: str) -> list[str]:
    """What must not appear: canaries and chunk ids always (no request contains them), document ids and titles
    unless the attacker sent them (echoing a caller's own words back is no leak)."""
    found = []
    for doc in attacker.unreadable:
        found += [doc.canary, *world.chunks[doc.key]]
        found += [s for s in (world.ids[doc.key], doc.title) if s not in request_text]
    return found


def _leaks(response: httpx.Response, forbidden: list[str]) -> list[str]:
    seen = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return [s for s in forbidden if s in seen]


def test_no_unreadable_content_reaches_any_attacker(world: World) -> None:
    failures = []
    for attacker in world.attackers:
        conversation: str | None = None
        for method, path, body in _attacks(world, attacker):
            follow_up = body is not None and str(body.get("question", "")).startswith("and ")
            if body is not None and follow_up and "conversation_id" not in body and conversation:
                body = {**body, "conversation_id": conversation}  # a follow-up in the attacker's own thread
            response = _send(world, attacker, method, path, body)
            request_text = path + json.dumps(body or {})
            leaked = _leaks(response, _forbidden(world, attacker, request_text))
            if leaked:
                failures.append(f"{attacker.name} {method} {path} {body}: {leaked} in {response.text[:300]}")
            if path == "/v1/chat" and response.status_code == 200 and not body.get("stream"):  # type: ignore[union-attr]
                conversation = response.json()["conversation_id"]
    assert not failures, "\n".join(failures[:20])
    assert world.requests >= 200, world.requests
    print(f"{world.requests} adversarial requests")


def test_listing_shows_exactly_the_readable_documents(world: World) -> None:
    for attacker in world.attackers:
        listed = world.api.get("/v1/documents?limit=500", headers=auth(attacker.key)).json()
        assert {d["id"] for d in listed["documents"]} == {world.ids[d.key] for d in attacker.readable}
        assert listed["total"] == len(attacker.readable)


@pytest.mark.parametrize("suffix", ["", "/versions"])
def test_an_unreadable_document_is_indistinguishable_from_a_missing_one(world: World, suffix: str) -> None:
    for attacker in world.attackers:
        missing = str(uuid.uuid4())
        absent = world.api.get(f"/v1/documents/{missing}{suffix}", headers=auth(attacker.key))
        for doc in attacker.unreadable:
            document_id = world.ids[doc.key]
            hidden = world.api.get(f"/v1/documents/{document_id}{suffix}", headers=auth(attacker.key))
            assert hidden.status_code == absent.status_code == 404
            assert hidden.text.replace(document_id, "ID") == absent.text.replace(missing, "ID")


def test_readers_do_get_their_documents(world: World) -> None:
    """The other side of the rule: a reader's search finds the secret, so the filter is not simply empty."""
    for attacker in world.attackers:
        for doc in attacker.readable:
            found = world.api.post(
                "/v1/search", json={"query": doc.phrase, "top_k": 5}, headers=auth(attacker.key)
            ).json()
            assert doc.canary in json.dumps(found["results"]), (attacker.name, doc.key)
