"""Token budgeting with the served model's tokenizer: the prompt always fits the context window."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from services.core.errors import InvalidInput
from services.core.llm.prompt import Prompt, PromptStyle, Turn, build_prompt, new_boundary
from services.core.vectorstore.port import ScoredChunk

log = logging.getLogger(__name__)

# Turns kept as long as anything else can go: a follow-up question needs the exchange just before it.
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
    sources: list[ScoredChunk]
    prompt_tokens: int
    sources_dropped: int
    history_turns_dropped: int


def fit_prompt(
    question: str,
    sources: Sequence[ScoredChunk],
    history: Sequence[Turn],
    style: PromptStyle,
    counter: TokenCounter,
    max_prompt_tokens: int,
) -> FittedPrompt:
    """Drop old history, then the lowest-ranked sources, then the rest of history, until the prompt fits.

    The best source is never dropped; if even it does not fit, its text is cut. A question that cannot fit
    alone is refused: nothing ever reaches the server too long for it.
    """
    kept_sources, kept_history = list(sources), list(history)
    boundary = new_boundary()  # one per request: every rebuild below quotes the sources the same way

    def measure() -> tuple[Prompt, int]:
        prompt = build_prompt(question, kept_sources, kept_history, style, boundary)
        return prompt, counter.count(prompt)

    prompt, tokens = measure()
    while tokens > max_prompt_tokens:
        if len(kept_history) > RECENT_TURNS_KEPT:
            kept_history.pop(0)
        elif len(kept_sources) > 1:
            kept_sources.pop()
        elif kept_history:
            kept_history.pop(0)
        elif kept_sources and len(kept_sources[0].text) > 200:
            best = kept_sources[0]
            shortened = best.text[: int(len(best.text) * 0.8)]
            kept_sources[0] = dataclasses.replace(best, text=shortened)
        else:
            raise InvalidInput(
                f"the question is too long for the model's context ({tokens} tokens, limit {max_prompt_tokens})"
            )
        prompt, tokens = measure()
    return FittedPrompt(
        prompt=prompt,
        sources=kept_sources,
        prompt_tokens=tokens,
        sources_dropped=len(sources) - len(kept_sources),
        history_turns_dropped=len(history) - len(kept_history),
    )
