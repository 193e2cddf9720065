"""A standalone `steward worker` process on a real Redis broker and PostgreSQL: jobs, crashes, redelivery."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.core.db.models import Chunk
from services.core.db.session import make_engine
from services.core.vectorstore.edge import QdrantEdgeStore
from services.server import create_app
from tests.fixtures.documents import make_markdown
from tests.support.api import upload
from tests.support.processes import ChildProcess, free_port, redis_server
from tests.support.settings import ADMIN_KEY, make_settings

pytestmark = pytest.mark.slow

STEWARD = str(Path(sys.executable).parent / "steward")


def worker_env(data_dir: Path, database_url: str, broker_url: str) -> dict[str, str]:
    """A worker that gives up on a dead peer's lease and lost messages within seconds, not minutes."""
    return {
        **os.environ,
        "STEWARD_DATA_DIR": str(data_dir),
        "STEWARD_DATABASE_URL": database_url,
        "STEWARD_BROKER_URL": broker_url,
        "STEWARD_BROKER_VISIBILITY_TIMEOUT_S": "3",
        "STEWARD_BROKER_POLL_INTERVAL_S": "0.1",
        "STEWARD_INGEST_LEASE_S": "8",
        "STEWARD_INGEST_SWEEP_INTERVAL_S": "1",
        "STEWARD_INGEST_REQUEUE_AFTER_S": "4",
        "STEWARD_EMBEDDING_WINDOW": "64",
    }


@pytest.fixture
def deployment(tmp_path: Path, redis_url: str, postgres_url: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """An API that only enqueues (worker_mode=external) and the environment for worker processes."""
    data_dir = tmp_path / "data"
    # Only the worker process opens the embedded shard; the API here needs none for uploads.
    settings = make_settings(
        data_dir,
        database_url=postgres_url,
        broker_url=redis_url,
        worker_mode="external",
        vector_store="qdrant",
        qdrant_url=":memory:",
    )
    env = worker_env(data_dir, postgres_url, redis_url)
    with TestClient(create_app(settings)) as client:
        yield client, env


def wait_for(client: TestClient, document_id: str, predicate, timeout_s: float = 120):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        document = client.get(f"/v1/documents/{document_id}", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).json()
        if predicate(document):
            return document
        time.sleep(0.1)
    raise TimeoutError(f"document {document_id} stuck at {document}")


def shard_count(data_dir: Path, document_id: str) -> int:
    store = QdrantEdgeStore(data_dir / "qdrant-edge", "steward_chunks")
    try:
        return store.count(document_id)
    finally:
        store.close()


def long_document(sections: int) -> bytes:
    body = " ".join(f"Clause {n} of the facilities handbook covers room {n} and its booking rules." for n in range(12))
    return make_markdown("Facilities handbook", [(f"Room {n}", f"{body} Section {n}.") for n in range(sections)])


def test_worker_process_ingests_a_job_from_redis(deployment: tuple[TestClient, dict[str, str]], tmp_path: Path) -> None:
    client, env = deployment
    worker = ChildProcess([STEWARD, "worker"], env, tmp_path / "worker.log")
    try:
        response = upload(client, ADMIN_KEY, "rooms.md", long_document(3))
        assert response.status_code == 202
        document = wait_for(client, response.json()["id"], lambda d: d["status"] in ("ready", "failed"))
        assert document["status"] == "ready", worker.log_tail()
    finally:
        worker.stop()
    assert shard_count(Path(env["STEWARD_DATA_DIR"]), document["id"]) == document["chunk_count"] > 0


def stored_ids(data_dir: Path, document_id: str) -> set[str]:
    store = QdrantEdgeStore(data_dir / "qdrant-edge", "steward_chunks")
    try:
        return set(store.document_points(document_id))
    finally:
        store.close()


def chunk_ids(database_url: str, document_id: str) -> set[str]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return set(connection.scalars(select(Chunk.id).where(Chunk.document_id == document_id)))
    finally:
        engine.dispose()


def document_state(client: TestClient, document_id: str) -> dict:  # type: ignore[type-arg]
    return client.get(f"/v1/documents/{document_id}", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).json()


def test_worker_killed_five_times_mid_document_ends_exact_and_duplicate_free(
    deployment: tuple[TestClient, dict[str, str]], tmp_path: Path, postgres_url: str
) -> None:
    client, env = deployment
    documents = [upload(client, ADMIN_KEY, f"big-{n}.md", long_document(90 + n)).json()["id"] for n in range(3)]
    kills = 0
    while kills < 5:
        worker = ChildProcess([STEWARD, "worker"], env, tmp_path / f"worker-{kills}.log")
        try:
            unfinished = [d for d in documents if document_state(client, d)["status"] != "ready"]
            if not unfinished:  # everything finished between kills: give the next kill something to interrupt
                documents.append(upload(client, ADMIN_KEY, f"big-{len(documents)}.md", long_document(100)).json()["id"])
                unfinished = documents[-1:]
            # Kill it hard while some document is mid-embedding: vectors stored, document not ready.
            deadline = time.monotonic() + 180
            while not any(
                (state := document_state(client, d))["stage"] == "embedding" and state["progress"] > 20
                for d in unfinished
            ):
                assert time.monotonic() < deadline, worker.log_tail()
                time.sleep(0.05)
        finally:
            worker.stop(sig=signal.SIGKILL)
        kills += 1
    assert any(document_state(client, d)["status"] != "ready" for d in documents)

    final = ChildProcess([STEWARD, "worker"], env, tmp_path / "final.log")
    try:
        states = [wait_for(client, d, lambda x: x["status"] in ("ready", "failed"), timeout_s=300) for d in documents]
    finally:
        final.stop()
    data_dir = Path(env["STEWARD_DATA_DIR"])
    for state in states:
        assert state["status"] == "ready", final.log_tail()
        points = stored_ids(data_dir, state["id"])
        assert len(points) == state["chunk_count"] == shard_count(data_dir, state["id"]) > 0
        assert points == chunk_ids(postgres_url, state["id"])  # every vector is a current chunk, once


def test_jobs_queued_before_a_redis_restart_are_not_lost(tmp_path: Path, postgres_url: str) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    broker = f"redis://127.0.0.1:{port}/0"
    settings = make_settings(
        data_dir, database_url=postgres_url, broker_url=broker, worker_mode="external", vector_store="qdrant"
    )
    env = {**worker_env(data_dir, postgres_url, broker), "STEWARD_INGEST_REQUEUE_AFTER_S": "2"}
    with TestClient(create_app(settings)) as client:
        with redis_server(tmp_path / "redis-1", port):
            ids = [upload(client, ADMIN_KEY, f"note-{n}.md", long_document(2 + n)).json()["id"] for n in range(4)]
        # Redis is gone with its queue (no persistence), and a new, empty one takes its place.
        with redis_server(tmp_path / "redis-2", port):
            worker = ChildProcess([STEWARD, "worker"], env, tmp_path / "worker.log")
            try:
                states = [wait_for(client, d, lambda x: x["status"] in ("ready", "failed"), 120) for d in ids]
            finally:
                worker.stop()
    assert [s["status"] for s in states] == ["ready"] * 4, worker.log_tail()
    assert all(shard_count(data_dir, s["id"]) == s["chunk_count"] > 0 for s in states)
