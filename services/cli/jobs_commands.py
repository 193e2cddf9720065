"""`steward jobs`: see why a document failed and retry it."""

from __future__ import annotations

import sys

import click

from services.cli.context import client_for
from services.client import StewardError


@click.group()
def jobs() -> None:
    """Ingestion jobs: see why a document failed and retry it."""


@jobs.command("list")
@click.option("--status", type=click.Choice(["queued", "running", "retrying", "succeeded", "failed", "superseded"]))
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--url", default=None)
@click.option("--api-key", default=None)
def jobs_list(status: str | None, limit: int, url: str | None, api_key: str | None) -> None:
    """Newest jobs first, e.g. `steward jobs list --status failed`."""
    client = client_for(url, api_key)
    for job in client.list_jobs(status=status, limit=limit):
        click.echo(
            f"{job.document_id}  v{job.version}  {job.status:<10} attempts={job.attempts}  "
            f"{job.filename}" + (f"\n    {job.error}" if job.error else "")
        )


@jobs.command("retry")
@click.argument("document_ids", nargs=-1, required=True)
@click.option("--url", default=None)
@click.option("--api-key", default=None)
def jobs_retry(document_ids: tuple[str, ...], url: str | None, api_key: str | None) -> None:
    """Queue failed documents again."""
    client = client_for(url, api_key)
    failed = False
    for document_id in document_ids:
        try:
            document = client.retry_document(document_id)
            click.echo(f"{document_id}: queued version {document.version}")
        except StewardError as exc:
            failed = True
            click.echo(f"{document_id}: {exc}", err=True)
    if failed:
        sys.exit(1)
