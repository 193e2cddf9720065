"""Builds the chat prompt. Stable parts come first so vLLM's prefix cache reuses them across requests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from services.core.vectorstore import ScoredChunk

PROMPT_VERSION = "2026-11-25.1"

PREAMBLE = (
    "You are Steward, an assistant that answers questions about the company's documents. "
    "Answer only from the numbered sources below. Cite the sources you use as [1], [2]. "
    "If the sources do not contain the answer, say you don't know. Be brief."
)

PromptStyle = Literal["chat", "base"]


@dataclass(frozen=True)
class Turn:
    role: str  # user | assistant
    content: str


@dataclass(frozen=True)
class Prompt:
    """What is sent to the model: messages plus how the model is to continue and where it must stop."""

    messages: list[dict[str, str]]
    stop: list[str] = field(default_factory=list)
    continue_final_message: bool = False
    min_tokens: int = 0


def build_prompt(
    question: str, sources: Sequence[ScoredChunk], history: Sequence[Turn], style: PromptStyle = "chat"
) -> Prompt:
    """Preamble, sources, earlier turns, then the question.

    `chat` suits instruction-tuned models. `base` suits the embedded base model, which ignores turn markers:
    the answer is primed with "Answer:" and cut at the end of the line, or it invents further questions.
    """
    numbered = "\n\n".join(
        f"[{n}] {source.title}{' — ' + source.heading if source.heading else ''}\n{source.text}"
        for n, source in enumerate(sources, start=1)
    )
    messages = [{"role": "system", "content": f"{PREAMBLE}\n\nSources:\n{numbered}"}]
    messages.extend({"role": turn.role, "content": turn.content} for turn in history)
    if style == "chat":
        messages.append({"role": "user", "content": question})
        return Prompt(messages)
    messages.append({"role": "user", "content": f"Question: {question}"})
    messages.append({"role": "assistant", "content": "Answer:"})
    # The base model often opens with a newline; min_tokens keeps that from ending the answer empty.
    return Prompt(messages, stop=["\n"], continue_final_message=True, min_tokens=2)
