"""The app factory: heavy clients are built once in the lifespan and shared through app.state."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from services.api.audit.router import principals_router
from services.api.audit.router import router as audit_router
from services.api.chat.router import router as chat_router
from services.api.documents.router import jobs_router
from services.api.documents.router import router as documents_router
from services.api.errors import install_error_handlers
from services.api.groups.router import router as groups_router
from services.api.health.router import router as health_router
from services.api.limits import BodySizeLimit
from services.api.metrics import MetricsMiddleware
from services.api.policies.router import router as policies_router
from services.api.search.router import router as search_router
from services.api.unanswered.router import router as unanswered_router
from services.core.llm.stack import LLMStack
from services.core.rewrite import FollowUpRewriter
from services.core.runtime import Runtime
from services.core.settings import Settings

log = logging.getLogger(__name__)

DESCRIPTION = """Steward answers questions from your company's documents, with citations, under your rules.

Authenticate with `Authorization: Bearer <api key>`. Errors are `{"error": {"code": "...", "message": "..."}}`."""


def _tokenizer_path(settings: Settings) -> str | None:
    """The served model's tokenizer: the setting, else the embedded model's build (if one exists)."""
    if settings.llm_tokenizer:
        return settings.llm_tokenizer
    from services.llm.build import built_model_dir

    built = built_model_dir(settings.cache_dir)
    return str(built) if built else None


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for `settings` (from the environment when omitted); nothing heavy runs until start-up."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await run_in_threadpool(Runtime.build, settings)
        worker = None
        if settings.worker_mode == "inprocess":
            from ingestion.worker import InProcessWorker  # only the embedded composition runs a worker here

            worker = InProcessWorker(runtime)
            worker.start()
        app.state.runtime = runtime
        app.state.llm = await run_in_threadpool(LLMStack.build, settings, _tokenizer_path(settings))
        app.state.llm.start()
        app.state.rewriter = FollowUpRewriter(app.state.llm, settings.rewrite_timeout_s)
        try:
            yield
        finally:
            await app.state.llm.close()
            if worker is not None:
                await run_in_threadpool(worker.stop)
            runtime.close()

    app = FastAPI(title="Steward", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes + 64 * 1024)
    app.add_middleware(MetricsMiddleware)
    routers = (
        health_router,
        documents_router,
        jobs_router,
        search_router,
        chat_router,
        unanswered_router,
        audit_router,
        principals_router,
        groups_router,
        policies_router,
    )
    for router in routers:
        app.include_router(router)
    return app
