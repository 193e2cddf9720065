"""The chat pipeline: plan, then one stream of typed events (meta, tokens and sentence verdicts, done or error).

Planning errors (a spent quota, an overloaded model, a question too long) are raised before the stream starts,
so they keep their HTTP status; after that every outcome is an event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi.concurrency import run_in_threadpool

from services.api.chat.events import ChatEvent, Done, Failed, Meta, Token
from services.api.chat.generation import Generator
from services.api.chat.plan import Answer, ChatPlan
from services.api.chat.planning import Planner
from services.api.chat.recording import Recorder
from services.api.chat.schemas import ChatRequest, ChatResponse
from services.core.access.principals import Caller
from services.core.errors import StewardError
from services.core.llm.prompt import PROMPT_VERSION


class ChatService:
    """Answers questions from the documents a caller may read; built once by the app factory."""

    def __init__(self, *, planner: Planner, generator: Generator, recorder: Recorder) -> None:
        self._planner = planner
        self._generator = generator
        self._recorder = recorder

    async def plan(self, caller: Caller, request: ChatRequest) -> ChatPlan:
        return await self._planner.plan(caller, request)

    async def stream(self, plan: ChatPlan) -> AsyncIterator[ChatEvent]:
        """`meta`, then the answer as `token` (and `sentence`) events, then `done` with the whole answer or `error`."""
        yield Meta(plan.conversation_id, plan.citations)
        answer = Answer(generated=plan.prompt is not None)
        try:
            if plan.prompt is None:
                answer.parts.append(plan.fixed_answer or "")
                yield Token(plan.fixed_answer or "")
            else:
                async for event in self._generator.generate(plan, answer):
                    yield event
        except StewardError as exc:
            await run_in_threadpool(self._recorder.settle, plan, answer)
            await run_in_threadpool(self._recorder.failed, plan)
            yield Failed(exc)
            return
        await run_in_threadpool(self._recorder.settle, plan, answer)
        await run_in_threadpool(self._recorder.answered, plan, answer)
        yield Done(response(plan, answer))


def response(plan: ChatPlan, answer: Answer) -> ChatResponse:
    return ChatResponse(
        conversation_id=plan.conversation_id,
        answer=answer.text,
        citations=plan.citations,
        refused=plan.refused,
        answered_from_sources=plan.fixed_answer is None,
        nearest=plan.nearest,
        generated=answer.generated,
        prompt_version=PROMPT_VERSION,
        grounding=answer.grounding,
    )
