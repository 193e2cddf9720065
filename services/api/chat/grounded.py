"""Chat's use of the grounding check: the whole answer (JSON), or sentence by sentence as it streams (SSE).

Streaming: a token stream cannot take back what it sent, so the model's tokens are buffered into sentences
and each sentence is checked before it is emitted as one `token` event. The user sees an answer arrive a
sentence at a time, never an unsupported sentence under `remove`, and the `done` event (and the stored
message) carries exactly the text that was streamed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from fastapi.concurrency import run_in_threadpool

from services.core.grounding import Grounder, GroundingSession, SentenceBuffer
from services.core.prompt import strip_wrapper_tags
from services.core.runtime import Runtime

if TYPE_CHECKING:
    from services.api.chat.service import ChatPlan


def grounder_for(runtime: Runtime, plan: ChatPlan) -> Grounder | None:
    """None when grounding is off or there is nothing generated to check against."""
    settings = runtime.settings
    rule = runtime.policy.grounding_for(plan.principal)  # a policy rule for this caller beats the settings
    action = rule.action if rule else settings.grounding_action
    if action == "off" or not plan.citations:
        return None
    return Grounder(
        {c.source: c.text for c in plan.citations},
        runtime.embedder.embed,
        rule.min_similarity if rule and rule.min_similarity else settings.grounding_min_similarity,
        settings.grounding_min_overlap,
        action,
    )


async def ground_answer(runtime: Runtime, plan: ChatPlan, text: str, fallback: str) -> str:
    """The checked answer; its summary goes on the plan (and so into the response)."""
    text = strip_wrapper_tags(text)
    grounder = grounder_for(runtime, plan)
    if grounder is None:
        return text
    result = await run_in_threadpool(grounder.check, text, fallback)
    plan.grounding = result.summary()
    return result.answer


async def ground_stream(
    runtime: Runtime, plan: ChatPlan, deltas: AsyncIterator[str], fallback: str
) -> AsyncIterator[str]:
    """Checked sentences of a token stream, each emitted once it is complete and has passed."""
    grounder = grounder_for(runtime, plan)
    if grounder is None:
        async for delta in deltas:
            yield strip_wrapper_tags(delta)
        return
    session = grounder.session(fallback)
    buffer, emitted = SentenceBuffer(), list[str]()
    async for delta in deltas:
        for sentence in buffer.feed(delta):
            if (text := await _check(session, sentence)) is not None:
                yield (" " if emitted else "") + text
                emitted.append(text)
    for sentence in buffer.flush():
        if (text := await _check(session, sentence)) is not None:
            yield (" " if emitted else "") + text
            emitted.append(text)
    if (tail := session.finish()) is not None:
        yield (" " if emitted else "") + tail
        emitted.append(tail)
    plan.grounding = session.result(" ".join(emitted)).summary()


async def _check(session: GroundingSession, sentence: str) -> str | None:
    sentence = strip_wrapper_tags(sentence)
    return await run_in_threadpool(session.add, sentence) if sentence else None
