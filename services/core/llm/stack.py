"""Everything chat needs from the LLM side, built once per app: gateway, load monitor, admission, budget."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from services.core.llm.admission import AdmissionController, LoadMonitor
from services.core.llm.budget import CharEstimateCounter, ChatTemplateCounter, TokenCounter
from services.core.llm.gateway import LLMGateway
from services.core.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class LLMStack:
    gateway: LLMGateway
    monitor: LoadMonitor
    admission: AdmissionController
    counter: TokenCounter
    max_prompt_tokens: int

    @classmethod
    def build(cls, settings: Settings, tokenizer_path: Path | str | None) -> LLMStack:
        gateway = LLMGateway(settings)
        monitor = LoadMonitor(gateway.root_url + "/metrics", settings.llm_load_poll_interval_s)
        counter: TokenCounter
        if tokenizer_path:
            counter = ChatTemplateCounter(tokenizer_path)
        else:
            log.warning("no tokenizer for %s; budgeting with a pessimistic character estimate", settings.llm_model)
            counter = CharEstimateCounter()
        return cls(
            gateway=gateway,
            monitor=monitor,
            admission=AdmissionController(
                monitor,
                settings.llm_shed_waiting_requests,
                settings.llm_shed_kv_cache_usage,
                settings.llm_shed_retry_after_s,
            ),
            counter=counter,
            # The answer's tokens share the context window with the prompt.
            max_prompt_tokens=settings.llm_max_model_len - settings.llm_max_tokens,
        )

    def start(self) -> None:
        self.monitor.start()

    async def close(self) -> None:
        await self.monitor.stop()
        await self.gateway.close()
