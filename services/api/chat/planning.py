"""Planning a chat answer: input policy -> quota room -> follow-up rewrite -> admission -> retrieval (ACL inside
the query) -> screening of the sources -> a prompt that fits -> quota charge. No model answers here."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from services.api.chat.history import History, load_history
from services.api.chat.plan import ChatPlan, GroundingSpec
from services.api.chat.recording import Recorder
from services.api.chat.schemas import ChatRequest
from services.api.fields import HistoryTurn, to_turns
from services.core.access.principals import Caller
from services.core.answers.citations import CitableDocument
from services.core.answers.grounding import GroundingAction
from services.core.db.session import session_scope
from services.core.embedding.dense import one_request_queries
from services.core.llm.admission import AdmissionController, priority_of
from services.core.llm.budget import TokenCounter, fit_prompt
from services.core.llm.prompt import Exchange, PromptStyle, answer_content, conversation_boundary
from services.core.policy import PolicyEngine, ReloadablePolicies
from services.core.quota import QuotaService
from services.core.retrieval.rewrite import FollowUpRewriter
from services.core.retrieval.search import Retrieval, Retriever

NOT_FOUND_ANSWER = (
    "I don't know: none of the documents you can read seem to cover this. "
    "Try rephrasing, or ask an admin whether the right document has been uploaded."
)


@dataclass(frozen=True)
class PlanningConfig:
    """The settings planning reads (services/core/settings.py documents each)."""

    prompt_style: PromptStyle
    answer_tokens: int  # the most an answer may take: charged up front, the unused part given back
    max_prompt_tokens: int
    grounding_action: GroundingAction
    grounding_min_similarity: float
    grounding_min_overlap: float


def pairs(history: list[HistoryTurn]) -> list[tuple[HistoryTurn, HistoryTurn]]:
    """A stateless caller's history as (question, answer) pairs."""
    return [
        (q, a) for q, a in zip(history[::2], history[1::2], strict=False) if (q.role, a.role) == ("user", "assistant")
    ]


def stateless(pair: tuple[HistoryTurn, HistoryTurn], style: PromptStyle) -> Exchange:
    """An earlier turn a stateless caller sent: its question and answer, with no sources."""
    question, answer = pair
    return Exchange(f"Question: {question.content}", answer_content(style, answer.content))


def not_found_answer(found: Retrieval) -> str:
    """ "I don't know", pointing at the nearest documents the caller may read (if any)."""
    answer = NOT_FOUND_ANSWER
    if found.uncovered:
        answer += " None of them mentions " + ", ".join(f'"{t}"' for t in found.uncovered) + "."
    if found.nearest:
        listing = "; ".join(f'"{d.title}"' for d in found.nearest)
        answer += f" The closest documents I found are: {listing}."
    return answer


class Planner:
    """Turns a question into a ChatPlan: a prompt for the model, or a fixed answer that needs none."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        policies: ReloadablePolicies,
        retriever: Retriever,
        rewriter: FollowUpRewriter,
        admission: AdmissionController,
        counter: TokenCounter,
        quotas: QuotaService,
        recorder: Recorder,
        config: PlanningConfig,
    ) -> None:
        self._sessions = sessions
        self._policies = policies
        self._retriever = retriever
        self._rewriter = rewriter
        self._admission = admission
        self._counter = counter
        self._quotas = quotas
        self._recorder = recorder
        self._config = config

    async def plan(self, caller: Caller, request: ChatRequest) -> ChatPlan:
        """The rewrite runs on the event loop (it may call the model); the database and retrieval on threads."""
        with one_request_queries():  # the question screened in _open is not embedded again to be searched
            return await self._plan(caller, request)

    async def _plan(self, caller: Caller, request: ChatRequest) -> ChatPlan:
        engine = self._policies.engine  # one rule set for the whole request, even across a reload
        plan, history = await run_in_threadpool(self._open, engine, caller, request)
        if plan.fixed_answer is not None:
            return plan
        if request.history:  # a caller that keeps the conversation itself (stateless apps): plain turns only
            exchanges = [stateless(t, self._config.prompt_style) for t in pairs(request.history)]
            history = History(to_turns(request.history), exchanges, {})
        rewritten = await self._rewriter.rewrite(
            request.question,
            history.turns,
            request.rewrite,
            caller=caller,
            priority=priority_of(caller, request.priority),
        )
        return await run_in_threadpool(self._ground, engine, request, plan, history, rewritten.query)

    def _open(self, engine: PolicyEngine, caller: Caller, request: ChatRequest) -> tuple[ChatPlan, History]:
        """The input rules (deny-topic, prompt injection), the quota, then the conversation and its history.

        Quotas are settled before the conversation is written: on SQLite a transaction that has written holds
        the database's only writer lock, which the counters (in the same database) would then wait for."""
        screened = engine.screen_input(request.question, caller)  # prompt-injection rules
        denied = next((d for d in screened if d.decision == "deny"), None)
        refusal = engine.check_input(request.question, caller) or denied
        if refusal is not None:
            # A refused question costs a request: probing the rules is not free (429 when the budget is spent).
            self._quotas.charge(caller, 0, 0)
        else:
            # A spent budget is refused before any work (LLM rewrite, retrieval).
            self._quotas.ensure_room(caller)
        with session_scope(self._sessions) as session:
            conversation_id = self._recorder.open_conversation(session, caller, request.conversation_id)
            history = load_history(session, conversation_id, caller)
            plan = ChatPlan(conversation_id, caller, request.question, style=self._config.prompt_style)
            if refusal is not None:
                self._recorder.decision(session, plan, refusal)
                plan.fixed_answer, plan.refused = refusal.message, True
            else:
                for flagged in screened:  # answered, but on the record for review
                    self._recorder.decision(session, plan, flagged)
        return plan, history

    def _ground(
        self, engine: PolicyEngine, request: ChatRequest, plan: ChatPlan, history: History, query: str
    ) -> ChatPlan:
        """Retrieve, screen and fit: the prompt the model will get, with its numbered citations."""
        caller = plan.caller
        # Shedding happens before retrieval: a refused request should cost as little as possible.
        self._admission.admit(priority_of(caller, request.priority))
        scope, acl = engine.read_scope(caller)
        filters = request.filters.to_filters() if request.filters else None
        found = self._retriever.retrieve(query, scope, request.top_k, request.mode, filters, request.question)
        plan.query, plan.chunk_ids = query, [p.chunk.id for p in found.passages]
        if not found.answerable:
            with session_scope(self._sessions) as session:
                self._recorder.decision(
                    session,
                    plan,
                    acl,
                    hits=len(found.passages),
                    query=query,
                    best_similarity=found.best_similarity,
                    uncovered=found.uncovered,
                )
                self._recorder.unanswered(session, plan, found)
            plan.fixed_answer = not_found_answer(found)
            plan.nearest = [
                {"document_id": d.document_id, "title": d.title, "similarity": round(d.similarity, 6)}
                for d in found.nearest
            ]
            return plan
        # Indirect injection: suspicious chunks are dropped, neutralised or flagged by policy, each audited.
        hits, screened = engine.screen_chunks([p.chunk for p in found.passages], caller)
        self._recorder.decisions(plan, screened)
        if not hits:  # everything found was dropped as an injection: nothing left that may be quoted
            with session_scope(self._sessions) as session:
                self._recorder.decision(session, plan, acl, hits=0, query=query, injection_dropped=len(screened))
            plan.fixed_answer = NOT_FOUND_ANSWER
            return plan
        config = self._config
        fitted = fit_prompt(
            request.question,
            hits,
            history.exchanges,
            config.prompt_style,
            self._counter,
            config.max_prompt_tokens,
            conversation_boundary(plan.conversation_id),
        )
        # Only now is the model certain to be called ("I don't know" above is answered without it): charge one
        # request plus the prompt and the longest possible answer, or refuse with 429 having charged nothing.
        plan.charge = self._quotas.charge(caller, fitted.prompt_tokens, config.answer_tokens)
        with session_scope(self._sessions) as session:
            self._recorder.decision(
                session,
                plan,
                acl,
                hits=len(hits),
                query=query,
                prompt_tokens=fitted.prompt_tokens,
                sources_dropped=fitted.sources_dropped,
                history_turns_dropped=fitted.history_turns_dropped,
            )
        plan.prompt, plan.user_content, plan.documents = fitted.prompt, fitted.user_content, fitted.documents
        plan.context_chunk_ids = [h.id for h in fitted.sources]
        plan.usage.prompt_tokens = fitted.prompt_tokens  # our count, until vLLM reports its own
        similarity = {p.chunk.id: p.similarity for p in found.passages}
        plan.context = {number: history.documents[number] for number in fitted.context if number in history.documents}
        for document in fitted.documents:  # this turn's passages (a document quoted before gets the new ones too)
            earlier = plan.context.get(document.number)
            plan.context[document.number] = CitableDocument(
                document.number,
                document.document_id,
                document.title,
                (earlier.passages if earlier else ()) + document.passages,
                max(similarity.get(p.id, 0.0) for p in document.passages),
            )
        plan.grounding = self._grounding(engine, caller)
        return plan

    def _grounding(self, engine: PolicyEngine, caller: Caller) -> GroundingSpec:
        """A policy rule for this caller beats the settings."""
        config = self._config
        rule = engine.grounding_for(caller)
        return GroundingSpec(
            action=rule.action if rule else config.grounding_action,
            min_similarity=rule.min_similarity if rule and rule.min_similarity else config.grounding_min_similarity,
            min_overlap=config.grounding_min_overlap,
        )
