"""A TCP pass-through in front of vLLM that records the body of every HTTP request sent through it.

bench/llm_gateway.py puts it between Steward and vLLM to learn the exact requests Steward makes, then replays
them straight to vLLM as the baseline. The baseline goes through the same pass-through, so both sides pay its
(small) cost alike. Bytes are forwarded as they arrive; requests are parsed on the side from a copy.

    python bench/recording_proxy.py --listen 9001 --upstream 127.0.0.1:9000 --record requests.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import IO

BUFFER = 1 << 16


class RequestTap:
    """Splits a client's byte stream into HTTP/1.1 requests (Content-Length bodies) and records POST bodies."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._pending = b""

    def feed(self, data: bytes) -> None:
        self._pending += data
        while True:
            head_end = self._pending.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self._pending[:head_end].decode("latin-1").split("\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            end = head_end + 4 + length
            if len(self._pending) < end:
                return
            body = self._pending[head_end + 4 : end]
            self._pending = self._pending[end:]
            method, _, rest = head[0].partition(" ")
            if method == "POST":
                path = rest.partition(" ")[0]
                self._out.write(json.dumps({"path": path, "body": json.loads(body)}) + "\n")
                self._out.flush()


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tap: RequestTap | None) -> None:
    try:
        while data := await reader.read(BUFFER):
            writer.write(data)
            await writer.drain()
            if tap is not None:
                tap.feed(data)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def serve(listen: int, upstream: tuple[str, int], record: Path) -> None:
    out = record.open("a", encoding="utf-8")

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(*upstream)
        await asyncio.gather(
            pipe(client_reader, server_writer, RequestTap(out)), pipe(server_reader, client_writer, None)
        )

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="host:port of vLLM")
    parser.add_argument("--record", type=Path, required=True, help="JSON lines: one {path, body} per POST")
    args = parser.parse_args()
    host, _, port = args.upstream.rpartition(":")
    asyncio.run(serve(args.listen, (host, int(port)), args.record))


if __name__ == "__main__":
    main()
