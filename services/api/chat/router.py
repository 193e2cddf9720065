"""HTTP route for chat: a JSON answer, or SSE tokens when `stream` is true."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from services.api.chat import service
from services.api.chat.schemas import ChatRequest, ChatResponse
from services.api.deps import CurrentPrincipal, LLMDep, RuntimeDep

router = APIRouter(prefix="/v1", tags=["chat"])


@router.post(
    "/chat",
    response_model=ChatResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when stream=true"}},
)
async def chat(
    body: ChatRequest, runtime: RuntimeDep, llm: LLMDep, principal: CurrentPrincipal
) -> ChatResponse | StreamingResponse:
    """Answer a question from the documents the caller may read, with numbered citations."""
    if not body.stream:
        return await service.answer(runtime, llm, principal, body)
    plan = await run_in_threadpool(service.prepare, runtime, principal, body)
    return StreamingResponse(
        service.stream_answer(plan, runtime, llm),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
