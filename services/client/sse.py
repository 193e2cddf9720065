"""Server-sent events of a chat stream, parsed line by line as they arrive into typed `ChatEvent`s."""

from __future__ import annotations

import json
import logging

from pydantic import TypeAdapter, ValidationError

from services.client.errors import StewardError, error_from_event
from services.client.models import ChatEvent, ErrorEvent

log = logging.getLogger(__name__)

_EVENTS: TypeAdapter[ChatEvent] = TypeAdapter(ChatEvent)
_KNOWN = {"meta", "token", "sentence", "done", "error"}


class EventAssembler:
    """Feed it the stream's lines; it hands back each event once its blank line arrives (the SSE framing)."""

    def __init__(self) -> None:
        self._name = "message"
        self._data: list[str] = []

    def feed(self, line: str) -> ChatEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):  # a comment, e.g. a keep-alive
            return None
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            self._name = value
        elif field == "data":
            self._data.append(value)
        return None

    def finish(self) -> ChatEvent | None:
        """The last event, when the stream ended without its blank line."""
        return self._dispatch()

    def _dispatch(self) -> ChatEvent | None:
        name, data = self._name, "\n".join(self._data)
        self._name, self._data = "message", []
        if not data:
            return None
        if name not in _KNOWN:  # an event a newer server added: an older client reads past it
            log.debug("skipping unknown chat stream event %r", name)
            return None
        try:
            payload = json.loads(data)
            return _EVENTS.validate_python({**payload, "event": name})
        except (ValueError, TypeError, ValidationError) as exc:
            raise StewardError(502, "bad_stream", f"unreadable {name!r} event in the chat stream: {exc}") from exc


def raise_if_error(event: ChatEvent) -> ChatEvent:
    """The event, unless it is the stream's error: then the typed error it carries is raised."""
    if isinstance(event, ErrorEvent):
        raise error_from_event(event.error.code, event.error.message)
    return event
