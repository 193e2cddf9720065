"""Generating a planned answer: the model's tokens, each sentence checked against its sources as it completes.

A token stream cannot take back what it sent, so the model's tokens are buffered into sentences and each
sentence is checked before it is emitted (as one `token` event, with a `sentence` event saying how it fared).
The user sees the answer arrive a sentence at a time, never an unsupported sentence under `remove`, and the
stored answer is exactly the text that was streamed.

When the model is unavailable before it said anything, policy may allow a sources-only answer instead; this is
the one place that fallback is written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from services.api.chat.events import ChatEvent, SentenceChecked, Token
from services.api.chat.plan import Answer, ChatPlan
from services.api.chat.planning import NOT_FOUND_ANSWER
from services.api.chat.recording import Recorder
from services.core.answers.grounding import Grounder, SentenceBuffer
from services.core.db.session import session_scope
from services.core.errors import LLMUnavailable
from services.core.llm.gateway import LLMGateway
from services.core.llm.prompt import strip_wrapper_tags
from services.core.policy import ReloadablePolicies

Embed = Callable[[Sequence[str]], list[list[float]]]


class Generator:
    """Streams the model's answer to a plan, checked sentence by sentence, or the sources-only fallback."""

    def __init__(
        self,
        *,
        gateway: LLMGateway,
        embed: Embed,
        policies: ReloadablePolicies,
        sessions: sessionmaker[Session],
        recorder: Recorder,
    ) -> None:
        self._gateway = gateway
        self._embed = embed
        self._policies = policies
        self._sessions = sessions
        self._recorder = recorder

    async def generate(self, plan: ChatPlan, answer: Answer) -> AsyncIterator[ChatEvent]:
        """Token and sentence events; `answer` collects what was sent. Raises LLMUnavailable (or another
        StewardError) when the model fails and no fallback may stand in for it."""
        assert plan.prompt is not None
        deltas = self._model_deltas(plan, answer)
        try:
            async for event in self._checked(plan, answer, deltas):
                yield event
        except LLMUnavailable as exc:
            # Before any token, a sources-only answer can still be given; after, only a clean error.
            fallback = None if answer.parts else await run_in_threadpool(self._fallback, plan, exc)
            if fallback is None:
                raise
            answer.generated = False
            answer.parts.append(fallback)
            yield Token(fallback)

    async def _model_deltas(self, plan: ChatPlan, answer: Answer) -> AsyncIterator[str]:
        assert plan.prompt is not None
        async for delta in self._gateway.stream(plan.prompt, plan.usage):
            answer.model_text += delta
            yield delta

    async def _checked(self, plan: ChatPlan, answer: Answer, deltas: AsyncIterator[str]) -> AsyncIterator[ChatEvent]:
        grounder = self._grounder(plan)
        if grounder is None:
            async for delta in deltas:
                text = strip_wrapper_tags(delta)
                answer.parts.append(text)
                yield Token(text)
            return
        session = grounder.session(NOT_FOUND_ANSWER)
        buffer, index = SentenceBuffer(), 0

        async def emit(sentence: str) -> AsyncIterator[ChatEvent]:
            nonlocal index
            sentence = strip_wrapper_tags(sentence)
            if not sentence:
                return
            shown = await run_in_threadpool(session.add, sentence)
            verdict = session.last_verdict
            yield SentenceChecked(index, sentence, verdict.supported, verdict.cited, shown is not None)
            index += 1
            if shown is not None:
                text = (" " if answer.parts else "") + shown
                answer.parts.append(text)
                yield Token(text)

        async for delta in deltas:
            for sentence in buffer.feed(delta):
                async for event in emit(sentence):
                    yield event
        for sentence in buffer.flush():
            async for event in emit(sentence):
                yield event
        if (tail := session.finish()) is not None:
            text = (" " if answer.parts else "") + tail
            answer.parts.append(text)
            yield Token(text)
        answer.grounding = session.result(answer.text).summary()

    def _grounder(self, plan: ChatPlan) -> Grounder | None:
        """None when grounding is off or there is nothing to check against."""
        spec = plan.grounding
        if spec is None or spec.action == "off" or not plan.citations:
            return None
        return Grounder(
            {c.source: c.text for c in plan.citations},
            self._embed,
            spec.min_similarity,
            spec.min_overlap,
            spec.action,
        )

    def _fallback(self, plan: ChatPlan, error: LLMUnavailable) -> str | None:
        """A sources-only answer when policy allows it (audited), else None."""
        decision = self._policies.engine.llm_fallback(error.kind, plan.caller)
        if decision is None or not plan.citations:
            return None
        with session_scope(self._sessions) as session:
            self._recorder.decision(session, plan, decision)
        listing = "\n".join(f"[{c.source}] {c.title}: {c.text[:300]}" for c in plan.citations)
        return f"{decision.message}\n{listing}"
