"""Dependency aliases that hand routers the narrow collaborators they use, taken from the app's runtime.

This module and the app factory are the API's only readers of the runtime; routers and services see
sessions, stores and services, never the runtime itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from services.core.access import console, sites
from services.core.access.keys import authenticate
from services.core.access.oidc import OidcVerifier
from services.core.access.principals import Caller
from services.core.adaptation.service import Adaptation
from services.core.audit.writer import AuditWriter
from services.core.db.session import session_scope
from services.core.errors import NotAuthenticated
from services.core.jobs.blobs import BlobStore
from services.core.jobs.outbox import Outbox
from services.core.jobs.reconcile import Reconciler
from services.core.llm.stack import LLMStack
from services.core.pii import PiiGuard
from services.core.policy import ReloadablePolicies
from services.core.policy.screening import InjectionScanner
from services.core.quota import QuotaService
from services.core.quota.throttle import FailedAuthThrottle
from services.core.retrieval.rewrite import FollowUpRewriter
from services.core.retrieval.search import Retriever
from services.core.runtime import Runtime
from services.core.settings import PLACEHOLDER_ADMIN_KEY, Settings
from services.core.vectorstore import VectorStore


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """One session per request, committed when the handler returns normally."""
    with session_scope(runtime.sessions) as session:
        yield session


def bootstrap_key(request: Request, runtime: Runtime) -> str | None:
    """STEWARD_ADMIN_API_KEY, or None where it may not be used: the published placeholder is only this
    machine's, in dev; to anyone else it is wrong."""
    settings = runtime.settings
    client = request.client.host if request.client else None
    admin_key: str | None = settings.admin_api_key.get_secret_value()
    if admin_key == PLACEHOLDER_ADMIN_KEY and not settings.placeholder_admin_key_usable(client):
        return None
    return admin_key


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def authenticate_key(request: Request, runtime: Runtime, key: str | None) -> Caller:
    """The principal owning an API key; a client that sent too many invalid credentials is refused first."""
    runtime.auth_throttle.check(_client(request))
    try:
        with runtime.sessions() as session, session.begin():
            return authenticate(session, key, bootstrap_key(request, runtime))
    except NotAuthenticated:
        if key:
            runtime.auth_throttle.failed(_client(request))
        raise


def _key_authenticator(request: Request, runtime: RuntimeDep) -> Callable[[str], Caller]:
    """Checks a key presented in a body (the console's sign-in) as the Authorization header would be."""
    return lambda key: authenticate_key(request, runtime, key)


def _bootstrap_usable(request: Request, runtime: RuntimeDep) -> bool:
    return bootstrap_key(request, runtime) is not None


def _oidc(runtime: RuntimeDep) -> OidcVerifier | None:
    return runtime.oidc


def _auth_throttle(runtime: RuntimeDep) -> FailedAuthThrottle:
    return runtime.auth_throttle


def _token_caller(runtime: Runtime, token: str, origin: str | None) -> Caller:
    """A bearer JWT: the OpenID provider's access token (when single sign-on is on and the token says it is the
    provider's) or a widget site's user token. With single sign-on on, a JWT that is neither is refused with the
    generic message and its issuer logged."""
    oidc = runtime.oidc
    if oidc is not None and oidc.issued(token):
        identity = oidc.verify_access_token(token)  # may fetch the provider's keys: outside the transaction
        with runtime.sessions() as session, session.begin():
            caller, _ = oidc.caller(session, identity)
        return caller.with_origin(origin) if origin else caller
    with runtime.sessions() as session, session.begin():
        if oidc is not None and not sites.names_site(session, token):
            oidc.reject_foreign(token)
        return sites.authenticate_token(session, token, origin)


def get_caller(request: Request, runtime: RuntimeDep) -> Caller:
    """Who the request acts as: an API key's principal, a widget site's user (a signed token), a person signed in
    with the OpenID provider (its access token), or the admin of a console session (its cookie, with the CSRF
    header on changes). Too many invalid credentials from one client are refused before any is read."""
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    credential = presented.strip() if scheme.lower() == "bearer" else None
    origin = request.headers.get("origin")
    cookie = request.cookies.get(console.COOKIE_NAME)
    if credential and sites.looks_like_token(credential):
        runtime.auth_throttle.check(_client(request))
        try:
            return _token_caller(runtime, credential, origin)
        except NotAuthenticated:
            runtime.auth_throttle.failed(_client(request))
            raise
    if not credential and cookie:
        runtime.auth_throttle.check(_client(request))
        try:
            with runtime.sessions() as session, session.begin():
                caller, row = console.find_session(
                    session,
                    cookie,
                    bootstrap_usable=bootstrap_key(request, runtime) is not None,
                    sso_usable=runtime.oidc is not None,
                )
                console.check_csrf(row, request.method, request.headers.get(console.CSRF_HEADER))
        except NotAuthenticated:
            runtime.auth_throttle.failed(_client(request))
            raise
        return caller
    caller = authenticate_key(request, runtime, credential)
    # The embeddable widget's site, for quotas per origin.
    return caller.with_origin(origin) if origin else caller


def _scoped(scope: str) -> Callable[[Caller], Caller]:
    def require(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
        caller.require_scope(scope)
        return caller

    return require


def get_llm(request: Request) -> LLMStack:
    llm: LLMStack = request.app.state.llm
    return llm


def get_rewriter(request: Request) -> FollowUpRewriter:
    rewriter: FollowUpRewriter = request.app.state.rewriter
    return rewriter


def _sessions(runtime: RuntimeDep) -> sessionmaker[Session]:
    return runtime.sessions


def _settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


def _blobs(runtime: RuntimeDep) -> BlobStore:
    return runtime.blobs


def _outbox(runtime: RuntimeDep) -> Outbox:
    return runtime.outbox


def _vector_store(runtime: RuntimeDep) -> VectorStore:
    return runtime.vector_store


def _retriever(runtime: RuntimeDep) -> Retriever:
    return runtime.retriever


def _policies(runtime: RuntimeDep) -> ReloadablePolicies:
    return runtime.policies


def _quotas(runtime: RuntimeDep) -> QuotaService:
    return runtime.quotas


def _pii(runtime: RuntimeDep) -> PiiGuard:
    return runtime.pii


def _injection_scanner(runtime: RuntimeDep) -> InjectionScanner | None:
    return runtime.injection_scanner


def _reconciler(runtime: RuntimeDep) -> Reconciler:
    return runtime.reconciler


def _adaptation(runtime: RuntimeDep) -> Adaptation:
    return runtime.adaptation


def _audit_writer(runtime: RuntimeDep) -> AuditWriter:
    return runtime.audit_writer


# scope="function": the session commits when the handler returns, before the response leaves. By default FastAPI
# runs a yield dependency's exit after sending the response, so a client told 200 could read the old state on its
# next request (a revoked key still listed as active), or never learn that the commit failed.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
CurrentCaller = Annotated[Caller, Depends(get_caller)]
# The caller, if their key has the scope the route needs (services/core/access/keys.py): 403 otherwise.
SearchCaller = Annotated[Caller, Depends(_scoped("search"))]
ChatCaller = Annotated[Caller, Depends(_scoped("chat"))]
IngestCaller = Annotated[Caller, Depends(_scoped("ingest"))]
AdminCaller = Annotated[Caller, Depends(_scoped("admin"))]
SessionsDep = Annotated[sessionmaker[Session], Depends(_sessions)]
SettingsDep = Annotated[Settings, Depends(_settings)]
BlobsDep = Annotated[BlobStore, Depends(_blobs)]
OutboxDep = Annotated[Outbox, Depends(_outbox)]
VectorStoreDep = Annotated[VectorStore, Depends(_vector_store)]
RetrieverDep = Annotated[Retriever, Depends(_retriever)]
PoliciesDep = Annotated[ReloadablePolicies, Depends(_policies)]
QuotasDep = Annotated[QuotaService, Depends(_quotas)]
PiiDep = Annotated[PiiGuard, Depends(_pii)]
InjectionScannerDep = Annotated[InjectionScanner | None, Depends(_injection_scanner)]
AuditWriterDep = Annotated[AuditWriter, Depends(_audit_writer)]
AdaptationDep = Annotated[Adaptation, Depends(_adaptation)]
ReconcilerDep = Annotated[Reconciler, Depends(_reconciler)]
LLMDep = Annotated[LLMStack, Depends(get_llm)]
RewriterDep = Annotated[FollowUpRewriter, Depends(get_rewriter)]
KeyAuthenticatorDep = Annotated[Callable[[str], Caller], Depends(_key_authenticator)]
BootstrapUsableDep = Annotated[bool, Depends(_bootstrap_usable)]
# The OpenID provider's verifier; None when single sign-on is off.
OidcDep = Annotated[OidcVerifier | None, Depends(_oidc)]
AuthThrottleDep = Annotated[FailedAuthThrottle, Depends(_auth_throttle)]
