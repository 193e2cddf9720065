"""The OpenAI-compatible endpoint with the model running, through the official SDK (sync, async, streaming) and
LangChain's ChatOpenAI, each changed only in base_url and key: answers hold the fact and cite its document."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI

from tests.support.settings import ADMIN_KEY, auth
from tests.support.stack import Served, steward_serve, vllm_running

pytestmark = pytest.mark.slow

DOCUMENTS = [
    ("parking.md", "Parking guide", "The Steward parking garage opens at 6:30 every weekday.", "everyone"),
    ("helpdesk.md", "IT helpdesk", "The IT helpdesk is reachable on extension 4357, Monday to Friday.", "everyone"),
]
PARKING = [{"role": "user", "content": "What time does the parking garage open?"}]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, vllm_base_url: str) -> Iterator[Served]:
    with steward_serve(tmp_path_factory.mktemp("openai"), vllm_base_url, DOCUMENTS, llm_temperature="0") as served:
        yield served


def markers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


def test_the_sync_sdk_gets_a_generated_answer_with_its_citations(served: Served) -> None:
    client = openai.OpenAI(base_url=f"{served.url}/v1", api_key=ADMIN_KEY, max_retries=0)
    completion = client.chat.completions.create(model="steward", messages=PARKING)  # type: ignore[arg-type]
    content = completion.choices[0].message.content or ""
    assert "6:30" in content
    steward = completion.model_extra["steward"]  # type: ignore[index]
    assert steward["mode"] == "generated"
    cited = {c["source"]: c["title"] for c in steward["citations"]}
    assert markers(content) <= set(cited) and "Parking guide" in cited.values()
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0


def test_the_sdk_streams_tokens_whose_markers_name_the_sources(served: Served) -> None:
    client = openai.OpenAI(base_url=f"{served.url}/v1", api_key=ADMIN_KEY, max_retries=0)
    stream = client.chat.completions.create(
        model="steward",
        messages=PARKING,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1  # token by token, not one block
    text = "".join(pieces)
    assert "6:30" in text
    final = [c for c in chunks if c.choices][-1]
    cited = {c["source"]: c["title"] for c in final.model_extra["steward"]["citations"]}  # type: ignore[index]
    assert markers(text) <= set(cited) and "Parking guide" in cited.values()
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_the_async_sdk_answers_and_streams(served: Served) -> None:
    async def run() -> tuple[str, str]:
        async with openai.AsyncOpenAI(base_url=f"{served.url}/v1", api_key=ADMIN_KEY, max_retries=0) as client:
            question = [{"role": "user", "content": "What is the extension of the IT helpdesk?"}]
            completion = await client.chat.completions.create(model="steward", messages=question)  # type: ignore[arg-type]
            stream = await client.chat.completions.create(model="steward", messages=question, stream=True)  # type: ignore[arg-type]
            streamed = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            return completion.choices[0].message.content or "", streamed

    answer, streamed = asyncio.run(run())
    assert "4357" in answer and "4357" in streamed


def test_langchain_chat_openai_works_unchanged(served: Served) -> None:
    model = ChatOpenAI(base_url=f"{served.url}/v1", api_key=ADMIN_KEY, model="steward", max_retries=0)  # type: ignore[arg-type]
    message = model.invoke("What time does the parking garage open?")
    assert "6:30" in str(message.content)
    streamed = "".join(str(chunk.content) for chunk in model.stream("What is the extension of the IT helpdesk?"))
    assert "4357" in streamed


def test_a_client_that_hangs_up_cancels_the_generation(served: Served) -> None:
    body = {
        "model": "steward",
        "stream": True,
        "messages": [{"role": "user", "content": "Tell me everything about the parking garage and the helpdesk."}],
    }
    client = httpx.Client(base_url=served.url, headers=auth(ADMIN_KEY), timeout=120)
    with client, client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if '"content": "' in line and '"content": ""' not in line:
                break  # the first token: hang up now
    deadline = time.monotonic() + 15
    while vllm_running(served.env) > 0 and time.monotonic() < deadline:
        time.sleep(0.25)
    assert vllm_running(served.env) == 0
