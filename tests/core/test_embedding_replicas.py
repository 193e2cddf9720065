"""Encoder replicas in processes of their own: the same vectors as in this process, and a dead one comes back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from services.core.embedding.dense import Embedder, resolve_model_path
from services.core.embedding.replica import ProcessReplica, ReplicaFailed, ThreadReplica
from services.core.settings import Settings

TEXTS = [
    "Parental leave is sixteen weeks at full pay.",
    "The canteen opens at 8:00 and closes at 15:00.",
    "Travel above 500 euros needs a manager's approval.",
    "x",
]


@pytest.fixture(scope="module")
def model_path() -> str:
    return resolve_model_path(Settings().embedding_model)


@pytest.fixture(scope="module")
def replica(model_path: str) -> Iterator[ProcessReplica]:
    started = ProcessReplica(model_path, name="steward-encoder-test")
    yield started
    started.close()


def test_a_replica_process_encodes_as_the_model_does_in_this_process(model_path: str, replica: ProcessReplica) -> None:
    here = ThreadReplica(model_path, single_thread=False).encode(TEXTS)
    there = replica.encode(TEXTS)
    assert replica.dimension == here.shape[1] == 384
    assert there.shape == here.shape
    np.testing.assert_allclose(there, here, atol=1e-5)
    assert np.allclose(np.linalg.norm(there, axis=1), 1.0, atol=1e-5)  # normalised, as search expects
    assert replica.pid is not None and replica.pid != os.getpid()


def test_the_int8_copy_ranks_sentences_against_a_question_as_the_model_does(
    model_path: str, replica: ProcessReplica
) -> None:
    """What the copy is for (choosing an extractive answer's quotes): the same order, not the same vectors."""
    question = "How many weeks of parental leave do employees get?"
    sentences = [
        "Parental leave is sixteen weeks at full pay for every employee.",
        "Employees get thirty days of annual leave.",
        "The canteen opens at 8:00 and closes at 15:00.",
        "Travel above 500 euros needs a manager's approval.",
        "Parking permits cost 45 euros a month.",
    ]
    here = ThreadReplica(model_path, single_thread=False)
    exact = here.encode([question, *sentences])
    approximate = here.encode([question, *sentences], approximate=True)
    np.testing.assert_allclose(replica.encode([question, *sentences], approximate=True), approximate, atol=1e-5)
    assert np.allclose(np.linalg.norm(approximate, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(approximate, exact, atol=1e-3)  # another encoder: its vectors never meet the model's
    exact_order = np.argsort(-(exact[1:] @ exact[0]))
    approximate_order = np.argsort(-(approximate[1:] @ approximate[0]))
    assert exact_order[0] == approximate_order[0] == 0
    assert list(approximate_order[:2]) == list(exact_order[:2])


def test_a_killed_replica_fails_one_pass_then_starts_again(replica: ProcessReplica) -> None:
    before = replica.encode(TEXTS[:1])
    pid = replica.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(ReplicaFailed, match="died"):
        replica.encode(TEXTS[:1])
    after = replica.encode(TEXTS[:1])  # a new process, the same model
    assert replica.pid not in (None, pid)
    np.testing.assert_allclose(after, before, atol=1e-6)


def test_the_embedder_on_replica_processes_matches_the_one_in_process(model_path: str) -> None:
    in_process = Embedder(model_path, batch_size=2, replicas=1)
    isolated = Embedder(model_path, batch_size=2, replicas=2, processes=True)
    try:
        texts = TEXTS * 3  # several passes, spread over both replicas
        np.testing.assert_allclose(isolated.embed(texts), in_process.embed(texts), atol=1e-5)
        assert isolated.dimension == in_process.dimension
        pids = [r.pid for r in isolated._replicas]  # type: ignore[attr-defined]
    finally:
        isolated.close()
    for pid in pids:  # closing stops them: no encoder outlives its server
        assert pid is not None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_replicas_do_not_outlive_a_killed_server(model_path: str) -> None:
    """SIGKILL of the server (the load test's fault) closes its end of every pipe: the replicas see it and exit."""
    script = (
        "import sys, time\n"
        "from services.core.embedding.replica import ProcessReplica\n"
        "if __name__ == '__main__':\n"
        f"    replica = ProcessReplica({model_path!r}, name='steward-encoder-orphan')\n"
        "    print(replica.pid, flush=True)\n"
        "    time.sleep(600)\n"
    )
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        replica_pid = int(server.stdout.readline())
        assert _running(replica_pid)
    finally:
        server.kill()
        server.wait()
    deadline = time.monotonic() + 60
    while _running(replica_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(replica_pid), "the replica outlived its server"


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for init to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_search_while_its_replica_restarts_is_a_503_then_works(tmp_path: Path) -> None:
    """What an app sees when the encoder dies under it: a clean 503 with Retry-After, then answers again."""
    from fastapi.testclient import TestClient

    from services.server import create_app
    from tests.support.settings import ADMIN_KEY, auth, make_settings

    settings = make_settings(tmp_path, embedding_processes=True, embedding_replicas=1)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        embedder = client.app.state.runtime.embedder  # type: ignore[attr-defined]
        (pid,) = embedder.process_ids
        query = {"query": "how long is parental leave", "mode": "dense"}
        assert client.post("/v1/search", json=query, headers=auth(ADMIN_KEY)).status_code == 200
        os.kill(pid, signal.SIGKILL)
        refused = client.post(
            "/v1/search", json={**query, "query": "what does the canteen serve"}, headers=auth(ADMIN_KEY)
        )
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "embedder_unavailable"
        assert int(refused.headers["Retry-After"]) > 0
        again = client.post(
            "/v1/search", json={**query, "query": "what does the canteen serve"}, headers=auth(ADMIN_KEY)
        )
        assert again.status_code == 200, again.text
        assert embedder.process_ids not in ([pid], [])
