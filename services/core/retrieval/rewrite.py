"""Follow-up questions into standalone search queries, before retrieval.

"What would I pay per month if I win one?" retrieves nothing useful on its own; with the conversation it
means "monthly price of a Hamburg garage space won in the lottery". Two ways to get there:

- `concat`: the question is prefixed with the user's previous questions when it reads like a follow-up
  (pronouns, "and ...", "what about ...", or too short to stand alone). Free, deterministic, and what
  the eval set measures as the fallback.
- `llm`: the language model rewrites it (few-shot, one line), checked for sanity. It is skipped — and
  `concat` used — when the model server is saturated, slow, or down: rewriting must never make a question
  wait behind the answers of others.

`auto` picks `llm` when a model is configured and idle, else `concat`; `off` searches the question as asked.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from services.core.llm.gateway import TokenUsage
from services.core.llm.prompt import Prompt, Turn

if TYPE_CHECKING:
    from services.core.access.principals import Caller
    from services.core.llm.admission import Priority
    from services.core.llm.stack import LLMStack
    from services.core.quota import Charge, QuotaService

log = logging.getLogger(__name__)

RewriteMode = Literal["auto", "off", "concat", "llm"]
REWRITE_MODES: tuple[RewriteMode, ...] = ("auto", "off", "concat", "llm")

# Words that point back into the conversation; a question holding one rarely stands alone.
_ANAPHORA = frozenset(
    [
        "it",
        "its",
        "it's",
        "they",
        "them",
        "their",
        "theirs",
        "this",
        "that",
        "these",
        "those",
        "there",
        "then",
        "he",
        "she",
        "him",
        "her",
        "his",
        "hers",
        "one",
        "ones",
        "same",
        "such",
        "former",
        "latter",
    ]
)
_OPENERS = ("and ", "but ", "also ", "what about", "how about", "and what", "what if", "so ", "or ")
_WORD = re.compile(r"[\w'-]+", re.UNICODE)
# A question with this many words or fewer is taken as a follow-up whatever it says.
SHORT_QUESTION_WORDS = 4
USER_TURNS_KEPT = 2
MAX_QUERY_CHARS = 1000
PREVIOUS_QUESTION_CHARS = 300


@dataclass(frozen=True)
class Rewritten:
    """The query retrieval will run and how it was made (`off`, `concat`, `llm`, or `none` without history)."""

    query: str
    method: str


def is_follow_up(question: str) -> bool:
    lowered = question.strip().lower()
    words = _WORD.findall(lowered)
    return (
        len(words) <= SHORT_QUESTION_WORDS or lowered.startswith(_OPENERS) or any(word in _ANAPHORA for word in words)
    )


def concat_rewrite(question: str, history: Sequence[Turn]) -> Rewritten:
    """The question prefixed with the user's last questions when it reads like a follow-up."""
    # Earlier questions are short; a pasted wall of text would drown the question, so each is clipped.
    asked = [
        turn.content.strip()[:PREVIOUS_QUESTION_CHARS]
        for turn in history
        if turn.role == "user" and turn.content.strip()
    ]
    if not asked:
        return Rewritten(question, "none")
    if not is_follow_up(question):
        return Rewritten(question, "concat")
    context = " ".join(asked[-USER_TURNS_KEPT:])
    return Rewritten(f"{context} {question}"[-MAX_QUERY_CHARS:], "concat")


# The shots are about things the evaluation corpus never mentions (tests/data/eval): a shot on an evaluated
# conversation would let the model copy its answer and flatter the measured `llm` rewrite.
_EXAMPLES = (
    (
        "User: Is there a shuttle bus from the station to the campus?\nAssistant: Yes, every 20 minutes.",
        "and does it run on Saturdays?",
        "Does the shuttle bus from the station to the campus run on Saturdays?",
    ),
    (
        "User: Who looks after the umbrellas people leave at reception?\nAssistant: The front desk keeps them.",
        "how long do they keep them?",
        "How long does the front desk keep umbrellas left at reception?",
    ),
)


def rewrite_prompt(question: str, history: Sequence[Turn]) -> Prompt:
    """A few-shot completion for the base model: it continues the pattern with one standalone line."""
    shots = "\n\n".join(
        f"Conversation:\n{conversation}\nFollow-up: {follow_up}\nStandalone question: {standalone}"
        for conversation, follow_up, standalone in _EXAMPLES
    )
    conversation = "\n".join(
        f"{'User' if turn.role == 'user' else 'Assistant'}: {turn.content.strip()[:400]}" for turn in history[-4:]
    )
    text = (
        "Rewrite the follow-up as a question that can be understood without the conversation.\n\n"
        f"{shots}\n\nConversation:\n{conversation}\nFollow-up: {question}\nStandalone question:"
    )
    return Prompt(
        [{"role": "user", "content": text}, {"role": "assistant", "content": "Standalone question:"}],
        stop=["\n"],
        continue_final_message=True,
        min_tokens=2,
    )


def plausible(rewritten: str, question: str, history: Sequence[Turn]) -> bool:
    """A small model can wander: accept a rewrite only if it is one short line about this conversation that
    still asks what was asked and adds something to it.

    Measured on the eval follow-ups (`steward eval --generate`), Gemma 3 270M often repeats the previous
    question ("What's the address of the Toronto office?" for "What's the biggest meeting room there?") or
    returns the follow-up with nothing resolved ("How much does a monthly permit cost there?"); both search
    worse than `concat`, so both are rejected."""
    if not rewritten or len(rewritten) > 3 * len(question) + 200:
        return False
    known = {w for turn in history for w in _WORD.findall(turn.content.lower())} | set(_WORD.findall(question.lower()))
    words = _WORD.findall(rewritten.lower())
    if not words or sum(w in known for w in words) / len(words) < 0.5:
        return False
    used, asked = set(words), set(_WORD.findall(question.lower()))
    if is_follow_up(question):
        # A standalone version of a follow-up names what "it" or "there" was: some content word of the
        # conversation the question itself lacks. Without one nothing was resolved, and concat does better.
        earlier = set().union(*(_content_words(turn.content) for turn in history))
        if not (earlier - asked) & used:
            return False
    # It must still ask what was asked: at least half of the question's own content words survive.
    content = _content_words(question)
    return not content or 2 * len(content & used) >= len(content)


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 3 and w not in _ANAPHORA and w not in _FUNCTION_WORDS}


# Longer words that carry no topic: a rewrite may drop them freely.
_FUNCTION_WORDS = frozenset(
    (
        "what",
        "what's",
        "which",
        "where",
        "when",
        "who's",
        "whom",
        "whose",
        "would",
        "could",
        "should",
        "have",
        "does",
        "about",
        "with",
        "from",
        "into",
        "also",
        "actually",
        "really",
        "just",
        "still",
        "much",
        "many",
        "some",
        "been",
        "were",
        "will",
        "shall",
    )
)


class FollowUpRewriter:
    """Turns (question, history) into the query to search; `llm` may be None (no model configured).

    A model rewrite is a model call like any other: it is admitted (shed when the server is saturated and the
    caller's traffic is batch) and metered against the caller's quotas (charged up front, the unused answer
    tokens given back). Either refusal falls back to `concat` instead of failing the question."""

    def __init__(
        self,
        llm: LLMStack | None,
        timeout_s: float,
        quotas: QuotaService | None = None,
        default_mode: RewriteMode = "auto",
    ) -> None:
        self._llm = llm
        self._timeout_s = timeout_s
        self._quotas = quotas
        self._default_mode = default_mode  # settings.rewrite_mode: what a request that names no mode gets

    async def rewrite(
        self,
        question: str,
        history: Sequence[Turn],
        mode: RewriteMode | None = None,
        caller: Caller | None = None,
        priority: Priority = "interactive",
    ) -> Rewritten:
        mode = mode or self._default_mode
        if mode == "off" or not any(turn.role == "user" for turn in history):
            return Rewritten(question, "off" if mode == "off" else "none")
        if mode == "concat" or (mode == "auto" and not self._llm_idle()):
            return concat_rewrite(question, history)
        return await self._llm_rewrite(question, history, caller, priority)

    def _llm_idle(self) -> bool:
        """A fresh reading of vLLM's metrics shows it is up; saturation or an open breaker means busy."""
        llm = self._llm
        if llm is None or llm.gateway.breaker.state != "closed" or llm.monitor.snapshot() is None:
            return False
        return llm.admission.saturation() is None

    async def _llm_rewrite(
        self, question: str, history: Sequence[Turn], caller: Caller | None, priority: Priority
    ) -> Rewritten:
        llm = self._llm
        if llm is None:
            return concat_rewrite(question, history)
        prompt = rewrite_prompt(question, history)
        usage = TokenUsage()
        charge: Charge | None = None
        text = ""
        try:
            llm.admission.admit(priority)
            if caller is not None and self._quotas is not None:
                charge = self._quotas.charge(caller, llm.counter.count(prompt), llm.gateway.max_tokens)
            async with asyncio.timeout(self._timeout_s):
                text = await llm.gateway.complete(prompt, usage)
        except Exception as exc:  # shed, over quota, busy, slow or down: the cheap rewrite still serves
            log.info("LLM rewrite not used (%s); using concat", exc)
            return concat_rewrite(question, history)
        finally:
            if charge is not None and self._quotas is not None:
                used = usage.completion_tokens
                if used is None:  # vLLM's count did not arrive: ours, from the text it did produce
                    reply = Prompt([{"role": "assistant", "content": text}], continue_final_message=True)
                    used = llm.counter.count(reply) if text else 0
                self._quotas.refund(charge, used)
        text = text.strip().strip('"').strip()
        if not plausible(text, question, history):
            log.info("LLM rewrite %r rejected; using concat", text[:200])
            return concat_rewrite(question, history)
        return Rewritten(text, "llm")
