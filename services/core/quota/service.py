"""Quota enforcement: find the budgets a caller draws on, refuse with the reset time, charge, refund.

A chat is checked twice. `ensure_room` runs right after the input policy, before any work (LLM rewrite,
retrieval): a caller whose budget is already spent is refused at once and costs almost nothing. `charge` runs
once the prompt is built, just before the model is called: one request plus the prompt's tokens plus the
answer's maximum, all or nothing. Afterwards `refund` gives back the answer tokens that were not generated.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import Counter as PromCounter

from services.core.access.principals import Caller
from services.core.errors import QuotaExceeded, QuotaUnavailable
from services.core.policy.model import QuotaRule
from services.core.quota.plan import Cost, Counter, counters_for, overflows
from services.core.quota.port import QuotaStore, QuotaStoreUnavailable

log = logging.getLogger(__name__)

QUOTA_REFUSED = PromCounter("steward_quota_refused_total", "Requests refused with 429 by a quota rule", ["rule"])
QUOTA_STORE_ERRORS = PromCounter(
    "steward_quota_store_errors_total", "Quota checks that could not reach the counters (see quota_fail_open)"
)
_SCOPE_NAMES = {"user": "user", "group": "group", "api_key": "API key", "origin": "origin"}


@dataclass(frozen=True)
class Charge:
    """What one request was charged, so unused answer tokens can be given back to the same windows."""

    counters: list[Counter]
    answer_tokens: int


def describe(rule: QuotaRule) -> str:
    limits = [f"{rule.requests} requests"] if rule.requests is not None else []
    limits += [f"{rule.tokens} tokens"] if rule.tokens is not None else []
    whom = f"{_SCOPE_NAMES[rule.scope]} {rule.match}" if rule.match else f"each {_SCOPE_NAMES[rule.scope]}"
    return f"{' and '.join(limits)} per {rule.window} for {whom}"


class QuotaService:
    """Enforces the policy set's quota rules on one store; `clock` (epoch seconds) is injectable for tests."""

    def __init__(
        self,
        rules: Sequence[QuotaRule],
        store: QuotaStore,
        fail_open: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.fail_open = fail_open
        self.clock = clock
        self.replace_rules(rules)

    @property
    def rules(self) -> list[QuotaRule]:
        return list(self._by_id.values())

    def replace_rules(self, rules: Sequence[QuotaRule]) -> None:
        """New rules from a policy reload; counters already spent stay with their rule ids.

        The rules live in one id -> rule mapping (insertion-ordered), swapped in one assignment, so a request
        running during a reload sees either the old set or the new one and the list and lookup cannot drift."""
        self._by_id = {rule.id: rule for rule in rules}

    def ensure_room(self, caller: Caller) -> None:
        """Refuse a caller with a spent budget (no room for one more request, or for a single token)."""
        now = self.clock()
        counters = counters_for(self.rules, caller, now)
        if not counters:
            return
        try:
            usage = self.store.usage(counters)
        except QuotaStoreUnavailable as exc:
            self._store_failed(exc)
            return
        for counter, used in zip(counters, usage, strict=True):
            if overflows(counter, used, Cost(1, 1 if counter.max_tokens is not None else 0)):
                raise self._exceeded(counter, now)

    def charge(self, caller: Caller, prompt_tokens: int, answer_tokens: int) -> Charge | None:
        """Charge one request and its estimated tokens to every applicable budget, or raise QuotaExceeded
        having charged nothing. None when no rule applies (or the store is down and quotas fail open)."""
        now = self.clock()
        counters = counters_for(self.rules, caller, now)
        if not counters:
            return None
        try:
            refused = self.store.charge(counters, Cost(1, prompt_tokens + answer_tokens))
        except QuotaStoreUnavailable as exc:
            self._store_failed(exc)
            return None
        if refused is not None:
            raise self._exceeded(counters[refused], now)
        return Charge(counters, answer_tokens)

    def refund(self, charge: Charge | None, answer_tokens_used: int) -> None:
        """Give back the answer tokens charged but not generated; best effort (the charge errs high)."""
        if charge is None:
            return
        unused = charge.answer_tokens - max(answer_tokens_used, 0)
        if unused <= 0:
            return
        try:
            self.store.refund(charge.counters, unused)
        except QuotaStoreUnavailable as exc:
            QUOTA_STORE_ERRORS.inc()
            log.warning("could not refund %d unused quota tokens: %s", unused, exc)

    def _exceeded(self, counter: Counter, now: float) -> QuotaExceeded:
        QUOTA_REFUSED.labels(counter.rule_id).inc()
        reset = datetime.fromtimestamp(counter.resets_at, UTC).isoformat().replace("+00:00", "Z")
        rule = self._by_id.get(counter.rule_id)
        # Site budgets are the site's row, not a policy rule (services/core/quota/plan._site_counters).
        what = describe(rule) if rule is not None else f"the widget site's budget per {counter.window}"
        return QuotaExceeded(
            f"quota exceeded ({counter.rule_id}: {what}); it resets at {reset}",
            retry_after_s=max(1, math.ceil(counter.resets_at - now)),
            reset_at=counter.resets_at,
            rule_id=counter.rule_id,
        )

    def _store_failed(self, exc: QuotaStoreUnavailable) -> None:
        QUOTA_STORE_ERRORS.inc()
        if not self.fail_open:
            raise QuotaUnavailable("quota counters are unreachable; try again shortly") from exc
        # Failing open: an outage of the counters should not take chat down with it (quota_fail_open).
        log.warning("quota store unavailable, not enforcing quotas for this request: %s", exc)

    def close(self) -> None:
        self.store.close()
