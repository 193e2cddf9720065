"""Reading Steward's chat stream the way a user sees it, shared by the benchmarks that time it."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx


async def stream_chat(client: httpx.AsyncClient, body: dict[str, Any]) -> tuple[float, float]:
    """One streamed `/v1/chat`: (seconds to the end, seconds to the first token event that shows text)."""
    started = time.perf_counter()
    first = 0.0
    async with client.stream("POST", "/v1/chat", json={**body, "stream": True}) as response:
        response.raise_for_status()
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
                if event == "error":
                    raise RuntimeError("chat stream failed")
            elif (
                event == "token"
                and not first
                and line.startswith("data:")
                and json.loads(line.removeprefix("data:"))["text"].strip()
            ):
                first = time.perf_counter() - started
    return time.perf_counter() - started, first
