"""One set of Alembic migrations runs on SQLite and PostgreSQL and matches the models exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from services.core.db import migrate
from services.core.db.models import Base
from services.core.db.session import make_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.sqlite'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_upgrade_creates_schema_matching_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    assert {"documents", "chunks", "principals", "api_keys", "audit_events"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_downgrade_to_base_and_back_up(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    config = migrate.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert "documents" not in inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert "documents" in inspect(engine).get_table_names()
    engine.dispose()


def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    engine.dispose()
