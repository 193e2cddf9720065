"""Where the server is and how to reach it: the fields the retriever and the chat model share."""

from __future__ import annotations

import httpx
from langchain_core.utils import from_env, secret_from_env
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from services.client import AsyncStewardClient, StewardClient

DEFAULT_URL = "http://127.0.0.1:8000"


class StewardConnection(BaseModel):
    """A Steward server and an API key ($STEWARD_URL and $STEWARD_API_KEY by default, as the CLI reads them)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    base_url: str = Field(default_factory=from_env("STEWARD_URL", default=DEFAULT_URL))
    api_key: SecretStr = Field(
        default_factory=secret_from_env("STEWARD_API_KEY", error_message="give api_key= or set STEWARD_API_KEY")
    )
    timeout: float = Field(default=300.0, description="seconds per request: a busy model server can take minutes")
    # Bring your own (proxies, TLS, a test app); never closed here, and never serialised.
    http_client: httpx.Client | None = Field(default=None, exclude=True, repr=False)
    http_async_client: httpx.AsyncClient | None = Field(default=None, exclude=True, repr=False)

    def client(self) -> StewardClient:
        """A client for one call (use it with `with`); it closes only what it opened."""
        key = self.api_key.get_secret_value()
        return StewardClient(self.base_url, key, timeout=self.timeout, http_client=self.http_client)

    def async_client(self) -> AsyncStewardClient:
        """An asyncio client for one call (use it with `async with`): one per call, so no connection outlives the
        event loop it was opened on."""
        key = self.api_key.get_secret_value()
        return AsyncStewardClient(self.base_url, key, timeout=self.timeout, http_client=self.http_async_client)
