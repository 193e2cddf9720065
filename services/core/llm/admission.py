"""Load-aware admission: watch vLLM's own metrics and shed batch traffic before the server drowns."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Literal

import httpx
from prometheus_client.parser import text_string_to_metric_families

from services.core.access.principals import Caller
from services.core.errors import Overloaded, PermissionDenied
from services.core.llm.metrics import LLM_SHED

log = logging.getLogger(__name__)

Priority = Literal["interactive", "batch"]
# Who may ask to be served first while the model server is saturated: people, not applications.
INTERACTIVE_ROLES = ("admin", "user")
WATCHED = ("vllm:num_requests_waiting", "vllm:num_requests_running", "vllm:kv_cache_usage_perc")


def priority_of(caller: Caller, asked: Priority | None = None) -> Priority:
    """Applications are batch traffic; people are interactive and may lower their own priority to batch."""
    if asked == "interactive" and caller.role not in INTERACTIVE_ROLES:
        raise PermissionDenied(
            f"a {caller.role} key sends batch traffic; priority 'interactive' is for people "
            f"({', '.join(INTERACTIVE_ROLES)})"
        )
    if asked is not None:
        return asked
    return "interactive" if caller.role in INTERACTIVE_ROLES else "batch"


@dataclass(frozen=True)
class LoadSnapshot:
    """vLLM's queue and KV-cache pressure at one moment (values summed over its label sets)."""

    waiting: float
    running: float
    kv_cache_usage: float
    taken_at: float


def parse_vllm_metrics(text: str) -> dict[str, float]:
    """The watched gauges from a Prometheus text page; missing ones read as 0.

    Only the watched samples' lines are parsed: vLLM's page runs to hundreds of histogram lines, and parsing all
    of it every second took a fifth of `steward serve`'s CPU under chat load (bench/llm_gateway.py --profile),
    CPU the embedded vLLM shares."""
    values = dict.fromkeys(WATCHED, 0.0)
    watched = "\n".join(line for line in text.splitlines() if line.startswith(WATCHED) and _sample_name(line) in values)
    for family in text_string_to_metric_families(watched):
        if family.name in values:
            values[family.name] += sum(sample.value for sample in family.samples)
    return values


def _sample_name(line: str) -> str:
    return line.partition("{")[0].partition(" ")[0]


class LoadMonitor:
    """Polls vLLM's /metrics in the background so admission decisions cost nothing per request."""

    def __init__(self, metrics_url: str, interval_s: float) -> None:
        self.metrics_url = metrics_url
        self.interval_s = interval_s
        self._snapshot: LoadSnapshot | None = None
        self._task: asyncio.Task[None] | None = None

    def snapshot(self) -> LoadSnapshot | None:
        """The latest reading, or None when it is older than a few polls (then nothing is known)."""
        snapshot = self._snapshot
        if snapshot is None or time.monotonic() - snapshot.taken_at > max(3 * self.interval_s, 2.0):
            return None
        return snapshot

    async def poll_once(self, client: httpx.AsyncClient) -> None:
        try:
            response = await client.get(self.metrics_url)
            response.raise_for_status()
            values = parse_vllm_metrics(response.text)
        except (httpx.HTTPError, ValueError) as exc:
            log.debug("could not read vLLM metrics: %s", exc)
            return
        self._snapshot = LoadSnapshot(
            waiting=values["vllm:num_requests_waiting"],
            running=values["vllm:num_requests_running"],
            kv_cache_usage=values["vllm:kv_cache_usage_perc"],
            taken_at=time.monotonic(),
        )

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=max(self.interval_s, 1.0)) as client:
            while True:
                await self.poll_once(client)
                await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="steward-vllm-load-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class AdmissionController:
    """Refuses batch requests with 429 while vLLM is saturated; interactive requests keep going."""

    def __init__(self, monitor: LoadMonitor, max_waiting: float, max_kv_cache_usage: float, retry_after_s: int) -> None:
        self.monitor = monitor
        self.max_waiting = max_waiting
        self.max_kv_cache_usage = max_kv_cache_usage
        self.retry_after_s = retry_after_s

    def saturation(self) -> str | None:
        """Why vLLM counts as saturated right now, or None."""
        snapshot = self.monitor.snapshot()
        if snapshot is None:
            return None
        if snapshot.waiting >= self.max_waiting:
            return f"{snapshot.waiting:g} requests are waiting in vLLM (limit {self.max_waiting:g})"
        if snapshot.kv_cache_usage >= self.max_kv_cache_usage:
            return f"vLLM's KV cache is {snapshot.kv_cache_usage:.0%} full (limit {self.max_kv_cache_usage:.0%})"
        return None

    def admit(self, priority: Priority) -> None:
        if priority == "interactive":
            return
        reason = self.saturation()
        if reason is not None:
            LLM_SHED.labels(priority).inc()
            raise Overloaded(f"Steward is busy ({reason}); batch requests are paused", self.retry_after_s)
