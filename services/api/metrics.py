"""Prometheus metrics of the orchestrator, exposed on GET /metrics."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter("steward_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram("steward_http_request_seconds", "Time to response headers", ["method", "route"])
CHAT_REQUESTS = Counter("steward_chat_requests_total", "Chat requests by outcome", ["outcome"])
DOCUMENTS_UPLOADED = Counter("steward_documents_uploaded_total", "Documents accepted for ingestion")
POLICY_DECISIONS = Counter("steward_policy_decisions_total", "Policy decisions", ["rule_id", "decision"])
# Where a chat's time goes: `plan` (policy, retrieval, prompt), `model` (first request to vLLM to its last token),
# `check` (after the last token: the remaining sentence verdicts and any extractive answer) and `record` (the stored
# turn, quota settlement and audit row, before `done`). Only `model` keeps the request in vLLM's batch.
CHAT_STAGES = ("plan", "model", "check", "record")
CHAT_STAGE_SECONDS = Histogram(
    "steward_chat_stage_seconds",
    "Time a chat request spends in each stage",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
UNANSWERED_QUESTIONS = Counter(
    "steward_unanswered_questions_total", "Questions no source cleared the relevance floor for"
)


def chat_stage_totals(metrics: str) -> dict[str, tuple[float, float]]:
    """From a /metrics page: stage -> (seconds summed, chats counted) so far, for every stage of CHAT_STAGES.
    What benchmarks and tests read back; the time of some chats is the difference of two readings."""
    totals = {stage: [0.0, 0.0] for stage in CHAT_STAGES}
    for family in text_string_to_metric_families(metrics):
        if family.name != "steward_chat_stage_seconds":
            continue
        for sample in family.samples:
            stage = totals.get(sample.labels.get("stage", ""))
            if stage is not None and sample.name.endswith("_sum"):
                stage[0] += sample.value
            elif stage is not None and sample.name.endswith("_count"):
                stage[1] += sample.value
    return {stage: (seconds, count) for stage, (seconds, count) in totals.items()}


class MetricsMiddleware:
    """Pure ASGI, so streamed responses pass through unbuffered; labels use the route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                route = scope.get("route")
                path = getattr(route, "path", "unmatched")
                HTTP_LATENCY.labels(scope["method"], path).observe(time.perf_counter() - started)
                HTTP_REQUESTS.labels(scope["method"], path, str(status["code"])).inc()
            await send(message)

        await self.app(scope, receive, send_wrapper)
