"""What a chat answer is made of, as it happens: typed events yielded once by the pipeline.

Every view of an answer reads these same events: the SSE stream serialises each one, the JSON answer is
their collection (`collect`), redaction maps them, and the CLI and the widget render them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar

from services.api.chat.schemas import ChatResponse, Citation, SentenceOut
from services.core.errors import StewardError


@dataclass(frozen=True)
class Meta:
    """First: the conversation and the sources the model was given, under the numbers the prompt gave them (the
    raw tokens cite these numbers; `sentence` events and `done` renumber them by first use)."""

    name: ClassVar[str] = "meta"
    conversation_id: str
    sources: list[Citation]

    def payload(self) -> dict[str, Any]:
        return {"conversation_id": self.conversation_id, "sources": [c.model_dump() for c in self.sources]}


@dataclass(frozen=True)
class Token:
    """A piece of the answer text, to be appended to what came before (with grounding `annotate`, the model's
    raw text as it is generated; with `hold`, whole checked sentences)."""

    name: ClassVar[str] = "token"
    text: str

    def payload(self) -> dict[str, Any]:
        return {"text": self.text}


@dataclass(frozen=True)
class SentenceChecked:
    """The grounding verdict on one finished sentence of a generated answer: clients mark or strike an
    unsupported one, and show `text`, whose citation markers are in the answer's numbering."""

    name: ClassVar[str] = "sentence"
    sentence: SentenceOut

    def payload(self) -> dict[str, Any]:
        return self.sentence.model_dump()


@dataclass(frozen=True)
class Done:
    """Last, on success: the whole answer as the JSON endpoint returns it."""

    name: ClassVar[str] = "done"
    response: ChatResponse

    def payload(self) -> dict[str, Any]:
        return self.response.model_dump()


@dataclass(frozen=True)
class Failed:
    """Last, on failure: the error a JSON request would have raised."""

    name: ClassVar[str] = "error"
    error: StewardError

    def payload(self) -> dict[str, Any]:
        return {"error": {"code": self.error.code, "message": self.error.message}}


ChatEvent = Meta | Token | SentenceChecked | Done | Failed


async def collect(events: AsyncIterator[ChatEvent]) -> ChatResponse:
    """The JSON answer: the stream run to its end. A failure is raised as the error it carries."""
    async for event in events:
        if isinstance(event, Done):
            return event.response
        if isinstance(event, Failed):
            raise event.error
    raise RuntimeError("the chat stream ended without a done or error event")
