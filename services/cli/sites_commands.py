"""`steward sites`: register the web sites that embed the chat widget, straight on the database (like
`steward keys`). Changes apply to the next request of a running server and are audited (local operator)."""

from __future__ import annotations

import time
from typing import TextIO

import click
import jwt
from sqlalchemy.orm import Session

from services.cli.context import database_session, load_settings
from services.core import audit
from services.core.access import sites as site_store
from services.core.access.sites import MAX_TOKEN_LIFETIME_S


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _record(session: Session, action: str, reason: str, site_id: str) -> None:
    audit.record(
        session,
        action=action,
        decision="info",
        principal_id=None,
        reason=reason,
        details={"site_id": site_id},
    )


@click.group()
def sites() -> None:
    """Manage the sites that embed the chat widget: create, list, rotate, delete, mint a test token."""


@sites.command("create")
@click.option("--name", required=True, help="A name for people, e.g. intranet.")
@click.option("--origin", "origins", multiple=True, required=True, help="scheme://host[:port]; repeat for more.")
@click.option("--groups", default="", help="Comma-separated: the most a user token of this site may grant.")
@click.option("--requests-per-minute", type=click.IntRange(0), default=None, help="For the whole site.")
@click.option("--tokens-per-day", type=click.IntRange(0), default=None, help="For the whole site.")
@click.option("--public-key", type=click.File("r"), default=None, help="PEM file: the site signs with RS256/ES256.")
@click.option("--algorithm", type=click.Choice(["HS256", "RS256", "ES256"]), default="HS256", show_default=True)
def sites_create(
    name: str,
    origins: tuple[str, ...],
    groups: str,
    requests_per_minute: int | None,
    tokens_per_day: int | None,
    public_key: TextIO | None,
    algorithm: str,
) -> None:
    """Register a site; prints its id (the widget's data-site, the tokens' aud) and, for HS256, its secret once."""
    with database_session(load_settings()) as session:
        issued = site_store.create_site(
            session,
            name=name,
            origins=list(origins),
            groups=_csv(groups),
            requests_per_minute=requests_per_minute,
            tokens_per_day=tokens_per_day,
            algorithm=algorithm,
            public_key=public_key.read() if public_key else None,
        )
        site = issued.site
        _record(session, "site.create", f"registered site {name!r} (steward sites create)", site.id)
        click.echo(f"site: {site.name} origins={','.join(site.origins)} groups={','.join(site.groups)}", err=True)
        click.echo(f"id: {site.id}")
    if issued.secret:
        click.echo(f"secret: {issued.secret}")
        click.echo("The secret is shown this once: give it to the site's backend, which signs user tokens.", err=True)


@sites.command("list")
def sites_list() -> None:
    """Sites, newest first: id, name, origins, groups, budgets (never secrets)."""
    with database_session(load_settings()) as session:
        rows, total = site_store.list_sites(session, limit=10_000, offset=0)
        for site in rows:
            budgets = f"rpm={site.requests_per_minute or '-'} tokens/day={site.tokens_per_day or '-'}"
            click.echo(
                f"{site.id}  {site.name:<20} {site.algorithm} origins={','.join(site.origins)} "
                f"groups={','.join(site.groups)} {budgets}"
            )
    click.echo(f"{total} site(s)", err=True)


@sites.command("rotate")
@click.argument("site_id")
@click.option("--public-key", type=click.File("r"), default=None, help="The new PEM key (RS256/ES256 sites).")
def sites_rotate(site_id: str, public_key: TextIO | None) -> None:
    """A new signing secret (or key): tokens signed with the old one are refused from now on."""
    with database_session(load_settings()) as session:
        issued = site_store.rotate_site(session, site_id, public_key=public_key.read() if public_key else None)
        _record(session, "site.rotate", f"rotated the key of site {issued.site.name!r} (steward sites rotate)", site_id)
    if issued.secret:
        click.echo(f"secret: {issued.secret}")


@sites.command("delete")
@click.argument("site_id")
def sites_delete(site_id: str) -> None:
    """Remove a site: its tokens are refused and its origins lose CORS at once."""
    with database_session(load_settings()) as session:
        site = site_store.delete_site(session, site_id)
        _record(session, "site.delete", f"deleted site {site.name!r} (steward sites delete)", site_id)
    click.echo(f"{site_id}: deleted")


@sites.command("token")
@click.argument("site_id")
@click.option("--secret", required=True, envvar="STEWARD_SITE_SECRET", help="The site's HS256 secret.")
@click.option("--sub", required=True, help="The user's stable id.")
@click.option("--name", default=None, help="The user's display name.")
@click.option("--groups", default="", help="Comma-separated groups (capped by the site's).")
@click.option("--ttl", type=click.IntRange(1, MAX_TOKEN_LIFETIME_S), default=600, show_default=True)
def sites_token(site_id: str, secret: str, sub: str, name: str | None, groups: str, ttl: int) -> None:
    """Mint a user token as a site's backend would (for trying the widget; real sites sign their own)."""
    now = int(time.time())
    claims = {"sub": sub, "name": name or sub, "groups": _csv(groups), "aud": site_id, "iat": now, "exp": now + ttl}
    click.echo(jwt.encode(claims, secret, algorithm="HS256"))
