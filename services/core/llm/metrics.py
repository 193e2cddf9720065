"""Prometheus metrics of the LLM gateway."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LLM_TTFT = Histogram(
    "steward_llm_time_to_first_token_seconds",
    "Time from sending a request to vLLM to its first generated token",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
LLM_TOKENS_PER_SECOND = Histogram(
    "steward_llm_tokens_per_second",
    "Generation speed of one request after its first token",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
LLM_ERRORS = Counter("steward_llm_errors_total", "LLM failures by kind", ["kind"])
LLM_IN_FLIGHT = Gauge("steward_llm_in_flight_requests", "Requests the gateway has open against vLLM")
LLM_CANCELLED = Counter("steward_llm_cancelled_total", "Requests aborted because the client went away")
LLM_SHED = Counter("steward_llm_shed_requests_total", "Requests refused with 429 to protect vLLM", ["priority"])
LLM_CIRCUIT_OPEN = Gauge("steward_llm_circuit_open", "1 while the LLM circuit breaker is open")
