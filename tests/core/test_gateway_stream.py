"""The gateway's reading of vLLM's stream, against a stand-in that fails on request (tests/support/stand_in_llm.py).

The real vLLM is in tests/e2e/test_llm_gateway.py (cancellation, a killed server, the prefix cache); these are
the failures it will not produce on demand: a rejected request, an error status, a stall before or after the
first token, a dropped connection, an error or a broken chunk inside the stream.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from services.core.errors import LLMRejected, LLMUnavailable
from services.core.llm.gateway import LLMGateway, TokenUsage
from services.core.llm.prompt import Prompt
from tests.support.settings import make_settings
from tests.support.stand_in_llm import Reply, StandInLLM, answer, sse

PROMPT = Prompt([{"role": "user", "content": "When does the garage open?"}])


def gateway(tmp_path: Path, base_url: str, **overrides: Any) -> LLMGateway:
    settings = make_settings(tmp_path, llm_base_url=base_url, llm_api_key="vllm-key", llm_model="stand-in", **overrides)
    return LLMGateway(settings)


async def read(llm: LLMGateway, prompt: Prompt = PROMPT, usage: TokenUsage | None = None) -> list[str]:
    try:
        return [delta async for delta in llm.stream(prompt, usage)]
    finally:
        await llm.close()


async def test_deltas_arrive_in_order_with_vllm_s_token_counts_and_the_request_vllm_expects(tmp_path: Path) -> None:
    async with StandInLLM(lambda _: Reply(events=answer(["  The", " garage", " opens", " at 6:30."]))) as llm:
        usage = TokenUsage()
        primed = Prompt(
            [{"role": "user", "content": "q"}, {"role": "assistant", "content": "The"}],
            continue_final_message=True,
            min_tokens=2,
            stop=["\n\nQuestion:"],
        )
        deltas = await read(gateway(tmp_path, llm.base_url), primed, usage)
    assert deltas == ["The", " garage", " opens", " at 6:30."]  # the answer's leading whitespace goes
    assert (usage.prompt_tokens, usage.completion_tokens) == (100, 4)
    sent = llm.requests[0]
    assert sent["model"] == "stand-in" and sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["messages"] == primed.messages and sent["stop"] == ["\n\nQuestion:"]
    assert (sent["continue_final_message"], sent["add_generation_prompt"], sent["min_tokens"]) == (True, False, 2)
    assert llm.headers[0]["authorization"] == "Bearer vllm-key"


async def test_a_request_vllm_rejects_is_rejected_with_vllm_s_reason(tmp_path: Path) -> None:
    body = b'{"object": "error", "message": "This model\'s maximum context length is 2048 tokens", "code": 400}'
    async with StandInLLM(lambda _: Reply(status=400, events=[body])) as llm:
        with pytest.raises(LLMRejected) as raised:
            await read(gateway(tmp_path, llm.base_url))
    assert "maximum context length is 2048 tokens" in raised.value.message


async def test_an_error_status_is_unavailable_and_counts_against_the_breaker(tmp_path: Path) -> None:
    async with StandInLLM(lambda _: Reply(status=503, events=[b'{"error": "overloaded"}'])) as llm:
        client = gateway(tmp_path, llm.base_url, llm_breaker_failure_threshold=1)
        with pytest.raises(LLMUnavailable) as raised:
            await read(client)
    assert raised.value.kind == "http_503"
    assert client.breaker.state == "open"


async def test_an_unreachable_server_is_retried_then_unavailable(tmp_path: Path) -> None:
    client = gateway(tmp_path, make_settings(tmp_path).llm_base_url, llm_connect_retries=1)  # a closed port
    with pytest.raises(LLMUnavailable) as raised:
        await read(client)
    assert raised.value.kind == "connect"


async def test_a_stall_before_the_first_token_ends_at_the_first_token_limit(tmp_path: Path) -> None:
    async with StandInLLM(lambda _: Reply(events=answer(["late"]), stall_at=0, stall_s=5)) as llm:
        with pytest.raises(LLMUnavailable) as raised:
            await read(gateway(tmp_path, llm.base_url, llm_first_token_timeout_s=0.3))
    assert raised.value.kind == "first_token_timeout"


async def test_a_stall_after_the_first_token_ends_at_the_total_limit(tmp_path: Path) -> None:
    seen: list[str] = []
    async with StandInLLM(lambda _: Reply(events=answer(["The", " garage"]), stall_at=1, stall_s=5)) as llm:
        client = gateway(tmp_path, llm.base_url, llm_total_timeout_s=0.5)
        with pytest.raises(LLMUnavailable) as raised:
            async for delta in client.stream(PROMPT):
                seen.append(delta)
        await client.close()
    assert raised.value.kind == "total_timeout" and seen == ["The"]


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        (Reply(events=answer(["The", " garage", " opens"]), drop_at=2), "stopped mid-answer"),
        (Reply(events=[sse("The"), sse(error={"message": "engine died", "code": 500})]), "engine died"),
        (Reply(events=[sse("The"), b"data: {not json\n\n"]), "not JSON"),
        (Reply(events=[sse("The"), b"data: [1, 2]\n\n"]), "not an object"),
    ],
    ids=["dropped", "error-event", "not-json", "not-an-object"],
)
async def test_a_stream_broken_mid_answer_says_so_after_the_tokens_before_it(
    tmp_path: Path, broken: Reply, reason: str
) -> None:
    seen: list[str] = []
    async with StandInLLM(lambda _: broken) as llm:
        client = gateway(tmp_path, llm.base_url)
        with pytest.raises(LLMUnavailable) as raised:
            async for delta in client.stream(PROMPT):
                seen.append(delta)
        await client.close()
    assert raised.value.kind == "stream_broken" and reason in raised.value.message
    assert seen[0] == "The"


async def test_leaving_a_stream_early_closes_the_connection_so_vllm_can_abort(tmp_path: Path) -> None:
    long_answer = answer([f" word{i}" for i in range(2000)])
    async with StandInLLM(lambda _: Reply(events=long_answer, stall_at=50, stall_s=0.2)) as llm:
        client = gateway(tmp_path, llm.base_url)
        stream = client.stream(PROMPT)
        assert [await anext(stream) for _ in range(3)] == ["word0", " word1", " word2"]
        await stream.aclose()  # type: ignore[attr-defined]
        await asyncio.wait_for(llm.disconnected.wait(), timeout=10)
        await client.close()
