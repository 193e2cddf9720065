"""The LLM gateway against the real vLLM: cancellation, overload shedding, budgeting, a server dying mid-stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from services.api.metrics import CHAT_STAGES, chat_stage_totals
from services.core.db.models import AuditEvent, Conversation, Message, Principal
from services.core.db.session import session_scope
from services.core.llm.admission import parse_vllm_metrics
from services.server import create_app
from services.serving.counters import cache_block_size, read_counters
from tests.fixtures.documents import make_markdown
from tests.support.api import issue_key, upload, wait_settled
from tests.support.server import ServerThread
from tests.support.settings import ADMIN_KEY, auth, make_settings

pytestmark = pytest.mark.slow

HANDBOOK = make_markdown(
    "Office handbook",
    [
        ("Parking", "The parking garage opens at 6:30 every weekday. Visitors park on level minus two."),
        ("Holidays", "Every employee gets 27 days of paid holiday per year. Unused days expire in March."),
    ],
)
QUESTION = "When does the parking garage open?"


def vllm_load(vllm_base_url: str) -> dict[str, float]:
    root = vllm_base_url.removesuffix("/v1")
    return parse_vllm_metrics(httpx.get(f"{root}/metrics", timeout=5).text)


def generated_tokens(vllm_base_url: str) -> float:
    """vLLM's own running total of generated tokens."""
    text = httpx.get(vllm_base_url.removesuffix("/v1") + "/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "vllm:generation_tokens_total":
                return sample.value
    raise AssertionError("vLLM exposes no generation token counter")


def model_answered(body: dict[str, Any]) -> bool:
    """The model wrote the answer's sentences (kept as written, or shown checked beside quotes from the sources)."""
    return bool(body["sentences"]) and body["mode"] in ("generated", "extractive") and body["grounding"]["checked"] > 0


def wait_until_idle(vllm_base_url: str, timeout_s: float) -> float:
    """Seconds until vLLM runs and queues nothing; fails after `timeout_s`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        load = vllm_load(vllm_base_url)
        if load["vllm:num_requests_running"] == 0 and load["vllm:num_requests_waiting"] == 0:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"vLLM still busy after {timeout_s}s: {vllm_load(vllm_base_url)}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, vllm_base_url: str) -> Iterator[ServerThread]:
    """The API under real uvicorn, in chat style so the base model rambles on: long generations to cut short."""
    settings = make_settings(
        tmp_path_factory.mktemp("gateway"),
        llm_base_url=vllm_base_url,
        llm_prompt_style="chat",
        llm_max_tokens=1500,
        grounding_action="off",  # token-level streaming: grounding would hold tokens back a sentence at a time
    )
    app = create_app(settings)
    with ServerThread(app) as server:
        client = TestClient(app)  # shares the running app's state; only used to seed data and keys
        document = upload(client, ADMIN_KEY, "handbook.md", HANDBOOK)
        assert wait_settled(client, ADMIN_KEY, document.json()["id"])["status"] == "ready"
        yield server


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, vllm_base_url: str) -> Iterator[TestClient]:
    """The API with short answers and a hair-trigger load threshold: any running request means saturated."""
    settings = make_settings(
        tmp_path_factory.mktemp("guarded"),
        llm_base_url=vllm_base_url,
        llm_max_tokens=64,
        llm_load_poll_interval_s=0.2,
        llm_shed_waiting_requests=1000,
        llm_shed_kv_cache_usage=0.0001,
    )
    with TestClient(create_app(settings)) as client:
        document = upload(client, ADMIN_KEY, "handbook.md", HANDBOOK)
        assert wait_settled(client, ADMIN_KEY, document.json()["id"])["status"] == "ready"
        yield client


def test_closing_a_stream_aborts_the_request_in_vllm(served: ServerThread, vllm_base_url: str) -> None:
    wait_until_idle(vllm_base_url, 60)
    tokens_before = generated_tokens(vllm_base_url)
    tokens = 0
    with (
        httpx.Client(timeout=120) as client,
        client.stream(
            "POST", f"{served.url}/v1/chat", json={"question": QUESTION, "stream": True}, headers=auth(ADMIN_KEY)
        ) as response,
    ):
        for line in response.iter_lines():
            if line.startswith("event: token"):
                tokens += 1
                if tokens == 5:
                    assert vllm_load(vllm_base_url)["vllm:num_requests_running"] == 1
                    break
    # Uncut, this answer runs to all 1,500 tokens (over a minute here); a freed slot shows within seconds.
    assert wait_until_idle(vllm_base_url, 15) < 15
    time.sleep(2)
    # Left alone, the answer would have run to 1,500 tokens; vLLM stopped generating far short of that.
    assert generated_tokens(vllm_base_url) - tokens_before < 300


def test_a_non_streaming_client_that_gives_up_frees_vllm(served: ServerThread, vllm_base_url: str) -> None:
    wait_until_idle(vllm_base_url, 60)
    tokens_before = generated_tokens(vllm_base_url)
    with pytest.raises(httpx.ReadTimeout), httpx.Client(timeout=httpx.Timeout(120, read=3)) as client:
        client.post(f"{served.url}/v1/chat", json={"question": QUESTION}, headers=auth(ADMIN_KEY))
    assert wait_until_idle(vllm_base_url, 15) < 15
    time.sleep(2)
    # Left alone, the answer would have run to 1,500 tokens; vLLM stopped generating far short of that.
    assert generated_tokens(vllm_base_url) - tokens_before < 300


async def _flood(vllm_base_url: str, count: int, max_tokens: int) -> list[Any]:
    client = openai.AsyncOpenAI(base_url=vllm_base_url, api_key="EMPTY", max_retries=0)
    try:
        return await asyncio.gather(
            *(
                client.chat.completions.create(
                    model="steward-gemma",
                    messages=[{"role": "user", "content": f"Write a very long story number {n}."}],
                    max_tokens=max_tokens,
                    extra_body={"ignore_eos": True},
                )
                for n in range(count)
            )
        )
    finally:
        await client.close()


def test_saturated_vllm_sheds_batch_with_429_while_interactive_succeeds(
    guarded: TestClient, vllm_base_url: str
) -> None:
    wait_until_idle(vllm_base_url, 60)
    client = guarded
    app_key = issue_key(client, "nightly-report", "app", ["everyone"])
    user_key = issue_key(client, "pat", "user", ["everyone"])
    loop = asyncio.new_event_loop()
    flood = loop.create_task(_flood(vllm_base_url, 4, 300))
    try:
        loop.run_until_complete(asyncio.sleep(1.5))  # the flood is running and the monitor has seen it
        with contextlib.nullcontext(client) as http:
            shed = http.post("/v1/chat", json={"question": QUESTION}, headers=auth(app_key))
            assert shed.status_code == 429, shed.text
            assert shed.json()["error"]["code"] == "overloaded"
            assert int(shed.headers["Retry-After"]) > 0
            explicit = http.post("/v1/chat", json={"question": QUESTION, "priority": "batch"}, headers=auth(user_key))
            assert explicit.status_code == 429
            interactive = http.post("/v1/chat", json={"question": QUESTION}, headers=auth(user_key))
            assert interactive.status_code == 200, interactive.text
            assert model_answered(interactive.json())
            metrics = http.get("/metrics").text
        assert 'steward_llm_shed_requests_total{priority="batch"}' in metrics
    finally:
        loop.run_until_complete(flood)
        loop.close()


def test_a_chat_reports_the_time_of_each_stage(guarded: TestClient, vllm_base_url: str) -> None:
    wait_until_idle(vllm_base_url, 60)
    key = issue_key(guarded, "timed", "user", ["everyone"])
    before = chat_stage_totals(guarded.get("/metrics").text)
    started = time.perf_counter()
    response = guarded.post("/v1/chat", json={"question": QUESTION}, headers=auth(key))
    elapsed = time.perf_counter() - started
    assert response.status_code == 200 and model_answered(response.json())
    after = chat_stage_totals(guarded.get("/metrics").text)
    spent = {}
    for stage in CHAT_STAGES:
        seconds, count = before[stage]
        assert after[stage][1] - count == 1, stage  # one chat, counted once in every stage
        spent[stage] = after[stage][0] - seconds
    # The model generated tokens (time in vLLM), and the stages never add up to more than the request took.
    assert spent["model"] > 0
    assert sum(spent.values()) <= elapsed


def test_oversized_history_is_trimmed_and_never_rejected_by_vllm(guarded: TestClient, vllm_base_url: str) -> None:
    client = guarded
    key = issue_key(client, "chatty", "user", ["everyone"])
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with session_scope(runtime.sessions) as session:
        principal = session.scalars(select(Principal).where(Principal.name == "chatty")).one()
        conversation = Conversation(principal_id=principal.id)
        session.add(conversation)
        session.flush()
        conversation_id = conversation.id
        for n in range(6):  # ~6 x 2,000 tokens: three times the 4,096-token context
            role = "user" if n % 2 == 0 else "assistant"
            text = f"turn {n} " + "blah " * 2000
            # model_content: the turn as the model saw it, which follow-ups replay.
            session.add(Message(conversation_id=conversation_id, role=role, content=text, model_content=text))
    # Control: the same history sent straight to vLLM is rejected for length.
    with pytest.raises(openai.BadRequestError):
        openai.OpenAI(base_url=vllm_base_url, api_key="EMPTY", max_retries=0).chat.completions.create(
            model="steward-gemma",
            messages=[{"role": "user" if n % 2 == 0 else "assistant", "content": "blah " * 2000} for n in range(6)],
            max_tokens=16,
        )
    with contextlib.nullcontext(client) as http:
        response = http.post(
            "/v1/chat",
            json={"question": "And the holidays?", "conversation_id": conversation_id, "stream": False},
            headers=auth(key),
        )
    assert response.status_code == 200, response.text
    assert model_answered(response.json())
    with session_scope(runtime.sessions) as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.principal_id == principal.id, AuditEvent.action == "policy.retrieval")
        ).one()
        # Counted in exchanges (a question and its answer): each of the three alone overflows the context.
        assert event.details["history_turns_dropped"] == 3
        assert event.details["prompt_tokens"] <= 4096 - 64
        assert event.details["prompt_version"]


def test_a_follow_up_reuses_the_whole_first_turn_from_vllms_prefix_cache(tmp_path: Path, vllm_base_url: str) -> None:
    """The prompt only grows: a follow-up starts with the first turn's prompt and answer, token for token, so
    vLLM computes only the new question (its own counters say how many prompt tokens it found cached)."""
    settings = make_settings(tmp_path, llm_base_url=vllm_base_url, rewrite_mode="concat")  # no rewrite request
    # Long enough that the first prompt spans several cache blocks beyond the shared preamble.
    handbook = make_markdown(
        "Long office handbook",
        [
            ("Parking", "The parking garage opens at 6:30 every weekday. Visitors park on level minus two."),
            ("Holidays", "Every employee gets 27 days of paid holiday per year. Unused days expire in March."),
            *[
                (
                    f"Floor {n}",
                    f"Floor {n} holds meeting rooms {n}01 to {n}09, a kitchen and a quiet room. "
                    f"The rooms on floor {n} are booked through the intranet calendar, at most four hours at a time.",
                )
                for n in range(1, 13)
            ],
        ],
    )
    block = cache_block_size(vllm_base_url)
    with TestClient(create_app(settings)) as client:
        document = upload(client, ADMIN_KEY, "handbook.md", handbook)
        assert wait_settled(client, ADMIN_KEY, document.json()["id"])["status"] == "ready"
        wait_until_idle(vllm_base_url, 60)
        before = read_counters(vllm_base_url)
        first = client.post("/v1/chat", json={"question": QUESTION}, headers=auth(ADMIN_KEY))
        assert first.status_code == 200 and model_answered(first.json()), first.text
        middle = read_counters(vllm_base_url)
        follow_up = {
            "question": "And how many holiday days do employees get?",
            "conversation_id": first.json()["conversation_id"],
        }
        second = client.post("/v1/chat", json=follow_up, headers=auth(ADMIN_KEY))
        assert second.status_code == 200 and model_answered(second.json()), second.text
        after = read_counters(vllm_base_url)
    opening, follow = middle - before, after - middle
    assert opening.requests == follow.requests == 1
    assert opening.prompt_tokens >= 2 * block, (opening, block)  # or the check below could not tell layouts apart
    # The cache serves whole blocks: all of the first prompt up to its last full block, at least (the earlier
    # layout, with the turn's sources in the system message, shared only the preamble).
    assert follow.prefix_cache_hits >= (opening.prompt_tokens // block) * block, (opening, follow, block)


def test_vllm_killed_mid_stream_ends_the_stream_with_an_error_event(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A second, private vLLM server, killed while it streams: the client gets an error event, not a hang."""
    from services.core.settings import default_cache_dir
    from services.serving.build import build_servable_model
    from services.serving.server import VLLMServer, free_port

    workdir = tmp_path_factory.mktemp("doomed")
    server = VLLMServer(
        build_servable_model(default_cache_dir()),
        port=free_port(),
        cache_dir=default_cache_dir(),
        kv_cache_gib=1,
        log_path=workdir / "vllm.log",
    )
    with server:
        settings = make_settings(
            workdir / "data",
            llm_base_url=server.base_url,
            llm_prompt_style="chat",
            llm_max_tokens=1500,
            llm_first_token_timeout_s=20,
            grounding_action="off",  # token-level streaming (grounding emits whole checked sentences)
        )
        app = create_app(settings)
        with TestClient(app) as client:
            document = upload(client, ADMIN_KEY, "handbook.md", HANDBOOK)
            wait_settled(client, ADMIN_KEY, document.json()["id"])
            events: list[str] = []
            started = time.monotonic()
            with client.stream(
                "POST", "/v1/chat", json={"question": QUESTION, "stream": True}, headers=auth(ADMIN_KEY)
            ) as response:
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        events.append(line.removeprefix("event:").strip())
                        if events.count("token") == 3:
                            assert server.pid is not None
                            os.killpg(server.pid, signal.SIGKILL)
                    elif line.startswith("data:") and events[-1] == "error":
                        error = json.loads(line.removeprefix("data:"))["error"]
            assert events[-1] == "error" and "done" not in events
            assert error["code"] == "llm_unavailable"
            assert time.monotonic() - started < 60
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["llm"] == "down"
