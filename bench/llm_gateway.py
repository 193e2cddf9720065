"""What Steward costs on top of vLLM, measured side by side in one run with the very same prompts.

Starts vLLM (embedded CPU profile), a recording pass-through in front of it (bench/recording_proxy.py) and
`steward serve` pointed at the pass-through, then ingests the eval corpus. Every fresh question is asked once
through Steward (this also warms vLLM's prefix cache for both sides); the pass-through records the exact request
Steward sent to vLLM, and the baseline replays that request straight to vLLM through the same pass-through.

Prints one `name=value` per line:
- for 1, 8 and 16 concurrent streaming chats: `direct_tok_s_cN` and `steward_tok_s_cN`, aggregate generated tokens
  per second (vLLM's own counter over the wall time of the batch), and `throughput_ratio_N` = steward / direct;
- `steward_{plan,model,check,record}_ms_cN`: mean time a chat spent in each stage at that concurrency (Steward's
  `steward_chat_stage_seconds`); only `model` keeps it in vLLM's batch;
- `batching_gain_8` = direct tokens/s at 8 ÷ at 1 (what continuous batching gives), and Steward's own;
- `ttft_direct_p50_ms`, `ttft_steward_p50_ms` and `ttft_overhead_p50_ms` (1 user, first token event);
- `prefix_cache_hit_rate_{fresh,followup}_{stable,naive}`: share of prompt tokens vLLM served from its prefix
  cache, from its counters, for the first turn and the follow-up turn of the eval set's conversations. `stable`
  replays Steward's recorded requests; `naive` sends the same content in the earlier layout (the turn's sources in
  the system message, history after them: services/core/llm/prompt.naive_prompt). The cache is emptied before each.

    python bench/llm_gateway.py [--questions 32] [--rounds 2] [--profile] [--block-size N]

`--block-size` overrides the serving profile's KV-cache block (the prefix cache's unit of reuse) for an A/B run;
`cache_block_size` prints the one vLLM used.

`--profile` samples Steward's process with py-spy during one more batch of 8 concurrent chats, after the
measured ones (sampling costs CPU, so it stays out of the figures), and prints where its time went (to stderr;
the collapsed stacks stay in the run's directory for a flame graph).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import EVAL, ROOT
from bench.cpu import tree_cpu_seconds
from bench.sse import stream_chat
from services.api.metrics import CHAT_STAGES, chat_stage_totals
from services.core.llm.prompt import PREAMBLE
from services.serving.counters import TokenCounters, read_counters
from tests.support.processes import ChildProcess, free_port, wait_for_port

ADMIN_KEY = "stw_bench_admin_key_8d2e5b1f9c4a7e0b3d6f"
CONCURRENCY = (1, 8, 16)


def emit(name: str, value: float | int) -> None:
    print(f"{name}={value:.3f}" if isinstance(value, float) else f"{name}={value}", flush=True)


@dataclass(frozen=True)
class Conversation:
    opening: str
    follow_up: str


def eval_questions(limit: int) -> tuple[list[str], list[Conversation]]:
    """Answerable single questions, and the eval set's two-turn conversations."""
    fresh: list[str] = []
    conversations: list[Conversation] = []
    for line in (EVAL / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if not item.get("answerable"):
            continue
        history = item.get("history") or []
        if history:
            conversations.append(Conversation(history[0]["content"], item["question"]))
        elif len(fresh) < limit:
            fresh.append(item["question"])
    return fresh, conversations


# ------------------------------------------------------------------------------------------------ set-up


def ingest_corpus(url: str) -> int:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    files = sorted(p for p in (EVAL / "corpus").rglob("*") if p.is_file())
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        ids = []
        for path in files:
            response = client.post(
                "/v1/documents",
                files={"file": (path.name, path.read_bytes())},
                data={"groups": "everyone", "source": str(path.relative_to(EVAL / "corpus"))},
            )
            response.raise_for_status()
            ids.append(response.json()["id"])
        pending = set(ids)
        while pending:
            for document_id in list(pending):
                status = client.get(f"/v1/documents/{document_id}").json()["status"]
                if status in ("ready", "failed"):
                    pending.discard(document_id)
            time.sleep(0.2)
    return len(files)


def recorded_answers(record: Path) -> list[dict[str, Any]]:
    """The answer requests Steward sent (not its follow-up rewrites), oldest first."""
    bodies = []
    for line in record.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        messages = entry["body"].get("messages") or []
        if entry["path"].endswith("/chat/completions") and messages and messages[0]["content"].startswith(PREAMBLE):
            bodies.append(entry["body"])
    return bodies


def question_of(body: dict[str, Any]) -> str:
    """The question of an answer request: its last user message ends with "Question: <q>"."""
    user = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    return str(user.rpartition("Question: ")[2])


# ------------------------------------------------------------------------------------------------ timing


@dataclass
class Batch:
    seconds: float
    ttfts: list[float]
    counters: TokenCounters
    steward_cpu_s: float

    @property
    def tokens_per_s(self) -> float:
        return self.counters.generation_tokens / self.seconds


async def stream_direct(client: httpx.AsyncClient, body: dict[str, Any]) -> float:
    """Replays one recorded request; seconds to the first content delta."""
    started = time.perf_counter()
    first = 0.0
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not first and line.startswith("data:") and line != "data: [DONE]":
                choices = json.loads(line.removeprefix("data:")).get("choices") or []
                if choices and (choices[0].get("delta") or {}).get("content", "").strip():
                    first = time.perf_counter() - started
    return first


async def stream_steward(client: httpx.AsyncClient, question: str) -> float:
    """One streamed chat; seconds to the first token event that carries text."""
    return (await stream_chat(client, {"question": question}))[1]


@dataclass(frozen=True)
class Target:
    """Where the batches go: vLLM's URL for its counters, Steward's process for its CPU time and, when
    `profile` is set, where py-spy writes the samples of Steward's 8-chat batch (collapsed stacks)."""

    llm: str
    steward_pid: int
    profile: Path | None = None


@contextlib.contextmanager
def sampled(pid: int, output: Path | None) -> Iterator[None]:
    """py-spy sampling `pid` (all threads, native frames off) for the duration of the block."""
    if output is None:
        yield
        return
    spy = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("py-spy")),
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--rate",
            "200",
            "--nonblocking",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)  # attached before the batch starts
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)


def summarise_profile(path: Path, top: int = 25) -> None:
    """Where Steward's samples went, by function (self and inclusive share), to stderr."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        samples = int(count)
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    print(f"# profile: {total} samples in {path}", file=sys.stderr)
    for frame, samples in own.most_common(top):
        print(f"#   self {samples / total:6.1%}  incl {inclusive[frame] / total:6.1%}  {frame}", file=sys.stderr)
    steward = [(f, n) for f, n in inclusive.most_common() if "(services/" in f or "(ingestion/" in f]
    print("# Steward's own functions by inclusive share:", file=sys.stderr)
    for frame, samples in steward[:top]:
        print(f"#   incl {samples / total:6.1%}  {frame}", file=sys.stderr)


def stage_totals(steward_url: str) -> dict[str, tuple[float, float]]:
    """Steward's `steward_chat_stage_seconds`: stage -> (seconds summed, chats counted) so far."""
    return chat_stage_totals(httpx.get(f"{steward_url}/metrics", timeout=30).text)


async def run_batch(
    concurrency: int, jobs: Sequence[Any], one: Any, client: httpx.AsyncClient, target: Target
) -> Batch:
    limit = asyncio.Semaphore(concurrency)

    async def guarded(job: Any) -> float:
        async with limit:
            return float(await one(client, job))

    before, cpu_before = read_counters(target.llm), tree_cpu_seconds(target.steward_pid)
    started = time.perf_counter()
    ttfts = list(await asyncio.gather(*(guarded(job) for job in jobs)))
    seconds = time.perf_counter() - started
    return Batch(seconds, ttfts, read_counters(target.llm) - before, tree_cpu_seconds(target.steward_pid) - cpu_before)


async def throughput(
    steward_url: str, proxy_url: str, target: Target, bodies: dict[str, dict[str, Any]], rounds: int
) -> None:
    questions = list(bodies)
    direct_rate: dict[int, float] = {}
    steward_rate: dict[int, float] = {}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with (
        httpx.AsyncClient(base_url=proxy_url, timeout=600, limits=limits) as direct,
        httpx.AsyncClient(
            base_url=steward_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=600, limits=limits
        ) as steward,
    ):
        for concurrency in CONCURRENCY:
            count = max(len(questions), concurrency * rounds)
            jobs = [questions[n % len(questions)] for n in range(count)]
            # Alternate the order per level so neither side always runs on a machine warmed by the other.
            sides = [("direct", direct), ("steward", steward)]
            if concurrency == 8:
                sides.reverse()
            batches: dict[str, Batch] = {}
            for side, client in sides:
                if side == "direct":
                    work = [bodies[q] for q in jobs]
                    batches[side] = await run_batch(concurrency, work, stream_direct, client, target)
                else:
                    stages_before = stage_totals(steward_url)
                    batches[side] = await run_batch(concurrency, jobs, stream_steward, client, target)
                    stages_after = stage_totals(steward_url)
                    # Mean time per chat in each stage: only `model` keeps a chat in vLLM's batch, so the others
                    # are what the throughput ratio loses at this concurrency.
                    for stage in CHAT_STAGES:
                        seconds = stages_after[stage][0] - stages_before[stage][0]
                        chats = stages_after[stage][1] - stages_before[stage][1]
                        emit(f"steward_{stage}_ms_c{concurrency}", seconds * 1000 / chats if chats else 0.0)
            direct_rate[concurrency] = batches["direct"].tokens_per_s
            steward_rate[concurrency] = batches["steward"].tokens_per_s
            emit(f"direct_tok_s_c{concurrency}", direct_rate[concurrency])
            emit(f"steward_tok_s_c{concurrency}", steward_rate[concurrency])
            emit(f"direct_generated_tokens_c{concurrency}", int(batches["direct"].counters.generation_tokens))
            emit(f"steward_generated_tokens_c{concurrency}", int(batches["steward"].counters.generation_tokens))
            emit(f"throughput_ratio_{concurrency}", steward_rate[concurrency] / direct_rate[concurrency])
            # Steward's own CPU per chat (the API process: retrieval, screening, grounding, audit), and at rest
            # during the direct batch (background loops), on the same cores vLLM decodes on.
            emit(f"steward_cpu_ms_per_chat_c{concurrency}", batches["steward"].steward_cpu_s * 1000 / len(jobs))
            emit(f"steward_idle_cpu_share_c{concurrency}", batches["direct"].steward_cpu_s / batches["direct"].seconds)
            if concurrency == 1:
                direct_ttft = statistics.median(batches["direct"].ttfts) * 1000
                steward_ttft = statistics.median(batches["steward"].ttfts) * 1000
                emit("ttft_direct_p50_ms", direct_ttft)
                emit("ttft_steward_p50_ms", steward_ttft)
                emit("ttft_overhead_p50_ms", steward_ttft - direct_ttft)
        if target.profile is not None:
            # One more 8-chat batch under py-spy, after the measured ones: sampling costs CPU, so it is kept out
            # of every figure above.
            jobs = [questions[n % len(questions)] for n in range(max(len(questions), 8 * rounds))]
            with sampled(target.steward_pid, target.profile):
                await run_batch(8, jobs, stream_steward, steward, target)
            summarise_profile(target.profile)
    emit("batching_gain_8", direct_rate[8] / direct_rate[1])
    emit("steward_batching_gain_8", steward_rate[8] / steward_rate[1])


# ------------------------------------------------------------------------------------------------ prefix cache


def naive_body(body: dict[str, Any]) -> dict[str, Any]:
    """The same request in the earlier layout: the turn's sources in the system message (those found for the
    question being asked first, then all the conversation quoted before), then the history as plain text, then
    the question."""
    messages = body["messages"]
    system, *turns = messages
    primer = turns.pop() if turns and turns[-1]["role"] == "assistant" and body.get("continue_final_message") else None
    sources: list[str] = []
    history: list[dict[str, str]] = []
    for message in turns:
        if message["role"] == "user":
            block, _, question = message["content"].rpartition("Question: ")
            if block.strip():
                sources.append(block.strip().removeprefix("Sources:\n"))
            history.append({"role": "user", "content": question})
        else:
            history.append({"role": "assistant", "content": message["content"].removeprefix("Answer:").strip()})
    last = history.pop()
    # As the earlier layout ranked them: the sources found for the question being asked lead, so the follow-up's
    # new passages come first and those quoted in earlier turns after them.
    system_text = system["content"] + "\n\nSources:\n" + "\n\n".join(reversed(sources))
    naive = [
        {"role": "system", "content": system_text},
        *history,
        {"role": "user", "content": f"Question: {last['content']}"},
    ]
    if primer is not None:
        naive.append(primer)
    return {**body, "messages": naive}


def reset_prefix_cache(llm: str) -> None:
    response = httpx.post(llm.removesuffix("/v1") + "/reset_prefix_cache", timeout=30)
    response.raise_for_status()


def replay_conversations(
    proxy_url: str, llm: str, turns: list[tuple[dict[str, Any], dict[str, Any]]]
) -> dict[str, TokenCounters]:
    """Sends each conversation's two turns in order, one request at a time; counters per turn kind."""
    totals = {"fresh": TokenCounters(), "followup": TokenCounters()}
    with httpx.Client(base_url=proxy_url, timeout=600) as client:
        for pair in turns:
            for kind, body in zip(("fresh", "followup"), pair, strict=True):
                before = read_counters(llm)
                client.post("/v1/chat/completions", json=body).raise_for_status()
                delta = read_counters(llm) - before
                totals[kind] += delta
    return totals


def prefix_cache(steward_url: str, proxy_url: str, llm: str, record: Path, conversations: list[Conversation]) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    start = len(recorded_answers(record))
    with httpx.Client(base_url=steward_url, headers=headers, timeout=600) as client:
        for conversation in conversations:
            first = client.post("/v1/chat", json={"question": conversation.opening})
            first.raise_for_status()
            client.post(
                "/v1/chat",
                json={"question": conversation.follow_up, "conversation_id": first.json()["conversation_id"]},
            ).raise_for_status()
    answers = recorded_answers(record)[start:]
    turns = [(answers[n], answers[n + 1]) for n in range(0, len(answers) - 1, 2)]
    emit("conversations", len(turns))
    for layout, pairs in (("stable", turns), ("naive", [(naive_body(a), naive_body(b)) for a, b in turns])):
        reset_prefix_cache(llm)
        for kind, counters in replay_conversations(proxy_url, llm, pairs).items():
            emit(f"prefix_cache_hit_rate_{kind}_{layout}", counters.prefix_cache_hit_rate)
            emit(f"prompt_tokens_{kind}_{layout}", int(counters.prompt_tokens))


# ------------------------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=32, help="distinct fresh questions")
    parser.add_argument("--rounds", type=int, default=2, help="each level sends at least rounds x concurrency chats")
    parser.add_argument("--profile", action="store_true", help="sample Steward with py-spy during the 8-chat batch")
    parser.add_argument("--block-size", type=int, help="KV-cache block size in tokens (default: the profile's)")
    args = parser.parse_args()

    from services.core.settings import default_cache_dir
    from services.serving.build import build_servable_model
    from services.serving.counters import cache_block_size
    from services.serving.profiles import DEFAULT_PROFILE, get_profile
    from services.serving.server import VLLMServer

    workdir = Path(tempfile.mkdtemp(prefix="steward-bench-gateway-"))
    cache_dir = default_cache_dir()
    os.environ["VLLM_SERVER_DEV_MODE"] = "1"  # for /reset_prefix_cache between the layouts
    profile = get_profile(DEFAULT_PROFILE)
    if args.block_size is not None:
        profile = dataclasses.replace(profile, block_size=args.block_size)
    llm = VLLMServer(
        build_servable_model(cache_dir),
        port=free_port(),
        cache_dir=cache_dir,
        log_path=workdir / "vllm.log",
        profile=profile,
    )
    proxy_port, port = free_port(), free_port()
    record = workdir / "requests.jsonl"
    fresh, conversations = eval_questions(args.questions)
    with llm:
        emit("cache_block_size", cache_block_size(llm.base_url))
        proxy = ChildProcess(
            [
                sys.executable,
                str(ROOT / "bench" / "recording_proxy.py"),
                "--listen",
                str(proxy_port),
                "--upstream",
                f"127.0.0.1:{llm.port}",
                "--record",
                str(record),
            ],
            dict(os.environ),
            workdir / "proxy.log",
        )
        proxy_url = f"http://127.0.0.1:{proxy_port}"
        env = {
            **os.environ,
            "STEWARD_DATA_DIR": str(workdir / "data"),
            "STEWARD_ADMIN_API_KEY": ADMIN_KEY,
            "STEWARD_LLM_MANAGE_SERVER": "false",
            "STEWARD_LLM_BASE_URL": f"{proxy_url}/v1",
            "STEWARD_PORT": str(port),
            # Greedy decoding: Steward and the replayed baseline then generate the very same answers.
            "STEWARD_LLM_TEMPERATURE": "0",
        }
        server = ChildProcess([str(Path(sys.executable).parent / "steward"), "serve"], env, workdir / "serve.log")
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_port(proxy_port)
            server.wait_http(f"{url}/healthz", timeout_s=180)
            emit("documents", ingest_corpus(url))
            # One pass through Steward: records each question's request and warms the prefix cache for both sides.
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=600) as client:
                for question in fresh:
                    client.post("/v1/chat", json={"question": question}).raise_for_status()
            bodies = {question_of(body): body for body in recorded_answers(record)}
            bodies = {q: bodies[q] for q in fresh if q in bodies}
            emit("questions", len(bodies))
            target = Target(
                llm.base_url, server.process.pid, workdir / "steward-c8.collapsed" if args.profile else None
            )
            asyncio.run(throughput(url, proxy_url, target, bodies, args.rounds))
            prefix_cache(url, proxy_url, llm.base_url, record, conversations)
        finally:
            server.stop()
            proxy.stop()
    print(f"# data and logs: {workdir}", file=sys.stderr)


if __name__ == "__main__":
    main()
