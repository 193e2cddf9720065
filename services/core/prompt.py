"""Builds the chat prompt. Stable parts come first so vLLM's prefix cache reuses them across requests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.core.vectorstore import ScoredChunk

PROMPT_VERSION = "2026-11-25.1"

PREAMBLE = (
    "You are Steward, an assistant that answers questions about the company's documents. "
    "Answer only from the numbered sources below. Cite the sources you use as [1], [2]. "
    "If the sources do not contain the answer, say you don't know. Be brief."
)


@dataclass(frozen=True)
class Turn:
    role: str  # user | assistant
    content: str


def build_messages(question: str, sources: Sequence[ScoredChunk], history: Sequence[Turn]) -> list[dict[str, str]]:
    """OpenAI-style messages: preamble, sources, earlier turns, then the question."""
    numbered = "\n\n".join(
        f"[{n}] {source.title}{' — ' + source.heading if source.heading else ''}\n{source.text}"
        for n, source in enumerate(sources, start=1)
    )
    messages = [{"role": "system", "content": f"{PREAMBLE}\n\nSources:\n{numbered}"}]
    messages.extend({"role": turn.role, "content": turn.content} for turn in history)
    messages.append({"role": "user", "content": question})
    return messages
