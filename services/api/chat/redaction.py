"""Chat output as the PII policy wants it seen (settings.pii_ingestion=redact_output, pii_answers=redact).

Applied to the finished response, after generation, so the chat pipeline itself is unchanged: the
self-hosted model reads the original passages (it is inside the trust boundary, and it answers better),
the caller gets placeholders. Answer and citations share the conversation's numbering, so <EMAIL_1> in
the answer is <EMAIL_1> in source [2] and in the next turn."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi.concurrency import run_in_threadpool

from services.api.chat.schemas import ChatResponse, Citation
from services.core.pii import PiiGuard, Placeholders


def active(guard: PiiGuard) -> bool:
    return guard.redact_answers


def _citations(guard: PiiGuard, citations: list[Any], scope: Placeholders) -> list[Any]:
    """Citation texts redacted when the index keeps originals (redact_output); dicts or models alike."""
    if not guard.redact_output or not citations:
        return citations
    texts = [c["text"] if isinstance(c, dict) else c.text for c in citations]
    redacted = guard.redact_many(texts, scope)
    return [
        {**c, "text": t} if isinstance(c, dict) else c.model_copy(update={"text": t})
        for c, t in zip(citations, redacted, strict=True)
    ]


def redact_response(guard: PiiGuard, response: ChatResponse) -> ChatResponse:
    if not active(guard):
        return response
    scope = guard.conversation(response.conversation_id)
    citations: list[Citation] = _citations(guard, list(response.citations), scope)
    return response.model_copy(update={"answer": guard.redact(response.answer, scope), "citations": citations})


def _parse(event: str) -> tuple[str, Any]:
    head, _, data = event.partition("\ndata: ")
    return head.removeprefix("event: "), json.loads(data)


def _sse(name: str, payload: object) -> str:
    return f"event: {name}\ndata: {json.dumps(payload)}\n\n"


async def redact_stream(guard: PiiGuard, events: AsyncIterator[str]) -> AsyncIterator[str]:
    """The SSE stream with citations and answer redacted. A placeholder cannot be chosen for a value half
    streamed, so with redaction on the tokens are held back and the redacted answer is sent as one token
    just before `done` (the stream still ends the same way: meta, token(s), done or error)."""
    if not active(guard):
        async for event in events:
            yield event
        return
    scope: Placeholders | None = None
    async for event in events:
        name, payload = _parse(event)
        if name == "meta":
            scope = guard.conversation(payload["conversation_id"])
            payload["citations"] = await run_in_threadpool(_citations, guard, payload["citations"], scope)
            yield _sse(name, payload)
        elif name == "token":
            continue
        elif name == "done":
            response = await run_in_threadpool(redact_response, guard, ChatResponse.model_validate(payload))
            yield _sse("token", {"text": response.answer})
            yield _sse(name, response.model_dump())
        else:
            yield event
