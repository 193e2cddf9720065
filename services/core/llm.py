"""The LLM port: one async OpenAI-compatible client shared by every request (vLLM in both profiles)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai

from services.core.errors import LLMUnavailable
from services.core.prompt import Prompt
from services.core.settings import Settings


class LLMClient:
    """Talks to vLLM over the OpenAI API; maps transport failures to LLMUnavailable."""

    def __init__(self, settings: Settings) -> None:
        self.model = settings.llm_model
        self.max_tokens = settings.llm_max_tokens
        self.temperature = settings.llm_temperature
        self.base_url = settings.llm_base_url
        self._client = openai.AsyncOpenAI(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key.get_secret_value(),
            timeout=openai.Timeout(settings.llm_timeout_s, connect=5.0),
            max_retries=0,  # retrying is the gateway's decision, not the SDK's
        )

    def _request(self, prompt: Prompt) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": prompt.messages,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        if prompt.stop:
            request["stop"] = prompt.stop
        extra: dict[str, Any] = {}
        if prompt.continue_final_message:
            # vLLM extension: continue the primed assistant message instead of opening a new turn.
            extra.update(continue_final_message=True, add_generation_prompt=False)
        if prompt.min_tokens:
            extra["min_tokens"] = prompt.min_tokens
        if extra:
            request["extra_body"] = extra
        return request

    async def complete(self, prompt: Prompt) -> str:
        try:
            response = await self._client.chat.completions.create(**self._request(prompt))
        except (openai.APIConnectionError, openai.APITimeoutError, openai.InternalServerError) as exc:
            raise LLMUnavailable(f"the language model is unavailable: {exc}") from exc
        return (response.choices[0].message.content or "").strip()

    async def stream(self, prompt: Prompt) -> AsyncIterator[str]:
        """Yield text deltas as vLLM produces them; closing the iterator aborts the request upstream."""
        try:
            stream = await self._client.chat.completions.create(**self._request(prompt), stream=True)
        except (openai.APIConnectionError, openai.APITimeoutError, openai.InternalServerError) as exc:
            raise LLMUnavailable(f"the language model is unavailable: {exc}") from exc
        assert isinstance(stream, openai.AsyncStream)
        try:
            started = False
            async for event in stream:
                delta = event.choices[0].delta.content if event.choices else None
                if not started and delta:
                    delta = delta.lstrip()  # leading whitespace is never part of an answer
                if delta:
                    started = True
                    yield delta
        except openai.APIError as exc:
            raise LLMUnavailable(f"the language model stopped mid-answer: {exc}") from exc
        finally:
            await stream.close()

    async def healthy(self) -> bool:
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                response = await client.get(self.base_url.rstrip("/").removesuffix("/v1") + "/health")
            return response.status_code == 200
        except httpx.HTTPError:
            return False

    async def close(self) -> None:
        await self._client.close()
