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

from services.api.app import create_app
from services.core.vectorstore.edge import QdrantEdgeStore
from tests.conftest import ADMIN_KEY, make_settings
from tests.fixtures.documents import make_markdown
from tests.support.api import upload
from tests.support.processes import ChildProcess

pytestmark = pytest.mark.slow

STEWARD = str(Path(sys.executable).parent / "steward")


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
    env = {
        **os.environ,
        "STEWARD_DATA_DIR": str(data_dir),
        "STEWARD_DATABASE_URL": postgres_url,
        "STEWARD_BROKER_URL": redis_url,
        "STEWARD_BROKER_VISIBILITY_TIMEOUT_S": "3",
        "STEWARD_BROKER_POLL_INTERVAL_S": "0.1",
        "STEWARD_EMBEDDING_BATCH_SIZE": "16",
    }
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


def test_killed_worker_leaves_no_duplicates_after_redelivery(
    deployment: tuple[TestClient, dict[str, str]], tmp_path: Path
) -> None:
    client, env = deployment
    first = ChildProcess([STEWARD, "worker"], env, tmp_path / "first.log")
    response = upload(client, ADMIN_KEY, "big.md", long_document(120))
    document_id = response.json()["id"]
    try:
        # Kill it hard once some vectors are stored but before the document is ready.
        wait_for(client, document_id, lambda d: d["status"] == "processing" and d["progress"] > 5)
    finally:
        first.stop(sig=signal.SIGKILL)
    interrupted = client.get(f"/v1/documents/{document_id}", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).json()
    assert interrupted["status"] == "processing"

    second = ChildProcess([STEWARD, "worker"], env, tmp_path / "second.log")
    try:
        document = wait_for(client, document_id, lambda d: d["status"] in ("ready", "failed"), timeout_s=240)
    finally:
        second.stop()
    assert document["status"] == "ready", second.log_tail()
    assert shard_count(Path(env["STEWARD_DATA_DIR"]), document_id) == document["chunk_count"]
