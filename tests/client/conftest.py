"""Fixtures of the client tests: the real app in this process, seeded with a few facts, and clients of it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.client import AsyncStewardClient, StewardClient
from tests.support.api import ClientFactory
from tests.support.bridge import async_client_for
from tests.support.corpus import Seeded, seed
from tests.support.settings import ADMIN_KEY


@pytest.fixture(scope="module")
def seeded(embedded_api: ClientFactory) -> Seeded:
    api = embedded_api()
    return Seeded(api, seed(api))


@pytest.fixture
def admin(seeded: Seeded) -> Iterator[StewardClient]:
    with StewardClient(str(seeded.api.base_url), ADMIN_KEY, http_client=seeded.api) as client:
        yield client


@pytest.fixture
def async_admin(seeded: Seeded) -> AsyncStewardClient:
    """Over the TestClient bridge, which holds no connections: nothing to close."""
    return AsyncStewardClient(str(seeded.api.base_url), ADMIN_KEY, http_client=async_client_for(seeded.api))
