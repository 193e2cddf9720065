"""HTTP route for chat: a JSON answer, or SSE tokens when `stream` is true."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from services.api.chat import redaction, service
from services.api.chat.schemas import ChatRequest, ChatResponse
from services.api.deps import CurrentPrincipal, LLMDep, RewriterDep, RuntimeDep
from services.api.disconnect import ClientDisconnected, cancel_on_disconnect

router = APIRouter(prefix="/v1", tags=["chat"])


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
    body: ChatRequest,
    request: Request,
    runtime: RuntimeDep,
    llm: LLMDep,
    rewriter: RewriterDep,
    principal: CurrentPrincipal,
) -> ChatResponse | Response:
    """Answer a question from the documents the caller may read, with numbered citations."""
    origin = request.headers.get("origin")  # the embeddable widget's site: quotas per origin
    if not body.stream:
        try:
            # A caller that hangs up cancels the generation, so vLLM frees its slot at once.
            answering = service.answer(runtime, llm, rewriter, principal, body, origin)
            answered = await cancel_on_disconnect(request, answering)
            if redaction.active(runtime.pii):
                return await run_in_threadpool(redaction.redact_response, runtime.pii, answered)
            return answered
        except ClientDisconnected:
            return Response(status_code=499)
    plan = await service.prepare(runtime, llm, rewriter, principal, body, origin)
    return StreamingResponse(
        redaction.redact_stream(runtime.pii, service.stream_answer(plan, runtime, llm)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
