"""Ingestion on the embedded profile: versions, incremental re-embedding, leases, retries, progress, failures."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from ingestion import lease
from ingestion.pipeline import Ingestor
from ingestion.preparation import Preparer
from ingestion.worker import build_ingestor
from services.core.answers.sentence_vectors import stored_sentences, unpack
from services.core.db.models import Chunk, Document
from services.core.db.session import session_scope
from services.core.runtime import Runtime
from services.core.vectorstore import SearchFilters, SearchMode, SearchQuery, SparseVector
from tests.fixtures.documents import make_markdown, make_pdf
from tests.support.api import ClientFactory, issue_key, upload, wait_settled
from tests.support.settings import ADMIN_KEY, auth

SECTIONS = [
    ("Travel", "Book flights through the travel desk at least two weeks ahead. Economy class applies under six hours."),
    ("Meals", "Meals on business trips are reimbursed up to forty euros a day with itemised receipts."),
    ("Hotels", "Hotels are booked through the approved agency; the nightly cap is one hundred and sixty euros."),
    ("Mileage", "Private car use is paid at thirty cents per kilometre when no train connection exists."),
    ("Approvals", "Trips abroad need the approval of a director before any booking is made."),
]


@pytest.fixture(scope="module")
def api(embedded_api: ClientFactory) -> TestClient:
    return embedded_api()


@pytest.fixture
def runtime(api: TestClient) -> Runtime:
    return api.app.state.runtime  # type: ignore[attr-defined, no-any-return]


@pytest.fixture
def ingestor(runtime: Runtime) -> Iterator[Ingestor]:
    """A second ingestor on the app's runtime, as another worker thread would use it (parsing on its own threads)."""
    preparer = Preparer(0, 0)
    yield build_ingestor(runtime, preparer)
    preparer.close()


def admin_get(api: TestClient, path: str, **params: Any) -> Any:
    response = api.get(path, headers=auth(ADMIN_KEY), params=params)
    assert response.status_code == 200, response.text
    return response.json()


def put(api: TestClient, source: str, data: bytes, filename: str = "policy.md", groups: str = "everyone") -> Any:
    response = upload(api, ADMIN_KEY, filename, data, groups=groups, source=source)
    assert response.status_code in (200, 202), response.text
    return response


def latest_job(api: TestClient, document_id: str) -> dict[str, Any]:
    jobs = admin_get(api, "/v1/admin/jobs", limit=500)["jobs"]
    return next(j for j in jobs if j["document_id"] == document_id)


def policy(sections: list[tuple[str, str]]) -> bytes:
    return make_markdown("Travel policy", sections)


def stored(runtime: Runtime, document_id: str) -> set[str]:
    return set(runtime.vector_store.document_points(document_id))


def chunk_rows(runtime: Runtime, document_id: str) -> set[str]:
    with session_scope(runtime.sessions) as session:
        return set(session.scalars(select(Chunk.id).where(Chunk.document_id == document_id)))


def test_reuploading_an_identical_file_changes_nothing(api: TestClient, runtime: Runtime) -> None:
    first = put(api, "handbook/identical.md", policy(SECTIONS))
    document = wait_settled(api, ADMIN_KEY, first.json()["id"])
    before = stored(runtime, document["id"])
    again = put(api, "handbook/identical.md", policy(SECTIONS))
    assert again.status_code == 200
    assert again.json()["version"] == 1 and again.json()["status"] == "ready"
    assert stored(runtime, document["id"]) == before and len(before) == document["chunk_count"]
    assert len(admin_get(api, f"/v1/documents/{document['id']}/versions")) == 1


def test_editing_one_section_re_embeds_only_its_chunks(api: TestClient, runtime: Runtime) -> None:
    first = put(api, "handbook/edit.md", policy(SECTIONS))
    v1 = wait_settled(api, ADMIN_KEY, first.json()["id"])
    assert latest_job(api, v1["id"])["chunks_embedded"] == v1["chunk_count"]
    edited = [*SECTIONS]
    edited[1] = ("Meals", "Meals on business trips are reimbursed up to fifty-five euros a day, receipts required.")
    second = put(api, "handbook/edit.md", policy(edited))
    assert second.status_code == 202 and second.json()["id"] == v1["id"] and second.json()["version"] == 2
    v2 = wait_settled(api, ADMIN_KEY, v1["id"])
    assert (v2["status"], v2["version"], v2["indexed_version"], v2["stage"]) == ("ready", 2, 2, "done")
    job = latest_job(api, v1["id"])
    assert (job["chunks_embedded"], job["chunks_removed"]) == (1, 1)
    assert job["chunks_reused"] == v2["chunk_count"] - 1
    assert stored(runtime, v1["id"]) == chunk_rows(runtime, v1["id"])
    hits = api.post("/v1/search", headers=auth(ADMIN_KEY), json={"query": "meals reimbursed per day"}).json()["results"]
    meals = [h["text"] for h in hits if h["document_id"] == v1["id"] and "Meals" in h["text"]]
    assert meals and all("fifty-five" in text for text in meals)
    versions = admin_get(api, f"/v1/documents/{v1['id']}/versions")
    assert [v["version"] for v in versions] == [2, 1]
    assert all(v["uploaded_by"] and v["uploaded_at"] for v in versions)


def test_removing_a_section_removes_its_vectors(api: TestClient, runtime: Runtime) -> None:
    document = wait_settled(api, ADMIN_KEY, put(api, "handbook/shrink.md", policy(SECTIONS)).json()["id"])
    put(api, "handbook/shrink.md", policy(SECTIONS[:3]))
    shrunk = wait_settled(api, ADMIN_KEY, document["id"])
    assert shrunk["version"] == 2 and shrunk["chunk_count"] < document["chunk_count"]
    job = latest_job(api, document["id"])
    assert job["chunks_embedded"] == 0 and job["chunks_removed"] == document["chunk_count"] - shrunk["chunk_count"]
    assert stored(runtime, document["id"]) == chunk_rows(runtime, document["id"])


def test_changing_only_the_groups_re_embeds_nothing_and_moves_access(api: TestClient) -> None:
    hr_key = issue_key(api, "ingest-hr-reader", "user", ["hr"])
    document = wait_settled(
        api, ADMIN_KEY, put(api, "handbook/acl.md", policy(SECTIONS), groups="finance").json()["id"]
    )
    assert api.get(f"/v1/documents/{document['id']}", headers=auth(hr_key)).status_code == 404
    put(api, "handbook/acl.md", policy(SECTIONS), groups="hr")
    moved = wait_settled(api, ADMIN_KEY, document["id"])
    assert moved["version"] == 2 and moved["groups"] == ["hr"]
    job = latest_job(api, document["id"])
    assert (job["chunks_embedded"], job["chunks_reused"]) == (0, moved["chunk_count"])
    hits = api.post("/v1/search", headers=auth(hr_key), json={"query": "hotel nightly cap"}).json()["results"]
    assert any(h["document_id"] == document["id"] for h in hits)  # the ACL changed inside the vector payloads


def test_deleting_removes_every_vector(api: TestClient, runtime: Runtime) -> None:
    document = wait_settled(api, ADMIN_KEY, put(api, "handbook/delete.md", policy(SECTIONS)).json()["id"])
    put(api, "handbook/delete.md", policy(SECTIONS[:2]))
    wait_settled(api, ADMIN_KEY, document["id"])
    assert api.delete(f"/v1/documents/{document['id']}", headers=auth(ADMIN_KEY)).status_code == 204
    assert runtime.vector_store.count(document["id"]) == 0


def test_a_leased_document_is_left_to_its_owner_and_taken_over_when_the_lease_expires(
    api: TestClient, runtime: Runtime, ingestor: Ingestor
) -> None:
    document = wait_settled(api, ADMIN_KEY, put(api, "handbook/lease.md", policy(SECTIONS)).json()["id"])
    with session_scope(runtime.sessions) as session:  # as if a new version were waiting
        session.execute(update(Document).where(Document.id == document["id"]).values(version=2, status="queued"))
    leases = lease.Leases(sessions=runtime.sessions, lease_s=runtime.settings.ingest_lease_s)
    held = leases.claim(document["id"], "worker-that-will-die")
    assert ingestor.ingest(document["id"], "another-worker").status == "busy"
    with session_scope(runtime.sessions) as session:  # its lease runs out
        expired = datetime.now(UTC) - timedelta(seconds=1)
        session.execute(update(Document).where(Document.id == document["id"]).values(lease_expires_at=expired))
    assert ingestor.ingest(document["id"], "another-worker").status == "ready"
    with pytest.raises(lease.LeaseLost):
        leases.renew(held, "embedding", 50, force=True)  # the dead worker, should it wake, touches nothing
    assert stored(runtime, document["id"]) == chunk_rows(runtime, document["id"])


def lease_expiry(runtime: Runtime, document_id: str) -> datetime:
    with session_scope(runtime.sessions) as session:
        expires = session.scalar(select(Document.lease_expires_at).where(Document.id == document_id))
    assert expires is not None
    return expires.replace(tzinfo=UTC) if expires.tzinfo is None else expires


def test_the_lease_keeper_holds_a_live_task_s_lease_and_lets_a_stalled_or_finished_one_lapse(
    api: TestClient, runtime: Runtime
) -> None:
    """A slow step on a busy machine must not cost a live worker its document; a stuck or finished task must."""
    document = wait_settled(api, ADMIN_KEY, put(api, "handbook/keeper.md", policy(SECTIONS)).json()["id"])
    with session_scope(runtime.sessions) as session:  # as if a new version were waiting
        session.execute(update(Document).where(Document.id == document["id"]).values(version=2, status="queued"))
    leases = lease.Leases(sessions=runtime.sessions, lease_s=60, stall_s=30)
    held = leases.claim(document["id"], "slow-but-alive")
    with session_scope(runtime.sessions) as session:  # the lease nearly ran out during one long step
        soon = datetime.now(UTC) + timedelta(seconds=1)
        session.execute(update(Document).where(Document.id == document["id"]).values(lease_expires_at=soon))
    assert leases.keep() == 1
    assert lease_expiry(runtime, document["id"]) > datetime.now(UTC) + timedelta(seconds=50)

    held.progressed_at -= 31  # no progress for longer than stall_s: presumed stuck, no longer kept
    with session_scope(runtime.sessions) as session:
        session.execute(update(Document).where(Document.id == document["id"]).values(lease_expires_at=soon))
    assert leases.keep() == 0
    assert lease_expiry(runtime, document["id"]) <= soon

    leases.renew(held, "embedding", 50, force=True)  # progress again: kept again
    assert leases.keep() == 1
    leases.forget(held)  # the task ended: nothing to keep
    assert leases.keep() == 0
    with session_scope(runtime.sessions) as session:  # give the document back, so it can finish
        session.execute(
            update(Document).where(Document.id == document["id"]).values(lease_owner=None, lease_expires_at=None)
        )


def test_a_claim_whose_read_predates_another_worker_s_finish_does_not_take_the_finished_document(
    api: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check and the take are one statement: finished work is never ingested twice, whatever the timing."""
    document = wait_settled(api, ADMIN_KEY, put(api, "handbook/stale-read.md", policy(SECTIONS)).json()["id"])
    real, looks = lease._finished, []

    def stale_first_look(row: Document) -> bool:
        looks.append(row.status)
        return False if len(looks) == 1 else real(row)  # the first look predates the other worker's commit

    monkeypatch.setattr(lease, "_finished", stale_first_look)
    leases = lease.Leases(sessions=runtime.sessions, lease_s=runtime.settings.ingest_lease_s)
    with pytest.raises(lease.NotClaimed) as refused:
        leases.claim(document["id"], "late-worker")
    assert refused.value.outcome == "up_to_date"
    after = admin_get(api, f"/v1/documents/{document['id']}")
    assert (after["status"], after["stage"], after["progress"]) == ("ready", "done", 100)


def test_two_workers_given_the_same_document_store_each_point_once(
    api: TestClient, runtime: Runtime, ingestor: Ingestor
) -> None:
    sections = [(f"Clause {n}", f"Clause {n} text about booking room {n} and its rules. " * 6) for n in range(30)]
    document = wait_settled(api, ADMIN_KEY, put(api, "handbook/race.md", policy(sections)).json()["id"])

    def ingest(owner: str) -> str:
        return ingestor.ingest(document["id"], owner).status

    for round_ in range(3):
        with session_scope(runtime.sessions) as session:
            session.execute(update(Document).where(Document.id == document["id"]).values(version=Document.version + 1))
        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(ingest, [f"a{round_}", f"b{round_}"]))
        assert outcomes in (["busy", "ready"], ["ready", "up_to_date"]), outcomes
    final = admin_get(api, f"/v1/documents/{document['id']}")
    points = stored(runtime, document["id"])
    assert len(points) == final["chunk_count"] == runtime.vector_store.count(document["id"])
    assert points == chunk_rows(runtime, document["id"])


def test_progress_reports_stage_and_percent_and_the_list_filters_by_status(api: TestClient) -> None:
    done = wait_settled(api, ADMIN_KEY, put(api, "handbook/progress.md", policy(SECTIONS)).json()["id"])
    assert (done["stage"], done["progress"]) == ("done", 100)
    broken = upload(api, ADMIN_KEY, "broken.pdf", b"%PDF-1.4\n%garbage that is not a pdf")
    failed = wait_settled(api, ADMIN_KEY, broken.json()["id"])
    assert (failed["status"], failed["stage"]) == ("failed", "failed")
    listed = admin_get(api, "/v1/documents", status="failed")
    assert {d["status"] for d in listed["documents"]} == {"failed"} and listed["total"] >= 1
    assert failed["id"] in {d["id"] for d in listed["documents"]}
    assert done["id"] not in {d["id"] for d in listed["documents"]}
    bad = api.get("/v1/documents", headers=auth(ADMIN_KEY), params={"status": "exploded"})
    assert bad.status_code == 422


def test_failed_jobs_view_and_retry(api: TestClient, runtime: Runtime) -> None:
    # The original vanishes from storage until an operator restores it: the job fails for good, then a retry works.
    read = runtime.blobs.read

    def missing(key: str) -> bytes:
        raise FileNotFoundError(key)

    runtime.blobs.read = missing  # type: ignore[method-assign]
    try:
        response = upload(
            api, ADMIN_KEY, "long.pdf", make_pdf([f"Page {n} of the fire safety plan." for n in range(5)])
        )
        failed = wait_settled(api, ADMIN_KEY, response.json()["id"])
    finally:
        runtime.blobs.read = read  # type: ignore[method-assign]
    assert (
        failed["status"] == "failed"
        and "missing from storage" in failed["error"]
        and runtime.vector_store.count(failed["id"]) == 0
    )
    jobs = admin_get(api, "/v1/admin/jobs", status="failed")["jobs"]
    job = next(j for j in jobs if j["document_id"] == failed["id"])
    assert job["error"] == failed["error"] and job["attempts"] == 1 and job["filename"] == "long.pdf"
    user_key = issue_key(api, "ingest-plain-user", "user", ["everyone"])
    assert api.get("/v1/admin/jobs", headers=auth(user_key)).status_code == 403
    assert api.post(f"/v1/documents/{failed['id']}/retry", headers=auth(user_key)).status_code == 403
    retried = api.post(f"/v1/documents/{failed['id']}/retry", headers=auth(ADMIN_KEY))
    assert retried.status_code == 202 and retried.json()["status"] == "queued"
    ready = wait_settled(api, ADMIN_KEY, failed["id"])
    assert ready["status"] == "ready" and ready["chunk_count"] == runtime.vector_store.count(failed["id"]) > 0
    again = api.post(f"/v1/documents/{failed['id']}/retry", headers=auth(ADMIN_KEY))
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


@pytest.fixture
def flaky_store(runtime: Runtime) -> Iterator[list[int]]:
    """The vector store refuses the first two upserts, as a server restarting would."""
    calls: list[int] = []
    original = runtime.vector_store.upsert

    def upsert(points: Any) -> None:
        calls.append(len(points))
        if len(calls) <= 2:
            raise ConnectionError("vector store restarting")
        original(points)

    runtime.vector_store.upsert = upsert  # type: ignore[method-assign]
    yield calls
    runtime.vector_store.upsert = original  # type: ignore[method-assign]


def test_transient_failures_retry_with_backoff_and_leave_no_duplicates(
    api: TestClient, runtime: Runtime, flaky_store: list[int]
) -> None:
    document = wait_settled(api, ADMIN_KEY, put(api, "handbook/flaky.md", policy(SECTIONS)).json()["id"], 90)
    assert document["status"] == "ready" and len(flaky_store) >= 3
    job = latest_job(api, document["id"])
    assert job["status"] == "succeeded" and job["attempts"] == 3
    assert stored(runtime, document["id"]) == chunk_rows(runtime, document["id"])


def test_a_new_version_that_fails_keeps_the_previous_one_searchable(api: TestClient, runtime: Runtime) -> None:
    document = wait_settled(api, ADMIN_KEY, put(api, "handbook/keep.md", policy(SECTIONS)).json()["id"])
    put(api, "handbook/keep.md", b"\n\n   \n", filename="policy.md")
    after = wait_settled(api, ADMIN_KEY, document["id"])
    assert after["status"] == "ready" and after["indexed_version"] == 1 and after["version"] == 2
    assert "version 2 failed" in after["error"]
    assert runtime.vector_store.count(document["id"]) == document["chunk_count"]
    assert latest_job(api, document["id"])["status"] == "failed"


def keyword_hits(runtime: Runtime, text: str, mode: SearchMode = "sparse", **filters: Any) -> list[str]:
    """Point ids an admin finds for `text` in `mode`, restricted by SearchFilters fields."""
    query = SearchQuery(
        limit=50,
        allowed_groups=None,
        dense=runtime.embedder.embed_query(text),
        sparse=runtime.sparse_encoder.encode_query(text),
        mode=mode,
        filters=SearchFilters(**filters),
    )
    return [hit.id for hit in runtime.vector_store.search(query)]


def test_ingested_chunks_carry_keywords_and_filter_fields(api: TestClient, runtime: Runtime) -> None:
    sections = [*SECTIONS, ("Codes", "Claims for trips booked outside the desk use form TRV-2231 instead.")]
    document = wait_settled(api, ADMIN_KEY, put(api, "handbook/hybrid.md", policy(sections)).json()["id"])
    points = runtime.vector_store.document_points(document["id"])
    with session_scope(runtime.sessions) as session:
        created = session.get(Document, document["id"]).created_at  # type: ignore[union-attr]
    assert {p["source_type"] for p in points.values()} == {"md"}
    assert {p["sparse_model"] for p in points.values()} == {runtime.sparse_encoder.version}
    assert [p["created_at"] for p in points.values()] == pytest.approx([created.timestamp()] * len(points))
    modes: tuple[SearchMode, ...] = ("sparse", "hybrid")
    for mode in modes:
        found = keyword_hits(runtime, "TRV-2231", mode)
        assert found[0] in points, mode
        assert found[0] in keyword_hits(runtime, "TRV-2231", mode, source_types=("md",), document_ids=(document["id"],))
        assert keyword_hits(runtime, "TRV-2231", mode, source_types=("pdf",), document_ids=(document["id"],)) == []
        day = timedelta(days=1)
        assert found[0] in keyword_hits(runtime, "TRV-2231", mode, created_from=created - day, created_to=created + day)
        assert found[0] not in keyword_hits(runtime, "TRV-2231", mode, created_to=created - day)


def test_reused_chunks_get_sparse_vectors_and_new_tags_without_re_embedding(
    api: TestClient, runtime: Runtime, ingestor: Ingestor
) -> None:
    document = wait_settled(api, ADMIN_KEY, put(api, "handbook/legacy.md", policy(SECTIONS)).json()["id"])
    points = runtime.vector_store.document_points(document["id"])
    # As if indexed before sparse vectors existed: no keywords, no encoder recorded, no tags.
    runtime.vector_store.set_sparse_vectors({pid: SparseVector((), ()) for pid in points}, "")
    runtime.vector_store.set_payloads({pid: {"tags": None} for pid in points})
    assert not set(keyword_hits(runtime, "kilometre")) & set(points)
    with session_scope(runtime.sessions) as session:  # a new version that only relabels the document
        session.execute(
            update(Document)
            .where(Document.id == document["id"])
            .values(version=Document.version + 1, status="queued", tags=["travel"])
        )
    assert ingestor.ingest(document["id"], "relabeller").status == "ready"
    job = latest_job(api, document["id"])
    assert (job["chunks_embedded"], job["chunks_reused"]) == (0, document["chunk_count"])
    refreshed = runtime.vector_store.document_points(document["id"])
    assert {p["sparse_model"] for p in refreshed.values()} == {runtime.sparse_encoder.version}
    assert all(p["tags"] == ["travel"] for p in refreshed.values())
    assert set(keyword_hits(runtime, "kilometre", tags=("travel",))) & set(points)


def sentence_vectors(runtime: Runtime, document_id: str) -> dict[str, tuple[str, bytes | None, str]]:
    with session_scope(runtime.sessions) as session:
        rows = session.execute(
            select(Chunk.id, Chunk.text, Chunk.sentence_vectors, Chunk.sentence_encoder).where(
                Chunk.document_id == document_id
            )
        )
        return {chunk_id: (text, blob, encoder) for chunk_id, text, blob, encoder in rows}


def test_every_chunk_keeps_its_sentences_vectors_for_the_chats_that_cite_it(api: TestClient, runtime: Runtime) -> None:
    """Ingestion embeds each chunk's sentences with the encoder a chat checks and quotes with (the int8 copy), and
    stores them with the chunk: they are that encoder's vectors of exactly those sentences."""
    document = wait_settled(api, ADMIN_KEY, put(api, "handbook/sentences.md", policy(SECTIONS)).json()["id"])
    embedder = runtime.embedder
    rows = sentence_vectors(runtime, document["id"])
    assert len(rows) == document["chunk_count"] > 0
    known: dict[str, list[float]] = {}
    for text, blob, encoder in rows.values():
        assert encoder == embedder.approximate_name and blob
        vectors = unpack(text, blob, embedder.dimension)
        assert list(vectors) == stored_sentences(text) and vectors  # every sentence worth quoting, in order
        known.update(vectors)
    sentences = list(known)
    fresh = embedder.embed_approximate(sentences)
    for sentence, vector in zip(sentences, fresh, strict=True):
        # The int8 copy scales its activations per pass, so a sentence's vector moves a little with the texts it is
        # embedded beside (alone against in a batch: cosine 0.97); it stays its own sentence's, not another's.
        cosines = {other: sum(a * b for a, b in zip(known[other], vector, strict=True)) for other in sentences}
        assert max(cosines, key=lambda other: cosines[other]) == sentence and cosines[sentence] > 0.93, cosines


def test_a_new_version_keeps_unchanged_chunks_sentence_vectors_and_fills_missing_ones(
    api: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unchanged chunks are not embedded again; one ingested before sentence vectors existed (none stored) gets
    them with the next version, and only the edited chunk and that one are embedded."""
    document = wait_settled(api, ADMIN_KEY, put(api, "handbook/keep-sentences.md", policy(SECTIONS)).json()["id"])
    before = sentence_vectors(runtime, document["id"])
    bare = next(chunk_id for chunk_id, (text, _, _) in before.items() if "Hotels" in text or "Mileage" in text)
    with session_scope(runtime.sessions) as session:
        session.execute(update(Chunk).where(Chunk.id == bare).values(sentence_vectors=None, sentence_encoder=""))
    encoder = runtime.sentence_encoder
    assert encoder is not None
    encoded: list[str] = []
    encode = encoder.encode

    def counting(texts: Any) -> list[bytes]:
        encoded.extend(texts)
        return encode(texts)

    monkeypatch.setattr(encoder, "encode", counting)
    edited = [*SECTIONS]
    edited[0] = ("Travel", "Book flights through the travel desk at least three weeks ahead; economy class always.")
    put(api, "handbook/keep-sentences.md", policy(edited))
    after_doc = wait_settled(api, ADMIN_KEY, document["id"])
    assert after_doc["version"] == 2
    after = sentence_vectors(runtime, document["id"])
    assert all(blob and name == runtime.embedder.approximate_name for _, blob, name in after.values())
    for chunk_id, (_, blob, _) in after.items():
        if chunk_id in before and chunk_id != bare:
            assert blob == before[chunk_id][1]  # kept, not embedded again
    text, blob, _ = after[bare]  # filled again
    assert blob and list(unpack(text, blob, runtime.embedder.dimension)) == stored_sentences(text)
    new_chunks = [text for chunk_id, (text, _, _) in after.items() if chunk_id not in before]
    assert sorted(encoded) == sorted([*new_chunks, before[bare][0]])
