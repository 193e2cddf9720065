"""A stand-in for vLLM's streaming chat endpoint, for what the real server will not do on request: fail with a
chosen status, stall, drop the connection or send a broken chunk mid-answer, or stream as fast as a socket can.

It speaks HTTP/1.1 on a local port from an asyncio server in the caller's event loop. Each request gets the
`Reply` that `reply(body)` returns; the request bodies and the headers are kept for the test to read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def sse(
    content: str | None = None, *, usage: dict[str, int] | None = None, error: dict[str, Any] | None = None
) -> bytes:
    """One `data:` event as vLLM writes it: a content delta, the usage chunk, or an error."""
    body: dict[str, Any]
    if error is not None:
        body = {"error": error}
    else:
        body = {
            "id": "chatcmpl-stand-in",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "stand-in",
            "choices": [] if content is None else [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
        }
        if usage is not None:
            body["usage"] = usage
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def answer(pieces: list[str], prompt_tokens: int = 100) -> list[bytes]:
    """A whole streamed answer: its deltas, the usage chunk, [DONE]."""
    written = len(pieces)
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": written, "total_tokens": prompt_tokens + written}
    return [*(sse(p) for p in pieces), sse(usage=usage), b"data: [DONE]\n\n"]


@dataclass
class Reply:
    status: int = 200
    events: list[bytes] = field(default_factory=list)  # the streamed body, one write each (or the error body)
    stall_at: int | None = None  # before writing this event, wait `stall_s`
    stall_s: float = 0.0
    drop_at: int | None = None  # before writing this event, close the connection


class StandInLLM:
    def __init__(self, reply: Callable[[dict[str, Any]], Reply]) -> None:
        self._reply = reply
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.disconnected = asyncio.Event()  # a client closed a stream before its end
        self._server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def __aenter__(self) -> StandInLLM:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def serve_forever(self) -> None:
        async with self:
            assert self._server is not None
            await self._server.serve_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                fields = (line.partition(":") for line in head[1:] if line)
                headers = {name.strip().lower(): value.strip() for name, _, value in fields}
                body = json.loads(await reader.readexactly(int(headers.get("content-length", "0"))) or b"{}")
                self.requests.append(body)
                self.headers.append(headers)
                if not await self._answer(self._reply(body), writer):
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _answer(self, reply: Reply, writer: asyncio.StreamWriter) -> bool:
        """Writes the reply; False when the connection is done with (dropped, or the client left)."""
        if reply.status != 200:
            payload = b"".join(reply.events)
            writer.write(
                b"HTTP/1.1 %d Error\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                % (reply.status, len(payload), payload)
            )
            await writer.drain()
            return True
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        try:
            for index, event in enumerate(reply.events):
                if index == reply.drop_at:
                    return False
                if index == reply.stall_at:
                    await asyncio.sleep(reply.stall_s)
                writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except ConnectionError:
            self.disconnected.set()
            return False
        return True
