"""What every command shares: the settings, and a client for a running server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from services.client import StewardClient
from services.core.errors import StewardError
from services.core.settings import Settings

DEFAULT_URL = "http://127.0.0.1:8000"


def load_settings() -> Settings:
    """The settings from the environment (and STEWARD_CONFIG); a bad value is a clean CLI error."""
    try:
        return Settings()
    except Exception as exc:
        raise click.ClickException(f"invalid settings: {exc}") from exc


def client_for(url: str | None, api_key: str | None, timeout: float | None = None) -> StewardClient:
    """A client for the server at `url` ($STEWARD_URL), with `api_key` ($STEWARD_API_KEY, else the admin key)."""
    key = api_key or os.environ.get("STEWARD_API_KEY") or load_settings().admin_api_key.get_secret_value()
    base_url = url or os.environ.get("STEWARD_URL", DEFAULT_URL)
    return StewardClient(base_url, key) if timeout is None else StewardClient(base_url, key, timeout=timeout)


@contextmanager
def database_session(settings: Settings) -> Iterator[Session]:
    """A unit of work on the configured database, brought to the newest schema first; domain errors become
    clean CLI errors (exit 1)."""
    from services.core.db import migrate as migrations
    from services.core.db.session import make_engine, make_session_factory, session_scope

    engine = make_engine(settings.database_url)
    try:
        migrations.upgrade(engine)
        with session_scope(make_session_factory(engine)) as session:
            yield session
    except StewardError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        engine.dispose()
