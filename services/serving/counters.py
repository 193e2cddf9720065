"""vLLM's running token counters, read from its /metrics page: what benchmarks and tests measure work with.

Counters only grow, so a measurement is the difference of two readings taken around the work (`after - before`);
vLLM must run nothing else meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import httpx
from prometheus_client.parser import text_string_to_metric_families

# Prometheus sample name -> field; the sums run over vLLM's label sets (one per engine).
_SAMPLES = {
    "vllm:prompt_tokens_total": "prompt_tokens",
    "vllm:generation_tokens_total": "generation_tokens",
    "vllm:prefix_cache_queries_total": "prefix_cache_queries",
    "vllm:prefix_cache_hits_total": "prefix_cache_hits",
    "vllm:request_success_total": "requests",
}


@dataclass(frozen=True)
class TokenCounters:
    prompt_tokens: float = 0.0
    generation_tokens: float = 0.0
    prefix_cache_queries: float = 0.0  # prompt tokens looked up in the prefix cache
    prefix_cache_hits: float = 0.0  # of those, tokens whose KV was already cached
    requests: float = 0.0

    def __sub__(self, other: TokenCounters) -> TokenCounters:
        return TokenCounters(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))

    def __add__(self, other: TokenCounters) -> TokenCounters:
        return TokenCounters(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def prefix_cache_hit_rate(self) -> float:
        """Share of looked-up prompt tokens served from the cache (0 when nothing was looked up)."""
        return self.prefix_cache_hits / self.prefix_cache_queries if self.prefix_cache_queries else 0.0


def parse_counters(text: str) -> TokenCounters:
    values = dict.fromkeys(_SAMPLES.values(), 0.0)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name = _SAMPLES.get(sample.name)
            if name is not None:
                values[name] += sample.value
    return TokenCounters(**values)


def read_counters(base_url: str, timeout_s: float = 5.0) -> TokenCounters:
    """The counters of the vLLM server at `base_url` (its OpenAI base URL, ".../v1", or its root)."""
    root = base_url.rstrip("/").removesuffix("/v1")
    response = httpx.get(f"{root}/metrics", timeout=timeout_s)
    response.raise_for_status()
    return parse_counters(response.text)


def cache_block_size(base_url: str, timeout_s: float = 5.0) -> int:
    """Tokens per KV-cache block of the vLLM server at `base_url` (its cache_config_info metric): the prefix
    cache serves whole blocks only, so a shared prefix is reused up to its last full block."""
    root = base_url.rstrip("/").removesuffix("/v1")
    response = httpx.get(f"{root}/metrics", timeout=timeout_s)
    response.raise_for_status()
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name.startswith("vllm:cache_config_info") and "block_size" in sample.labels:
                return int(sample.labels["block_size"])
    raise LookupError("vLLM's /metrics names no cache block size (vllm:cache_config_info)")
