"""The ACL leak probes: a corpus over four read groups and four classifications, each document carrying a secret
canary; attackers who ask for what they may not read in every way the API offers; and the scan of every response
for what must not be there. Used by tests/api/access/test_leak_suite.py and bench/security.py."""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.core.access.rules import CLASSIFICATIONS, rank
from services.core.db.models import Chunk, Principal
from services.core.db.session import session_scope
from tests.fixtures.documents import make_markdown
from tests.support.api import issue_key, upload, wait_settled
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
    groups: tuple[str, ...]
    readable: list[Doc]
    unreadable: list[Doc]
    # Conversations in which they asked about documents they could read then (follow-ups after losing access).
    conversations: list[str] = field(default_factory=list)


@dataclass
class World:
    api: TestClient
    ids: dict[str, str]  # doc key -> document id
    chunks: dict[str, list[str]]  # doc key -> chunk ids
    attackers: list[Attacker]
    owner_conversations: list[str]  # conversations in which an admin asked about every document
    docs: list[Doc] = field(default_factory=lambda: list(CORPUS))  # as they are now (after access changes)
    deleted: set[str] = field(default_factory=set)  # doc keys deleted since
    requests: int = 0

    def doc(self, key: str) -> Doc:
        return next(d for d in self.docs if d.key == key)

    def regroup(self) -> None:
        """What each attacker may read now; a deleted document is unreadable to everyone."""
        for attacker in self.attackers:
            live = [d for d in self.docs if d.key not in self.deleted]
            attacker.readable = [d for d in live if readable(attacker.groups, d)]
            attacker.unreadable = [d for d in self.docs if d not in attacker.readable]


def build_world(api: TestClient) -> World:
    """Groups, the corpus (every document ready), attackers with keys, and admin conversations about each."""
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
        key = issue_member_key(api, name, groups)
        attackers.append(
            Attacker(
                name,
                key,
                groups,
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


def issue_member_key(api: TestClient, name: str, groups: tuple[str, ...]) -> str:
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


def attacks(world: World, attacker: Attacker) -> Iterator[tuple[str, str, dict[str, Any] | None]]:
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
    for conversation_id in attacker.conversations:  # their own, from when they could still read it
        yield "POST", "/v1/chat", {"question": "and the reference code?", "conversation_id": conversation_id}
        yield (
            "POST",
            "/v1/chat",
            {"question": "and the code again?", "conversation_id": conversation_id, "stream": True},
        )
    yield "GET", "/v1/documents?limit=500", None
    yield "GET", "/v1/documents?status=ready", None
    yield "POST", "/v1/search", {"query": "reference code do not share", "top_k": 50, "mode": "hybrid"}
    yield "POST", "/v1/search", {"query": "CNRY", "top_k": 50, "mode": "sparse"}
    yield "POST", "/v1/search", {"query": "x", "filters": {"document_ids": list(world.ids.values())}}


def send(world: World, attacker: Attacker, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
    world.requests += 1
    return world.api.request(method, path, json=body, headers=auth(attacker.key))


def forbidden(world: World, attacker: Attacker, request_text: str) -> list[str]:
    """What must not appear: canaries and chunk ids always (no request contains them), document ids and titles
    unless the attacker sent them (echoing a caller's own words back is no leak)."""
    found = []
    for doc in attacker.unreadable:
        found += [doc.canary, *world.chunks[doc.key]]
        found += [s for s in (world.ids[doc.key], doc.title) if s not in request_text]
    return found


def leaks(response: httpx.Response, forbidden: list[str]) -> list[str]:
    seen = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return [s for s in forbidden if s in seen]


@dataclass
class ProbeResult:
    requests: int
    failures: list[str]


def probe(world: World) -> ProbeResult:
    """Every attack of every attacker; a failure names the request and what leaked."""
    failures = []
    for attacker in world.attackers:
        conversation: str | None = None
        for method, path, body in attacks(world, attacker):
            follow_up = body is not None and str(body.get("question", "")).startswith("and ")
            if body is not None and follow_up and "conversation_id" not in body and conversation:
                body = {**body, "conversation_id": conversation}  # a follow-up in the attacker's own thread
            response = send(world, attacker, method, path, body)
            request_text = path + json.dumps(body or {})
            leaked = leaks(response, forbidden(world, attacker, request_text))
            if leaked:
                failures.append(f"{attacker.name} {method} {path} {body}: {leaked} in {response.text[:300]}")
            if path == "/v1/chat" and response.status_code == 200 and not (body or {}).get("stream"):
                conversation = response.json()["conversation_id"]
    return ProbeResult(world.requests, failures)


def change_access(world: World) -> None:
    """After the attackers have read their documents, access changes three ways: a PATCH that narrows one, a
    new version (one the parser cannot read) that narrows another, and a delete. The attackers' conversations
    about what they could read are kept, so the probes can follow up in them."""
    api, admin = world.api, auth(ADMIN_KEY)
    for attacker in world.attackers:
        for doc in attacker.readable:
            asked = api.post(
                "/v1/chat", json={"question": f"What is the {doc.title} about?"}, headers=auth(attacker.key)
            )
            assert asked.status_code == 200, asked.text
            attacker.conversations.append(asked.json()["conversation_id"])
    handbook = world.doc("handbook")  # erik's (eng) ...
    patched = api.patch(f"/v1/documents/{world.ids['handbook']}", json={"groups": ["finance"]}, headers=admin)
    assert patched.status_code == 200, patched.text
    holidays = world.doc("holidays")  # everyone's ...
    narrowed = upload(api, ADMIN_KEY, "holidays.pdf", b"%PDF-1.4 not a pdf", "hr", source=holidays.filename)
    assert narrowed.status_code == 202 and narrowed.json()["id"] == world.ids["holidays"], narrowed.text
    notice = api.delete(f"/v1/documents/{world.ids['notice']}", headers=admin)  # and gus's only one
    assert notice.status_code == 204
    replaced = {"handbook": replace(handbook, groups=("finance",)), "holidays": replace(holidays, groups=("hr",))}
    world.docs = [replaced.get(d.key, d) for d in world.docs]
    world.deleted.add("notice")
    world.regroup()
    settled = wait_settled(api, ADMIN_KEY, world.ids["holidays"])
    assert settled["indexed_version"] == 1 and "failed" in (settled["error"] or "")
