"""The reconciler: the index is corrupted on purpose (wider access, orphans, leftovers, a lost and an extra point)
and `steward doctor` reports it, repairs it, and the worker's own loop repairs it with no one asking."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from services.cli import doctor_command
from services.cli.main import cli
from services.client import StewardClient
from services.core.runtime import Runtime
from services.core.vectorstore import ChunkPoint
from tests.fixtures.documents import make_markdown
from tests.support.api import ClientFactory, issue_key, upload, wait_settled
from tests.support.settings import ADMIN_KEY, auth


def put(api: TestClient, name: str, groups: str, text: str) -> dict[str, Any]:
    response = upload(api, ADMIN_KEY, f"{name}.md", make_markdown(name, [("Body", text)]), groups=groups, source=name)
    assert response.status_code == 202, response.text
    return wait_settled(api, ADMIN_KEY, response.json()["id"])


def drift(api: TestClient) -> dict[str, Any]:
    response = api.get("/v1/admin/index/drift", headers=auth(ADMIN_KEY))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def stray(
    runtime: Runtime, document_id: str, text: str, state: str = "live", groups: tuple[str, ...] = ("everyone",)
) -> str:
    """A point the database knows nothing of, with a real vector so a search could find it."""
    point = ChunkPoint(
        id=str(uuid.uuid4()),
        vector=runtime.embedder.embed_query(text),
        document_id=document_id,
        chunk_index=99,
        groups=("everyone",),
        title="stray",
        heading="",
        text=text,
        text_hash="x",
        sparse=runtime.sparse_encoder.encode_document(text),
        sparse_model=runtime.sparse_encoder.version,
        state=state,  # type: ignore[arg-type]
    )
    runtime.vector_store.upsert([point])
    return point.id


def search_text(api: TestClient, key: str, query: str) -> str:
    response = api.post("/v1/search", json={"query": query, "mode": "sparse", "top_k": 20}, headers=auth(key))
    assert response.status_code == 200, response.text
    return json.dumps(response.json()["results"])


def corrupt(api: TestClient, runtime: Runtime) -> dict[str, str]:
    """Every kind of drift, each in a document of its own; returns what each secret is called."""
    store = runtime.vector_store
    wide = put(api, "kestrel-salaries", "hr", "The Kestrel salary bands are secret KESTRELBAND7.")
    store.set_document_payload(wide["id"], {"groups": ["hr", "everyone"]})  # wider than the row says
    stray(runtime, str(uuid.uuid4()), "An orphan of a deleted file ORPHANWORD4.")  # no such document
    leftover = put(api, "leftover-plan", "everyone", "The plan is ordinary.")
    stray(runtime, leftover["id"], "A staged chunk of a dead ingestion STAGEDWORD2.", state="staged")
    extra = put(api, "extra-notes", "everyone", "Notes of the team.")
    stray(runtime, extra["id"], "A chunk the document never had EXTRAWORD9.")
    lost = put(api, "lost-guide", "everyone", "The VPN guide says to use port 8443 for LOSTWORD5.")
    store.delete_points(list(store.document_points(lost["id"])))
    return {"wide": wide["id"], "extra": extra["id"], "lost": lost["id"]}


@pytest.fixture(scope="module")
def api(embedded_api: ClientFactory) -> TestClient:
    return embedded_api()


def test_doctor_finds_every_kind_of_drift_and_repairs_it(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime: Runtime = api.app.state.runtime  # type: ignore[attr-defined]
    reader = issue_key(api, "everybody", "user", ["everyone"])
    assert drift(api)["drift"] == 0
    ids = corrupt(api, runtime)
    # The corruption is real: the reader sees what they may not, and misses what they should see.
    assert "KESTRELBAND7" in search_text(api, reader, "Kestrel salary bands KESTRELBAND7")
    assert "EXTRAWORD9" in search_text(api, reader, "EXTRAWORD9")
    assert "LOSTWORD5" not in search_text(api, reader, "VPN port LOSTWORD5")

    found = drift(api)
    assert (found["acl_drift_points"], found["orphan_points"], found["stale_staged_points"]) == (1, 1, 1)
    assert (found["extra_points"], found["missing_chunks"], found["repaired"]) == (1, 1, False)
    assert drift(api)["drift"] == 5  # checking changes nothing

    def client(url: str | None, api_key: str | None) -> StewardClient:
        return StewardClient(str(api.base_url), ADMIN_KEY, http_client=api)  # the CLI's own client, to this app

    monkeypatch.setattr(doctor_command, "client_for", client)
    checked = CliRunner().invoke(cli, ["doctor"])
    assert checked.exit_code == 1 and "orphan_points=1" in checked.output
    repaired = CliRunner().invoke(cli, ["doctor", "--repair"])
    assert repaired.exit_code == 0 and "repaired 5 disagreements" in repaired.output

    assert wait_settled(api, ADMIN_KEY, ids["lost"])["status"] == "ready"  # queued again, ingested again
    assert drift(api)["drift"] == 0
    assert "KESTRELBAND7" not in search_text(api, reader, "Kestrel salary bands KESTRELBAND7")
    assert "EXTRAWORD9" not in search_text(api, reader, "EXTRAWORD9")
    assert "LOSTWORD5" in search_text(api, reader, "VPN port LOSTWORD5")
    assert CliRunner().invoke(cli, ["doctor"]).exit_code == 0


def test_doctor_is_for_admins(api: TestClient) -> None:
    reader = issue_key(api, "curious", "user", ["everyone"])
    assert api.get("/v1/admin/index/drift", headers=auth(reader)).status_code == 403
    assert api.post("/v1/admin/index/repair", headers=auth(reader)).status_code == 403


def test_the_worker_repairs_drift_by_itself(embedded_api: ClientFactory) -> None:
    api = embedded_api(reconcile_interval_s=0.5)
    runtime: Runtime = api.app.state.runtime  # type: ignore[attr-defined]
    ids = corrupt(api, runtime)
    deadline = time.monotonic() + 60
    # Done when nothing disagrees and the lost chunk is back (drift reads 0 while its re-ingestion runs).
    while (drift(api)["drift"] or not runtime.vector_store.count(ids["lost"])) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert drift(api)["drift"] == 0 and runtime.vector_store.count(ids["lost"]) > 0
    assert {tuple(p["groups"]) for p in runtime.vector_store.document_points(ids["wide"]).values()} == {("hr",)}
