"""The chat pipeline: plan, then one stream of typed events (meta, tokens and sentence verdicts, done or error).

Planning errors (a spent quota, an overloaded model, a question too long) are raised before the stream starts,
so they keep their HTTP status; after that every outcome is an event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

from fastapi.concurrency import run_in_threadpool

from services.api.chat.events import ChatEvent, Done, Failed, Meta, Token
from services.api.chat.generation import Generator
from services.api.chat.plan import Answer, ChatPlan
from services.api.chat.planning import Planner
from services.api.chat.recording import Recorder
from services.api.chat.schemas import ChatRequest, ChatResponse, Citation, PassageOut, UsageOut
from services.api.errors import infrastructure_error
from services.api.metrics import CHAT_STAGE_SECONDS
from services.core.access.principals import Caller
from services.core.answers.citations import CitableDocument, CitationBook, locations
from services.core.errors import StewardError
from services.core.llm.prompt import PROMPT_VERSION

log = logging.getLogger(__name__)


class ChatService:
    """Answers questions from the documents a caller may read; built once by the app factory."""

    def __init__(self, *, planner: Planner, generator: Generator, recorder: Recorder) -> None:
        self._planner = planner
        self._generator = generator
        self._recorder = recorder

    async def plan(self, caller: Caller, request: ChatRequest) -> ChatPlan:
        started = time.perf_counter()
        plan = await self._planner.plan(caller, request)
        CHAT_STAGE_SECONDS.labels("plan").observe(time.perf_counter() - started)
        return plan

    async def stream(self, plan: ChatPlan) -> AsyncIterator[ChatEvent]:
        """`meta`, then the answer as `token` (and `sentence`) events, then `done` with the whole answer or `error`."""
        sources = [citation(number, document) for number, document in sorted(plan.context.items())]
        yield Meta(plan.conversation_id, sources)
        answer = Answer(CitationBook(plan.context))
        settled = False  # the unused token charge given back (once)
        try:
            if plan.prompt is None:
                answer.mode = "refused" if plan.refused else "not_found"
                answer.parts.append(plan.fixed_answer or "")
                yield Token(plan.fixed_answer or "")
            else:
                async for event in self._generator.generate(plan, answer):
                    yield event
            answered = time.perf_counter()
            if answer.model_ended is not None:
                CHAT_STAGE_SECONDS.labels("check").observe(answered - answer.model_ended)
            citations = [citation(number, document) for number, document in answer.book.citations()]
            await run_in_threadpool(self._recorder.settle, plan, answer)
            settled = True
            message_id = await run_in_threadpool(self._recorder.answered, plan, answer, citations)
            CHAT_STAGE_SECONDS.labels("record").observe(time.perf_counter() - answered)
        except Exception as exc:
            # The response is a 200 already: a failure, the model's or the database's going away mid-answer,
            # ends the stream with an `error` event rather than a cut connection.
            typed = exc if isinstance(exc, StewardError) else infrastructure_error(exc)
            if typed is None:
                raise
            await self._record_failure(plan, answer, settle=not settled)
            yield Failed(typed)
            return
        yield Done(response(plan, answer, citations, message_id))

    async def _record_failure(self, plan: ChatPlan, answer: Answer, *, settle: bool) -> None:
        try:
            if settle:
                await run_in_threadpool(self._recorder.settle, plan, answer)
            await run_in_threadpool(self._recorder.failed, plan)
        except Exception as exc:  # the database that failed the answer may fail its record too
            if infrastructure_error(exc) is None:
                raise
            log.warning("could not record the failed answer of conversation %s: %s", plan.conversation_id, exc)


def citation(number: int, document: CitableDocument) -> Citation:
    """A document as a citation: its best passage's fields, and every passage and location the answer had."""
    best = document.passages[0] if document.passages else None
    return Citation(
        source=number,
        document_id=document.document_id,
        title=document.title,
        heading=best.heading if best else "",
        chunk_index=best.chunk_index if best else 0,
        score=round(best.score, 6) if best else 0.0,
        similarity=round(document.similarity, 6),
        text=best.text if best else "",
        location=dict(best.location) if best else {},
        locations=locations(document.passages),
        passages=[
            PassageOut(heading=p.heading, chunk_index=p.chunk_index, text=p.text, location=dict(p.location))
            for p in document.passages
        ],
    )


def response(plan: ChatPlan, answer: Answer, citations: list[Citation], message_id: str | None) -> ChatResponse:
    return ChatResponse(
        conversation_id=plan.conversation_id,
        message_id=message_id,
        answer=answer.text,
        mode=answer.mode,
        citations=citations,
        sentences=answer.sentences,
        refused=plan.refused,
        answered_from_sources=plan.fixed_answer is None,
        nearest=plan.nearest,
        generated=answer.generated,
        prompt_version=PROMPT_VERSION,
        usage=UsageOut(prompt_tokens=plan.usage.prompt_tokens, completion_tokens=plan.usage.completion_tokens)
        if plan.prompt is not None
        else UsageOut(prompt_tokens=0, completion_tokens=0),
        grounding=answer.grounding,
    )
