"""What a chat request leaves behind: its policy decisions, the stored turn, the settled quota, the audit row."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from services.api.chat.history import stored_source
from services.api.chat.plan import Answer, ChatPlan
from services.api.chat.schemas import Citation
from services.api.metrics import CHAT_REQUESTS, POLICY_DECISIONS, UNANSWERED_QUESTIONS
from services.core import audit
from services.core.access.principals import Caller
from services.core.db.models import Conversation, Message, UnansweredQuestion, new_id
from services.core.db.session import session_scope
from services.core.errors import ConversationNotFound
from services.core.llm.budget import TokenCounter
from services.core.llm.prompt import PROMPT_VERSION, Prompt, answer_content
from services.core.pii import PiiGuard
from services.core.policy import PolicyDecision
from services.core.quota import QuotaService
from services.core.retrieval.search import Retrieval


class Recorder:
    """Writes a chat request's traces, questions kept as the PII policy says (settings.pii_questions)."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        quotas: QuotaService,
        counter: TokenCounter,
        pii: PiiGuard,
        model: str,
    ) -> None:
        self._sessions = sessions
        self._quotas = quotas
        self._counter = counter
        self._pii = pii
        self._model = model

    def open_conversation(self, session: Session, caller: Caller, conversation_id: str | None) -> str:
        """A new conversation, or the caller's own existing one (anyone else's is not found)."""
        if conversation_id is None:
            conversation = Conversation(principal_id=caller.id)
            session.add(conversation)
            session.flush()
            return conversation.id
        found = session.get(Conversation, conversation_id)
        if found is None or found.principal_id != caller.id:
            raise ConversationNotFound(f"no conversation {conversation_id}")
        return found.id

    def decision(self, session: Session, plan: ChatPlan, decision: PolicyDecision, **extra: Any) -> None:
        """One policy decision on the record, in `session`'s transaction."""
        POLICY_DECISIONS.labels(decision.rule_id, decision.decision).inc()
        plan.decisions.append(decision)
        if isinstance(extra.get("query"), str):  # what was searched is the user's text too
            extra["query"] = self._pii.question(extra["query"])
        details = {"conversation_id": plan.conversation_id, "prompt_version": PROMPT_VERSION, **extra}
        audit.record_decision(session, decision, plan.caller.id, details)

    def decisions(self, plan: ChatPlan, decisions: list[PolicyDecision]) -> None:
        """Several decisions on the record, in a transaction of their own."""
        if decisions:
            with session_scope(self._sessions) as session:
                for decision in decisions:
                    self.decision(session, plan, decision)

    def unanswered(self, session: Session, plan: ChatPlan, found: Retrieval) -> None:
        """Admins read these at GET /v1/admin/unanswered: the questions the knowledge base does not cover."""
        session.add(
            UnansweredQuestion(
                principal_id=plan.caller.id,
                channel="chat",
                question=self._pii.question(plan.question),
                query=self._pii.question(found.query),
                best_similarity=found.best_similarity,
                nearest=[
                    {"document_id": d.document_id, "title": d.title, "similarity": round(d.similarity, 6)}
                    for d in found.nearest
                ],
            )
        )
        UNANSWERED_QUESTIONS.inc()

    def settle(self, plan: ChatPlan, answer: Answer) -> None:
        """Give back the answer tokens charged but not generated: vLLM's own count, else our tokenizer's."""
        if plan.charge is None:
            return
        used = plan.usage.completion_tokens
        if used is None:
            text = answer.model_text
            used = (
                self._counter.count(Prompt([{"role": "assistant", "content": text}], continue_final_message=True))
                if text
                else 0
            )
        self._quotas.refund(plan.charge, used)

    def answered(self, plan: ChatPlan, answer: Answer, citations: list[Citation]) -> str:
        """The conversation's two messages and the request's audit record, in one transaction. When the model
        answered, the turn is kept as the model saw it and wrote it, so a follow-up replays it token for token
        (prefix cache) -- also when its sentences did not hold up and the user got an extractive answer: the
        follow-up's own sentences are checked again, and replaying something else would recompute the turn."""
        outcome = plan.outcome(answer.mode)
        replay = plan.prompt is not None and bool(answer.model_text.strip()) and plan.user_content is not None
        message_id = new_id()  # the answer's id: feedback names it
        with session_scope(self._sessions) as session:
            self._request(session, plan, answer.text, outcome, [c.document_id for c in citations])
            session.add(
                Message(
                    conversation_id=plan.conversation_id,
                    role="user",
                    content=plan.question,
                    model_content=plan.user_content if replay else None,
                    sources=[stored_source(plan.context[d.number], d) for d in plan.documents] if replay else None,
                )
            )
            session.add(
                Message(
                    id=message_id,
                    conversation_id=plan.conversation_id,
                    role="assistant",
                    content=answer.text,
                    citations=[c.model_dump() for c in citations],
                    model_content=answer_content(plan.style, answer.model_text.strip()) if replay else None,
                )
            )
        CHAT_REQUESTS.labels(outcome).inc()
        return message_id

    def failed(self, plan: ChatPlan) -> None:
        """The audit record of a request that ended in an error after its plan was made (no answer to hash)."""
        with session_scope(self._sessions) as session:
            self._request(session, plan, None, "error")
        CHAT_REQUESTS.labels("error").inc()

    def _request(
        self, session: Session, plan: ChatPlan, answer: str | None, outcome: str, cited: Sequence[str] = ()
    ) -> None:
        audit.record_chat_request(
            session,
            principal_id=plan.caller.id,
            conversation_id=plan.conversation_id,
            question=self._pii.question(plan.question),
            query=None if plan.query is None else self._pii.question(plan.query),
            chunk_ids=plan.chunk_ids,
            context_chunk_ids=plan.context_chunk_ids,
            decisions=plan.decisions,
            model=self._model if plan.prompt is not None else None,
            prompt_version=PROMPT_VERSION,
            answer=answer,
            prompt_tokens=plan.usage.prompt_tokens,
            completion_tokens=plan.usage.completion_tokens,
            latency_ms=round((time.perf_counter() - plan.started) * 1000),
            outcome=outcome,
            groups=plan.caller.groups,
            site=plan.caller.site.id if plan.caller.site else None,
            cited_document_ids=list(dict.fromkeys(cited)),
        )
