"""Which budgets a request draws on: quota rules applied to one caller in the current fixed window."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from services.core.access.principals import Caller
from services.core.access.rules import normalize_origin
from services.core.policy.model import QuotaRule

WINDOW_SECONDS = {"minute": 60, "day": 86_400}
# Counter keys are stored in a bounded column; a longer subject (an odd origin) is replaced by its hash.
MAX_KEY_CHARS = 200


@dataclass(frozen=True)
class Counter:
    """One budget in one window: a rule applied to one subject (a user, a group, a key or an origin)."""

    rule_id: str
    key: str
    window: str
    window_start: int  # epoch seconds, aligned to the window (UTC)
    window_s: int
    max_requests: int | None
    max_tokens: int | None

    @property
    def resets_at(self) -> int:
        return self.window_start + self.window_s


@dataclass(frozen=True)
class Usage:
    requests: int = 0
    tokens: int = 0


@dataclass(frozen=True)
class Cost:
    requests: int
    tokens: int


def overflows(counter: Counter, used: Usage, cost: Cost) -> bool:
    """Whether adding `cost` to `used` would go past the counter's limits."""
    return (counter.max_requests is not None and used.requests + cost.requests > counter.max_requests) or (
        counter.max_tokens is not None and used.tokens + cost.tokens > counter.max_tokens
    )


def _subjects(rule: QuotaRule, caller: Caller) -> Iterator[str]:
    if rule.roles is not None and caller.role not in rule.roles:
        return
    if rule.scope == "user":
        if rule.match is None or rule.match == caller.name:
            yield caller.id
    elif rule.scope == "group":
        yield from (g for g in sorted(set(caller.groups)) if rule.match is None or rule.match == g)
    elif rule.scope == "api_key":
        if caller.api_key is not None and (rule.match is None or rule.match == caller.api_key):
            yield caller.api_key
    elif caller.origin:  # origin: only requests that carry an Origin header (browsers, i.e. the widget)
        origin = normalize_origin(caller.origin)
        if rule.match is None or rule.match == origin:
            yield origin


def counter_key(rule: QuotaRule, subject: str) -> str:
    key = f"{rule.id}:{rule.scope}:{subject}"
    if len(key) > MAX_KEY_CHARS:
        key = f"{rule.id}:{rule.scope}:sha256:{hashlib.sha256(subject.encode()).hexdigest()}"
    return key[:MAX_KEY_CHARS]


def counters_for(rules: Sequence[QuotaRule], caller: Caller, now: float) -> list[Counter]:
    """Every counter a request by `caller` at `now` must fit, in a fixed order (stores lock them in it)."""
    counters = []
    for rule in rules:
        window_s = WINDOW_SECONDS[rule.window]
        start = int(now // window_s) * window_s
        for subject in _subjects(rule, caller):
            counters.append(
                Counter(rule.id, counter_key(rule, subject), rule.window, start, window_s, rule.requests, rule.tokens)
            )
    counters.extend(_site_counters(caller, now))
    return sorted(counters, key=lambda c: (c.key, c.window_start))


def _site_counters(caller: Caller, now: float) -> Iterator[Counter]:
    """The budgets an admin gave the widget site the request came through (`steward sites create`), on top of
    the policy's rules: one site's users cannot spend the whole service."""
    site = caller.site
    if site is None:
        return
    for window, requests, tokens in (("minute", site.requests_per_minute, None), ("day", None, site.tokens_per_day)):
        if requests is None and tokens is None:
            continue
        window_s = WINDOW_SECONDS[window]
        start = int(now // window_s) * window_s
        yield Counter(f"site.{window}", f"site:{site.id}:{window}", window, start, window_s, requests, tokens)
