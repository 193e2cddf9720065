"""What every command shares: the settings, and a client for a running server."""

from __future__ import annotations

import os

import click

from services.cli.client import StewardClient
from services.core.settings import Settings

DEFAULT_URL = "http://127.0.0.1:8000"


def load_settings() -> Settings:
    """The settings from the environment (and STEWARD_CONFIG); a bad value is a clean CLI error."""
    try:
        return Settings()
    except Exception as exc:
        raise click.ClickException(f"invalid settings: {exc}") from exc


def client_for(url: str | None, api_key: str | None) -> StewardClient:
    """A client for the server at `url` ($STEWARD_URL), with `api_key` ($STEWARD_API_KEY, else the admin key)."""
    key = api_key or os.environ.get("STEWARD_API_KEY") or load_settings().admin_api_key.get_secret_value()
    return StewardClient(url or os.environ.get("STEWARD_URL", DEFAULT_URL), key)
