"""Token budgeting with the served model's tokenizer: the prompt always fits the context window."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from services.core.errors import InvalidInput
from services.core.llm.prompt import (
    Exchange,
    Prompt,
    PromptStyle,
    SourceDocument,
    build_prompt,
    new_boundary,
    number_documents,
)
from services.core.vectorstore.port import ScoredChunk

log = logging.getLogger(__name__)

# Earlier turns kept as long as anything else can go: a follow-up question needs the exchanges just before it.
RECENT_TURNS_KEPT = 2


class TokenCounter(Protocol):
    def count(self, prompt: Prompt) -> int:
        """Tokens the server will see for `prompt`, chat template included."""


class ChatTemplateCounter:
    """Counts exactly as vLLM does: the model's own chat template, then its tokenizer."""

    def __init__(self, tokenizer_path: str | Path) -> None:
        from transformers import AutoTokenizer  # heavy; only when a gateway is built

        self._tokenizer: Any = AutoTokenizer.from_pretrained(str(tokenizer_path))

    def count(self, prompt: Prompt) -> int:
        text = self._tokenizer.apply_chat_template(
            prompt.messages,
            tokenize=False,
            add_generation_prompt=not prompt.continue_final_message,
            continue_final_message=prompt.continue_final_message,
        )
        # The template already writes <bos>; adding special tokens again would count it twice.
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])


class CharEstimateCounter:
    """Fallback when no tokenizer is available: deliberately pessimistic (3 characters per token)."""

    def count(self, prompt: Prompt) -> int:
        return sum(len(message["content"]) for message in prompt.messages) // 3 + 16 * len(prompt.messages)


@dataclass(frozen=True)
class FittedPrompt:
    """The prompt that will be sent, what had to go to make it fit, and its size."""

    prompt: Prompt
    documents: list[SourceDocument]  # this turn's new sources, as numbered
    user_content: str  # this turn's user message, stored so the next turn can replay it
    context: dict[int, str]  # every document the model can cite: number -> document id (earlier turns too)
    prompt_tokens: int
    sources_dropped: int
    history_turns_dropped: int

    @property
    def sources(self) -> list[ScoredChunk]:
        return [passage for document in self.documents for passage in document.passages]


def fit_prompt(
    question: str,
    sources: Sequence[ScoredChunk],
    exchanges: Sequence[Exchange],
    style: PromptStyle,
    counter: TokenCounter,
    max_prompt_tokens: int,
    boundary: str | None = None,
) -> FittedPrompt:
    """Drop old turns, then the lowest-ranked sources, then the remaining turns, until the prompt fits.

    The best source is never dropped; if even it does not fit, its text is cut. A question that cannot fit
    alone is refused: nothing ever reaches the server too long for it. Earlier turns are dropped from the
    oldest: what stays is still a prefix-stable conversation (its first turn changes, so that request misses
    the cache once)."""
    kept_sources, kept_turns = list(sources), list(exchanges)
    boundary = boundary or new_boundary()  # one per request: every rebuild below quotes the sources the same way

    def measure() -> tuple[Prompt, list[SourceDocument], dict[int, str], int]:
        known = {document_id: number for turn in kept_turns for number, document_id in turn.sources}
        earlier = "\n".join(turn.user_content for turn in kept_turns)
        documents = number_documents(kept_sources, known, earlier)
        prompt = build_prompt(question, documents, kept_turns, style, boundary)
        context = {number: document_id for document_id, number in known.items()}
        context.update((d.number, d.document_id) for d in documents)
        return prompt, documents, context, counter.count(prompt)

    prompt, documents, context, tokens = measure()
    while tokens > max_prompt_tokens:
        if len(kept_turns) > RECENT_TURNS_KEPT:
            kept_turns.pop(0)
        elif len(kept_sources) > 1:
            kept_sources.pop()
        elif kept_turns:
            kept_turns.pop(0)
        elif kept_sources and len(kept_sources[0].text) > 200:
            best = kept_sources[0]
            shortened = best.text[: int(len(best.text) * 0.8)]
            kept_sources[0] = dataclasses.replace(best, text=shortened)
        else:
            raise InvalidInput(
                f"the question is too long for the model's context ({tokens} tokens, limit {max_prompt_tokens})"
            )
        prompt, documents, context, tokens = measure()
    return FittedPrompt(
        prompt=prompt,
        documents=documents,
        user_content=prompt.messages[-2 if style == "base" else -1]["content"],
        context=context,
        prompt_tokens=tokens,
        sources_dropped=len(sources) - len(kept_sources),
        history_turns_dropped=len(exchanges) - len(kept_turns),
    )
