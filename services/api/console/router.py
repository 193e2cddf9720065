"""Sign in to the admin console (a key for a session cookie), read the session, sign out."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field

from services.api.deps import (
    AdminCaller,
    BootstrapUsableDep,
    KeyAuthenticatorDep,
    OidcDep,
    SessionDep,
    SessionsDep,
)
from services.core import audit
from services.core.access import console
from services.core.access.principals import Caller
from services.core.db.models import ConsoleSession
from services.core.errors import NotAuthenticated

router = APIRouter(prefix="/v1/admin/session", tags=["admin"])


class SignIn(BaseModel):
    key: str = Field(min_length=1, max_length=200, description="an admin API key; it is not kept by the browser")


class PrincipalOut(BaseModel):
    id: str
    name: str
    role: str


class SessionOut(BaseModel):
    principal: PrincipalOut
    csrf_token: str = Field(description="send it back as X-CSRF-Token on every request that changes something")
    expires_at: datetime


def _out(caller: Caller, row: ConsoleSession) -> SessionOut:
    return SessionOut(
        principal=PrincipalOut(id=caller.id, name=caller.name, role=caller.role),
        csrf_token=row.csrf_token,
        expires_at=row.expires_at,
    )


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    """The console session's cookie: HttpOnly, SameSite=Strict, Secure over HTTPS (single sign-on sets the same)."""
    response.set_cookie(
        console.COOKIE_NAME,
        token,
        max_age=int(console.SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@router.post("", response_model=SessionOut)
def sign_in(
    body: SignIn, request: Request, response: Response, authenticate: KeyAuthenticatorDep, sessions: SessionsDep
) -> SessionOut:
    """Exchange an admin key for a console session: an HttpOnly, SameSite=Strict cookie and a CSRF token."""
    caller = authenticate(body.key)
    with sessions() as session, session.begin():
        opened = console.open_session(session, caller)
        audit.admin_action(session, caller.id, "console.sign_in", "signed in to the admin console")
        out = _out(caller, opened.row)
    set_session_cookie(response, request, opened.token)
    return out


@router.get("", response_model=SessionOut)
def current(
    request: Request,
    session: SessionDep,
    principal: AdminCaller,
    bootstrap_usable: BootstrapUsableDep,
    oidc: OidcDep,
) -> SessionOut:
    """The signed-in console session (its CSRF token again, for a reloaded page); 401 without one."""
    token = request.cookies.get(console.COOKIE_NAME)
    if not token:
        raise NotAuthenticated("no console session: sign in")
    _, row = console.find_session(session, token, bootstrap_usable=bootstrap_usable, sso_usable=oidc is not None)
    return _out(principal, row)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(request: Request, session: SessionDep) -> Response:
    """End the console session (always succeeds; the cookie is cleared)."""
    token = request.cookies.get(console.COOKIE_NAME)
    if token:
        console.close_session(session, token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(console.COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response
