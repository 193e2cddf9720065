"""Steward's CPU per streamed token on the way from vLLM to the caller, against the least any client pays.

On the embedded profile Steward's own CPU competes with vLLM for the same cores (docs/llm-gateway.md), and the
profile of a chat batch put most of it in the event loop: reading vLLM's stream and writing the caller's. This
bench isolates the reading side. A stand-in for vLLM in a process of its own streams OpenAI-style chunks as fast
as it can (no model: what is measured is the client); in this process, in the same run and with the same
streams at the same concurrency:

- `raw_cpu_us_per_token`: the baseline, httpx reading the stream's lines and decoding each chunk's JSON;
- `gateway_cpu_us_per_token`: `LLMGateway.stream`, deadlines, metrics and all;
- `openai_client_cpu_us_per_token`: the openai package's client, which the gateway used until 2026-12-06;
- `gateway_vs_raw_cpu_ratio`, `openai_client_vs_raw_cpu_ratio`: how many times the baseline's CPU each spends a
  token.

    python bench/gateway_stream.py [--tokens 200] [--streams 64] [--concurrency 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import openai

from services.core.llm.gateway import LLMGateway
from services.core.llm.prompt import Prompt
from services.core.settings import Settings
from tests.support.stand_in_llm import Reply, StandInLLM, answer

WORDS = ("the", " travel", " desk", " books", " flights", " two", " weeks", " ahead", ".", " Meals")


def _serve(port_out: Any, tokens: int) -> None:
    """The stand-in for vLLM, in a process of its own: one answer of `tokens` deltas to every request."""
    events = answer([WORDS[i % len(WORDS)] for i in range(tokens)])

    async def main() -> None:
        stand_in = StandInLLM(lambda _: Reply(events=events))
        async with stand_in:
            port_out.send(stand_in.base_url)
            await asyncio.Event().wait()

    asyncio.run(main())


async def _fan_out(one: Callable[[], Awaitable[int]], streams: int, concurrency: int) -> int:
    """`streams` runs of `one`, `concurrency` at a time; the content deltas they received, summed."""
    limit = asyncio.Semaphore(concurrency)

    async def limited() -> int:
        async with limit:
            return await one()

    return sum(await asyncio.gather(*(limited() for _ in range(streams))))


async def _raw(url: str, streams: int, concurrency: int) -> int:
    """The baseline: the same requests, the stream's lines read and each chunk's JSON decoded; nothing else."""
    async with httpx.AsyncClient(timeout=30) as client:

        async def one() -> int:
            received = 0
            async with client.stream("POST", url, json={"model": "bench", "stream": True}) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: ") and line != "data: [DONE]":
                        chunk = json.loads(line[6:])
                        received += bool(chunk["choices"] and chunk["choices"][0]["delta"].get("content"))
            return received

        return await _fan_out(one, streams, concurrency)


async def _openai(url: str, streams: int, concurrency: int) -> int:
    """The client the gateway used before (the openai package), read the way it read it."""
    async with openai.AsyncOpenAI(base_url=url, api_key="EMPTY", max_retries=0) as client:

        async def one() -> int:
            received = 0
            stream = await client.chat.completions.create(
                model="bench", messages=[{"role": "user", "content": "?"}], stream=True
            )
            iterator = stream.__aiter__()
            while True:
                try:
                    chunk = await asyncio.wait_for(iterator.__anext__(), timeout=30)
                except StopAsyncIteration:
                    return received
                received += bool(chunk.choices and chunk.choices[0].delta.content)

        return await _fan_out(one, streams, concurrency)


async def _gateway(gateway: LLMGateway, streams: int, concurrency: int) -> int:
    prompt = Prompt([{"role": "user", "content": "How far ahead are flights booked?"}])

    async def one() -> int:
        return len([delta async for delta in gateway.stream(prompt)])

    return await _fan_out(one, streams, concurrency)


def _cpu_us_per_token(run: Any) -> float:
    started = time.process_time()
    tokens = asyncio.run(run())
    return (time.process_time() - started) * 1e6 / tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=200, help="tokens a stream")
    parser.add_argument("--streams", type=int, default=64, help="streams a measurement")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="alternating measurements; the medians are printed")
    args = parser.parse_args()

    receive, send = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(send, args.tokens), daemon=True)
    server.start()
    base = receive.recv()
    settings = Settings(llm_base_url=base, llm_model="bench")  # type: ignore[call-arg]

    async def gateway_run() -> int:
        gateway = LLMGateway(settings)
        try:
            return await _gateway(gateway, args.streams, args.concurrency)
        finally:
            await gateway.close()

    async def raw_run() -> int:
        return await _raw(base + "/chat/completions", args.streams, args.concurrency)

    async def openai_run() -> int:
        return await _openai(base, args.streams, args.concurrency)

    raw, through, before = [], [], []
    try:
        asyncio.run(raw_run())  # warm both paths (imports, connections) before measuring
        asyncio.run(gateway_run())
        asyncio.run(openai_run())
        for _ in range(args.rounds):
            raw.append(_cpu_us_per_token(raw_run))
            through.append(_cpu_us_per_token(gateway_run))
            before.append(_cpu_us_per_token(openai_run))
    finally:
        server.terminate()
    raw_us, gateway_us, openai_us = (sorted(v)[len(v) // 2] for v in (raw, through, before))
    print(f"tokens_per_stream={args.tokens}")
    print(f"streams={args.streams}")
    print(f"concurrency={args.concurrency}")
    print(f"raw_cpu_us_per_token={raw_us:.1f}")
    print(f"gateway_cpu_us_per_token={gateway_us:.1f}")
    print(f"openai_client_cpu_us_per_token={openai_us:.1f}")
    print(f"gateway_vs_raw_cpu_ratio={gateway_us / raw_us:.2f}")
    print(f"openai_client_vs_raw_cpu_ratio={openai_us / raw_us:.2f}")


if __name__ == "__main__":
    main()
