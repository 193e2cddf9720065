"""Generating a planned answer: the model's tokens as they come, each sentence checked against its sources.

Grounding policy decides what the user sees (services/core/answers/grounding.py):
- `annotate` (default): every token leaves as soon as vLLM produces it. Each finished sentence is checked on a
  worker thread while the tokens after it keep flowing, and a `sentence` event carries its verdict (supported,
  by which source; or not, and why) with its text in the answer's citation numbering.
- `hold`: a sentence leaves (as one `token`) only once it passed; an unsupported one never reaches the user.
- `off`: tokens stream unchecked.

When no generated sentence is supported although the sources are relevant, the answer becomes extractive: the
sentences of the best sources that answer the question, quoted with their citations. When the model is
unavailable before it said anything, policy may allow the same extractive answer instead of a 503; this is the
one place either is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from services.api.chat.events import ChatEvent, SentenceChecked, Token
from services.api.chat.plan import Answer, ChatPlan
from services.api.chat.recording import Recorder
from services.api.chat.schemas import SentenceOut
from services.api.metrics import CHAT_STAGE_SECONDS
from services.core.answers import extractive
from services.core.answers.answer_types import Asked, asked
from services.core.answers.grounding import (
    Grounder,
    GroundingSession,
    SentenceBuffer,
    looks_finished,
    split_sentences,
)
from services.core.db.session import session_scope
from services.core.embedding.memo import MemoEmbed
from services.core.errors import LLMUnavailable
from services.core.llm.gateway import LLMGateway
from services.core.llm.prompt import strip_wrapper_tags
from services.core.policy import ReloadablePolicies

Embed = Callable[[Sequence[str]], list[list[float]]]
StoredVectors = Callable[[Sequence[str]], Mapping[str, list[float]]]
log = logging.getLogger(__name__)


def _stored_or_none(stored: StoredVectors, chunk_ids: Sequence[str]) -> Mapping[str, list[float]]:
    """The vectors, or none when they cannot be read: they only save work, the check embeds without them."""
    try:
        return stored(chunk_ids)
    except Exception:
        log.warning("stored sentence vectors could not be read; this answer embeds its sources", exc_info=True)
        return {}


class Generator:
    """Streams the model's answer to a plan, checked sentence by sentence, or an extractive one."""

    def __init__(
        self,
        *,
        gateway: LLMGateway,
        embed: Embed,
        confirm: Embed,
        policies: ReloadablePolicies,
        sessions: sessionmaker[Session],
        recorder: Recorder,
        stored_sentences: StoredVectors | None = None,
    ) -> None:
        self._gateway = gateway
        # One encoder for the check and the extractive answer's quotes, so a source sentence both read is embedded
        # once an answer. The app gives the encoder's int8 copy (Embedder.embed_approximate), at a third of the
        # CPU: these vectors meet only the same copy's (within one answer, or stored by ingestion for the sources'
        # sentences under the copy's name), and the check's threshold, picked on the
        # model's, was measured again on them (bench/grounding.py --encoder; docs/governance.md). A similarity
        # near that threshold is measured again by the model itself (`confirm`: Embedder.embed), so the verdicts
        # are the model's where the two encoders could disagree.
        self._embed = embed
        self._confirm = confirm
        # The vectors ingestion stored for the cited passages' sentences, from `embed`'s encoder
        # (answers/sentence_vectors.py): the answer's memo starts with them, so it embeds what the model wrote
        # and the question, and the sources' sentences only where a passage has none (ingested before, or cut).
        self._stored = stored_sentences
        self._policies = policies
        self._sessions = sessions
        self._recorder = recorder

    async def generate(self, plan: ChatPlan, answer: Answer) -> AsyncIterator[ChatEvent]:
        """Token and sentence events; `answer` collects what was sent. Raises LLMUnavailable (or another
        StewardError) when the model fails and no fallback may stand in for it."""
        assert plan.prompt is not None
        # Each text of this answer embedded once, for the check and the quotes; the stored sentence vectors are
        # read at the first check (on its worker thread), so nothing is added before the first token.
        embed = MemoEmbed(self._embed, self._known(plan))
        grounder = self._grounder(plan, embed)
        session = grounder.session() if grounder is not None else None
        if session is None:
            events = self._unchecked(plan, answer)
        elif session.action == "hold":
            events = self._held(plan, answer, session)
        else:
            events = self._annotated(plan, answer, session)
        shown = False
        try:
            async for event in events:
                shown = shown or isinstance(event, Token)
                yield event
        except LLMUnavailable as exc:
            # Before the user saw anything, the documents can still answer; after, only a clean error.
            message = None if shown else await run_in_threadpool(self._fallback, plan, exc)
            if message is None:
                raise
            async for event in self._extractive(plan, answer, embed, intro=message):
                yield event
            return
        if session is not None:
            nothing_held_up = session.finish()  # sentences were checked and none was supported
            answer.grounding = session.result(answer.text).summary()
            if nothing_held_up:  # the sources are relevant (or there would be no prompt): they answer instead
                async for event in self._extractive(plan, answer, embed, separator=bool(answer.parts)):
                    yield event
            elif (value := asked(plan.question)).kinds and not any(
                value.stated_by(s.text) for s in answer.sentences if s.supported and s.shown
            ):
                # Supported, but no answer to what was asked: "How long ...?" met with a true sentence that
                # names no duration. The sources' sentences that state one follow it.
                async for event in self._extractive(plan, answer, embed, separator=True, stating=value):
                    yield event

    async def _deltas(self, plan: ChatPlan, answer: Answer) -> AsyncIterator[str]:
        assert plan.prompt is not None
        started = time.perf_counter()
        async for delta in self._gateway.stream(plan.prompt, plan.usage):
            answer.model_text += delta
            yield delta
        answer.model_ended = time.perf_counter()
        CHAT_STAGE_SECONDS.labels("model").observe(answer.model_ended - started)

    async def _unchecked(self, plan: ChatPlan, answer: Answer) -> AsyncIterator[ChatEvent]:
        """Tokens as they come; the shown answer renumbers the citations of the whole text at the end."""
        async for delta in self._deltas(plan, answer):
            yield Token(strip_wrapper_tags(delta))
        for sentence in split_sentences(strip_wrapper_tags(answer.model_text)):
            answer.parts.append(answer.book.rewrite(sentence)[0])

    async def _held(self, plan: ChatPlan, answer: Answer, session: GroundingSession) -> AsyncIterator[ChatEvent]:
        """Only checked sentences leave, each as one token; an unsupported one is held back."""
        buffer = SentenceBuffer()

        async def settle(sentence: str) -> AsyncIterator[ChatEvent]:
            verdict = await self._check(session, sentence, answer)
            if verdict is not None:
                yield SentenceChecked(verdict)
                if verdict.shown:
                    yield Token((" " if len(answer.parts) > 1 else "") + verdict.text)

        async for delta in self._deltas(plan, answer):
            for sentence in buffer.feed(delta):
                async for event in settle(sentence):
                    yield event
        for sentence in buffer.flush():
            async for event in settle(sentence):
                yield event

    async def _annotated(self, plan: ChatPlan, answer: Answer, session: GroundingSession) -> AsyncIterator[ChatEvent]:
        """Tokens leave at once; each finished sentence is checked on a thread, in order, while tokens flow, and
        its verdict follows as soon as it is known.

        A sentence is certainly finished only when the next one begins, or when the stream ends; for the last
        one that is after the model's last token, while the chat no longer holds a place in vLLM's batch. So
        once the sentence being written looks finished (a full stop), what its check needs is embedded at once,
        beside the model's last steps, and the check itself then finds it ready."""
        buffer = SentenceBuffer()
        checks: list[asyncio.Task[SentenceOut | None]] = []
        preparing: list[asyncio.Task[None]] = []
        prepared = ""

        def check_next(sentence: str) -> None:
            previous = checks[-1] if checks else None

            async def run() -> SentenceOut | None:
                if previous is not None:
                    await previous  # verdicts in sentence order; the session is not thread-safe
                return await self._check(session, sentence, answer)

            checks.append(asyncio.create_task(run()))

        def prepare(sentence: str) -> None:
            text = strip_wrapper_tags(sentence)
            if text:
                preparing.append(asyncio.create_task(run_in_threadpool(session.prepare, text)))

        def ready() -> list[ChatEvent]:
            done: list[ChatEvent] = []
            while checks and checks[0].done():
                verdict = checks.pop(0).result()
                if verdict is not None:
                    done.append(SentenceChecked(verdict))
            return done

        try:
            async for delta in self._deltas(plan, answer):
                yield Token(strip_wrapper_tags(delta))
                for sentence in buffer.feed(delta):
                    check_next(sentence)
                pending = buffer.pending
                if pending != prepared and looks_finished(pending):
                    prepared = pending
                    prepare(pending)
                for event in ready():
                    yield event
            for sentence in buffer.flush():
                check_next(sentence)
            while checks:
                verdict = await checks.pop(0)
                if verdict is not None:
                    yield SentenceChecked(verdict)
        finally:
            for task in checks + preparing:  # the client went away, or a preparation is moot: nothing to wait for
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _check(self, session: GroundingSession, sentence: str, answer: Answer) -> SentenceOut | None:
        """One sentence's verdict, with its text in the answer's numbering (recorded on `answer`)."""
        sentence = strip_wrapper_tags(sentence)
        if not sentence:
            return None
        shown = await run_in_threadpool(session.add, sentence)
        verdict = session.last_verdict
        attributed = verdict.best_source if verdict.supported else None
        text, cited = answer.book.rewrite(shown if shown is not None else sentence, attributed)
        source = answer.book.final_number(verdict.best_source)
        if verdict.supported:
            reason = f"supported by source [{source}]" if source else "supported by the sources it cites"
        else:
            reason = verdict.reason
        out = SentenceOut(
            index=len(answer.sentences),
            text=text,
            supported=verdict.supported,
            reason=reason,
            cited=cited,
            source=source,
            shown=shown is not None,
        )
        answer.sentences.append(out)
        if out.shown:
            answer.parts.append(text)
        return out

    async def _extractive(
        self,
        plan: ChatPlan,
        answer: Answer,
        embed: Embed,
        intro: str | None = None,
        separator: bool = False,
        stating: Asked | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """The answer the documents give: their best sentences, quoted with citations. With `stating` (added to a
        generated answer that lacks the value asked for), only the quotes that state it."""
        quotes = await run_in_threadpool(extractive.select, plan.question, plan.best_sources, embed)
        if stating is not None:
            quotes = [q for q in quotes if stating.stated_by(q.text)]
        if not quotes:
            return
        rendered = extractive.render(quotes)
        text, _ = answer.book.rewrite(rendered)
        if intro:
            text = f"{intro} {text}"
        if stating is None:  # quotes added to a generated answer leave it generated
            answer.mode = "extractive"
        answer.parts.append(text)
        yield Token(("\n\n" if separator else "") + text)

    def _known(self, plan: ChatPlan) -> Callable[[], Mapping[str, list[float]]] | None:
        """What reads the stored vectors of the sentences of the passages this answer may cite."""
        ids = [passage.id for document in plan.context.values() for passage in document.passages if passage.id]
        stored = self._stored
        if stored is None or not ids:
            return None
        return functools.partial(_stored_or_none, stored, ids)

    def _grounder(self, plan: ChatPlan, embed: Embed) -> Grounder | None:
        """None when grounding is off or there is nothing to check against."""
        spec = plan.grounding
        if spec is None or spec.action == "off" or not plan.context:
            return None
        return Grounder(
            {number: document.text for number, document in plan.context.items()},
            embed,
            spec.min_similarity,
            spec.min_overlap,
            spec.action,
            question=plan.query or plan.question,  # a follow-up's rewrite says what it asks
            confirm=self._confirm,
        )

    def _fallback(self, plan: ChatPlan, error: LLMUnavailable) -> str | None:
        """The policy's message when it lets the documents answer while the model is down (audited), else None."""
        decision = self._policies.engine.llm_fallback(error.kind, plan.caller)
        if decision is None or not plan.documents:
            return None
        with session_scope(self._sessions) as session:
            self._recorder.decision(session, plan, decision)
        return decision.message
