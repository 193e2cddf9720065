"""Permissions: groups with clearances, membership, classifications, the admin API and its explanations."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient

from services.core.access.principals import Caller
from services.core.access.rules import ReadScope, effective_clearance, explain, levels_up_to
from services.core.db import migrate
from services.core.db.session import make_engine
from services.core.policy import PolicyEngine
from services.core.policy.model import PolicySet
from services.core.vectorstore.plan import MatchAny, plan
from services.core.vectorstore.port import SearchQuery, SparseVector
from tests.fixtures.documents import make_markdown
from tests.support.api import ClientFactory, issue_key, upload, wait_settled
from tests.support.settings import ADMIN_KEY, auth

# ---- the rule ------------------------------------------------------------------------------------------------


def test_clearance_is_the_highest_of_a_principals_groups() -> None:
    assert effective_clearance(["public", "confidential", "internal"]) == "confidential"
    assert effective_clearance([]) is None
    assert levels_up_to("internal") == ("public", "internal")
    assert levels_up_to(None) == ()


def test_reading_needs_a_shared_group_and_enough_clearance() -> None:
    scope = ReadScope.of(["eng"], "internal")
    assert scope.allows(["eng", "hr"], "internal")
    assert not scope.allows(["hr"], "public")  # no shared group
    assert not scope.allows(["eng"], "confidential")  # clearance too low
    assert ReadScope.everything().allows(["anyone"], "restricted")
    assert not ReadScope.of([], None).allows(["eng"], "public")


def test_the_explanation_names_every_obstacle() -> None:
    both = explain(["hr"], "restricted", ["eng"], "internal", "user")
    assert not both.readable and len(both.reasons) == 2
    assert "no shared group" in both.reasons[0] and "['hr']" in both.reasons[0] and "['eng']" in both.reasons[0]
    assert "clearance too low" in both.reasons[1] and "restricted" in both.reasons[1]
    assert explain(["eng"], "internal", ["eng"], "internal", "user").readable
    assert explain(["hr"], "restricted", [], None, "admin").readable


def test_the_query_plan_carries_both_conditions_into_every_branch_and_the_idf_corpus() -> None:
    query = SearchQuery(
        limit=5,
        allowed_groups=["eng"],
        allowed_classifications=["public", "internal"],
        dense=[1.0],
        sparse=SparseVector((1,), (1.0,)),
        mode="hybrid",
    )
    planned = plan(query)
    assert planned is not None
    levels = MatchAny("classification", ("public", "internal"), or_missing=True)
    live = MatchAny("state", ("live",))  # a version still being ingested is found by no one
    assert planned.conditions[:3] == (live, MatchAny("groups", ("eng",)), levels)
    assert planned.idf_corpus == planned.conditions[:3]
    public_only = SearchQuery(limit=5, allowed_groups=["eng"], allowed_classifications=["public"], dense=[1.0])
    assert plan(public_only).conditions[2].or_missing is False  # type: ignore[union-attr]
    assert plan(SearchQuery(limit=5, allowed_groups=["eng"], allowed_classifications=[], dense=[1.0])) is None


def test_the_policy_scope_follows_groups_and_clearance() -> None:
    engine = PolicyEngine(PolicySet.from_content("rules: []"))
    scope, decision = engine.read_scope(Caller("1", "u", "user", ("hr",), clearance="confidential"))
    assert scope == ReadScope(("hr",), ("public", "internal", "confidential"))
    assert decision.details["classifications"] == ["public", "internal", "confidential"]
    assert engine.read_scope(Caller("2", "a", "admin", ()))[0] == ReadScope.everything()


# ---- the migration -------------------------------------------------------------------------------------------


def test_migration_turns_listed_groups_into_memberships(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    config = migrate.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
        connection.execute(
            sa.text(
                "INSERT INTO principals (id, name, role, groups, created_at) "
                "VALUES ('p1', 'alice', 'user', :groups, '2026-01-01 00:00:00')"
            ),
            {"groups": json.dumps(["hr", "everyone"])},
        )
    migrate.upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT g.name, g.clearance FROM group_members m JOIN groups g ON g.id = m.group_id "
                "WHERE m.principal_id = 'p1' ORDER BY g.name"
            )
        ).all()
    assert [tuple(r) for r in rows] == [("everyone", "internal"), ("hr", "internal")]
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
        groups = connection.execute(sa.text("SELECT groups FROM principals WHERE id = 'p1'")).scalar_one()
    assert json.loads(groups) == ["everyone", "hr"]
    engine.dispose()


# ---- the admin API -------------------------------------------------------------------------------------------


@dataclass
class Setup:
    api: TestClient
    user_key: str
    user_id: str


def principal_id(api: TestClient, name: str) -> str:
    from sqlalchemy import select

    from services.core.db.models import Principal
    from services.core.db.session import session_scope

    with session_scope(api.app.state.runtime.sessions) as session:  # type: ignore[attr-defined]
        found = session.scalar(select(Principal.id).where(Principal.name == name))
    assert found is not None
    return found


@pytest.fixture(scope="module")
def setup(embedded_api: ClientFactory) -> Setup:
    api = embedded_api()
    key = issue_key(api, "uma", "user", ["eng"])
    return Setup(api, key, principal_id(api, "uma"))


ADMIN = auth(ADMIN_KEY)


def test_only_admins_manage_groups(setup: Setup) -> None:
    user = auth(setup.user_key)
    for method, path, body in [
        ("POST", "/v1/admin/groups", {"name": "x"}),
        ("GET", "/v1/admin/groups", None),
        ("PATCH", "/v1/admin/groups/eng", {"clearance": "restricted"}),
        ("PUT", f"/v1/admin/groups/eng/members/{setup.user_id}", None),
        ("DELETE", f"/v1/admin/groups/eng/members/{setup.user_id}", None),
        ("GET", f"/v1/admin/principals/{setup.user_id}", None),
        ("GET", f"/v1/admin/documents/x/access?principal_id={setup.user_id}", None),
    ]:
        response = setup.api.request(method, path, json=body, headers=user)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"]["code"] == "permission_denied"


def test_group_lifecycle_and_bad_input(setup: Setup) -> None:
    api = setup.api
    created = api.post("/v1/admin/groups", json={"name": "legal", "clearance": "confidential"}, headers=ADMIN)
    assert created.status_code == 201 and created.json()["clearance"] == "confidential"
    assert api.post("/v1/admin/groups", json={"name": "legal"}, headers=ADMIN).status_code == 409
    assert api.post("/v1/admin/groups", json={"name": "a,b"}, headers=ADMIN).status_code == 422
    assert api.post("/v1/admin/groups", json={"name": "z", "clearance": "secret"}, headers=ADMIN).status_code == 422
    assert api.patch("/v1/admin/groups/nope", json={"clearance": "public"}, headers=ADMIN).status_code == 404
    assert api.patch("/v1/admin/groups/legal", json={"clearance": "top"}, headers=ADMIN).status_code == 422
    assert api.put("/v1/admin/groups/legal/members/no-such-id", headers=ADMIN).status_code == 404
    assert api.put(f"/v1/admin/groups/legal/members/{setup.user_id}", headers=ADMIN).status_code == 200
    assert api.put(f"/v1/admin/groups/legal/members/{setup.user_id}", headers=ADMIN).status_code == 200  # idempotent
    listed = {g["name"]: g for g in api.get("/v1/admin/groups", headers=ADMIN).json()["groups"]}
    assert listed["legal"]["members"] == [setup.user_id]
    me = api.get(f"/v1/admin/principals/{setup.user_id}", headers=ADMIN).json()
    assert me["clearance"] == "confidential" and {g["name"] for g in me["groups"]} == {"eng", "legal"}
    assert me["readable_classifications"] == ["public", "internal", "confidential"]
    assert api.delete(f"/v1/admin/groups/legal/members/{setup.user_id}", headers=ADMIN).status_code == 204
    again = api.delete(f"/v1/admin/groups/legal/members/{setup.user_id}", headers=ADMIN)
    assert again.status_code == 404 and again.json()["error"]["code"] == "membership_not_found"
    assert api.get(f"/v1/admin/principals/{setup.user_id}", headers=ADMIN).json()["clearance"] == "internal"
    assert api.get("/v1/admin/principals/nobody", headers=ADMIN).status_code == 404


def test_upload_rejects_an_unknown_classification(setup: Setup) -> None:
    response = upload(setup.api, ADMIN_KEY, "x.md", b"# X\n\nhello", "eng", classification="secret")
    assert response.status_code == 422 and "classification" in response.json()["error"]["message"]


def _search_ids(setup: Setup, query: str) -> list[str]:
    response = setup.api.post("/v1/search", json={"query": query, "top_k": 10}, headers=auth(setup.user_key))
    assert response.status_code == 200, response.text
    return [hit["document_id"] for hit in response.json()["results"]]


def test_reclassification_and_clearance_changes_take_effect_without_re_embedding(setup: Setup) -> None:
    api = setup.api
    fact = "The Quokka cafeteria opens at seven thirty every weekday morning."
    data = make_markdown("Quokka cafeteria", [("Hours", fact)])
    first = upload(api, ADMIN_KEY, "quokka.md", data, "eng", classification="internal", source="quokka")
    document_id = first.json()["id"]
    assert wait_settled(api, ADMIN_KEY, document_id)["status"] == "ready"
    assert document_id in _search_ids(setup, "When does the Quokka cafeteria open?")
    assert api.get(f"/v1/documents/{document_id}", headers=auth(setup.user_key)).status_code == 200

    # Same file, higher classification: a new version whose ingestion only rewrites payloads.
    second = upload(api, ADMIN_KEY, "quokka.md", data, "eng", classification="confidential", source="quokka")
    assert second.status_code == 202 and second.json()["classification"] == "confidential"
    assert wait_settled(api, ADMIN_KEY, document_id)["version"] == 2
    job = api.get("/v1/admin/jobs", headers=ADMIN).json()["jobs"][0]
    assert (job["document_id"], job["chunks_embedded"]) == (document_id, 0) and job["chunks_reused"] > 0
    assert document_id not in _search_ids(setup, "When does the Quokka cafeteria open?")
    hidden = api.get(f"/v1/documents/{document_id}", headers=auth(setup.user_key))
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "document_not_found"

    explained = api.get(
        f"/v1/admin/documents/{document_id}/access", params={"principal_id": setup.user_id}, headers=ADMIN
    ).json()
    assert explained["readable"] is False and explained["shared_groups"] == ["eng"]
    assert len(explained["reasons"]) == 1 and "clearance too low" in explained["reasons"][0]

    # Raising the group's clearance needs no re-indexing at all: scopes are computed per request.
    raised = api.patch("/v1/admin/groups/eng", json={"clearance": "confidential"}, headers=ADMIN)
    assert raised.status_code == 200, raised.text
    assert document_id in _search_ids(setup, "When does the Quokka cafeteria open?")
    assert api.get(f"/v1/documents/{document_id}/versions", headers=auth(setup.user_key)).status_code == 200
    assert api.patch("/v1/admin/groups/eng", json={"clearance": "internal"}, headers=ADMIN).status_code == 200


def test_explanation_for_a_principal_without_a_shared_group(setup: Setup) -> None:
    api = setup.api
    response = upload(api, ADMIN_KEY, "board.md", make_markdown("Board", [("Minutes", "Board minutes.")]), "board")
    document_id = response.json()["id"]
    explained = api.get(
        f"/v1/admin/documents/{document_id}/access", params={"principal_id": setup.user_id}, headers=ADMIN
    ).json()
    assert explained["readable"] is False
    assert explained["document_groups"] == ["board"] and explained["principal_groups"] == ["eng"]
    assert "no shared group" in explained["reasons"][0]
    missing = api.get("/v1/admin/documents/nope/access", params={"principal_id": setup.user_id}, headers=ADMIN)
    assert missing.status_code == 404
    assert api.get(f"/v1/admin/documents/{document_id}/access", headers=ADMIN).status_code == 422
