"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from services.api.deps import AdminCaller, LLMDep, SessionsDep, VectorStoreDep
from services.core.llm.stack import LLMStack
from services.core.vectorstore import VectorStore

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


def _backend_checks(sessions: sessionmaker[Session], vector_store: VectorStore) -> dict[str, str]:
    """Each backend: "ok", or what failed (for admins only: exception text can name hosts and paths)."""
    checks: dict[str, str] = {}
    try:
        with sessions() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {exc}"
    try:
        vector_store.count()
        checks["vector_store"] = "ok"
    except Exception as exc:
        checks["vector_store"] = f"error: {exc}"
    return checks


async def _checks(sessions: sessionmaker[Session], vector_store: VectorStore, llm: LLMStack) -> dict[str, str]:
    checks = await run_in_threadpool(_backend_checks, sessions, vector_store)
    gateway = llm.gateway
    if gateway.breaker.state == "open":
        checks["llm"] = "error: circuit open after repeated failures"
    elif await gateway.healthy():
        checks["llm"] = "ok"
    else:
        checks["llm"] = f"error: no healthy LLM server at {gateway.base_url}"
    return checks


def _answer(checks: dict[str, str]) -> JSONResponse:
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/readyz")
async def readyz(sessions: SessionsDep, vector_store: VectorStoreDep, llm: LLMDep) -> JSONResponse:
    """Every backend answers: database, vector store and the LLM server; 503 names which is down ("down"), and
    no more: the reason is for admins, at GET /v1/admin/readyz."""
    checks = await _checks(sessions, vector_store, llm)
    return _answer({name: "ok" if value == "ok" else "down" for name, value in checks.items()})


@router.get("/v1/admin/readyz", tags=["admin"])
async def readyz_details(
    sessions: SessionsDep, vector_store: VectorStoreDep, llm: LLMDep, principal: AdminCaller
) -> JSONResponse:
    """Readiness with the reason each backend is down (admin): error text, addresses, circuit state."""
    principal.require_role("admin")
    return _answer(await _checks(sessions, vector_store, llm))


@router.get("/metrics")
def metrics() -> Response:
    """Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
