"""Shared fixtures: settings for a throwaway data dir, an API client, and real Redis/PostgreSQL/vLLM."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.core.settings import Settings
from tests.support.processes import free_port, postgres_database, redis_server

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ADMIN_KEY = "stw_test_admin_key"


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Embedded-profile settings confined to `data_dir`; the LLM points at a closed port unless overridden."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "admin_api_key": ADMIN_KEY,
        "llm_base_url": f"http://127.0.0.1:{free_port()}/v1",
        "llm_manage_server": False,
        "broker_poll_interval_s": 0.1,
    }
    values.update(overrides)
    return Settings(**values)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


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
    from services.llm.build import build_servable_model
    from services.llm.server import VLLMServer

    cache_dir = default_cache_dir()
    server = VLLMServer(
        model_dir=build_servable_model(cache_dir),
        port=free_port(),
        cache_dir=cache_dir,
        log_path=tmp_path_factory.mktemp("vllm") / "vllm.log",
    )
    with server:
        yield server.base_url


ClientFactory = Callable[..., TestClient]


@pytest.fixture(scope="module")
def embedded_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClientFactory]:
    """Builds API clients on the embedded profile (SQLite, Qdrant Edge, in-process worker); closed at module end."""
    from services.api.app import create_app

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
