"""Chat output as the PII policy wants it seen (settings.pii_ingestion=redact_output, pii_answers=redact): a map
over the pipeline's events.

Applied after generation, so the pipeline itself is unchanged: the self-hosted model reads the original
passages (it is inside the trust boundary, and it answers better), the caller gets placeholders. Answer and
citations share the conversation's numbering, so <EMAIL_1> in the answer is <EMAIL_1> in source [2] and in the
next turn. A placeholder cannot be chosen for a value half streamed, so with redaction on the tokens are held
back and the redacted answer is sent as one token just before `done` (the stream still ends the same way)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from fastapi.concurrency import run_in_threadpool

from services.api.chat.events import ChatEvent, Done, Meta, SentenceChecked, Token
from services.api.chat.schemas import ChatResponse, Citation
from services.core.pii import PiiGuard, Placeholders


def _citations(guard: PiiGuard, citations: Sequence[Citation], scope: Placeholders) -> list[Citation]:
    """Citation texts (and their passages) redacted when the index keeps originals (redact_output)."""
    if not guard.redact_output or not citations:
        return list(citations)
    redacted = []
    for citation in citations:
        texts = guard.redact_many([citation.text, *(p.text for p in citation.passages)], scope)
        passages = [p.model_copy(update={"text": t}) for p, t in zip(citation.passages, texts[1:], strict=True)]
        redacted.append(citation.model_copy(update={"text": texts[0], "passages": passages}))
    return redacted


def _response(guard: PiiGuard, response: ChatResponse) -> ChatResponse:
    scope = guard.conversation(response.conversation_id)
    citations = _citations(guard, response.citations, scope)
    sentences = [s.model_copy(update={"text": guard.redact(s.text, scope)}) for s in response.sentences]
    answer = guard.redact(response.answer, scope)
    return response.model_copy(update={"answer": answer, "citations": citations, "sentences": sentences})


async def redact(guard: PiiGuard, events: AsyncIterator[ChatEvent]) -> AsyncIterator[ChatEvent]:
    """The events as the caller may see them; unchanged when no answer redaction is configured."""
    if not guard.redact_answers:
        async for event in events:
            yield event
        return
    scope: Placeholders | None = None
    async for event in events:
        if isinstance(event, Meta):
            scope = guard.conversation(event.conversation_id)
            sources = await run_in_threadpool(_citations, guard, event.sources, scope)
            yield Meta(event.conversation_id, sources)
        elif isinstance(event, Token):
            continue
        elif isinstance(event, SentenceChecked):
            text = await run_in_threadpool(guard.redact, event.sentence.text, scope)
            yield SentenceChecked(event.sentence.model_copy(update={"text": text}))
        elif isinstance(event, Done):
            redacted = await run_in_threadpool(_response, guard, event.response)
            yield Token(redacted.answer)
            yield Done(redacted)
        else:
            yield event
