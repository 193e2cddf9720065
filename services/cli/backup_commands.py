"""`steward backup` and `steward restore`: the whole installation in one archive, and back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import click

from services.cli.context import load_settings
from services.core.errors import StewardError
from services.core.settings import Settings

if TYPE_CHECKING:
    from services.core.backup import Stores


@contextmanager
def _stores(settings: Settings) -> Iterator[Stores]:
    """The installation's database, vector index and folders, opened for the length of one command."""
    from services.core.backup import Stores
    from services.core.db.session import make_engine
    from services.core.vectorstore import build_vector_store

    engine = make_engine(settings.database_url)
    try:
        store = build_vector_store(settings)
    except Exception as exc:  # Qdrant Edge: the running server holds the shard's exclusive lock
        engine.dispose()
        raise click.ClickException(
            f"cannot open the vector index ({exc}). In the embedded profile only one process may hold it: "
            "stop `steward serve` first"
        ) from exc
    try:
        yield Stores(
            engine=engine,
            vector_store=store,
            uploads_dir=settings.uploads_dir,
            policies_dir=settings.policies_dir,
            source={
                "database": engine.dialect.name,
                "vector_store": settings.vector_store,
                "collection": settings.collection,
            },
        )
    finally:
        store.close()
        engine.dispose()


@click.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
def backup(path: Path | None) -> None:
    """Write the database, vector index, uploaded files and policies to one archive (PATH, default
    steward-backup-<UTC time>.tar.gz). Safe while a production-profile Steward runs; in the embedded profile
    stop `steward serve` first (its vector shard admits one process)."""
    from services.core.backup import create_backup

    target = path or Path(f"steward-backup-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.tar.gz")
    settings = load_settings()
    try:
        with _stores(settings) as stores:
            report = create_backup(stores, target, steward_version=version("steward"))
    except StewardError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(report.summary())


@click.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Replace everything this installation holds with the backup.")
@click.option("--check", "check_only", is_flag=True, help="Only verify the archive; change nothing.")
def restore(path: Path, replace: bool, check_only: bool) -> None:
    """Restore a backup made by `steward backup`, into this installation (either profile). The archive is
    verified whole before anything changes; an installation that already holds data needs --replace."""
    from services.core.backup import check_backup, restore_backup

    try:
        if check_only:
            manifest = check_backup(path)
            click.echo(
                f"{path}: a sound backup of {manifest.created_at} (Steward {manifest.steward_version}, schema "
                f"{manifest.schema_revision}): {manifest.tables.get('documents', 0)} documents, "
                f"{manifest.points} vector points, {manifest.uploads} uploaded files, {manifest.policies} policy files"
            )
            return
        with _stores(load_settings()) as stores:
            report = restore_backup(stores, path, replace=replace)
    except StewardError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(report.summary())
