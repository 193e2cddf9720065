"""The LLM gateway: one pooled async client to vLLM with timeouts, retries, a breaker and metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import openai

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
        self._client = openai.AsyncOpenAI(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key.get_secret_value(),
            # Per-read timeout; first-token and total limits are enforced around the stream below.
            timeout=openai.Timeout(settings.llm_total_timeout_s, connect=settings.llm_connect_timeout_s),
            max_retries=0,  # retrying is decided here: only connection failures before any token
        )

    @property
    def root_url(self) -> str:
        return self.base_url.rstrip("/").removesuffix("/v1")

    def _request(self, prompt: Prompt) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if prompt.continue_final_message:
            # vLLM extension: continue the primed assistant message instead of opening a new turn.
            extra.update(continue_final_message=True, add_generation_prompt=False)
        if prompt.min_tokens:
            extra["min_tokens"] = prompt.min_tokens
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
        if extra:
            request["extra_body"] = extra
        return request

    async def _open(self, prompt: Prompt) -> openai.AsyncStream[Any]:
        """Start the streamed request, retrying only when the connection itself failed."""
        attempt = 0
        while True:
            try:
                stream = await self._client.chat.completions.create(**self._request(prompt))
                assert isinstance(stream, openai.AsyncStream)
                return stream
            except openai.APITimeoutError as exc:
                raise LLMUnavailable(f"the language model did not answer in time: {exc}", kind="timeout") from exc
            except openai.APIConnectionError as exc:
                if attempt >= self.connect_retries:
                    raise LLMUnavailable(f"cannot reach the language model: {exc}", kind="connect") from exc
                attempt += 1
                await asyncio.sleep(0.2 * 2**attempt)
            except openai.BadRequestError as exc:
                raise LLMRejected(f"the language model rejected the request: {exc.message}") from exc
            except openai.APIStatusError as exc:
                raise LLMUnavailable(
                    f"the language model failed with HTTP {exc.status_code}", kind=f"http_{exc.status_code}"
                ) from exc

    async def stream(self, prompt: Prompt, usage: TokenUsage | None = None) -> AsyncIterator[str]:
        """Yield answer text as vLLM generates it; closing this iterator aborts the request in vLLM.

        `usage`, when given, receives the token counts vLLM reports (for the audit log)."""
        self.breaker.before_call()
        LLM_IN_FLIGHT.inc()
        started = time.perf_counter()
        verdict: bool | None = None
        try:
            stream = await self._open(prompt)
            try:
                async for delta in self._deltas(stream, started, usage):
                    yield delta
            finally:
                # Shielded: when the client has gone, the surrounding scope is cancelled, yet the
                # connection must still be closed for vLLM to notice and free the request's KV cache.
                with anyio.CancelScope(shield=True):
                    await stream.close()
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
        self, stream: openai.AsyncStream[Any], started: float, usage: TokenUsage | None = None
    ) -> AsyncIterator[str]:
        """Text deltas under the first-token and total deadlines; records TTFT and generation speed."""
        iterator = stream.__aiter__()
        deadline = started + self.total_timeout_s
        first_token_at: float | None = None
        completion_tokens = 0
        while True:
            now = time.perf_counter()
            limit = deadline - now if first_token_at else min(self.first_token_timeout_s, deadline - now)
            try:
                event = await asyncio.wait_for(iterator.__anext__(), timeout=max(limit, 0.001))
            except StopAsyncIteration:
                break
            except TimeoutError as exc:
                kind = "total_timeout" if first_token_at else "first_token_timeout"
                raise LLMUnavailable(f"the language model stalled ({kind.replace('_', ' ')})", kind=kind) from exc
            except (openai.APIError, httpx.HTTPError) as exc:
                raise LLMUnavailable(f"the language model stopped mid-answer: {exc}", kind="stream_broken") from exc
            if event.usage is not None:
                completion_tokens = event.usage.completion_tokens
                if usage is not None:
                    usage.prompt_tokens, usage.completion_tokens = event.usage.prompt_tokens, completion_tokens
            delta = event.choices[0].delta.content if event.choices else None
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
        await self._client.close()
