"""Dependency aliases that hand the app's shared objects to routers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from services.core.auth import PrincipalContext, authenticate
from services.core.db.session import session_scope
from services.core.llm.stack import LLMStack
from services.core.rewrite import FollowUpRewriter
from services.core.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_llm(request: Request) -> LLMStack:
    llm: LLMStack = request.app.state.llm
    return llm


def get_rewriter(request: Request) -> FollowUpRewriter:
    rewriter: FollowUpRewriter = request.app.state.rewriter
    return rewriter


def get_session(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Iterator[Session]:
    """One session per request, committed when the handler returns normally."""
    with session_scope(runtime.sessions) as session:
        yield session


def get_principal(request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]) -> PrincipalContext:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    with runtime.sessions() as session, session.begin():
        return authenticate(
            session,
            key.strip() if scheme.lower() == "bearer" else None,
            runtime.settings.admin_api_key.get_secret_value(),
        )


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[Session, Depends(get_session)]
CurrentPrincipal = Annotated[PrincipalContext, Depends(get_principal)]
LLMDep = Annotated[LLMStack, Depends(get_llm)]
RewriterDep = Annotated[FollowUpRewriter, Depends(get_rewriter)]
