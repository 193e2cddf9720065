"""`steward audit`: verify, export, purge and erase, straight on the database (like `steward keys create`).

These work with the server stopped and need no API key: whoever can run them can read the database anyway.
Their own actions are recorded in the chain with no principal (the local operator)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from services.cli.context import database_session, load_settings
from services.core.audit.export import EXPORT_FORMATS


@click.group()
def audit() -> None:
    """The audit log: check its hash chain, export it, purge old rows, erase one principal's data."""


@audit.command("verify")
def verify() -> None:
    """Walk the hash chain; exit 1 naming the first modified, deleted or foreign row."""
    from services.core.audit.chain import verify as verify_chain

    with database_session(load_settings()) as session:
        result = verify_chain(session)
    click.echo(result.summary())
    if not result.ok:
        sys.exit(1)


@audit.command("export")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="jsonl", show_default=True)
@click.option("--since", type=click.DateTime(), default=None, help="Rows created at or after (UTC).")
@click.option("--until", type=click.DateTime(), default=None, help="Rows created before (UTC).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File (default: stdout).")
def export(fmt: str, since: datetime | None, until: datetime | None, out: Path | None) -> None:
    """Every row with its hashes, oldest first, as JSON Lines or CSV."""
    from services.core import audit as audit_log
    from services.core.audit.export import export as export_rows

    settings = load_settings()
    with database_session(settings) as session:
        audit_log.record(
            session,
            action="audit.export",
            decision="info",
            principal_id=None,
            reason=f"exported the audit log as {fmt} from the command line",
            details={
                "format": fmt,
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
            },
        )
    with database_session(settings) as session:
        lines = export_rows(session, fmt, since, until)  # type: ignore[arg-type]
        if out is None:
            for line in lines:
                click.echo(line, nl=False)
            return
        count = 0
        with out.open("w", encoding="utf-8", newline="") as file:
            for line in lines:
                file.write(line)
                count += 1
    click.echo(f"wrote {count} lines to {out}", err=True)


@audit.command("purge")
@click.option(
    "--older-than-days",
    type=click.IntRange(min=1),
    default=None,
    help="Override STEWARD_AUDIT_RETENTION_DAYS for this run.",
)
def purge(older_than_days: int | None) -> None:
    """Delete rows older than the retention setting; the chain stays verifiable from its new anchor."""
    from services.core.audit.chain import purge as purge_chain

    settings = load_settings()
    days = older_than_days or settings.audit_retention_days
    if days == 0:
        click.echo("audit retention is 0 (keep forever): nothing purged")
        return
    before = datetime.now(UTC) - timedelta(days=days)
    with database_session(settings) as session:
        result = purge_chain(session, before)
    if result.removed == 0:
        click.echo(f"no audit rows older than {days} days ({before.isoformat(timespec='seconds')})")
        return
    click.echo(
        f"purged {result.removed} audit rows created before {before.isoformat(timespec='seconds')}; "
        f"the chain is now anchored at row {result.anchor_id} (purge recorded as row {result.event_id})"
    )


@audit.command("erase")
@click.argument("principal_id")
@click.option("--reason", required=True, help="Why (a data-subject request, say): recorded with the erasure.")
def erase(principal_id: str, reason: str) -> None:
    """Delete PRINCIPAL_ID's conversations and unanswered questions and blank their audit payloads."""
    from services.core.audit.erasure import erase_principal

    with database_session(load_settings()) as session:
        result = erase_principal(session, principal_id, actor_id=None, reason=reason)
    click.echo(
        f"erased principal {principal_id}: {result.conversations} conversations, {result.messages} messages, "
        f"{result.unanswered_questions} unanswered questions deleted; {result.audit_rows} audit payloads blanked "
        f"(recorded as row {result.event_id})"
    )
