"""End-to-end benchmark of the embedded stack: ingestion throughput, chat latency and time to first token.

Starts its own vLLM server and `steward serve` (embedded profile) in a throwaway data dir, then prints one
`name=value` per line. Baselines measured in the same run make the figures comparable on a noisy machine:
`embed_only_50_docs_s` (the embedder alone on the same chunks) and `vllm_direct_p50_ms_c1` (the same prompt sent
straight to vLLM, skipping Steward).

    python bench/e2e.py [--docs 50] [--requests 8] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.sse import stream_chat
from tests.fixtures.documents import make_docx, make_html, make_markdown, make_pdf
from tests.support.processes import ChildProcess, free_port

ADMIN_KEY = "stw_bench_admin_key_8d2e5b1f9c4a7e0b3d6f"
TOPICS = ["parking", "travel", "holidays", "expenses", "security", "canteen", "laptops", "onboarding", "payroll"]
QUESTIONS = [
    "What are the rules for parking?",
    "How do I book travel?",
    "How many holidays do I get?",
    "How are expenses reimbursed?",
    "Who do I call about a security incident?",
    "When is the canteen open?",
    "How do I get a new laptop?",
    "What happens on my first day?",
]


def corpus(count: int) -> list[tuple[str, bytes]]:
    """`count` documents in four formats, each a few paragraphs about one office topic."""
    files = []
    for n in range(count):
        topic = TOPICS[n % len(TOPICS)]
        sections = [
            (
                f"{topic.title()} rule {k}",
                f"Policy {n}.{k} on {topic}: " + f"Employees follow the {topic} procedure "
                f"number {k} described by the office handbook, version {n}. " * 6,
            )
            for k in range(4)
        ]
        kind = n % 4
        if kind == 0:
            files.append((f"{topic}-{n}.md", make_markdown(f"{topic} handbook {n}", sections)))
        elif kind == 1:
            files.append((f"{topic}-{n}.html", make_html(f"{topic} handbook {n}", sections)))
        elif kind == 2:
            files.append((f"{topic}-{n}.docx", make_docx(f"{topic} handbook {n}", sections)))
        else:
            files.append((f"{topic}-{n}.pdf", make_pdf([f"{h}. {t}" for h, t in sections], title=f"{topic} {n}")))
    return files


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def emit(name: str, value: float) -> None:
    print(f"{name}={value:.3f}" if isinstance(value, float) else f"{name}={value}", flush=True)


def bench_ingest(url: str, files: list[tuple[str, bytes]]) -> float:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        started = time.perf_counter()
        ids = [
            client.post("/v1/documents", files={"file": (name, data)}, data={"groups": "everyone"}).json()["id"]
            for name, data in files
        ]
        pending = set(ids)
        while pending:
            for document_id in list(pending):
                document = client.get(f"/v1/documents/{document_id}").json()
                if document["status"] == "failed":
                    raise RuntimeError(f"ingestion failed: {document}")
                if document["status"] == "ready":
                    pending.discard(document_id)
            time.sleep(0.05)
        return time.perf_counter() - started


def bench_embed_only(files: list[tuple[str, bytes]]) -> float:
    """Baseline: parse + chunk untimed, then time only the embedder on the same chunks."""
    from ingestion.chunk_plan import embedding_text
    from ingestion.chunker import chunk_document
    from ingestion.parsers import parse_document
    from ingestion.tokens import TokenCounter
    from services.core.embedding.dense import Embedder
    from services.core.formats import detect_format
    from services.core.settings import Settings

    settings = Settings()
    tokens = TokenCounter.for_model(settings.embedding_model)
    texts: list[str] = []
    for name, data in files:
        parsed = parse_document(data, detect_format(name, data[:4096]), name)
        chunks = chunk_document(parsed, tokens, settings.chunk_size_tokens, settings.chunk_overlap_tokens)
        texts.extend(embedding_text(parsed.title or name, chunk) for chunk in chunks)
    # The pipeline's encoder set-up: the same replicas and batch size.
    embedder = Embedder(settings.embedding_model, settings.embedding_batch_size, settings.embedding_replicas)
    started = time.perf_counter()
    embedder.embed(texts)
    return time.perf_counter() - started


async def one_chat(client: httpx.AsyncClient, question: str, stream: bool) -> tuple[float, float]:
    """(total seconds, seconds to the first token that shows text) for one question."""
    if stream:
        return await stream_chat(client, {"question": question})
    started = time.perf_counter()
    response = await client.post("/v1/chat", json={"question": question})
    response.raise_for_status()
    return time.perf_counter() - started, 0.0


async def bench_chat(url: str, concurrency: int, requests: int, stream: bool) -> list[tuple[float, float]]:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=600) as client:

        async def guarded(n: int) -> tuple[float, float]:
            async with limit:
                return await one_chat(client, QUESTIONS[n % len(QUESTIONS)], stream)

        return list(await asyncio.gather(*(guarded(n) for n in range(requests))))


async def bench_vllm_direct(url: str, llm_base_url: str, requests: int, max_tokens: int) -> list[float]:
    """Baseline: the very prompt Steward would build (same retrieved sources), sent straight to vLLM."""
    from services.core.llm import LLMGateway
    from services.core.llm.prompt import build_prompt, number_documents
    from services.core.settings import Settings
    from services.core.vectorstore import ScoredChunk

    llm = LLMGateway(Settings(llm_base_url=llm_base_url, llm_max_tokens=max_tokens, llm_temperature=0))
    timings = []
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        for n in range(requests):
            question = QUESTIONS[n % len(QUESTIONS)]
            hits = (await client.post("/v1/search", json={"query": question})).json()["results"]
            sources = [
                ScoredChunk(
                    h["document_id"] + str(h["chunk_index"]),
                    h["score"],
                    h["document_id"],
                    h["chunk_index"],
                    h["title"],
                    h["heading"],
                    h["text"],
                )
                for h in hits
            ]
            prompt = build_prompt(question, number_documents(sources, {}), [], "base")
            started = time.perf_counter()
            await llm.complete(prompt)
            timings.append(time.perf_counter() - started)
    await llm.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=50)
    parser.add_argument("--requests", type=int, default=8, help="chat requests per concurrency level")
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()

    from services.core.settings import default_cache_dir
    from services.serving.build import build_servable_model
    from services.serving.server import VLLMServer

    workdir = Path(tempfile.mkdtemp(prefix="steward-bench-"))
    cache_dir = default_cache_dir()
    llm = VLLMServer(
        build_servable_model(cache_dir), port=free_port(), cache_dir=cache_dir, log_path=workdir / "vllm.log"
    )
    port = free_port()
    env = {
        **os.environ,
        "STEWARD_DATA_DIR": str(workdir / "data"),
        "STEWARD_ADMIN_API_KEY": ADMIN_KEY,
        "STEWARD_LLM_MANAGE_SERVER": "false",
        "STEWARD_LLM_MAX_TOKENS": str(args.max_tokens),
        "STEWARD_PORT": str(port),
        "STEWARD_MIN_RELEVANCE": "0",
        # Greedy decoding: Steward and the direct baseline then generate the very same answers.
        "STEWARD_LLM_TEMPERATURE": "0",
    }
    files = corpus(args.docs)
    with llm:
        env["STEWARD_LLM_BASE_URL"] = llm.base_url
        server = ChildProcess([str(Path(sys.executable).parent / "steward"), "serve"], env, workdir / "serve.log")
        url = f"http://127.0.0.1:{port}"
        try:
            server.wait_http(f"{url}/healthz")
            ingest_s = bench_ingest(url, files)
            emit(f"ingest_{args.docs}_docs_s", ingest_s)
            # Warm vLLM's prefix cache with every question once, so the baseline and Steward start equal.
            asyncio.run(bench_chat(url, 1, len(QUESTIONS), stream=False))
            direct = asyncio.run(bench_vllm_direct(url, llm.base_url, args.requests, args.max_tokens))
            direct_p50 = statistics.median(direct) * 1000
            emit("vllm_direct_p50_ms_c1", direct_p50)
            chat_p50: dict[int, float] = {}
            for concurrency in (1, 8):
                totals = [t for t, _ in asyncio.run(bench_chat(url, concurrency, args.requests, stream=False))]
                chat_p50[concurrency] = statistics.median(totals) * 1000
                emit(f"chat_p50_ms_c{concurrency}", chat_p50[concurrency])
                emit(f"chat_p95_ms_c{concurrency}", percentile(totals, 0.95) * 1000)
                firsts = [f for _, f in asyncio.run(bench_chat(url, concurrency, args.requests, stream=True))]
                emit(f"ttft_p50_ms_c{concurrency}", statistics.median(firsts) * 1000)
            emit("chat_vs_vllm_direct_ratio_c1", chat_p50[1] / direct_p50)
        finally:
            server.stop()
    embed_only = bench_embed_only(files)
    emit(f"embed_only_{args.docs}_docs_s", embed_only)
    emit("ingest_vs_embed_only_ratio", ingest_s / embed_only)
    print(f"# data and logs: {workdir}", file=sys.stderr)


if __name__ == "__main__":
    main()
