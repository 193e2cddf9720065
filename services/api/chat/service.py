"""Chat: input policy -> ACL-filtered retrieval -> prompt -> LLM -> stored turn, as one flow for JSON and SSE."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.api.chat.schemas import ChatRequest, ChatResponse, Citation
from services.api.metrics import CHAT_REQUESTS, LLM_TTFT, POLICY_DECISIONS
from services.core import audit
from services.core.auth import PrincipalContext
from services.core.db.models import Conversation, Message
from services.core.db.session import session_scope
from services.core.errors import ConversationNotFound, StewardError
from services.core.llm import LLMClient
from services.core.policy import PolicyDecision
from services.core.prompt import PROMPT_VERSION, Prompt, Turn, build_prompt
from services.core.retrieval import retrieve
from services.core.runtime import Runtime

NOT_FOUND_ANSWER = (
    "I don't know: none of the documents you can read seem to cover this. "
    "Try rephrasing, or ask an admin whether the right document has been uploaded."
)
HISTORY_TURNS = 6


@dataclass
class ChatPlan:
    """What a chat request will do once policy and retrieval have run; no model call has happened yet."""

    conversation_id: str
    question: str
    citations: list[Citation]
    prompt: Prompt | None = None
    fixed_answer: str | None = None  # a refusal or "I don't know", given without calling the model
    refused: bool = False


def prepare(runtime: Runtime, principal: PrincipalContext, request: ChatRequest) -> ChatPlan:
    """Run the input rule, the retrieval (ACL inside the query) and build the prompt; audit each decision."""
    with session_scope(runtime.sessions) as session:
        conversation_id = _conversation(session, principal, request.conversation_id)
        history = _history(session, conversation_id)
        refusal = runtime.policy.check_input(request.question)
        if refusal is not None:
            _audit(session, refusal, principal, conversation_id)
            return ChatPlan(conversation_id, request.question, [], fixed_answer=refusal.message, refused=True)
        allowed_groups, acl = runtime.policy.retrieval_filter(principal)
        hits = retrieve(runtime, request.question, allowed_groups, request.top_k)
        _audit(session, acl, principal, conversation_id, hits=len(hits))
    citations = [
        Citation(
            source=n,
            document_id=h.document_id,
            title=h.title,
            heading=h.heading,
            chunk_index=h.chunk_index,
            score=round(h.score, 6),
            text=h.text,
        )
        for n, h in enumerate(hits, start=1)
    ]
    if not hits:
        return ChatPlan(conversation_id, request.question, [], fixed_answer=NOT_FOUND_ANSWER)
    return ChatPlan(
        conversation_id,
        request.question,
        citations,
        prompt=build_prompt(request.question, hits, history, runtime.settings.llm_prompt_style),
    )


def _audit(
    session: Session,
    decision: PolicyDecision,
    principal: PrincipalContext,
    conversation_id: str,
    **extra: object,
) -> None:
    POLICY_DECISIONS.labels(decision.rule_id, decision.decision).inc()
    audit.record_decision(
        session,
        decision,
        principal.id,
        {"conversation_id": conversation_id, "prompt_version": PROMPT_VERSION, **extra},
    )


def _conversation(session: Session, principal: PrincipalContext, conversation_id: str | None) -> str:
    if conversation_id is None:
        conversation = Conversation(principal_id=principal.id)
        session.add(conversation)
        session.flush()
        return conversation.id
    found = session.get(Conversation, conversation_id)
    if found is None or found.principal_id != principal.id:
        raise ConversationNotFound(f"no conversation {conversation_id}")
    return found.id


def _history(session: Session, conversation_id: str) -> list[Turn]:
    rows = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.created_at.desc())
        .limit(HISTORY_TURNS)
    )
    return [Turn(m.role, m.content) for m in reversed(list(rows))]


def save_turn(runtime: Runtime, plan: ChatPlan, answer: str) -> None:
    with session_scope(runtime.sessions) as session:
        session.add(Message(conversation_id=plan.conversation_id, role="user", content=plan.question))
        session.add(
            Message(
                conversation_id=plan.conversation_id,
                role="assistant",
                content=answer,
                citations=[c.model_dump() for c in plan.citations],
            )
        )


def _response(plan: ChatPlan, answer: str) -> ChatResponse:
    return ChatResponse(
        conversation_id=plan.conversation_id,
        answer=answer,
        citations=plan.citations,
        refused=plan.refused,
        answered_from_sources=plan.fixed_answer is None,
        prompt_version=PROMPT_VERSION,
    )


async def answer(runtime: Runtime, llm: LLMClient, principal: PrincipalContext, request: ChatRequest) -> ChatResponse:
    plan = await run_in_threadpool(prepare, runtime, principal, request)
    if plan.prompt is None:
        text = plan.fixed_answer or ""
    else:
        started = time.perf_counter()
        text = await llm.complete(plan.prompt)
        LLM_TTFT.observe(time.perf_counter() - started)
    await run_in_threadpool(save_turn, runtime, plan, text)
    CHAT_REQUESTS.labels("refused" if plan.refused else "answered").inc()
    return _response(plan, text)


def sse(event: str, payload: object) -> str:
    return f"event: {event}\ndata: {json.dumps(payload)}\n\n"


async def stream_answer(plan: ChatPlan, runtime: Runtime, llm: LLMClient) -> AsyncIterator[str]:
    """SSE events: `meta` (conversation, sources), `token`..., then `done` with the whole answer, or `error`."""
    yield sse(
        "meta",
        {"conversation_id": plan.conversation_id, "citations": [c.model_dump() for c in plan.citations]},
    )
    parts: list[str] = []
    try:
        if plan.prompt is None:
            parts.append(plan.fixed_answer or "")
            yield sse("token", {"text": plan.fixed_answer or ""})
        else:
            started = time.perf_counter()
            async for delta in llm.stream(plan.prompt):
                if not parts:
                    LLM_TTFT.observe(time.perf_counter() - started)
                parts.append(delta)
                yield sse("token", {"text": delta})
    except StewardError as exc:
        CHAT_REQUESTS.labels("error").inc()
        yield sse("error", {"error": {"code": exc.code, "message": exc.message}})
        return
    text = "".join(parts).strip()
    await run_in_threadpool(save_turn, runtime, plan, text)
    CHAT_REQUESTS.labels("refused" if plan.refused else "answered").inc()
    yield sse("done", _response(plan, text).model_dump())
