"""`steward serve` as a child process on the embedded profile against a running vLLM, with documents indexed:
the stack a user starts with `make run`, for tests that go through real HTTP (browsers, SDKs)."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.fixtures.documents import make_markdown
from tests.support.processes import ChildProcess, free_port
from tests.support.settings import ADMIN_KEY, auth

STEWARD = str(Path(sys.executable).parent / "steward")

# (file name, title, section text, groups): a Markdown document of one section; or (file name, content, groups):
# a file as it is, in any format.
Documents = list[tuple[str, str, str, str]] | list[tuple[str, bytes, str]]


@dataclass
class Served:
    url: str
    env: dict[str, str]
    server: ChildProcess
    document_ids: dict[str, str]

    def api(self, key: str = ADMIN_KEY) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=auth(key), timeout=120)


def vllm_running(env: dict[str, str]) -> float:
    """How many requests the stack's vLLM is working on now (its Prometheus gauge)."""
    base = env["STEWARD_LLM_BASE_URL"].removesuffix("/").removesuffix("/v1")
    metrics = httpx.get(f"{base}/metrics", timeout=10).text
    return sum(float(m) for m in re.findall(r"^vllm:num_requests_running\{[^}]*\} ([0-9.]+)$", metrics, re.M))


def _wait_ready(client: httpx.Client, ids: dict[str, str], server: ChildProcess) -> None:
    deadline = time.monotonic() + 180
    pending = set(ids.values())
    while pending and time.monotonic() < deadline:
        for document_id in list(pending):
            document = client.get(f"/v1/documents/{document_id}").json()
            assert document["status"] != "failed", document
            if document["status"] == "ready":
                pending.discard(document_id)
        time.sleep(0.2)
    assert not pending, f"not ready in time:\n{server.log_tail()}"


def _as_file(document: tuple[str, str, str, str] | tuple[str, bytes, str]) -> tuple[str, bytes, str]:
    if len(document) == 3:
        return document
    filename, title, text, groups = document
    return filename, make_markdown(title, [("Facts", text)]), groups


@contextmanager
def steward_serve(workdir: Path, vllm_base_url: str, documents: Documents, **settings: str) -> Iterator[Served]:
    """The server up with `documents` ready; `settings` are extra STEWARD_* variables (without the prefix)."""
    port = free_port()
    env = {
        **os.environ,
        "STEWARD_DATA_DIR": str(workdir / "data"),
        "STEWARD_ADMIN_API_KEY": ADMIN_KEY,
        "STEWARD_LLM_BASE_URL": vllm_base_url,
        "STEWARD_LLM_MANAGE_SERVER": "false",
        "STEWARD_PORT": str(port),
        "STEWARD_BROKER_POLL_INTERVAL_S": "0.1",
        **{f"STEWARD_{name.upper()}": value for name, value in settings.items()},
    }
    server = ChildProcess([STEWARD, "serve"], env, workdir / "serve.log")
    url = f"http://127.0.0.1:{port}"
    try:
        server.wait_http(f"{url}/healthz", timeout_s=180)
        with httpx.Client(base_url=url, headers=auth(ADMIN_KEY), timeout=60) as client:
            ids = {}
            for filename, data, groups in map(_as_file, documents):
                response = client.post("/v1/documents", files={"file": (filename, data)}, data={"groups": groups})
                assert response.status_code == 202, response.text
                ids[filename] = response.json()["id"]
            _wait_ready(client, ids, server)
        yield Served(url, env, server, ids)
    finally:
        server.stop()
