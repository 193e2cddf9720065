"""Alembic environment: the URL comes from the caller (services.core.db.migrate), never from a file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from services.core.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url)  # type: ignore[arg-type]
    with engine.connect() as conn:
        # render_as_batch lets ALTERs work on SQLite too, so one set of migrations serves both databases.
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
