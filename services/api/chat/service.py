"""Chat: input policy -> admission -> ACL-filtered retrieval -> budgeted prompt -> LLM -> stored turn."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.api.chat.grounded import ground_answer, ground_stream
from services.api.chat.schemas import ChatRequest, ChatResponse, Citation
from services.api.fields import to_turns
from services.api.metrics import CHAT_REQUESTS, POLICY_DECISIONS, UNANSWERED_QUESTIONS
from services.core import audit
from services.core.auth import PrincipalContext
from services.core.db.models import Conversation, Message, UnansweredQuestion
from services.core.db.session import session_scope
from services.core.errors import ConversationNotFound, LLMUnavailable, StewardError
from services.core.llm import Priority, fit_prompt
from services.core.llm.gateway import TokenUsage
from services.core.llm.stack import LLMStack
from services.core.policy import PolicyDecision
from services.core.prompt import PROMPT_VERSION, Prompt, Turn
from services.core.quota import Caller, Charge
from services.core.retrieval import Retrieval, retrieve
from services.core.rewrite import FollowUpRewriter
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
    principal_id: str
    question: str
    citations: list[Citation]
    prompt: Prompt | None = None
    fixed_answer: str | None = None  # a refusal or "I don't know", given without calling the model
    refused: bool = False
    nearest: list[dict[str, str | float]] = field(default_factory=list)  # with "I don't know": where to look
    # For the request's audit record (services/core/audit.record_chat_request):
    started: float = field(default_factory=time.perf_counter)
    query: str | None = None  # what was searched (the question, or its rewrite)
    chunk_ids: list[str] = field(default_factory=list)  # retrieved
    context_chunk_ids: list[str] = field(default_factory=list)  # put into the prompt
    decisions: list[PolicyDecision] = field(default_factory=list)
    usage: TokenUsage = field(default_factory=TokenUsage)
    charge: Charge | None = None  # what quotas were charged for the model call (unused tokens go back)
    grounding: dict[str, int | bool] | None = None  # the grounding check's counts, when it ran
    principal: PrincipalContext | None = None  # whom scoped policy rules are evaluated for


def priority_of(principal: PrincipalContext, request: ChatRequest) -> Priority:
    """Applications are batch traffic unless they say otherwise; people are interactive."""
    if request.priority is not None:
        return request.priority
    return "batch" if principal.role == "app" else "interactive"


async def prepare(
    runtime: Runtime,
    llm: LLMStack,
    rewriter: FollowUpRewriter,
    principal: PrincipalContext,
    request: ChatRequest,
    origin: str | None = None,
) -> ChatPlan:
    """Input rule -> quota room -> follow-up rewrite -> admission -> retrieval (ACL inside the query) ->
    budgeted prompt -> quota charge. `origin` is the request's Origin header (the widget's site), if any.

    The rewrite runs on the event loop (it may call the model); the database and retrieval steps on threads."""
    caller = Caller(principal, origin)
    plan, history = await run_in_threadpool(_open, runtime, caller, request)
    if plan.fixed_answer is not None:
        return plan
    # The conversation's own history, or the caller's when it keeps the conversation itself (stateless apps).
    turns = to_turns(request.history) if request.history else history
    rewritten = await rewriter.rewrite(request.question, turns, request.rewrite)
    return await run_in_threadpool(_ground, runtime, llm, caller, request, plan, turns, rewritten.query)


def _open(runtime: Runtime, caller: Caller, request: ChatRequest) -> tuple[ChatPlan, list[Turn]]:
    principal = caller.principal
    with session_scope(runtime.sessions) as session:
        conversation_id = _conversation(session, principal, request.conversation_id)
        history = _history(session, conversation_id)
        plan = ChatPlan(conversation_id, principal.id, request.question, [])
        plan.principal = principal
        screened = runtime.policy.screen_input(request.question, principal)  # prompt-injection rules
        denied = next((d for d in screened if d.decision == "deny"), None)
        refusal = runtime.policy.check_input(request.question, principal) or denied
        if refusal is not None:
            _audit(session, refusal, plan)
            plan.fixed_answer, plan.refused = refusal.message, True
        else:
            for flagged in screened:  # answered, but on the record for review
                _audit(session, flagged, plan)
            # A spent budget is refused before any work (LLM rewrite, retrieval); raising here also rolls back
            # a conversation just opened. A refused question never reaches the model, so it is never counted.
            runtime.quotas.ensure_room(caller)
    return plan, history


def _ground(
    runtime: Runtime,
    llm: LLMStack,
    caller: Caller,
    request: ChatRequest,
    plan: ChatPlan,
    history: list[Turn],
    query: str,
) -> ChatPlan:
    principal = caller.principal
    # Shedding happens before retrieval: a refused request should cost as little as possible.
    llm.admission.admit(priority_of(principal, request))
    scope, acl = runtime.policy.read_scope(principal)
    filters = request.filters.to_filters() if request.filters else None
    found = retrieve(runtime, query, scope, request.top_k, request.mode, filters, request.question)
    plan.query, plan.chunk_ids = query, [p.chunk.id for p in found.passages]
    if not found.answerable:
        with session_scope(runtime.sessions) as session:
            _audit(
                session,
                acl,
                plan,
                hits=len(found.passages),
                query=query,
                best_similarity=found.best_similarity,
                uncovered=found.uncovered,
            )
            log_unanswered(session, principal, "chat", request.question, found)
        plan.fixed_answer = not_found_answer(found)
        plan.nearest = [
            {"document_id": d.document_id, "title": d.title, "similarity": round(d.similarity, 6)}
            for d in found.nearest
        ]
        return plan
    # Indirect injection: suspicious chunks are dropped, neutralised or flagged by policy, each decision audited.
    hits, screened = runtime.policy.screen_chunks([p.chunk for p in found.passages], principal)
    if screened or not hits:
        with session_scope(runtime.sessions) as session:
            for decision in screened:
                _audit(session, decision, plan)
            if not hits:
                _audit(session, acl, plan, hits=0, query=query, injection_dropped=len(screened))
    if not hits:  # everything found was dropped as an injection: nothing left that may be quoted
        plan.fixed_answer = NOT_FOUND_ANSWER
        return plan
    fitted = fit_prompt(
        request.question, hits, history, runtime.settings.llm_prompt_style, llm.counter, llm.max_prompt_tokens
    )
    # Only now is the model certain to be called ("I don't know" above is answered without it): charge one
    # request plus the prompt and the longest possible answer, or refuse with 429 having charged nothing.
    plan.charge = runtime.quotas.charge(caller, fitted.prompt_tokens, runtime.settings.llm_max_tokens)
    similarity = {p.chunk.id: p.similarity for p in found.passages}
    with session_scope(runtime.sessions) as session:
        _audit(
            session,
            acl,
            plan,
            hits=len(hits),
            query=query,
            prompt_tokens=fitted.prompt_tokens,
            sources_dropped=fitted.sources_dropped,
            history_turns_dropped=fitted.history_turns_dropped,
        )
    plan.prompt = fitted.prompt
    plan.context_chunk_ids = [h.id for h in fitted.sources]
    plan.usage.prompt_tokens = fitted.prompt_tokens  # our count, until vLLM reports its own
    plan.citations = [
        Citation(
            source=n,
            document_id=h.document_id,
            title=h.title,
            heading=h.heading,
            chunk_index=h.chunk_index,
            score=round(h.score, 6),
            similarity=round(similarity.get(h.id, 0.0), 6),
            text=h.text,
            location=dict(h.location),
        )
        for n, h in enumerate(fitted.sources, start=1)
    ]
    return plan


def not_found_answer(found: Retrieval) -> str:
    """ "I don't know", pointing at the nearest documents the caller may read (if any)."""
    answer = NOT_FOUND_ANSWER
    if found.uncovered:
        answer += " None of them mentions " + ", ".join(f'"{t}"' for t in found.uncovered) + "."
    if found.nearest:
        listing = "; ".join(f'"{d.title}"' for d in found.nearest)
        answer += f" The closest documents I found are: {listing}."
    return answer


def log_unanswered(
    session: Session, principal: PrincipalContext, channel: str, question: str, found: Retrieval
) -> None:
    """Admins read these at GET /v1/admin/unanswered: the questions the knowledge base does not cover."""
    session.add(
        UnansweredQuestion(
            principal_id=principal.id,
            channel=channel,
            # Kept as the audit log keeps questions (settings.pii_questions).
            question=audit.redact_question(question),
            query=audit.redact_question(found.query),
            best_similarity=found.best_similarity,
            nearest=[
                {"document_id": d.document_id, "title": d.title, "similarity": round(d.similarity, 6)}
                for d in found.nearest
            ],
        )
    )
    UNANSWERED_QUESTIONS.inc()


def _audit(session: Session, decision: PolicyDecision, plan: ChatPlan, **extra: object) -> None:
    POLICY_DECISIONS.labels(decision.rule_id, decision.decision).inc()
    plan.decisions.append(decision)
    details = {"conversation_id": plan.conversation_id, "prompt_version": PROMPT_VERSION, **extra}
    audit.record_decision(session, decision, plan.principal_id, details)


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


def save_turn(runtime: Runtime, plan: ChatPlan, answer: str, generated: bool) -> None:
    """The conversation's two messages and the request's audit record, in one transaction."""
    with session_scope(runtime.sessions) as session:
        _record_request(session, runtime, plan, answer, _outcome(plan, generated))
        session.add(Message(conversation_id=plan.conversation_id, role="user", content=plan.question))
        session.add(
            Message(
                conversation_id=plan.conversation_id,
                role="assistant",
                content=answer,
                citations=[c.model_dump() for c in plan.citations],
            )
        )


def record_failed_request(runtime: Runtime, plan: ChatPlan) -> None:
    """The audit record of a request that ended in an error after its plan was made (no answer to hash)."""
    with session_scope(runtime.sessions) as session:
        _record_request(session, runtime, plan, None, "error")


def _record_request(session: Session, runtime: Runtime, plan: ChatPlan, answer: str | None, outcome: str) -> None:
    audit.record_chat_request(
        session,
        principal_id=plan.principal_id,
        conversation_id=plan.conversation_id,
        question=plan.question,
        query=plan.query,
        chunk_ids=plan.chunk_ids,
        context_chunk_ids=plan.context_chunk_ids,
        decisions=plan.decisions,
        model=runtime.settings.llm_model if plan.prompt is not None else None,
        prompt_version=PROMPT_VERSION,
        answer=answer,
        prompt_tokens=plan.usage.prompt_tokens,
        completion_tokens=plan.usage.completion_tokens,
        latency_ms=round((time.perf_counter() - plan.started) * 1000),
        outcome=outcome,
    )


def fallback_answer(runtime: Runtime, plan: ChatPlan, error: LLMUnavailable) -> str | None:
    """A sources-only answer when policy allows it (audited), else None."""
    decision = runtime.policy.llm_fallback(error.kind, plan.principal)
    if decision is None or not plan.citations:
        return None
    with session_scope(runtime.sessions) as session:
        _audit(session, decision, plan)
    listing = "\n".join(f"[{c.source}] {c.title}: {c.text[:300]}" for c in plan.citations)
    return f"{decision.message}\n{listing}"


def _response(plan: ChatPlan, answer: str, generated: bool) -> ChatResponse:
    return ChatResponse(
        conversation_id=plan.conversation_id,
        answer=answer,
        citations=plan.citations,
        refused=plan.refused,
        answered_from_sources=plan.fixed_answer is None,
        nearest=plan.nearest,
        generated=generated,
        prompt_version=PROMPT_VERSION,
        grounding=plan.grounding,
    )


def settle_quota(runtime: Runtime, llm: LLMStack, plan: ChatPlan, generated: str) -> None:
    """Give back the answer tokens charged but not generated: vLLM's own count, else our tokenizer's."""
    if plan.charge is None:
        return
    used = plan.usage.completion_tokens
    if used is None:
        used = (
            llm.counter.count(Prompt([{"role": "assistant", "content": generated}], continue_final_message=True))
            if generated
            else 0
        )
    runtime.quotas.refund(plan.charge, used)


async def answer(
    runtime: Runtime,
    llm: LLMStack,
    rewriter: FollowUpRewriter,
    principal: PrincipalContext,
    request: ChatRequest,
    origin: str | None = None,
) -> ChatResponse:
    plan = await prepare(runtime, llm, rewriter, principal, request, origin)
    generated = plan.prompt is not None
    if plan.prompt is None:
        text = plan.fixed_answer or ""
    else:
        try:
            text = await llm.gateway.complete(plan.prompt, plan.usage)
        except LLMUnavailable as exc:
            await run_in_threadpool(settle_quota, runtime, llm, plan, "")
            fallback = await run_in_threadpool(fallback_answer, runtime, plan, exc)
            if fallback is None:
                await run_in_threadpool(record_failed_request, runtime, plan)
                raise
            text, generated = fallback, False
        else:
            await run_in_threadpool(settle_quota, runtime, llm, plan, text)
            text = await ground_answer(runtime, plan, text, NOT_FOUND_ANSWER)
    await run_in_threadpool(save_turn, runtime, plan, text, generated)
    CHAT_REQUESTS.labels(_outcome(plan, generated)).inc()
    return _response(plan, text, generated)


def _outcome(plan: ChatPlan, generated: bool) -> str:
    if plan.refused:
        return "refused"
    if plan.prompt is None:
        return "no_sources"
    return "answered" if generated else "sources_only"


def sse(event: str, payload: object) -> str:
    return f"event: {event}\ndata: {json.dumps(payload)}\n\n"


async def stream_answer(plan: ChatPlan, runtime: Runtime, llm: LLMStack) -> AsyncIterator[str]:
    """SSE events: `meta` (conversation, sources), `token`..., then `done` with the whole answer, or `error`."""
    yield sse("meta", {"conversation_id": plan.conversation_id, "citations": [c.model_dump() for c in plan.citations]})
    parts: list[str] = []
    generated = plan.prompt is not None
    try:
        if plan.prompt is None:
            parts.append(plan.fixed_answer or "")
            yield sse("token", {"text": plan.fixed_answer or ""})
        else:
            # Each sentence is checked before it is sent (services/api/chat/grounded.py).
            async for delta in ground_stream(
                runtime, plan, llm.gateway.stream(plan.prompt, plan.usage), NOT_FOUND_ANSWER
            ):
                parts.append(delta)
                yield sse("token", {"text": delta})
    except LLMUnavailable as exc:
        await run_in_threadpool(settle_quota, runtime, llm, plan, "".join(parts))
        # Before any token, a sources-only answer can still be given; after, only a clean error.
        fallback = None if parts else await run_in_threadpool(fallback_answer, runtime, plan, exc)
        if fallback is None:
            await run_in_threadpool(record_failed_request, runtime, plan)
            CHAT_REQUESTS.labels("error").inc()
            yield sse("error", {"error": {"code": exc.code, "message": exc.message}})
            return
        parts, generated = [fallback], False
        yield sse("token", {"text": fallback})
    except StewardError as exc:
        await run_in_threadpool(record_failed_request, runtime, plan)
        CHAT_REQUESTS.labels("error").inc()
        yield sse("error", {"error": {"code": exc.code, "message": exc.message}})
        return
    text = "".join(parts).strip()
    if generated:
        await run_in_threadpool(settle_quota, runtime, llm, plan, text)
    await run_in_threadpool(save_turn, runtime, plan, text, generated)
    CHAT_REQUESTS.labels(_outcome(plan, generated)).inc()
    yield sse("done", _response(plan, text, generated).model_dump())
