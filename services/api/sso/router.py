"""Single sign-on to the admin console through the OpenID provider: authorization code with PKCE.

GET /v1/admin/sso tells the sign-in page whether to offer it; /login sends the browser to the provider with a
fresh state, nonce and PKCE challenge (kept in a signed, short-lived cookie); /callback checks the state,
exchanges the code, verifies the ID token and opens a console session exactly as an admin key does. Anything
that goes wrong lands on the console's sign-in page with a short error code; the reason is in the server's log.
"""

from __future__ import annotations

import hmac
import logging
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from services.api.console.router import set_session_cookie
from services.api.deps import AuthThrottleDep, OidcDep, SessionsDep, SettingsDep
from services.api.sso import state as login_state
from services.core import audit
from services.core.access import console
from services.core.access.oidc import OidcVerifier, Rejected
from services.core.errors import IdentityProviderUnavailable, InvalidToken, SsoNotConfigured, TooManyFailedLogins
from services.core.settings import Settings

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/admin/sso", tags=["admin"])

CONSOLE = "/admin/"
SIGN_IN = "/admin/#/signin"
# What the console's sign-in page says for each (web/admin/src/screens/signin.ts).
ERROR_CODES = ("access_denied", "provider_error", "expired", "failed", "not_admin", "unavailable", "throttled")


class SsoOut(BaseModel):
    enabled: bool = Field(description="whether the console offers single sign-on")
    provider: str | None = Field(description="the OpenID provider's issuer, when enabled")


def _verifier(oidc: OidcVerifier | None) -> OidcVerifier:
    if oidc is None:
        raise SsoNotConfigured("single sign-on is not configured on this server (STEWARD_OIDC_ISSUER)")
    return oidc


def safe_next(path: str | None) -> str:
    """Where to land after signing in: a page of the console, never another site."""
    if (
        not path
        or not path.startswith(CONSOLE)
        or "//" in path
        or "\\" in path
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in path)
    ):
        return CONSOLE
    return path


def _key(settings: Settings) -> bytes:
    secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
    return login_state.signing_key(
        settings.admin_api_key.get_secret_value(), settings.oidc_issuer, settings.oidc_client_id, secret
    )


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _to_sign_in(error: str) -> RedirectResponse:
    response = RedirectResponse(f"{SIGN_IN}?error={quote(error)}", status_code=302)
    response.delete_cookie(login_state.COOKIE_NAME, path=login_state.COOKIE_PATH, httponly=True, samesite="lax")
    return response


@router.get("", response_model=SsoOut)
def sso_status(oidc: OidcDep) -> SsoOut:
    """Whether the console offers single sign-on, and with which provider (public: the sign-in page asks)."""
    return SsoOut(enabled=oidc is not None, provider=oidc.issuer if oidc is not None else None)


@router.get("/login", status_code=302, response_class=RedirectResponse)
def sso_login(
    request: Request,
    oidc: OidcDep,
    settings: SettingsDep,
    next: Annotated[str, Query(max_length=500, description="the console page to land on")] = CONSOLE,
) -> RedirectResponse:
    """Send the browser to the provider's sign-in (authorization code with PKCE); 404 when SSO is off."""
    verifier = _verifier(oidc)
    redirect_uri = verifier.redirect_uri(str(request.url_for("sso_callback")))
    try:
        login = verifier.login_request(redirect_uri=redirect_uri)
    except IdentityProviderUnavailable:
        log.warning("SSO sign-in not started: the provider %s cannot be reached", verifier.issuer, exc_info=True)
        return _to_sign_in("unavailable")
    sealed = login_state.seal(
        login_state.new_state(
            state=login.state,
            nonce=login.nonce,
            code_verifier=login.code_verifier,
            redirect_uri=redirect_uri,
            next_path=safe_next(next),
        ),
        _key(settings),
    )
    response = RedirectResponse(login.url, status_code=302)
    response.set_cookie(
        login_state.COOKIE_NAME,
        sealed,
        max_age=login_state.LIFETIME_S,
        path=login_state.COOKIE_PATH,
        httponly=True,
        samesite="lax",  # the provider sends the browser back from another site
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/callback", status_code=302, response_class=RedirectResponse)
def sso_callback(
    request: Request,
    oidc: OidcDep,
    settings: SettingsDep,
    sessions: SessionsDep,
    throttle: AuthThrottleDep,
    code: Annotated[str | None, Query(max_length=4096)] = None,
    state: Annotated[str | None, Query(max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=2000)] = None,
    iss: Annotated[str | None, Query(max_length=2000)] = None,
) -> RedirectResponse:
    """Where the provider sends the browser back: opens a console session for an admin and goes to the console;
    anything else goes to the sign-in page with an error code."""
    verifier = _verifier(oidc)
    client = _client(request)
    try:
        throttle.check(client)
    except TooManyFailedLogins:
        return _to_sign_in("throttled")
    saved = login_state.unseal(request.cookies.get(login_state.COOKIE_NAME), _key(settings))
    if error:
        log.info("SSO sign-in: the provider answered %s (%s)", error[:100], (error_description or "")[:300])
        return _to_sign_in("access_denied" if error == "access_denied" else "provider_error")
    if saved is None or not state or not hmac.compare_digest(saved.state.encode(), state.encode()):
        log.warning("SSO callback refused: no sign-in state cookie, or it expired or does not match the state")
        throttle.failed(client)
        return _to_sign_in("expired")
    if iss is not None and iss != verifier.issuer:  # RFC 9207: the response is from another provider (mix-up)
        log.warning("SSO callback refused: the response names issuer %r, not %r", iss[:200], verifier.issuer)
        throttle.failed(client)
        return _to_sign_in("failed")
    if not code:
        log.warning("SSO callback refused: no authorization code")
        return _to_sign_in("failed")
    try:
        id_token = verifier.exchange_code(code=code, redirect_uri=saved.redirect_uri, code_verifier=saved.code_verifier)
        identity = verifier.verify_id_token(id_token, nonce=saved.nonce)
    except Rejected as exc:
        log.warning("SSO callback refused: %s", exc)
        throttle.failed(client)
        return _to_sign_in("failed")
    except InvalidToken:  # the reason is logged by the verifier
        throttle.failed(client)
        return _to_sign_in("failed")
    except IdentityProviderUnavailable:
        log.warning("SSO callback: the provider %s cannot be reached", verifier.issuer, exc_info=True)
        return _to_sign_in("unavailable")
    with sessions() as session, session.begin():
        caller, created = verifier.caller(session, identity)
        if caller.role != "admin":
            log.info("SSO sign-in refused: %s is not in an admin group (%s)", caller.name, ", ".join(caller.groups))
            return _to_sign_in("not_admin")
        opened = console.open_session(session, caller)
        audit.admin_action(
            session,
            caller.id,
            "console.sign_in",
            "signed in to the admin console with single sign-on",
            details={"method": "sso", "issuer": verifier.issuer, "first_sign_in": created},
        )
    response = RedirectResponse(saved.next, status_code=302)
    response.delete_cookie(login_state.COOKIE_NAME, path=login_state.COOKIE_PATH, httponly=True, samesite="lax")
    set_session_cookie(response, request, opened.token)
    return response
