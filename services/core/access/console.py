"""Admin console sessions: an admin key (or a single sign-on through the OpenID provider) is exchanged once for a
random session token the browser keeps in an HttpOnly cookie, with a CSRF token the page sends back on every change.

The key never stays in the browser. A session ends when it expires, on sign-out, or as soon as the key it was
opened with is revoked or expires: every request re-reads that key's row. A session opened by single sign-on
(marked `oidc`) ends when its principal is no longer an admin (the next sign-in with the provider's groups says
so) or single sign-on is switched off.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.core.access.keys import BOOTSTRAP_KEY, ROLE_SCOPES, SCOPES
from services.core.access.oidc import OIDC_KEY
from services.core.access.principals import Caller, Role, caller_of
from services.core.db.models import ApiKey, ConsoleSession, Principal, utcnow
from services.core.errors import CsrfRejected, NotAuthenticated

SESSION_LIFETIME = timedelta(hours=8)
COOKIE_NAME = "steward_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))


@dataclass(frozen=True)
class OpenedSession:
    token: str  # the cookie's value: shown to the browser once, stored hashed
    row: ConsoleSession


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, caller: Caller) -> OpenedSession:
    """A console session for an admin who just authenticated with a key or through the OpenID provider."""
    caller.require_role("admin")
    caller.require_scope("admin")
    now = utcnow()
    # Sign-in is rare: it is a good moment to forget sessions that ended.
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(
        token_hash=_hash(token),
        csrf_token=secrets.token_urlsafe(32),
        principal_id=caller.id,
        api_key_prefix=caller.api_key or BOOTSTRAP_KEY,
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
    )
    session.add(row)
    session.flush()
    return OpenedSession(token, row)


def _key_scopes(
    session: Session, row: ConsoleSession, principal: Principal, bootstrap_usable: bool, sso_usable: bool
) -> frozenset[str]:
    if row.api_key_prefix == BOOTSTRAP_KEY:
        if not bootstrap_usable:
            raise NotAuthenticated("the console session ended: sign in again")
        return frozenset(SCOPES)
    if row.api_key_prefix == OIDC_KEY:
        if not sso_usable:
            raise NotAuthenticated("the console session ended: single sign-on is no longer configured")
        return frozenset(SCOPES)
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == row.api_key_prefix))
    now = utcnow()
    if key is None or key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        raise NotAuthenticated("the console session ended: the key it was opened with is no longer valid")
    role: Role = principal.role  # type: ignore[assignment]
    return frozenset(key.scopes) if key.scopes is not None else frozenset(ROLE_SCOPES[role])


def find_session(
    session: Session, token: str, *, bootstrap_usable: bool, sso_usable: bool = False
) -> tuple[Caller, ConsoleSession]:
    """The admin a session cookie stands for, or NotAuthenticated. `bootstrap_usable` says whether the
    bootstrap admin key (STEWARD_ADMIN_API_KEY) is still accepted here, `sso_usable` whether single sign-on is
    configured (sessions it opened end when it is not)."""
    row = session.scalar(select(ConsoleSession).where(ConsoleSession.token_hash == _hash(token)))
    if row is None or row.expires_at <= utcnow():
        raise NotAuthenticated("no console session, or it has ended: sign in again")
    principal = session.get(Principal, row.principal_id)
    if principal is None or principal.role != "admin":
        raise NotAuthenticated("the console session ended: sign in again")
    scopes = _key_scopes(session, row, principal, bootstrap_usable, sso_usable)
    return caller_of(session, principal, row.api_key_prefix, scopes), row


def check_csrf(row: ConsoleSession, method: str, presented: str | None) -> None:
    """State-changing requests on a session must echo its CSRF token (a cross-site form cannot read it)."""
    if method.upper() in SAFE_METHODS:
        return
    if not presented or not hmac.compare_digest(presented.encode(), row.csrf_token.encode()):
        raise CsrfRejected("missing or wrong X-CSRF-Token header for this console session")


def close_session(session: Session, token: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _hash(token)))
