"""Reading the wire where the real server cannot easily be made to say it: SSE framing corner cases, a newer
server's unknown events and fields, Retry-After as a date, and error bodies that are not Steward's."""

from __future__ import annotations

import json
import time
from email.utils import formatdate

import httpx
import pytest

from services.client import DoneEvent, StewardClient, StewardError, TokenEvent, UnavailableError
from services.client.errors import parse_retry_after

DONE = (
    '{"conversation_id": "c1", "answer": "Hi.", "mode": "generated", "citations": [], "refused": false,'
    ' "answered_from_sources": true, "generated": true, "prompt_version": "v9", "mood": "cheerful"}'
)


def client_answering(status: int, body: str, headers: dict[str, str] | None = None) -> StewardClient:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer stw_key"
        return httpx.Response(status, text=body, headers=headers)

    return StewardClient(
        "http://steward.test", "stw_key", http_client=httpx.Client(transport=httpx.MockTransport(answer))
    )


def test_events_are_framed_by_blank_lines_whatever_comes_between() -> None:
    stream = (
        ": keep-alive\r\n\r\n"
        'event: token\r\ndata: {"text":\r\ndata:  "Hi."}\r\n\r\n'  # one payload over two data lines
        'event: thinking\ndata: {"what": "a newer server\'s event"}\n\n'
        f"event: done\ndata: {DONE}"  # the last event without its blank line
    )
    events = list(client_answering(200, stream).chat_stream("hello?"))
    assert [type(e) for e in events] == [TokenEvent, DoneEvent]
    assert isinstance(events[0], TokenEvent) and events[0].text == "Hi."
    assert isinstance(events[1], DoneEvent) and events[1].model_extra == {"mood": "cheerful"}  # kept, not refused


def test_an_error_event_ends_the_stream_with_its_typed_error() -> None:
    stream = (
        'event: token\ndata: {"text": "The"}\n\n'
        'event: error\ndata: {"error": {"code": "llm_unavailable", "message": "the model is down"}}\n\n'
        'event: token\ndata: {"text": "never"}\n\n'
    )
    received = []
    with pytest.raises(UnavailableError) as raised:
        for event in client_answering(200, stream).chat_stream("hello?"):
            received.append(event)
    assert [e.text for e in received if isinstance(e, TokenEvent)] == ["The"]  # nothing after the error
    assert str(raised.value) == "the model is down (llm_unavailable, HTTP 503)" and raised.value.streamed


def test_an_error_body_that_is_not_stewards_is_still_a_typed_error() -> None:
    with pytest.raises(StewardError) as raised:
        client_answering(502, "<html>Bad gateway</html>").search("x")
    assert (raised.value.status, raised.value.code) == (502, "http_error") and "Bad gateway" in raised.value.message


def test_retry_after_is_read_as_seconds_or_as_a_date() -> None:
    with pytest.raises(UnavailableError) as raised:
        client_answering(503, '{"error": {"code": "llm_unavailable", "message": "down"}}', {"Retry-After": "7"}).chat(
            "x"
        )
    assert raised.value.retry_after == 7.0
    in_a_minute = parse_retry_after(formatdate(time.time() + 60, usegmt=True))
    assert in_a_minute is not None and 55 < in_a_minute <= 60
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_chat_options_reach_the_wire_and_a_misspelt_one_is_refused_before_sending() -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, text=DONE)

    client = StewardClient(
        "http://steward.test", "stw_key", http_client=httpx.Client(transport=httpx.MockTransport(answer))
    )
    client.chat("hello?", conversation_id="c1", top_k=3, filters={"tags": ["hr"]}, priority="batch")
    assert json.loads(sent[0].content) == {
        "question": "hello?",
        "stream": False,
        "conversation_id": "c1",
        "priority": "batch",
        "top_k": 3,
        "filters": {"tags": ["hr"]},
    }
    with pytest.raises(TypeError, match="topk"):
        client.chat("hello?", topk=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="topk"):
        next(iter(client.chat_stream("hello?", topk=3)))  # type: ignore[call-arg]
    assert len(sent) == 1  # nothing was sent for the misspelt ones
