"""OpenAI-compatible routes: `GET /v1/models`, `POST /v1/chat/completions` (JSON, or chunks when streaming).

Each completion runs the same chat pipeline as `POST /v1/chat`; only the shape differs. Errors on these routes
take OpenAI's shape (services/api/errors.py)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from services.api.chat import redaction
from services.api.chat.events import ChatEvent, Done, Failed, Meta, Token, collect
from services.api.chat.router import ChatDep
from services.api.chat.schemas import ChatResponse
from services.api.deps import ChatCaller, PiiDep, SettingsDep
from services.api.disconnect import ClientDisconnected, cancel_on_disconnect
from services.api.errors import openai_error_body
from services.api.openai.markers import MarkerRenumberer
from services.api.openai.requests import assistant_for, to_chat_request
from services.api.openai.schemas import (
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    CompletionMessage,
    CompletionUsage,
    ModelList,
    ModelOut,
    StewardExtension,
)

router = APIRouter(prefix="/v1", tags=["openai"])

# Models carry a creation time; Steward's assistants are configuration, so one fixed time stands for them all.
CREATED = 1_764_547_200  # 2025-12-01


@router.get("/models", response_model=ModelList)
def list_models(settings: SettingsDep, _caller: ChatCaller) -> ModelList:
    """The assistants (knowledge scopes) the OpenAI-compatible endpoint answers as, one model id each."""
    return ModelList(data=[ModelOut(id=a.id, created=CREATED, description=a.description) for a in settings.assistants])


@router.get("/models/{model_id}", response_model=ModelOut)
def get_model(model_id: str, settings: SettingsDep, _caller: ChatCaller) -> ModelOut:
    assistant = assistant_for(model_id, settings.assistants)
    return ModelOut(id=assistant.id, created=CREATED, description=assistant.description)


def _usage(response: ChatResponse) -> CompletionUsage:
    prompt = (response.usage.prompt_tokens if response.usage else None) or 0
    completion = (response.usage.completion_tokens if response.usage else None) or 0
    return CompletionUsage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _completion_id(message_id: str | None) -> str:
    return f"chatcmpl-{(message_id or uuid.uuid4().hex).replace('-', '')}"


def _completion(response: ChatResponse, model: str, created: int) -> ChatCompletion:
    return ChatCompletion(
        id=_completion_id(response.message_id),
        created=created,
        model=model,
        choices=[
            Choice(
                message=CompletionMessage(
                    content=response.answer, refusal=response.answer if response.refused else None
                )
            )
        ],
        usage=_usage(response),
        system_fingerprint=f"steward-{response.prompt_version}",
        steward=_extension(response),
    )


def _extension(response: ChatResponse, *, answer: str | None = None) -> StewardExtension:
    """Steward's own field: the checked answer's verdicts and citations (and, when streamed, its final text)."""
    return StewardExtension(
        conversation_id=response.conversation_id,
        message_id=response.message_id,
        mode=response.mode,
        citations=[c.model_dump() for c in response.citations],
        sentences=[s.model_dump() for s in response.sentences],
        answer=answer,
    )


def _sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"


async def _chunks(
    events: AsyncIterator[ChatEvent], *, model: str, created: int, include_usage: bool
) -> AsyncIterator[str]:
    """The answer as OpenAI chunks: the role, the text as vLLM produces it (markers numbered by first use), a
    last chunk whose `steward` field holds the checked answer and its citations, usage if asked, then [DONE]."""
    completion_id = _completion_id(None)

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [choice],
            **extra,
        }

    yield _sse(chunk({"role": "assistant", "content": ""}))
    markers = MarkerRenumberer(set())
    async for event in events:
        if isinstance(event, Meta):
            markers = MarkerRenumberer({c.source for c in event.sources})
        elif isinstance(event, Token):
            text = markers.feed(event.text)
            if text:
                yield _sse(chunk({"content": text}))
        elif isinstance(event, Done):
            rest = markers.flush()
            if rest:
                yield _sse(chunk({"content": rest}))
            response = event.response
            # The checked answer numbers its citations by first use, as the streamed markers were renumbered;
            # it may cite more than the raw text did (a sentence without a marker gets its supporting source).
            extension = _extension(response, answer=response.answer)
            yield _sse(chunk({}, "stop", steward=extension.model_dump()))
            if include_usage:
                usage = {**chunk({}), "choices": [], "usage": _usage(response).model_dump()}
                yield _sse(usage)
        elif isinstance(event, Failed):
            yield _sse(openai_error_body(event.error))
    yield "data: [DONE]\n\n"


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or chunks when stream=true"}},
)
async def create_chat_completion(
    body: ChatCompletionRequest,
    request: Request,
    chat: ChatDep,
    pii: PiiDep,
    settings: SettingsDep,
    principal: ChatCaller,
) -> ChatCompletion | Response:
    """A Steward answer in OpenAI's chat completion shape: the last user message is the question, earlier turns
    its history, `model` one of `GET /v1/models`. Citations are `[n]` markers in the content and, in the
    `steward` field, the sources they name."""
    assistant = assistant_for(body.model, settings.assistants)
    chat_request = to_chat_request(body, assistant)
    created = int(time.time())
    plan = await chat.plan(principal, chat_request)
    if chat_request.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(
            _chunks(
                redaction.redact(pii, chat.stream(plan)),
                model=assistant.id,
                created=created,
                include_usage=include_usage,
            ),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    try:
        response = await cancel_on_disconnect(request, collect(redaction.redact(pii, chat.stream(plan))))
    except ClientDisconnected:
        return Response(status_code=499)
    return _completion(response, assistant.id, created)
