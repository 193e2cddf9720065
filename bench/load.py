"""Steward under a working day's mixed load, with faults injected, and what was left afterwards.

Starts vLLM and `steward serve` (like bench/e2e.py) on the chosen profile, ingests the eval corpus, measures an
idle baseline (streamed chats one at a time; a batch of uploads ingested alone), then runs Locust
(bench/locustfile.py: employees chatting with follow-ups, apps on /v1/search and /v1/chat/completions, admins
uploading) for --duration seconds. Halfway in, the same batch of uploads is ingested again, under the load. With
--faults, a re-runnable schedule (bench/faults.py) SIGKILLs the API process (its in-process worker with it) and
vLLM, restarts Redis, and drops every PostgreSQL connection, each restarted or recovered with no manual step; how
long the service took to answer again is printed per fault.

When the load stops, it waits for every upload Locust saw accepted to settle, then checks: each ended `ready` or
`failed` (with a reason), exactly once (no second document for one source); the index agrees with the database
chunk for chunk (the reconciler's drift); the audit chain verifies.

Prints `name=value` lines: users, requests, status_500, search_p95_ms, chat_ttft_p95_ms, chat_ttft_p95_idle_ms,
ingest_under_load_ratio, faults_injected, documents_lost, documents_duplicated, chunks_drift, audit_verify
(and more). Locust's HTML report (latency and throughput over time, charts) and a Markdown summary go to --out.

    python bench/load.py [--profile embedded|production] [--users 16] [--duration 600] [--faults] [--out DIR]

Profiles as they run on one machine: `embedded` is SQLite, the SQLite broker and Qdrant Edge; `production` is
PostgreSQL (a fresh database), a Redis of its own (broker and quota counters) and the production profile's
settings. Both keep the worker in the API process: the only vector engine installable here is Qdrant Edge, which
one process holds, so separate `steward worker` processes need a Qdrant server (docker-compose.yml).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.faults import DataDisk, Fault, FaultLog, Redis, Stack, schedule
from bench.llm_gateway import ADMIN_KEY, ingest_corpus
from bench.load_traffic import ARTICLE, FRESH
from tests.support.processes import ChildProcess, free_port, postgres_database

ROOT = Path(__file__).resolve().parents[1]
STEWARD = str(Path(sys.executable).parent / "steward")
PROBE_DOCUMENTS = 24


LINES: list[str] = []  # every figure printed, for the Markdown summary beside the HTML report


def emit(name: str, value: float | int | str) -> None:
    line = f"{name}={value:.3f}" if isinstance(value, float) else f"{name}={value}"
    LINES.append(line)
    print(line, flush=True)


def headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


# ------------------------------------------------------------------------------------------------ set-up


@contextlib.contextmanager
def profile_env(profile: str, workdir: Path) -> Iterator[tuple[dict[str, str], Redis | None]]:
    """Settings for `steward serve` on the profile, with the backing services it needs started."""
    env = {
        **os.environ,
        "STEWARD_DATA_DIR": str(workdir / "data"),
        "STEWARD_ADMIN_API_KEY": ADMIN_KEY,
        "STEWARD_LLM_MANAGE_SERVER": "false",
    }
    if profile == "embedded":
        yield env, None
        return
    redis = Redis(workdir / "redis")
    redis.start()
    try:
        with postgres_database() as database_url:
            yield (
                {
                    **env,
                    "STEWARD_PROFILE": "production",
                    "STEWARD_DATABASE_URL": database_url,
                    "STEWARD_BROKER_URL": redis.url,
                    "STEWARD_QUOTA_STORE": "redis",
                    "STEWARD_VECTOR_STORE": "qdrant_edge",
                },
                redis,
            )
    finally:
        redis.stop()


def article(reference: str) -> bytes:
    return ARTICLE.format(
        title=f"Probe {reference}", topic="Desk booking", team="facilities", days=3, reference=reference
    ).encode()


def ingest_probe(url: str, label: str) -> tuple[float, int]:
    """Upload PROBE_DOCUMENTS short articles one after another; seconds from the first upload to the last one
    settled, and how many ended ready."""
    ids: list[str] = []
    started = time.monotonic()
    with httpx.Client(base_url=url, headers=headers(), timeout=120) as client:
        for _ in range(PROBE_DOCUMENTS):
            reference = f"{label}-{uuid.uuid4().hex[:8]}"
            response = client.post(
                "/v1/documents",
                files={"file": (f"{reference}.md", article(reference))},
                data={"groups": "everyone", "source": f"probe/{reference}.md"},
            )
            response.raise_for_status()
            ids.append(response.json()["id"])
        statuses = settle(client, ids, deadline_s=600)
    return time.monotonic() - started, sum(1 for s in statuses.values() if s == "ready")


def settle(client: httpx.Client, ids: list[str], deadline_s: float) -> dict[str, str]:
    """Each document's final status (ready/failed), or its status at the deadline; transient errors retried."""
    statuses: dict[str, str] = {}
    pending = set(ids)
    deadline = time.monotonic() + deadline_s
    while pending and time.monotonic() < deadline:
        for document_id in list(pending):
            try:
                response = client.get(f"/v1/documents/{document_id}")
            except httpx.HTTPError:
                continue  # the API may be restarting after a fault
            if response.status_code == 404:
                statuses[document_id] = "missing"
                pending.discard(document_id)
            elif response.status_code == 200:
                statuses[document_id] = response.json()["status"]
                if statuses[document_id] in ("ready", "failed"):
                    pending.discard(document_id)
        time.sleep(0.5)
    return statuses


def idle_chat_ttft(url: str, questions: int) -> list[float]:
    """Time to the first token with text, one streamed chat at a time, nothing else running."""
    times: list[float] = []
    with httpx.Client(base_url=url, headers=headers(), timeout=300) as client:
        for question in FRESH[:questions]:
            started = time.perf_counter()
            event = ""
            with client.stream("POST", "/v1/chat", json={"question": question, "stream": True}) as response:
                response.raise_for_status()
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        event = line.removeprefix("event:").strip()
                    elif event == "token" and line.startswith("data:") and json.loads(line[5:])["text"].strip():
                        times.append((time.perf_counter() - started) * 1000)
                        break
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else (values or [0.0])[0]


# ------------------------------------------------------------------------------------------------ after


def locust_stats(prefix: Path) -> dict[str, dict[str, str]]:
    with (prefix.parent / f"{prefix.name}_stats.csv").open() as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


def check_uploads(url: str, uploads: Path) -> tuple[int, int, int, int]:
    """(accepted, lost, failed, duplicated) over the uploads Locust saw accepted."""
    accepted = [json.loads(line) for line in uploads.read_text().splitlines()] if uploads.exists() else []
    with httpx.Client(base_url=url, headers=headers(), timeout=60) as client:
        statuses = settle(client, [u["id"] for u in accepted], deadline_s=900)
        sources: dict[str, int] = {}
        offset = 0
        while True:
            page = client.get("/v1/documents", params={"limit": 100, "offset": offset}).json()["documents"]
            for document in page:
                sources[document.get("source", "")] = sources.get(document.get("source", ""), 0) + 1
            if len(page) < 100:
                break
            offset += 100
    lost = sum(1 for s in statuses.values() if s not in ("ready", "failed"))
    failed = sum(1 for s in statuses.values() if s == "failed")
    duplicated = sum(
        n - 1 for source, n in sources.items() if source.startswith(("load/", "probe/", "recovery/")) and n > 1
    )
    return len(accepted), lost, failed, duplicated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=("embedded", "production"), default="embedded")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--duration", type=int, default=600, help="seconds of load")
    parser.add_argument("--faults", action="store_true", help="inject the fault schedule during the load")
    parser.add_argument("--idle-chats", type=int, default=8)
    parser.add_argument("--api-kills", type=int, default=2, help="SIGKILLs of the API process and its worker")
    parser.add_argument("--disk-mb", type=int, default=1024, help="size of the data disk the disk faults fill")
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: a new temporary folder)")
    args = parser.parse_args()

    from services.core.settings import default_cache_dir
    from services.serving.build import build_servable_model
    from services.serving.server import VLLMServer

    workdir = Path(tempfile.mkdtemp(prefix=f"steward-load-{args.profile}-"))
    out = (args.out or workdir / "report").resolve()
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("uploads.jsonl", "statuses.json"):  # an earlier run's, in the same folder
        (out / stale).unlink(missing_ok=True)
    cache_dir = default_cache_dir()
    llm = VLLMServer(
        build_servable_model(cache_dir), port=free_port(), cache_dir=cache_dir, log_path=workdir / "vllm.log"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # The data folder on a disk of its own, to fill up and make read-only (where this machine lets us mount).
    disk = DataDisk(workdir / "data", size_mb=args.disk_mb)
    if args.faults:
        disk.mount()
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(disk.unmount)
        run(args, workdir, out, llm, url, port, disk)


def run(args: argparse.Namespace, workdir: Path, out: Path, llm: Any, url: str, port: int, disk: DataDisk) -> None:
    with llm, profile_env(args.profile, workdir) as (env, redis):
        env = {**env, "STEWARD_LLM_BASE_URL": llm.base_url, "STEWARD_PORT": str(port)}
        stack = Stack(
            url=url,
            start_api=lambda: ChildProcess([STEWARD, "serve"], env, workdir / f"serve-{time.time():.0f}.log"),
            llm=llm,
            redis=redis,
            disk=disk,
            database_url=env.get("STEWARD_DATABASE_URL") if args.profile == "production" else None,
        )
        stack.start()
        try:
            emit("profile", args.profile)
            emit("documents", ingest_corpus(url))
            idle = idle_chat_ttft(url, args.idle_chats)
            idle_s, idle_ready = ingest_probe(url, "idle")
            emit("ingest_idle_docs_per_s", PROBE_DOCUMENTS / idle_s)

            log = FaultLog()
            locust = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "locust"),
                    "-f",
                    str(ROOT / "bench" / "locustfile.py"),
                    "--headless",
                    "--users",
                    str(args.users),
                    "--spawn-rate",
                    "2",
                    "--run-time",
                    f"{args.duration}s",
                    "--host",
                    url,
                    "--csv",
                    str(out / "locust"),
                    "--csv-full-history",
                    "--html",
                    str(out / "report.html"),
                    "--only-summary",
                ],
                env={**env, "STEWARD_API_KEY": ADMIN_KEY, "STEWARD_LOAD_DIR": str(out)},
                stdout=(workdir / "locust.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
            faults: list[Fault] = schedule(stack, args.duration, args.profile, args.api_kills) if args.faults else []
            injector = threading.Thread(target=log.run, args=(faults,), daemon=True)
            injector.start()
            time.sleep(args.duration * 0.4)
            busy_s, busy_ready = ingest_probe(url, "busy")
            locust.wait(timeout=args.duration + 600)
            injector.join(timeout=600)
            stack.ensure_up()

            accepted, lost, failed, duplicated = check_uploads(url, out / "uploads.jsonl")
            with httpx.Client(base_url=url, headers=headers(), timeout=300) as client:
                drift = client.get("/v1/admin/index/drift").json()
                audit = client.post("/v1/admin/audit/verify").json()
        finally:
            stack.stop()

    stats = locust_stats(out / "locust")
    statuses = json.loads((out / "statuses.json").read_text()) if (out / "statuses.json").exists() else {}
    aggregated = stats.get("Aggregated", {})
    emit("users", args.users)
    emit("duration_s", args.duration)
    emit("requests", int(aggregated.get("Request Count", 0)))
    emit("failures", int(aggregated.get("Failure Count", 0)))
    emit("status_500", sum(n for status, n in statuses.items() if status.startswith("5") and status != "503"))
    emit("status_429", int(statuses.get("429", 0)))
    # Connection refused while the API process was down (one replica here; a load balancer hides it).
    emit("unreachable", int(statuses.get("0", 0)))
    emit("status_503", int(statuses.get("503", 0)))
    emit("stream_errors", sum(n for status, n in statuses.items() if status.startswith("stream-error")))
    emit("broken_streams", int(statuses.get("broken-stream", 0)) + int(statuses.get("stream-without-end", 0)))
    emit("search_p95_ms", float(stats.get("/v1/search", {}).get("95%", 0) or 0))
    emit("search_requests", int(stats.get("/v1/search", {}).get("Request Count", 0) or 0))
    emit("chat_ttft_p95_ms", float(stats.get("chat: first token", {}).get("95%", 0) or 0))
    emit("chat_followup_ttft_p95_ms", float(stats.get("chat follow-up: first token", {}).get("95%", 0) or 0))
    emit("chat_ttft_p95_idle_ms", p95(idle))
    emit("chats_answered", int(stats.get("chat: first token", {}).get("Request Count", 0) or 0))
    emit("ingest_under_load_ratio", idle_s / busy_s)
    emit("probe_ready", f"{idle_ready}/{PROBE_DOCUMENTS} idle, {busy_ready}/{PROBE_DOCUMENTS} under load")
    emit("faults_injected", len(log.done))
    for name, seconds in log.recovery():
        emit(f"recovery_s_{name}", seconds)
    emit("uploads_accepted", accepted)
    emit("documents_lost", lost)
    emit("documents_failed", failed)
    emit("documents_duplicated", duplicated)
    emit("chunks_drift", int(drift.get("drift", -1)))
    emit("audit_verify", "ok" if audit.get("ok") else f"broken: {audit}")
    emit("report", str(out / "report.html"))
    faults = "\n".join(f"- {name}: working again after {seconds:.1f} s" for name, seconds in log.done)
    (out / "summary.md").write_text(
        f"# Load run: {args.profile} profile, {args.users} users, {args.duration} s\n\n"
        f"Charts of latency and throughput over time: [report.html](report.html) (Locust).\n\n"
        f"## Figures\n\n```\n" + "\n".join(LINES) + "\n```\n\n## Faults, in order\n\n" + (faults or "none") + "\n"
    )
    print(f"# logs: {workdir}", file=sys.stderr)


if __name__ == "__main__":
    main()
