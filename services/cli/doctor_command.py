"""`steward doctor`: does the vector index agree with the database? With --repair, make it."""

from __future__ import annotations

import sys

import click

from services.cli.context import DEFAULT_URL, client_for
from services.client import StewardError

KINDS = (
    ("orphan_points", "points of deleted documents"),
    ("acl_drift_points", "points whose access differs from their document's"),
    ("stale_staged_points", "leftovers of ingestions that died"),
    ("extra_points", "points that are not a chunk of their document"),
    ("missing_chunks", "chunks with no point in the index"),
)


@click.command()
@click.option("--repair", is_flag=True, help="Put right what disagrees (removes, re-labels, queues again).")
@click.option("--url", default=None, help=f"API URL (default $STEWARD_URL or {DEFAULT_URL}).")
@click.option("--api-key", default=None, help="Admin API key (default $STEWARD_API_KEY).")
def doctor(repair: bool, url: str | None, api_key: str | None) -> None:
    """Compare the vector index with the database, chunk by chunk; exit 1 if they disagree and were not repaired.

    The worker runs the same check with repair every few minutes (STEWARD_RECONCILE_INTERVAL_S)."""
    client = client_for(url, api_key)
    try:
        report = client.repair_index() if repair else client.index_drift()
    except (StewardError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        client.close()
    click.echo(f"points scanned: {report.points_scanned}, documents checked: {report.documents_checked}")
    for key, meaning in KINDS:
        examples = report.examples.get(key, [])
        shown = f"  (e.g. {', '.join(examples[:3])})" if examples else ""
        click.echo(f"{key}={getattr(report, key)}  {meaning}{shown}")
    if report.drift == 0:
        click.echo("the index agrees with the database")
    elif repair:
        click.echo(f"repaired {report.drift} disagreements")
    else:
        click.echo("run `steward doctor --repair` to repair them", err=True)
        sys.exit(1)
