"""Dependency aliases that hand routers the narrow collaborators they use, taken from the app's runtime.

This module and the app factory are the API's only readers of the runtime; routers and services see
sessions, stores and services, never the runtime itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from services.core.access.keys import authenticate
from services.core.access.principals import Caller
from services.core.audit.writer import AuditWriter
from services.core.db.session import session_scope
from services.core.errors import NotAuthenticated
from services.core.jobs.blobs import BlobStore
from services.core.jobs.outbox import Outbox
from services.core.llm.stack import LLMStack
from services.core.pii import PiiGuard
from services.core.policy import ReloadablePolicies
from services.core.policy.screening import InjectionScanner
from services.core.quota import QuotaService
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


def get_caller(request: Request, runtime: RuntimeDep) -> Caller:
    """Who the request acts as. A client that sent too many invalid keys is refused before its key is read."""
    settings = runtime.settings
    client = request.client.host if request.client else None
    runtime.auth_throttle.check(client or "unknown")
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    key = presented.strip() if scheme.lower() == "bearer" else None
    admin_key: str | None = settings.admin_api_key.get_secret_value()
    if admin_key == PLACEHOLDER_ADMIN_KEY and not settings.placeholder_admin_key_usable(client):
        admin_key = None  # the published placeholder is only this machine's, in dev: to anyone else it is wrong
    try:
        with runtime.sessions() as session, session.begin():
            caller = authenticate(session, key, admin_key)
    except NotAuthenticated:
        if key:
            runtime.auth_throttle.failed(client or "unknown")
        raise
    # The embeddable widget's site, for quotas per origin.
    origin = request.headers.get("origin")
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


def _audit_writer(runtime: RuntimeDep) -> AuditWriter:
    return runtime.audit_writer


SessionDep = Annotated[Session, Depends(get_session)]
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
LLMDep = Annotated[LLMStack, Depends(get_llm)]
RewriterDep = Annotated[FollowUpRewriter, Depends(get_rewriter)]
