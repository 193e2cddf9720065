"""LangChain messages in, a Steward question out; a Steward answer in, LangChain message parts out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.messages.ai import UsageMetadata

from services.client import ChatAnswer, HistoryTurn

# The server's bounds on history (services/api/fields.py): only the latest turns matter for a follow-up anyway.
MAX_TURNS = 20
MAX_TURN_CHARS = 8000


@dataclass(frozen=True)
class Question:
    text: str
    history: list[HistoryTurn]


def question_of(messages: Sequence[BaseMessage]) -> Question:
    """The last human message is the question; the human and AI messages before it are the history (the latest
    20, each cut to 8000 characters). System messages are dropped: Steward's own prompt, governed by its
    policies, is the only system prompt. So are tool messages and anything after the question."""
    last = max((i for i, message in enumerate(messages) if isinstance(message, HumanMessage)), default=None)
    if last is None:
        raise ValueError("Steward answers a question: give at least one human message")
    text = messages[last].text.strip()
    if not text:
        raise ValueError("the last human message has no text (Steward reads text only)")
    history = [
        HistoryTurn(role="user" if isinstance(message, HumanMessage) else "assistant", content=turn[:MAX_TURN_CHARS])
        for message in messages[:last]
        if isinstance(message, HumanMessage | AIMessage) and (turn := message.text.strip())
    ]
    return Question(text, history[-MAX_TURNS:])


def answer_metadata(answer: ChatAnswer, model_name: str) -> dict[str, Any]:
    """What a chain needs beside the text: the citations (numbered as the answer's [n] markers), the sentence
    verdicts, the answer mode, and the ids to continue the conversation or rate the answer."""
    return {
        "model_name": model_name,
        "mode": answer.mode,
        "conversation_id": answer.conversation_id,
        "message_id": answer.message_id,
        "citations": [citation.model_dump(mode="json") for citation in answer.citations],
        "sentences": [sentence.model_dump(mode="json") for sentence in answer.sentences],
        "refused": answer.refused,
        "generated": answer.generated,
    }


def usage_of(answer: ChatAnswer) -> UsageMetadata | None:
    """Token counts, when the server gave both (0 when no model ran: a refusal, "I don't know")."""
    usage = answer.usage
    if usage is None or usage.prompt_tokens is None or usage.completion_tokens is None:
        return None
    return UsageMetadata(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.prompt_tokens + usage.completion_tokens,
    )
