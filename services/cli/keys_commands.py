"""`steward keys`: create, list, revoke and rotate API keys, straight on the database (like `steward audit`).

They work with the server running or stopped: a revoked key is refused by every server process from its next
request on. Changes are recorded in the audit chain with no principal (the local operator)."""

from __future__ import annotations

import click

from services.cli.context import database_session, load_settings
from services.core import audit
from services.core.access import keys as key_store
from services.core.access.keys import ROLE_SCOPES, SCOPES


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


@click.group()
def keys() -> None:
    """Manage API keys: create, list, revoke, rotate."""


@keys.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "user", "app"]), default="user", show_default=True)
@click.option("--groups", default="", help="Comma-separated groups the principal reads as.")
@click.option("--scopes", default=None, help=f"Comma-separated, of {', '.join(SCOPES)} (default: the role's).")
@click.option("--expires-in-days", type=click.IntRange(1, 3650), default=None, help="Default: never.")
@click.option("--label", default="", help="What the key is for.")
def keys_create(name: str, role: str, groups: str, scopes: str | None, expires_in_days: int | None, label: str) -> None:
    """Issue a new API key for principal NAME (created if new); the key is printed once, on stdout."""
    with database_session(load_settings()) as session:
        issued = key_store.create_key(
            session,
            name,
            role,
            _csv(groups),
            scopes=_csv(scopes) if scopes is not None else None,
            expires_in_days=expires_in_days,
            label=label,
        )
        audit.record(
            session,
            action="key.create",
            decision="info",
            principal_id=None,
            reason=f"issued key {issued.row.prefix} to {name!r} as {role} (steward keys create)",
            details={"prefix": issued.row.prefix, "principal_id": issued.caller.id},
        )
    caller = issued.caller
    click.echo(
        f"principal: {caller.name} role={caller.role} groups={','.join(caller.groups)} "
        f"scopes={','.join(sorted(caller.scopes))} prefix={issued.row.prefix}",
        err=True,
    )
    click.echo(issued.key)


@keys.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys.")
def keys_list(include_revoked: bool) -> None:
    """Keys, newest first: prefix, principal, role, scopes, expiry, last use (never the secrets)."""
    with database_session(load_settings()) as session:
        rows, total = key_store.list_keys(
            session, principal_id=None, include_revoked=include_revoked, limit=10_000, offset=0
        )
        for row, principal in rows:
            scopes = row.scopes if row.scopes is not None else ROLE_SCOPES[principal.role]
            state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
            expires = f"{row.expires_at:%Y-%m-%d}" if row.expires_at else "never"
            used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never"
            click.echo(
                f"{row.prefix}  {principal.name:<20} {principal.role:<5} {','.join(sorted(scopes)):<24} "
                f"expires={expires} last_used={used} {state}" + (f"  ({row.label})" if row.label else "")
            )
    click.echo(f"{total} key(s)", err=True)


@keys.command("revoke")
@click.argument("prefixes", nargs=-1, required=True)
def keys_revoke(prefixes: tuple[str, ...]) -> None:
    """Revoke keys by prefix (the part after `stw_`): refused from the next request on."""
    with database_session(load_settings()) as session:
        for prefix in prefixes:
            key_store.revoke_key(session, prefix)
            audit.record(
                session,
                action="key.revoke",
                decision="info",
                principal_id=None,
                reason=f"revoked key {prefix} (steward keys revoke)",
                details={"prefix": prefix},
            )
            click.echo(f"{prefix}: revoked")


@keys.command("rotate")
@click.argument("prefix")
@click.option("--expires-in-days", type=click.IntRange(1, 3650), default=None, help="Default: the old key's.")
def keys_rotate(prefix: str, expires_in_days: int | None) -> None:
    """A new secret for the key's principal, scopes and label; the old key is revoked at once."""
    with database_session(load_settings()) as session:
        issued = key_store.rotate_key(session, prefix, expires_in_days=expires_in_days)
        audit.record(
            session,
            action="key.rotate",
            decision="info",
            principal_id=None,
            reason=f"rotated key {prefix} to {issued.row.prefix} (steward keys rotate)",
            details={"old_prefix": prefix, "prefix": issued.row.prefix},
        )
    click.echo(f"{prefix} revoked; new prefix {issued.row.prefix}", err=True)
    click.echo(issued.key)
