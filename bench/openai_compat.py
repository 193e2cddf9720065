"""The OpenAI-compatible endpoint, measured: how many official-SDK and LangChain cases pass against a live
server, and what the OpenAI shape costs over Steward's own `/v1/chat`.

Starts its own vLLM and `steward serve` (embedded profile). Prints `openai_sdk_cases_passed`,
`openai_sdk_cases_total` (a failing case is named on stderr), `completions_overhead_ms` (p50 of the
`/v1/chat/completions` latency minus the `/v1/chat` latency for the same question, non-streaming, the two
alternating so neither always meets a warmer cache) and both p50s as the baseline; the same again with
`not_found_` for questions no document covers, where no model time blurs the difference.

    python bench/openai_compat.py [--pairs 12]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import httpx
import openai

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langchain_openai import ChatOpenAI

from tests.support.processes import free_port
from tests.support.settings import ADMIN_KEY, auth
from tests.support.stack import steward_serve

DOCUMENTS = [
    ("parking.md", "Parking guide", "The parking garage opens at 6:30 every weekday.", "everyone"),
    ("helpdesk.md", "IT helpdesk", "The IT helpdesk is reachable on extension 4357, Monday to Friday.", "everyone"),
    ("canteen.md", "Canteen", "The canteen serves lunch from 11:45 until 14:00.", "everyone"),
]
QUESTIONS = [
    ("What time does the parking garage open?", "6:30"),
    ("What is the extension of the IT helpdesk?", "4357"),
    ("When does the canteen serve lunch?", "11:45"),
]


UNCOVERED = ["Who won the 1930 football world cup?", "What is the boiling point of tungsten?"]


def emit(name: str, value: float | int) -> None:
    print(f"{name}={value:.3f}" if isinstance(value, float) else f"{name}={value}", flush=True)


def cases(url: str) -> dict[str, Callable[[], None]]:
    """Each case uses a client exactly as its documentation shows, changing only base_url and the key."""
    base = f"{url}/v1"
    sync = openai.OpenAI(base_url=base, api_key=ADMIN_KEY, max_retries=0)
    question, fact = QUESTIONS[0]
    messages = [{"role": "user", "content": question}]

    def expect(error: type[Exception], call: Callable[[], object]) -> None:
        try:
            call()
        except error:
            return
        raise AssertionError(f"expected {error.__name__}")

    def create() -> None:
        answer = sync.chat.completions.create(model="steward", messages=messages)  # type: ignore[arg-type]
        assert fact in (answer.choices[0].message.content or "")
        assert answer.usage and answer.usage.prompt_tokens > 0

    def stream() -> None:
        chunks = list(sync.chat.completions.create(model="steward", messages=messages, stream=True))  # type: ignore[arg-type]
        assert fact in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    def stream_usage() -> None:
        chunks = list(
            sync.chat.completions.create(
                model="steward",
                messages=messages,  # type: ignore[arg-type]
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0

    def raw_response() -> None:
        raw = sync.chat.completions.with_raw_response.create(model="steward", messages=messages)  # type: ignore[arg-type]
        assert raw.headers["content-type"].startswith("application/json")
        assert fact in (raw.parse().choices[0].message.content or "")

    def follow_up() -> None:
        turns = [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Tell me about the IT helpdesk."},
            {"role": "assistant", "content": "The IT helpdesk helps with computers [1]."},
            {"role": "user", "content": "What is its phone extension?"},
        ]
        answer = sync.chat.completions.create(model="steward", messages=turns)  # type: ignore[arg-type]
        assert "4357" in (answer.choices[0].message.content or "")

    def sampling_accepted() -> None:
        answer = sync.chat.completions.create(
            model="steward",
            messages=messages,  # type: ignore[arg-type]
            temperature=0.2,
            max_tokens=64,
            top_p=0.9,
            user="bench",
            seed=7,
        )
        assert answer.choices[0].message.content

    def async_create_and_stream() -> None:
        async def run() -> None:
            async with openai.AsyncOpenAI(base_url=base, api_key=ADMIN_KEY, max_retries=0) as client:
                answer = await client.chat.completions.create(model="steward", messages=messages)  # type: ignore[arg-type]
                assert fact in (answer.choices[0].message.content or "")
                chunks = await client.chat.completions.create(model="steward", messages=messages, stream=True)  # type: ignore[arg-type]
                assert fact in "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])

        asyncio.run(run())

    langchain = ChatOpenAI(base_url=base, api_key=ADMIN_KEY, model="steward", max_retries=0)  # type: ignore[arg-type]

    def models_list() -> None:
        assert "steward" in [m.id for m in sync.models.list()]

    def models_retrieve() -> None:
        assert sync.models.retrieve("steward").id == "steward"

    def langchain_invoke() -> None:
        assert fact in str(langchain.invoke(question).content)

    def langchain_stream() -> None:
        assert fact in "".join(str(chunk.content) for chunk in langchain.stream(question))

    def langchain_batch() -> None:
        answers = langchain.batch([q for q, _ in QUESTIONS])
        assert all(f in str(m.content) for m, (_, f) in zip(answers, QUESTIONS, strict=True))

    def tools_refused() -> None:
        tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
        expect(
            openai.BadRequestError,
            lambda: sync.chat.completions.create(model="steward", messages=messages, tools=[tool]),  # type: ignore[arg-type, list-item]
        )

    return {
        "models.list": models_list,
        "models.retrieve": models_retrieve,
        "models.retrieve unknown is NotFoundError": lambda: expect(
            openai.NotFoundError, lambda: sync.models.retrieve("gpt-4o")
        ),
        "chat.completions.create": create,
        "chat.completions.create stream": stream,
        "stream_options.include_usage": stream_usage,
        "with_raw_response": raw_response,
        "system message and history": follow_up,
        "sampling parameters accepted": sampling_accepted,
        "AsyncOpenAI create and stream": async_create_and_stream,
        "bad key is AuthenticationError": lambda: expect(
            openai.AuthenticationError,
            lambda: openai.OpenAI(base_url=base, api_key="stw_wrong", max_retries=0).models.list(),
        ),
        "tools refused with BadRequestError": tools_refused,
        "n=2 refused with BadRequestError": lambda: expect(
            openai.BadRequestError,
            lambda: sync.chat.completions.create(model="steward", messages=messages, n=2),  # type: ignore[arg-type]
        ),
        "unknown model is NotFoundError": lambda: expect(
            openai.NotFoundError,
            lambda: sync.chat.completions.create(model="gpt-4o", messages=messages),  # type: ignore[arg-type]
        ),
        "langchain ChatOpenAI invoke": langchain_invoke,
        "langchain ChatOpenAI stream": langchain_stream,
        "langchain ChatOpenAI batch": langchain_batch,
    }


def timed(call: Callable[[], httpx.Response]) -> float:
    started = time.perf_counter()
    call().raise_for_status()
    return (time.perf_counter() - started) * 1000


def overhead(url: str, pairs: int, questions: list[str], prefix: str) -> None:
    with httpx.Client(base_url=url, headers=auth(ADMIN_KEY), timeout=300) as client:

        def native(question: str) -> float:
            return timed(lambda: client.post("/v1/chat", json={"question": question}))

        def compatible(question: str) -> float:
            body = {"model": "steward", "messages": [{"role": "user", "content": question}]}
            return timed(lambda: client.post("/v1/chat/completions", json=body))

        for question in questions:  # warm vLLM's prefix cache for every question on both paths
            native(question)
            compatible(question)
        chat, completions, differences = [], [], []
        for n in range(pairs):
            question = questions[n % len(questions)]
            if n % 2:
                b = compatible(question)
                a = native(question)
            else:
                a = native(question)
                b = compatible(question)
            chat.append(a)
            completions.append(b)
            differences.append(b - a)
    emit(f"{prefix}chat_p50_ms", statistics.median(chat))
    emit(f"{prefix}completions_p50_ms", statistics.median(completions))
    emit(f"{prefix}completions_overhead_ms", statistics.median(differences))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=24)
    parser.add_argument("--skip-cases", action="store_true", help="only the overhead figures")
    args = parser.parse_args()

    from services.core.settings import default_cache_dir
    from services.serving.build import build_servable_model
    from services.serving.server import VLLMServer

    workdir = Path(tempfile.mkdtemp(prefix="steward-bench-openai-"))
    cache_dir = default_cache_dir()
    model = build_servable_model(cache_dir)
    with (
        VLLMServer(model, port=free_port(), cache_dir=cache_dir, log_path=workdir / "vllm.log") as llm,
        steward_serve(workdir, llm.base_url, DOCUMENTS, llm_temperature="0") as served,
    ):
        if not args.skip_cases:
            passed = 0
            all_cases = cases(served.url)
            for name, case in all_cases.items():
                try:
                    case()
                    passed += 1
                except Exception:  # a failing case is reported, not fatal: the count is the figure
                    print(f"FAILED {name}:\n{traceback.format_exc()}", file=sys.stderr)
            emit("openai_sdk_cases_passed", passed)
            emit("openai_sdk_cases_total", len(all_cases))
        overhead(served.url, args.pairs, [q for q, _ in QUESTIONS], "")
        # Questions nothing covers: the same two routes with no model time in them, so what the OpenAI shape
        # itself costs is not lost in the model's own variation.
        overhead(served.url, args.pairs * 2, UNCOVERED, "not_found_")


if __name__ == "__main__":
    main()
