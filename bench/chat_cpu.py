"""Steward's own CPU a chat, process by process, with a stand-in for vLLM: a minute instead of bench/llm_gateway.py's
fifteen, and no model competing for the cores, so a change to the chat path can be weighed quickly.

Starts `steward serve` (the embedded profile's settings, encoder replicas in processes of their own) pointed at a
stand-in for vLLM (tests/support/stand_in_llm.py) in this process, ingests the eval corpus, asks the eval set's
fresh questions once to warm up, then `--chats` more at `--concurrency` and reads the CPU each of Steward's processes
spent meanwhile (/proc). The stand-in answers like the embedded model does on the eval set: three answers in four
state a number no source holds (the check fails them and the answer becomes extractive), the fourth quotes the
best source's first line (the check passes it).

Prints (name=value): `steward_cpu_ms_per_chat` (all of Steward's processes), `api_cpu_ms_per_chat` (the API
process: HTTP, retrieval, policy, audit, the stream), `encoder_cpu_ms_per_chat` (its child processes, the encoder
replicas: the query, the grounding check, the extractive quotes), `wall_s`, and `{plan,model,check,record}_ms_per_chat`
(`steward_chat_stage_seconds`: where a chat's time went; with the stand-in answering at once, the encoder
replicas are the bottleneck here, so `plan` shows how long a question waits for its embedding).

    python bench/chat_cpu.py [--chats 96] [--concurrency 8] [--profile PATH] [--ingest-during]

`--ingest-during` uploads a fresh copy of the eval corpus while the measured chats run (an admin's upload during
office hours): the ingestion worker's passes then share the encoder replicas with the chats, and `plan` shows
what a question waits for them. The CPU figures then include that ingestion.

`--profile` samples the API process with py-spy (threads holding the GIL: its CPU, not its waiting) into PATH
(collapsed stacks). To weigh a change against the code before it in one sitting, run it again with
`--code DIR`, a worktree of the older commit (`git worktree add /tmp/old REV`): Steward then runs from there.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import EVAL, ROOT
from bench.cpu import children, cpu_seconds, descendants
from bench.llm_gateway import ADMIN_KEY, emit, eval_questions, ingest_corpus, stage_totals
from bench.sse import stream_chat
from tests.support.processes import ChildProcess, free_port
from tests.support.stand_in_llm import Reply, StandInLLM, answer

_FIRST_LINE = re.compile(r"\[1\][^\n]*\n([^\n]{40,})")


class Answers:
    """What the stand-in says: the embedded model's mix on the eval set, answer by answer."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, body: dict[str, Any]) -> Reply:
        if "messages" not in body:  # vLLM's /metrics, polled by the admission monitor: not served here
            return Reply(status=404, events=[b"{}"])
        self.count += 1
        user = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
        line = _FIRST_LINE.search(user)
        if self.count % 4 == 0 and line:
            text = line.group(1)[:160] + " [1]"
        else:
            question = user.rpartition("Question: ")[2].strip().rstrip("?")
            text = f"The answer to {question} is 37 days from the request. You should ask the office."
        return Reply(events=answer(re.findall(r"\S+\s*", text)))


def serve_stand_in(answers: Answers, started: threading.Event, url: list[str]) -> None:
    async def run() -> None:
        async with StandInLLM(answers) as llm:
            url.append(llm.base_url)
            started.set()
            await asyncio.Event().wait()

    asyncio.run(run())


def fresh_spelling(question: str, n: int) -> str:
    """`question` with the case of its first letters flipped by the bits of `n`: the encoder (uncased) and BM25
    (lowercased) see the same question, so retrieval and answers are unchanged, but Steward's memo of recent query
    embeddings (Embedder.embed_query) does not know it. Without this the measured chats, which repeat the
    warm-up's questions, would skip the question's embedding that every real question pays."""
    letters = [i for i, c in enumerate(question) if c.isalpha()][:12]
    chars = list(question)
    for bit, i in enumerate(letters):
        if n >> bit & 1:
            chars[i] = chars[i].swapcase()
    return "".join(chars)


async def ask(url: str, questions: list[str], chats: int, concurrency: int, *, fresh: bool = False) -> None:
    limit = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=600) as client:

        async def one(question: str) -> None:
            async with limit:
                await stream_chat(client, {"question": question})

        asked = [questions[n % len(questions)] for n in range(chats)]
        if fresh:  # every chat a spelling not asked before (the warm-up asked round 0's)
            asked = [fresh_spelling(q, 1 + n // len(questions)) for n, q in enumerate(asked)]
        await asyncio.gather(*(one(question) for question in asked))


def upload_copies(url: str, stop: threading.Event) -> None:
    """Uploads the corpus again, each file changed by a line so it is ingested anew, until told to stop."""
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    files = sorted(p for p in (EVAL / "corpus").rglob("*") if p.is_file() and p.suffix in (".md", ".txt"))
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        for n, path in enumerate(files):
            if stop.is_set():
                return
            content = path.read_bytes() + f"\n\nCopy {n} for the bench.\n".encode()
            client.post(
                "/v1/documents",
                files={"file": (f"copy-{n}-{path.name}", content)},
                data={"groups": "everyone", "source": f"copy/{n}/{path.name}"},
            ).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", type=int, default=96)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--profile", type=Path, help="py-spy's samples of the API process, collapsed, to this file")
    parser.add_argument("--ingest-during", action="store_true", help="upload a copy of the corpus during the chats")
    parser.add_argument("--code", type=Path, help="run Steward from this checkout (a worktree of another commit)")
    args = parser.parse_args()

    answers, started = Answers(), threading.Event()
    stand_in: list[str] = []
    threading.Thread(target=serve_stand_in, args=(answers, started, stand_in), daemon=True).start()
    started.wait(30)
    workdir = Path(tempfile.mkdtemp(prefix="steward-bench-chat-cpu-"))
    port = free_port()
    env = {
        **os.environ,
        "STEWARD_DATA_DIR": str(workdir / "data"),
        "STEWARD_ADMIN_API_KEY": ADMIN_KEY,
        "STEWARD_LLM_MANAGE_SERVER": "false",
        "STEWARD_LLM_BASE_URL": stand_in[0],
        "STEWARD_PORT": str(port),
    }
    code = args.code or ROOT
    env["PYTHONPATH"] = str(code)
    serve = "import sys; from services.cli.main import cli; sys.argv = ['steward', 'serve']; cli()"
    server = ChildProcess([sys.executable, "-c", serve], env, workdir / "serve.log", cwd=code)
    url = f"http://127.0.0.1:{port}"
    try:
        server.wait_http(f"{url}/healthz", timeout_s=180)
        began, cpu_began = time.perf_counter(), cpu_seconds([server.process.pid, *descendants(server.process.pid)])
        emit("documents", ingest_corpus(url))
        # What ingesting the corpus cost (wall, and the CPU of every Steward process): sentence vectors are made here.
        emit("ingest_s", time.perf_counter() - began)
        emit("ingest_cpu_s", cpu_seconds([server.process.pid, *descendants(server.process.pid)]) - cpu_began)
        questions, _ = eval_questions(32)
        asyncio.run(ask(url, questions, len(questions), args.concurrency))  # warm-up: every question once
        api = server.process.pid
        replicas = children(api)
        before_api, before_replicas = cpu_seconds([api]), cpu_seconds(replicas)
        stages_before = stage_totals(url)
        spy = None
        if args.profile is not None:
            sampling = ["--gil", "--format", "raw", "--rate", "200", "--nonblocking", "--output", str(args.profile)]
            spy = subprocess.Popen(
                [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(api), *sampling],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1)
        stop_uploading = threading.Event()
        uploader = threading.Thread(target=upload_copies, args=(url, stop_uploading), daemon=True)
        if args.ingest_during:
            uploader.start()
        began = time.perf_counter()
        asyncio.run(ask(url, questions, args.chats, args.concurrency, fresh=True))
        wall = time.perf_counter() - began
        stop_uploading.set()
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        api_ms = (cpu_seconds([api]) - before_api) * 1000 / args.chats
        encoder_ms = (cpu_seconds(replicas) - before_replicas) * 1000 / args.chats
        emit("chats", args.chats)
        emit("api_cpu_ms_per_chat", api_ms)
        emit("encoder_cpu_ms_per_chat", encoder_ms)
        emit("steward_cpu_ms_per_chat", api_ms + encoder_ms)
        emit("wall_s", wall)
        for stage, (seconds, count) in sorted(stage_totals(url).items()):
            seconds_before, count_before = stages_before.get(stage, (0.0, 0.0))
            if count > count_before:
                emit(f"{stage}_ms_per_chat", (seconds - seconds_before) * 1000 / (count - count_before))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
