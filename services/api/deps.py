"""Dependency aliases that hand routers the narrow collaborators they use, taken from the app's runtime.

This module and the app factory are the API's only readers of the runtime; routers and services see
sessions, stores and services, never the runtime itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from services.core.access.principals import Caller, authenticate
from services.core.db.session import session_scope
from services.core.jobs.blobs import BlobStore
from services.core.jobs.outbox import Outbox
from services.core.llm.stack import LLMStack
from services.core.pii import PiiGuard
from services.core.policy import ReloadablePolicies
from services.core.quota import QuotaService
from services.core.retrieval.rewrite import FollowUpRewriter
from services.core.retrieval.search import Retriever
from services.core.runtime import Runtime
from services.core.settings import Settings
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
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    with runtime.sessions() as session, session.begin():
        caller = authenticate(
            session,
            key.strip() if scheme.lower() == "bearer" else None,
            runtime.settings.admin_api_key.get_secret_value(),
        )
    # The embeddable widget's site, for quotas per origin.
    origin = request.headers.get("origin")
    return caller.with_origin(origin) if origin else caller


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


SessionDep = Annotated[Session, Depends(get_session)]
CurrentCaller = Annotated[Caller, Depends(get_caller)]
SessionsDep = Annotated[sessionmaker[Session], Depends(_sessions)]
SettingsDep = Annotated[Settings, Depends(_settings)]
BlobsDep = Annotated[BlobStore, Depends(_blobs)]
OutboxDep = Annotated[Outbox, Depends(_outbox)]
VectorStoreDep = Annotated[VectorStore, Depends(_vector_store)]
RetrieverDep = Annotated[Retriever, Depends(_retriever)]
PoliciesDep = Annotated[ReloadablePolicies, Depends(_policies)]
QuotasDep = Annotated[QuotaService, Depends(_quotas)]
PiiDep = Annotated[PiiGuard, Depends(_pii)]
LLMDep = Annotated[LLMStack, Depends(get_llm)]
RewriterDep = Annotated[FollowUpRewriter, Depends(get_rewriter)]
