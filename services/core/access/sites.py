"""Sites that embed the chat widget, and the short-lived user tokens their backends sign.

A site's backend mints a JWT for its signed-in user (sub, name, groups, aud = the site's id, exp ≤ 15 min after
iat) with the site's secret (HS256) or private key (RS256/ES256). Steward checks the signature, audience, expiry
and lifetime, and that the request's Origin is one the site lists; the user's groups are capped by the site's, so
a compromised site cannot grant more than an admin gave it. No long-lived key ever reaches the browser.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.core.access.principals import Caller, SiteBudget
from services.core.access.rules import DEFAULT_CLASSIFICATION, effective_clearance, normalize_origin
from services.core.db.models import Group, Principal, Site, utcnow
from services.core.errors import Conflict, InvalidInput, InvalidToken, OriginNotAllowed, SiteNotFound

ALGORITHMS = ("HS256", "RS256", "ES256")
# A token may live at most this long (exp - iat); the host re-mints one as the widget asks.
MAX_TOKEN_LIFETIME_S = 15 * 60
# Clock skew tolerated between the site's backend and Steward.
LEEWAY_S = 30
MAX_ORIGINS = 20
MAX_TOKEN_CHARS = 8192
WIDGET_SCOPES = frozenset(("search", "chat"))


@dataclass(frozen=True)
class IssuedSite:
    """A site and, on creation or rotation, its new secret: shown once."""

    site: Site
    secret: str | None


def _origins(origins: Sequence[str]) -> list[str]:
    cleaned = []
    for origin in origins:
        normal = normalize_origin(origin.strip())
        scheme, sep, host = normal.partition("://")
        if not sep or scheme not in ("http", "https") or not host or "/" in host or "*" in host:
            raise InvalidInput(f"origin {origin!r} is not scheme://host[:port] (e.g. https://intranet.example.com)")
        cleaned.append(normal)
    if not cleaned:
        raise InvalidInput("a site needs at least one origin")
    if len(cleaned) > MAX_ORIGINS:
        raise InvalidInput(f"a site lists at most {MAX_ORIGINS} origins")
    return sorted(set(cleaned))


def _groups(groups: Sequence[str]) -> list[str]:
    names = sorted({g.strip() for g in groups if g.strip()})
    if len(names) > 50 or any(len(g) > 100 for g in names):
        raise InvalidInput("at most 50 groups of at most 100 characters each")
    return names


def _limit(name: str, value: int | None) -> int | None:
    if value is not None and value < 0:
        raise InvalidInput(f"{name} must be 0 or more")
    return value


def _key_material(algorithm: str, public_key: str | None) -> tuple[str | None, str | None]:
    """(secret, public key) for a new site or a rotation."""
    if algorithm not in ALGORITHMS:
        raise InvalidInput(f"algorithm must be one of {', '.join(ALGORITHMS)}")
    if algorithm == "HS256":
        if public_key:
            raise InvalidInput("HS256 sites use a secret Steward generates; give a public key only with RS256/ES256")
        return secrets.token_urlsafe(32), None
    if not public_key or "BEGIN PUBLIC KEY" not in public_key:
        raise InvalidInput(f"{algorithm} needs the site's public key in PEM ('-----BEGIN PUBLIC KEY-----')")
    try:
        jwt.get_algorithm_by_name(algorithm).prepare_key(public_key)
    except Exception as exc:  # any parse failure is the caller's bad key
        raise InvalidInput(f"the public key is not a valid {algorithm} key: {exc}") from exc
    return None, public_key


def create_site(
    session: Session,
    *,
    name: str,
    origins: Sequence[str],
    groups: Sequence[str],
    requests_per_minute: int | None = None,
    tokens_per_day: int | None = None,
    algorithm: str = "HS256",
    public_key: str | None = None,
    created_by: str | None = None,
) -> IssuedSite:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("a site name is 1 to 200 characters")
    secret, key = _key_material(algorithm, public_key)
    site = Site(
        name=name,
        origins=_origins(origins),
        groups=_groups(groups),
        requests_per_minute=_limit("requests_per_minute", requests_per_minute),
        tokens_per_day=_limit("tokens_per_day", tokens_per_day),
        algorithm=algorithm,
        secret=secret,
        public_key=key,
        created_by=created_by,
    )
    try:
        with session.begin_nested():
            session.add(site)
    except IntegrityError as exc:
        raise Conflict(f"a site named {name!r} already exists") from exc
    return IssuedSite(site, secret)


def get_site(session: Session, site_id: str) -> Site:
    site = session.get(Site, site_id)
    if site is None:
        raise SiteNotFound(f"no site {site_id!r}")
    return site


def list_sites(session: Session, *, limit: int, offset: int) -> tuple[list[Site], int]:
    total = session.scalar(select(func.count()).select_from(Site)) or 0
    rows = session.scalars(select(Site).order_by(Site.created_at.desc(), Site.id).limit(limit).offset(offset))
    return list(rows), total


def update_site(session: Session, site_id: str, changes: dict[str, Any]) -> Site:
    """Apply the given fields (name, origins, groups, requests_per_minute, tokens_per_day); the next request
    already sees them, since every token check reads the row."""
    site = get_site(session, site_id)
    if "name" in changes:
        name = str(changes["name"]).strip()
        if not name or len(name) > 200:
            raise InvalidInput("a site name is 1 to 200 characters")
        site.name = name
    if "origins" in changes:
        site.origins = _origins(changes["origins"])
    if "groups" in changes:
        site.groups = _groups(changes["groups"])
    for limit in ("requests_per_minute", "tokens_per_day"):
        if limit in changes:
            setattr(site, limit, _limit(limit, changes[limit]))
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a site named {site.name!r} already exists") from exc
    return site


def rotate_site(session: Session, site_id: str, *, public_key: str | None = None) -> IssuedSite:
    """A new secret (HS256) or public key (RS256/ES256); tokens signed with the old one fail from now on."""
    site = get_site(session, site_id)
    site.secret, site.public_key = _key_material(site.algorithm, public_key)
    site.secret_rotated_at = utcnow()
    session.flush()
    return IssuedSite(site, site.secret)


def delete_site(session: Session, site_id: str) -> Site:
    site = get_site(session, site_id)
    session.delete(site)
    session.flush()
    return site


def site_origins(session: Session) -> set[str]:
    """Every origin any site lists: the only ones CORS answers."""
    return {origin for origins in session.scalars(select(Site.origins)) for origin in origins}


def looks_like_token(credential: str) -> bool:
    """A JWT has three dot-separated parts; Steward's API keys have none."""
    return credential.count(".") == 2 and not credential.startswith("stw_")


def _claims(site: Site, token: str) -> dict[str, Any]:
    key = site.secret if site.algorithm == "HS256" else site.public_key
    if not key:
        raise InvalidToken("the site has no signing key")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[site.algorithm],  # only the site's own: never 'none', never HS256 with a public key
            audience=site.id,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iat", "sub", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("the user token has expired; the widget fetches a new one") from exc
    except jwt.InvalidAudienceError as exc:
        raise InvalidToken("the user token is for another site (aud)") from exc
    except jwt.InvalidSignatureError as exc:
        raise InvalidToken("the user token's signature does not verify with the site's key") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"invalid user token: {exc}") from exc
    lifetime = claims["exp"] - claims["iat"]
    if not isinstance(lifetime, int | float) or lifetime > MAX_TOKEN_LIFETIME_S:
        raise InvalidToken(f"a user token may live at most {MAX_TOKEN_LIFETIME_S // 60} minutes (exp - iat)")
    return claims


def _audience(token: str) -> str:
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"malformed user token: {exc}") from exc
    audience = unverified.get("aud")
    if isinstance(audience, list) and len(audience) == 1:
        audience = audience[0]
    if not isinstance(audience, str) or not audience or len(audience) > 36:
        raise InvalidToken("the user token names no site (aud)")
    return audience


def names_site(session: Session, token: str) -> bool:
    """Whether a JWT's audience (unverified) is a registered site: a widget user token, whatever else it claims."""
    try:
        return session.get(Site, _audience(token)) is not None
    except InvalidToken:
        return False


def _user_principal(session: Session, site: Site, subject: str, name: str) -> Principal:
    """The site's user as a principal (their conversations, feedback and quotas hang off it), made on first use."""
    principal_name = f"site:{site.id}:{subject}"
    principal = session.scalar(select(Principal).where(Principal.name == principal_name))
    if principal is not None:
        return principal
    try:
        with session.begin_nested():
            principal = Principal(name=principal_name, role="user", groups=[])
            session.add(principal)
        return principal
    except IntegrityError:
        return session.scalars(select(Principal).where(Principal.name == principal_name)).one()


def authenticate_token(session: Session, token: str, origin: str | None) -> Caller:
    """The Caller a widget request acts as: the token's user, with the groups it claims that the site may grant."""
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidToken("the user token is too long")
    site = session.get(Site, _audience(token))
    if site is None:
        raise InvalidToken("the user token is for an unknown site (aud)")
    claims = _claims(site, token)
    if origin is None or normalize_origin(origin) not in site.origins:
        raise OriginNotAllowed(
            f"requests with this site's tokens must come from its registered origins; {origin or 'no Origin'} is not"
        )
    subject, display = claims["sub"], claims.get("name", claims["sub"])
    if not isinstance(subject, str) or not 0 < len(subject) <= 128:
        raise InvalidToken("sub must be a string of 1 to 128 characters")
    claimed = claims.get("groups", [])
    if not isinstance(claimed, list) or not all(isinstance(g, str) for g in claimed):
        raise InvalidToken("groups must be a list of group names")
    groups = tuple(sorted(set(claimed) & set(site.groups)))
    principal = _user_principal(session, site, subject, str(display))
    # A group the site grants but no admin has described yet reads at the default level, as a key's would.
    rows = dict(session.execute(select(Group.name, Group.clearance).where(Group.name.in_(groups))).tuples().all())
    clearances = [rows.get(g, DEFAULT_CLASSIFICATION) for g in groups]
    return Caller(
        principal.id,
        str(display)[:200],
        "user",
        groups,
        f"site:{site.id}",
        effective_clearance(clearances),
        origin=origin,
        scopes=WIDGET_SCOPES,
        site=SiteBudget(site.id, site.requests_per_minute, site.tokens_per_day),
    )
