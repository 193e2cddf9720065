"""The LLM gateway: one pooled async client to vLLM with timeouts, retries, a breaker and metrics."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from services.core.errors import LLMRejected, LLMUnavailable
from services.core.llm.breaker import CircuitBreaker
from services.core.llm.metrics import (
    LLM_CANCELLED,
    LLM_CIRCUIT_OPEN,
    LLM_ERRORS,
    LLM_IN_FLIGHT,
    LLM_TOKENS_PER_SECOND,
    LLM_TTFT,
)
from services.core.llm.prompt import Prompt
from services.core.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class TokenUsage:
    """What vLLM reported for one request (its last streamed chunk); None until it has."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class LLMGateway:
    """Streams every request (so a client that leaves aborts vLLM's work) and never waits without a limit."""

    def __init__(self, settings: Settings) -> None:
        self.model = settings.llm_model
        self.max_tokens = settings.llm_max_tokens
        self.temperature = settings.llm_temperature
        self.base_url = settings.llm_base_url
        self.first_token_timeout_s = settings.llm_first_token_timeout_s
        self.total_timeout_s = settings.llm_total_timeout_s
        self.connect_retries = settings.llm_connect_retries
        self.breaker = CircuitBreaker(settings.llm_breaker_failure_threshold, settings.llm_breaker_cooldown_s)
        # httpx and our own reading of the event stream, not the openai client: that client builds a typed
        # model of every chunk, and on the embedded profile, where vLLM decodes on the same cores, its CPU per
        # token was six times that of reading the lines and decoding their JSON (bench/gateway_stream.py).
        self._client = httpx.AsyncClient(
            base_url=settings.llm_base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {settings.llm_api_key.get_secret_value()}"},
            # Per-read timeout; first-token and total limits are enforced around the stream below.
            timeout=httpx.Timeout(settings.llm_total_timeout_s, connect=settings.llm_connect_timeout_s),
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100),
        )

    @property
    def root_url(self) -> str:
        return self.base_url.rstrip("/").removesuffix("/v1")

    def _request(self, prompt: Prompt) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": prompt.messages,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if prompt.stop:
            request["stop"] = prompt.stop
        if prompt.continue_final_message:
            # vLLM extension: continue the primed assistant message instead of opening a new turn.
            request.update(continue_final_message=True, add_generation_prompt=False)
        if prompt.min_tokens:
            request["min_tokens"] = prompt.min_tokens
        return request

    async def _open(self, prompt: Prompt) -> httpx.Response:
        """Start the streamed request, retrying only when the connection itself failed."""
        request = self._client.build_request("POST", "chat/completions", json=self._request(prompt))
        attempt = 0
        while True:
            try:
                response = await self._client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                raise LLMUnavailable(f"the language model did not answer in time: {exc!r}", kind="timeout") from exc
            except httpx.TransportError as exc:
                if attempt >= self.connect_retries:
                    raise LLMUnavailable(f"cannot reach the language model: {exc!r}", kind="connect") from exc
                attempt += 1
                await asyncio.sleep(0.2 * 2**attempt)
                continue
            if response.status_code < 400:
                return response
            try:
                body = (await response.aread()).decode("utf-8", "replace")
            except httpx.HTTPError:
                body = ""
            finally:
                await response.aclose()
            if response.status_code == 400:
                raise LLMRejected(f"the language model rejected the request: {_error_message(body)}")
            raise LLMUnavailable(
                f"the language model failed with HTTP {response.status_code}", kind=f"http_{response.status_code}"
            )

    async def stream(self, prompt: Prompt, usage: TokenUsage | None = None) -> AsyncIterator[str]:
        """Yield answer text as vLLM generates it; closing this iterator aborts the request in vLLM.

        `usage`, when given, receives the token counts vLLM reports (for the audit log)."""
        self.breaker.before_call()
        LLM_IN_FLIGHT.inc()
        started = time.perf_counter()
        verdict: bool | None = None
        try:
            response = await self._open(prompt)
            try:
                async for delta in self._deltas(response, started, usage):
                    yield delta
            finally:
                # Shielded: when the client has gone, the surrounding scope is cancelled, yet the
                # connection must still be closed for vLLM to notice and free the request's KV cache.
                with anyio.CancelScope(shield=True):
                    await response.aclose()
            verdict = True
        except (LLMUnavailable, LLMRejected) as exc:
            verdict = False
            LLM_ERRORS.labels(getattr(exc, "kind", "rejected")).inc()
            raise
        except (asyncio.CancelledError, GeneratorExit):
            LLM_CANCELLED.inc()
            raise
        finally:
            LLM_IN_FLIGHT.dec()
            if verdict is True:
                self.breaker.record_success()
            elif verdict is False:
                self.breaker.record_failure()
            else:
                self.breaker.release_probe()
            LLM_CIRCUIT_OPEN.set(1 if self.breaker.state == "open" else 0)

    async def _deltas(
        self, response: httpx.Response, started: float, usage: TokenUsage | None = None
    ) -> AsyncIterator[str]:
        """Text deltas under the first-token and total deadlines; records TTFT and generation speed."""
        lines = response.aiter_lines().__aiter__()
        deadline = started + self.total_timeout_s
        first_token_at: float | None = None
        completion_tokens = 0
        while True:
            now = time.perf_counter()
            limit = deadline - now if first_token_at else min(self.first_token_timeout_s, deadline - now)
            try:
                # A timer, not wait_for: wait_for starts a task for every line, a cost paid per token.
                async with asyncio.timeout(max(limit, 0.001)):
                    line = await lines.__anext__()
            except StopAsyncIteration:
                break
            except TimeoutError as exc:
                kind = "total_timeout" if first_token_at else "first_token_timeout"
                raise LLMUnavailable(f"the language model stalled ({kind.replace('_', ' ')})", kind=kind) from exc
            except httpx.HTTPError as exc:
                raise LLMUnavailable(f"the language model stopped mid-answer: {exc!r}", kind="stream_broken") from exc
            if not line.startswith("data:"):
                continue  # blank separators, comments, event names: vLLM's chunks are all `data:` lines
            data = line[5:].strip()
            if data == "[DONE]":
                break
            event = _chunk(data)
            if (counts := event.get("usage")) is not None:
                completion_tokens = int(counts.get("completion_tokens") or 0)
                if usage is not None:
                    usage.prompt_tokens, usage.completion_tokens = counts.get("prompt_tokens"), completion_tokens
            choices = event.get("choices")
            delta = (choices[0].get("delta") or {}).get("content") if choices else None
            if not first_token_at and delta:
                delta = delta.lstrip()  # leading whitespace is never part of an answer
            if delta:
                if first_token_at is None:
                    first_token_at = time.perf_counter()
                    LLM_TTFT.observe(first_token_at - started)
                yield delta
        if first_token_at is not None and completion_tokens > 1:
            elapsed = time.perf_counter() - first_token_at
            if elapsed > 0:
                LLM_TOKENS_PER_SECOND.observe((completion_tokens - 1) / elapsed)

    async def complete(self, prompt: Prompt, usage: TokenUsage | None = None) -> str:
        """The whole answer; streamed underneath so timeouts and cancellation work the same."""
        return "".join([delta async for delta in self.stream(prompt, usage)]).strip()

    async def healthy(self) -> bool:
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                response = await client.get(self.root_url + "/health")
            return response.status_code == 200
        except httpx.HTTPError:
            return False

    async def close(self) -> None:
        await self._client.aclose()


def _chunk(data: str) -> dict[str, Any]:
    """One streamed chunk; an error vLLM reports inside the stream, or a chunk that is not JSON, ends it."""
    try:
        event = json.loads(data)
    except ValueError as exc:
        raise LLMUnavailable("the language model sent a chunk that is not JSON", kind="stream_broken") from exc
    if not isinstance(event, dict):
        raise LLMUnavailable("the language model sent a chunk that is not an object", kind="stream_broken")
    if event.get("error"):
        message = _message_of(event) or "no reason given"  # already parsed: not serialised to be parsed again
        raise LLMUnavailable(f"the language model stopped mid-answer: {message}", kind="stream_broken")
    return event


def _error_message(body: str) -> str:
    """The message of an OpenAI-style error body (vLLM's `{"message": ...}` or `{"error": {"message": ...}}`)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body[:500] or "no reason given"
    return _message_of(parsed) or body[:500]


def _message_of(parsed: Any) -> str | None:
    if not isinstance(parsed, dict):
        return None
    error = parsed.get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])[:500]
    if isinstance(error, str) and error:
        return error[:500]
    if parsed.get("message"):
        return str(parsed["message"])[:500]
    return None
