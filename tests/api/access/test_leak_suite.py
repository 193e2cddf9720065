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

import json
import uuid

import pytest

from tests.support.api import ClientFactory
from tests.support.leaks import CORPUS, World, build_world, change_access, probe
from tests.support.settings import ADMIN_KEY, auth


@pytest.fixture(scope="module")
def world(embedded_api: ClientFactory) -> World:
    return build_world(embedded_api())


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


def test_no_unreadable_content_reaches_any_attacker(world: World) -> None:
    result = probe(world)
    assert not result.failures, "\n".join(result.failures[:20])
    assert result.requests >= 200, result.requests
    print(f"{result.requests} adversarial requests")


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


def test_nothing_comes_back_after_access_changes(world: World) -> None:
    """Runs last: a PATCH, a failed narrowing version and a delete, then every probe again, follow-ups in the
    attackers' own conversations about what they could read before included."""
    change_access(world)
    erik = next(a for a in world.attackers if a.name == "erik")
    assert {d.key for d in erik.unreadable} >= {"handbook", "holidays", "notice"}
    result = probe(world)
    assert not result.failures, "\n".join(result.failures[:20])
    for attacker in world.attackers:  # the other side: what they still may read, they still find
        for doc in attacker.readable:
            found = world.api.post("/v1/search", json={"query": doc.phrase, "top_k": 5}, headers=auth(attacker.key))
            assert doc.canary in json.dumps(found.json()["results"]), (attacker.name, doc.key)
