"""`steward backup` and `steward restore`: the whole installation in one archive, and back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import click

from services.cli.context import client_for, load_settings
from services.core.errors import StewardError
from services.core.settings import Settings

if TYPE_CHECKING:
    from services.core.backup import Stores


class IndexInUse(click.ClickException):
    """The embedded vector shard is held by a running server (Qdrant Edge admits one process)."""


@contextmanager
def _stores(settings: Settings) -> Iterator[Stores]:
    """The installation's database, vector index and folders, opened for the length of one command."""
    from services.core.backup import Stores
    from services.core.backup.service import live_generation
    from services.core.db.session import make_engine
    from services.core.vectorstore import build_vector_store

    engine = make_engine(settings.database_url)
    try:
        store = build_vector_store(settings, live_generation(settings, engine).collection)
    except Exception as exc:  # Qdrant Edge: the running server holds the shard's exclusive lock
        engine.dispose()
        raise IndexInUse(
            f"cannot open the vector index ({exc}). In the embedded profile only one process may hold it: "
            "stop `steward serve` first"
        ) from exc
    try:
        yield Stores.of(settings, engine=engine, vector_store=store)
    finally:
        store.close()
        engine.dispose()


@click.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--url", default=None, help="The running server to ask when it holds the index (default $STEWARD_URL).")
@click.option("--api-key", default=None, help="Admin API key for --url (default $STEWARD_API_KEY).")
def backup(path: Path | None, url: str | None, api_key: str | None) -> None:
    """Write the database, vector index, uploaded files and policies to one archive (PATH, default
    steward-backup-<UTC time>.tar.gz). Safe while Steward runs. In the embedded profile the running server holds
    the vector index, so it is asked to write the backup into its own backup folder (<data dir>/backups)."""
    from services.core.backup import create_backup, default_name

    stamp = default_name()
    target = path or Path(f"{stamp}.tar.gz")
    settings = load_settings()
    try:
        with _stores(settings) as stores:
            report = create_backup(stores, target, steward_version=version("steward"))
    except IndexInUse:
        _backup_by_server(url, api_key, path.name.removesuffix(".tar.gz") if path else stamp)
        return
    except StewardError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(report.summary())


def _backup_by_server(url: str | None, api_key: str | None, name: str) -> None:
    import httpx

    from services.client import StewardError as ClientError

    click.echo("the running server holds the vector index: asking it to write the backup", err=True)
    client = client_for(url, api_key, timeout=3600)
    try:
        made = client.create_backup(name)
    except (ClientError, httpx.HTTPError, OSError) as exc:
        raise click.ClickException(f"the server could not write the backup: {exc}") from exc
    finally:
        client.close()
    click.echo(
        f"backup written by the server to {made.path} ({made.size_bytes / 1e6:.1f} MB): {made.documents} documents, "
        f"{made.rows} rows, {made.points} vector points, {made.uploads} uploaded files, in {made.seconds:.1f} s"
    )


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
