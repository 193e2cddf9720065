"""Shared fixtures: API clients on throwaway data dirs, and real Redis, PostgreSQL and vLLM.

Fixtures only: helpers live in tests/support and are imported from there, never from this file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.api import ClientFactory
from tests.support.processes import free_port, postgres_database, redis_server
from tests.support.settings import make_settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def vllm_base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real vLLM server for the whole session (start-up costs about a minute)."""
    from services.core.settings import default_cache_dir
    from services.serving.build import build_servable_model
    from services.serving.server import VLLMServer

    cache_dir = default_cache_dir()
    server = VLLMServer(
        model_dir=build_servable_model(cache_dir),
        port=free_port(),
        cache_dir=cache_dir,
        log_path=tmp_path_factory.mktemp("vllm") / "vllm.log",
    )
    with server:
        yield server.base_url


@pytest.fixture(scope="module")
def embedded_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClientFactory]:
    """Builds API clients on the embedded profile (SQLite, Qdrant Edge, in-process worker); closed at module end."""
    from services.server import create_app

    clients: list[TestClient] = []

    def build(**overrides: Any) -> TestClient:
        settings = make_settings(tmp_path_factory.mktemp("steward"), **overrides)
        client = TestClient(create_app(settings), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)
