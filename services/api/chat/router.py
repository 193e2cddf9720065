"""HTTP route for chat: the pipeline's events, serialised once — as SSE when `stream` is true, else as JSON."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from services.api.chat import redaction
from services.api.chat.events import ChatEvent, collect
from services.api.chat.pipeline import ChatService
from services.api.chat.schemas import ChatRequest, ChatResponse
from services.api.deps import ChatCaller, PiiDep
from services.api.disconnect import ClientDisconnected, cancel_on_disconnect

router = APIRouter(prefix="/v1", tags=["chat"])


def get_chat(request: Request) -> ChatService:
    """The chat pipeline the app factory built (services/api/app.build_chat)."""
    chat: ChatService = request.app.state.chat
    return chat


ChatDep = Annotated[ChatService, Depends(get_chat)]


async def _sse(events: AsyncIterator[ChatEvent]) -> AsyncIterator[str]:
    async for event in events:
        yield f"event: {event.name}\ndata: {json.dumps(event.payload())}\n\n"


@router.post(
    "/chat",
    response_model=ChatResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when stream=true"},
        429: {
            "description": "overloaded (batch traffic shed while the model server is saturated) or quota_exceeded "
            "(a request or token budget is spent: Retry-After and X-RateLimit-Reset say when it resets)"
        },
        503: {"description": "llm_unavailable (with Retry-After) when no sources-only fallback is allowed"},
    },
)
async def chat(
    body: ChatRequest, request: Request, chat: ChatDep, pii: PiiDep, principal: ChatCaller
) -> ChatResponse | Response:
    """Answer a question from the documents the caller may read, with numbered citations."""
    if body.stream:
        plan = await chat.plan(principal, body)
        return StreamingResponse(
            _sse(redaction.redact(pii, chat.stream(plan))),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def answer() -> ChatResponse:
        plan = await chat.plan(principal, body)
        return await collect(redaction.redact(pii, chat.stream(plan)))

    try:
        # A caller that hangs up cancels the generation, so vLLM frees its slot at once.
        return await cancel_on_disconnect(request, answer())
    except ClientDisconnected:
        return Response(status_code=499)
