"""Gateway parts that need no server: the circuit breaker, vLLM metrics parsing, admission, budgeting."""

from __future__ import annotations

import time

import pytest

from services.core.errors import InvalidInput, LLMUnavailable, Overloaded
from services.core.llm.admission import AdmissionController, LoadMonitor, LoadSnapshot, parse_vllm_metrics
from services.core.llm.breaker import CircuitBreaker
from services.core.llm.budget import RECENT_TURNS_KEPT, CharEstimateCounter, fit_prompt
from services.core.llm.prompt import Exchange, Prompt
from services.core.vectorstore import ScoredChunk


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_threshold_and_fails_fast_with_retry_after() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=10, clock=clock)
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state == "open"
    clock.now += 4
    with pytest.raises(LLMUnavailable) as raised:
        breaker.before_call()
    assert raised.value.retry_after_s == 6 and raised.value.kind == "circuit_open"


def test_breaker_half_open_lets_one_probe_and_closes_on_success() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=5, clock=clock)
    breaker.record_failure()
    clock.now += 5
    breaker.before_call()  # the probe
    with pytest.raises(LLMUnavailable):
        breaker.before_call()  # a second caller during the probe is refused
    breaker.record_success()
    assert breaker.state == "closed"
    breaker.before_call()


def test_breaker_failed_probe_reopens() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, cooldown_s=5, clock=clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 6
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state == "open"


VLLM_METRICS = """# HELP vllm:num_requests_waiting Number of requests waiting.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="steward-gemma"} 3.0
# HELP vllm:num_requests_running Number of requests running.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="steward-gemma"} 8.0
# HELP vllm:kv_cache_usage_perc KV-cache usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="steward-gemma"} 0.42
"""

# What the filter must see past: a name that starts like a watched one, histograms, a second engine.
VLLM_METRICS_BUSY = (
    VLLM_METRICS
    + """# HELP vllm:num_requests_waiting_by_reason Requests waiting, by reason.
# TYPE vllm:num_requests_waiting_by_reason gauge
vllm:num_requests_waiting_by_reason{engine="0",reason="capacity"} 5.0
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1"} 7.0
vllm:time_to_first_token_seconds_count{engine="0"} 9.0
vllm:num_requests_waiting{engine="1",model_name="steward-gemma"} 2.0
"""
)


def test_vllm_metrics_are_parsed() -> None:
    assert parse_vllm_metrics(VLLM_METRICS) == {
        "vllm:num_requests_waiting": 3.0,
        "vllm:num_requests_running": 8.0,
        "vllm:kv_cache_usage_perc": 0.42,
    }


def test_vllm_metrics_sum_the_watched_gauges_over_engines_and_nothing_else() -> None:
    assert parse_vllm_metrics(VLLM_METRICS_BUSY) == {
        "vllm:num_requests_waiting": 5.0,
        "vllm:num_requests_running": 8.0,
        "vllm:kv_cache_usage_perc": 0.42,
    }
    assert parse_vllm_metrics("") == dict.fromkeys(
        ("vllm:num_requests_waiting", "vllm:num_requests_running", "vllm:kv_cache_usage_perc"), 0.0
    )


def monitor_with(snapshot: LoadSnapshot | None) -> LoadMonitor:
    monitor = LoadMonitor("http://unused/metrics", interval_s=1)
    monitor._snapshot = snapshot
    return monitor


def test_saturated_server_sheds_batch_but_admits_interactive() -> None:
    busy = LoadSnapshot(waiting=9, running=8, kv_cache_usage=0.5, taken_at=time.monotonic())
    admission = AdmissionController(monitor_with(busy), max_waiting=8, max_kv_cache_usage=0.9, retry_after_s=7)
    admission.admit("interactive")
    with pytest.raises(Overloaded) as raised:
        admission.admit("batch")
    assert raised.value.retry_after_s == 7 and "waiting" in raised.value.message


def test_full_kv_cache_sheds_batch() -> None:
    full = LoadSnapshot(waiting=0, running=3, kv_cache_usage=0.95, taken_at=time.monotonic())
    admission = AdmissionController(monitor_with(full), max_waiting=8, max_kv_cache_usage=0.9, retry_after_s=5)
    with pytest.raises(Overloaded, match="KV cache"):
        admission.admit("batch")


def test_stale_or_missing_load_reading_admits_everything() -> None:
    old = LoadSnapshot(waiting=99, running=8, kv_cache_usage=1.0, taken_at=time.monotonic() - 60)
    for snapshot in (old, None):
        AdmissionController(monitor_with(snapshot), 8, 0.9, 5).admit("batch")


def chunk(n: int, text: str) -> ScoredChunk:
    return ScoredChunk(f"id{n}", 1 - n / 10, f"doc{n}", 0, f"Title {n}", "", text)


def test_budget_drops_old_history_first_then_lowest_ranked_sources() -> None:
    counter = CharEstimateCounter()
    sources = [chunk(n, "word " * 200) for n in range(5)]
    history = [Exchange("chatter " * 300, "answer " * 300) for _ in range(3)]
    full = counter.count(fit_prompt("q?", sources, history, "base", counter, 10**9).prompt)
    fitted = fit_prompt("q?", sources, history, "base", counter, full // 2)
    assert fitted.prompt_tokens <= full // 2
    assert fitted.history_turns_dropped >= 1  # the oldest exchange went first
    if fitted.sources_dropped:  # sources go only once history is down to the recent exchanges
        assert len(history) - fitted.history_turns_dropped <= RECENT_TURNS_KEPT
    assert [s.id for s in fitted.sources] == [s.id for s in sources[: len(fitted.sources)]]
    assert fitted.sources[0].id == "id0"


def test_budget_keeps_the_best_source_and_cuts_its_text_when_needed() -> None:
    counter = CharEstimateCounter()
    fitted = fit_prompt("q?", [chunk(0, "x" * 30000), chunk(1, "y" * 300)], [], "base", counter, 1500)
    assert [s.id for s in fitted.sources] == ["id0"]
    assert len(fitted.sources[0].text) < 30000
    assert fitted.prompt_tokens <= 1500


def test_budget_refuses_a_question_that_cannot_fit() -> None:
    counter = CharEstimateCounter()
    with pytest.raises(InvalidInput, match="too long"):
        fit_prompt("why " * 3000, [chunk(0, "short")], [], "base", counter, 500)


def test_char_estimate_is_pessimistic_against_the_real_tokenizer() -> None:
    from services.core.llm.budget import ChatTemplateCounter
    from services.core.settings import default_cache_dir
    from services.serving.build import build_servable_model

    real = ChatTemplateCounter(build_servable_model(default_cache_dir()))
    prompt = Prompt(
        [
            {"role": "system", "content": "The parking garage opens at 6:30 on weekdays. " * 40},
            {"role": "user", "content": "When does it open?"},
        ]
    )
    assert CharEstimateCounter().count(prompt) >= real.count(prompt) > 400
