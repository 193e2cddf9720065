"""httpx clients whose requests go through a FastAPI TestClient, for code that wants a real `httpx.Client` or
`httpx.AsyncClient` (pydantic fields typed so, asyncio code) but should talk to the app a TestClient already runs.

The TestClient is not one: Starlette builds it on `httpx2`. And an async client cannot use `httpx.ASGITransport`
on the test's event loop, because the app's lifespan, database and index live on the TestClient's own loop."""

from __future__ import annotations

import asyncio

import httpx
from fastapi.testclient import TestClient


def _relay(client: TestClient, request: httpx.Request, body: bytes) -> httpx.Response:
    """The TestClient's answer to `request`; a streamed answer arrives whole, at its end."""
    response = client.request(request.method, str(request.url), headers=dict(request.headers), content=body)
    return httpx.Response(response.status_code, headers=list(response.headers.multi_items()), content=response.content)


class TestClientTransport(httpx.BaseTransport):
    __test__ = False  # not a test class, whatever its name

    def __init__(self, client: TestClient) -> None:
        self._client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return _relay(self._client, request, request.read())


class AsyncTestClientTransport(httpx.AsyncBaseTransport):
    """Each request goes through the TestClient in a worker thread, so the test's event loop keeps running."""

    def __init__(self, client: TestClient) -> None:
        self._client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        return await asyncio.to_thread(_relay, self._client, request, body)


def client_for(client: TestClient) -> httpx.Client:
    return httpx.Client(transport=TestClientTransport(client), base_url=str(client.base_url))


def async_client_for(client: TestClient) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=AsyncTestClientTransport(client), base_url=str(client.base_url))
