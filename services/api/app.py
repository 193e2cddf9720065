"""The API's app factory: heavy clients are built once in the lifespan and shared through app.state.

This is an edge: it reads the runtime and composes the services routers use (`services/api/deps.py` hands
them out). Background work that must share the process's objects — the embedded profile's ingestion worker
— is passed in by the composition root (`services/server.py`), so the API never imports ingestion.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from services.api.audit.router import principals_router
from services.api.audit.router import router as audit_router
from services.api.backups.router import router as backups_router
from services.api.chat.generation import Generator
from services.api.chat.pipeline import ChatService
from services.api.chat.planning import Planner, PlanningConfig
from services.api.chat.recording import Recorder
from services.api.chat.router import router as chat_router
from services.api.console.router import router as console_router
from services.api.documents.router import router as documents_router
from services.api.errors import ERROR_RESPONSES, install_error_handlers
from services.api.feedback.router import router as feedback_router
from services.api.groups.router import router as groups_router
from services.api.health.router import router as health_router
from services.api.index.router import router as index_router
from services.api.index.tuning import TuneRunner
from services.api.jobs.router import router as jobs_router
from services.api.keys.router import router as keys_router
from services.api.limits import BodySizeLimit
from services.api.metrics import MetricsMiddleware
from services.api.openai.router import router as openai_router
from services.api.policies.router import router as policies_router
from services.api.search.router import router as search_router
from services.api.sites.router import router as sites_router
from services.api.sso.router import router as sso_router
from services.api.unanswered.router import router as unanswered_router
from services.api.usage.router import router as usage_router
from services.api.web import install_web
from services.core.access.sites import site_origins
from services.core.answers.sentence_vectors import StoredSentences
from services.core.llm.stack import LLMStack
from services.core.retrieval.rewrite import FollowUpRewriter
from services.core.runtime import Runtime
from services.core.settings import Settings

log = logging.getLogger(__name__)

DESCRIPTION = """Steward answers questions from your company's documents, with citations, under your rules.

Authenticate with `Authorization: Bearer <api key>`. Errors are `{"error": {"code": "...", "message": "..."}}`."""


class BackgroundService(Protocol):
    """Something that runs beside the API on the same runtime (the embedded ingestion worker)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


BackgroundFactory = Callable[[Runtime], BackgroundService]


def _tokenizer_path(settings: Settings) -> str | None:
    """The served model's tokenizer: the setting, else the embedded model's build (if one exists)."""
    if settings.llm_tokenizer:
        return settings.llm_tokenizer
    from services.serving.build import built_model_dir

    built = built_model_dir(settings.cache_dir)
    return str(built) if built else None


def build_chat(runtime: Runtime, llm: LLMStack, rewriter: FollowUpRewriter) -> ChatService:
    """The chat pipeline, each step handed only the collaborators it uses."""
    settings = runtime.settings
    recorder = Recorder(
        sessions=runtime.sessions,
        quotas=runtime.quotas,
        counter=llm.counter,
        pii=runtime.pii,
        model=settings.llm_model,
    )
    planner = Planner(
        sessions=runtime.sessions,
        policies=runtime.policies,
        retriever=runtime.retriever,
        rewriter=rewriter,
        admission=llm.admission,
        counter=llm.counter,
        quotas=runtime.quotas,
        recorder=recorder,
        config=PlanningConfig(
            prompt_style=settings.llm_prompt_style,
            answer_tokens=settings.llm_max_tokens,
            max_prompt_tokens=llm.max_prompt_tokens,
            grounding_action=settings.grounding_action,
            grounding_min_similarity=settings.grounding_min_similarity,
            grounding_min_overlap=settings.grounding_min_overlap,
        ),
    )
    generator = Generator(
        gateway=llm.gateway,
        embed=runtime.embedder.embed_approximate,
        confirm=runtime.embedder.embed,
        policies=runtime.policies,
        sessions=runtime.sessions,
        recorder=recorder,
        stored_sentences=StoredSentences(
            sessions=runtime.sessions, name=runtime.embedder.approximate_name, dimension=runtime.embedder.dimension
        ).known,
    )
    return ChatService(planner=planner, generator=generator, recorder=recorder)


def create_app(settings: Settings | None = None, *, background: Sequence[BackgroundFactory] = ()) -> FastAPI:
    """Build the API for `settings` (from the environment when omitted); nothing heavy runs until start-up.

    `background` services are built on the runtime at start-up and stopped at shutdown."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await run_in_threadpool(Runtime.build, settings)
        services = [factory(runtime) for factory in background]
        for service in services:
            service.start()
        llm = await run_in_threadpool(LLMStack.build, settings, _tokenizer_path(settings))
        llm.start()
        rewriter = FollowUpRewriter(llm, settings.rewrite_timeout_s, runtime.quotas, settings.rewrite_mode)
        app.state.runtime, app.state.llm, app.state.rewriter = runtime, llm, rewriter
        app.state.chat = build_chat(runtime, llm, rewriter)
        app.state.tuning = TuneRunner(adaptation=runtime.adaptation, sessions=runtime.sessions)
        try:
            yield
        finally:
            await llm.close()
            for service in reversed(services):
                await run_in_threadpool(service.stop)
            runtime.close()

    app = FastAPI(
        title="Steward", version="0.1.0", description=DESCRIPTION, lifespan=lifespan, responses=ERROR_RESPONSES
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes + 64 * 1024)
    app.add_middleware(MetricsMiddleware)
    routers = (
        health_router,
        documents_router,
        jobs_router,
        index_router,
        backups_router,
        keys_router,
        search_router,
        chat_router,
        unanswered_router,
        audit_router,
        principals_router,
        groups_router,
        policies_router,
        sites_router,
        console_router,
        sso_router,
        feedback_router,
        usage_router,
        openai_router,
    )
    for router in routers:
        app.include_router(router)

    def registered_origins() -> set[str]:
        runtime: Runtime | None = getattr(app.state, "runtime", None)
        if runtime is None:
            return set()
        with runtime.sessions() as session:
            return site_origins(session)

    install_web(app, dist=settings.web_dist_dir, origins=registered_origins)
    return app
