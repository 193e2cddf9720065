"""Quotas: rules, the two counter stores (Redis; SQL on SQLite and PostgreSQL), and 429 before any LLM call.

The model is a stand-in: the app's `llm.gateway.complete`/`stream` are replaced by a recorder that answers at
once, so "zero LLM calls" is read off its list of prompts (nothing listens on the configured vLLM port)."""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.core.access.keys import authenticate
from services.core.access.principals import Caller
from services.core.db import migrate
from services.core.db.session import make_engine
from services.core.errors import ConfigurationError, QuotaExceeded
from services.core.llm.prompt import Prompt
from services.core.policy import PolicySet, QuotaRule
from services.core.quota import Cost, Counter, QuotaService, QuotaStore, Usage, counters_for
from services.core.quota.redis_store import RedisQuotaStore
from services.core.quota.sql_store import SqlQuotaStore
from services.core.settings import Settings
from tests.fixtures.documents import make_markdown
from tests.support.api import ClientFactory, issue_key, upload, wait_settled
from tests.support.settings import ADMIN_KEY, auth

DEFAULT_POLICIES = Path(__file__).parents[2] / "policies" / "default"
# A day start plus an hour: minute windows are aligned, and advancing a few minutes stays in the same day.
T0 = 1_800_000_000 - 1_800_000_000 % 86_400 + 3_600
QUESTION = "What is the guest Wi-Fi password?"
UNCOVERED = "What colour is the CEO's bicycle?"


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- rules and planning -------------------------------------------------------------------------------


def test_default_policy_has_quota_rules_for_people_only() -> None:
    rules = PolicySet.from_path(DEFAULT_POLICIES).quota_rules
    assert {(r.scope, r.window) for r in rules} == {("user", "minute"), ("user", "day")}
    person = Caller("p1", "alice", "user", ("everyone",))
    admin = Caller("p2", "root", "admin", ())
    assert len(counters_for(rules, person, T0)) == 2
    assert counters_for(rules, admin, T0) == []


def test_a_rule_must_limit_something() -> None:
    with pytest.raises(ConfigurationError, match="limits neither"):
        PolicySet.from_content("rules:\n  - {id: q, type: quota, scope: user, window: minute}\n")
    with pytest.raises(ConfigurationError):
        PolicySet.from_content("rules:\n  - {id: q, type: quota, scope: planet, window: minute, requests: 1}\n")


def test_counters_per_scope_match_and_window() -> None:
    rules = PolicySet.from_content(
        """
rules:
  - {id: u, type: quota, scope: user, window: minute, requests: 5}
  - {id: g, type: quota, scope: group, window: day, tokens: 100}
  - {id: hr, type: quota, scope: group, match: hr, window: minute, requests: 2}
  - {id: k, type: quota, scope: api_key, window: minute, requests: 3}
  - {id: o, type: quota, scope: origin, match: "https://Shop.Example.com/", window: minute, requests: 1}
"""
    ).quota_rules
    principal = Caller("p1", "alice", "user", ("hr", "everyone"), api_key="abc123")
    counters = counters_for(rules, replace(principal, origin="https://shop.example.com"), T0 + 90)
    assert sorted(c.key for c in counters) == [
        "g:group:everyone",
        "g:group:hr",
        "hr:group:hr",
        "k:api_key:abc123",
        "o:origin:https://shop.example.com",
        "u:user:p1",
    ]
    by_rule = {c.rule_id: c for c in counters}
    assert by_rule["u"].window_start == T0 + 60 and by_rule["u"].resets_at == T0 + 120
    assert by_rule["g"].window_start == T0 - 3_600 and by_rule["g"].resets_at == T0 - 3_600 + 86_400
    # No Origin header (not a browser), another origin, or no key: those rules do not apply.
    assert "o" not in {
        c.rule_id for c in counters_for(rules, replace(principal, origin="https://elsewhere.example"), T0)
    }
    assert "k" not in {c.rule_id for c in counters_for(rules, Caller("p2", "b", "user", ()), T0)}


# --- the store contract: Redis, SQLite, PostgreSQL ----------------------------------------------------------


@pytest.fixture(params=["redis", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QuotaStore]:
    if request.param == "redis":
        redis_url: str = request.getfixturevalue("redis_url")
        quota_store: QuotaStore = RedisQuotaStore(redis_url, prefix=f"test:{uuid.uuid4().hex}")
        yield quota_store
        quota_store.close()
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'quotas.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    migrate.upgrade(engine)
    yield SqlQuotaStore(engine)
    engine.dispose()


def counter(max_requests: int | None = None, max_tokens: int | None = None, window_start: int = T0) -> Counter:
    """A fresh budget (unique key, so stores shared between tests never collide)."""
    return Counter("r", f"r:user:{uuid.uuid4().hex}", "minute", window_start, 60, max_requests, max_tokens)


def test_charges_add_up_and_a_refusal_charges_nothing(store: QuotaStore) -> None:
    tight, loose = counter(max_requests=2), counter(max_tokens=1_000)
    assert store.usage([tight, loose]) == [Usage(0, 0), Usage(0, 0)]
    assert store.charge([tight, loose], Cost(1, 300)) is None
    assert store.charge([tight, loose], Cost(1, 300)) is None
    assert store.usage([tight, loose]) == [Usage(2, 600), Usage(2, 600)]
    # tight has no request left: refused, and loose is not charged either (all or nothing).
    assert store.charge([loose, tight], Cost(1, 10)) == 1
    # loose has no room for 500 tokens: refused as well, even though tight is not the problem this time.
    assert store.charge([loose], Cost(1, 500)) == 0
    assert store.usage([tight, loose]) == [Usage(2, 600), Usage(2, 600)]


def test_each_window_has_its_own_count(store: QuotaStore) -> None:
    first = counter(max_requests=1)
    second = Counter(first.rule_id, first.key, "minute", T0 + 60, 60, 1, None)
    assert store.charge([first], Cost(1, 0)) is None
    assert store.charge([first], Cost(1, 0)) == 0
    assert store.charge([second], Cost(1, 0)) is None
    assert store.usage([first, second]) == [Usage(1, 0), Usage(1, 0)]


def test_refund_gives_tokens_back_only_to_windows_that_exist(store: QuotaStore) -> None:
    charged, untouched = counter(max_tokens=500), counter(max_tokens=500)
    assert store.charge([charged], Cost(1, 400)) is None
    store.refund([charged, untouched], 250)
    assert store.usage([charged, untouched]) == [Usage(1, 150), Usage(0, 0)]
    assert store.charge([charged], Cost(1, 350)) is None


def test_concurrent_charges_never_overspend(store: QuotaStore) -> None:
    """16 threads race for a budget with room for exactly 37 charges (by tokens), over two counters each."""
    user, group = counter(max_requests=1_000, max_tokens=370), counter(max_requests=1_000)
    wins: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def race() -> None:
        start.wait()
        for _ in range(6):
            won = store.charge([user, group], Cost(1, 10)) is None
            with lock:
                wins.append(won)

    threads = [threading.Thread(target=race) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(wins) == 96 and wins.count(True) == 37
    assert store.usage([user, group]) == [Usage(37, 370), Usage(37, 370)]


def test_service_window_resets_with_the_clock(store: QuotaStore) -> None:
    rule = QuotaRule(id=f"q{uuid.uuid4().hex[:8]}", type="quota", scope="user", window="minute", requests=1)
    clock = FakeClock(T0 + 15)
    quotas = QuotaService([rule], store, clock=clock)
    caller = Caller(uuid.uuid4().hex, "alice", "user", ())
    quotas.ensure_room(caller)
    assert quotas.charge(caller, prompt_tokens=10, answer_tokens=5) is not None
    with pytest.raises(QuotaExceeded, match="resets at") as refused:
        quotas.ensure_room(caller)
    assert (refused.value.retry_after_s, refused.value.reset_at, refused.value.rule_id) == (45, T0 + 60, rule.id)
    clock.now = T0 + 60
    quotas.ensure_room(caller)
    assert quotas.charge(caller, prompt_tokens=10, answer_tokens=5) is not None


# --- the API: 429 before any LLM call ---------------------------------------------------------------------

RULES = """
rules:
  - {id: q.user.minute, type: quota, scope: user, roles: [user], window: minute, requests: 3}
  - {id: q.group.sales, type: quota, scope: group, match: sales, window: minute, requests: 2}
  - {id: q.origin.shop, type: quota, scope: origin, match: "https://shop.example.com", window: minute, requests: 2}
  - {id: q.key.app, type: quota, scope: api_key, roles: [app], window: minute, requests: 2}
  - {id: q.tokens.eater, type: quota, scope: user, match: tokeneater, window: day, tokens: 2100}
  - {id: q.burst, type: quota, scope: user, match: burst, window: minute, requests: 5}
"""
MAX_ANSWER_TOKENS = 1000


@dataclass
class RecordingGateway:
    """Stands in for vLLM: records every prompt it is sent and answers at once."""

    answer: str = "The guest Wi-Fi password is tulip42 [1]."
    prompts: list[Prompt] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, prompt: Prompt) -> None:
        with self.lock:
            self.prompts.append(prompt)

    async def complete(self, prompt: Prompt, usage: Any = None) -> str:
        self.record(prompt)
        return self.answer

    async def stream(self, prompt: Prompt, usage: Any = None) -> AsyncIterator[str]:
        self.record(prompt)
        yield self.answer

    @property
    def calls(self) -> int:
        return len(self.prompts)


@dataclass
class World:
    api: TestClient
    gateway: RecordingGateway
    clock: FakeClock

    @property
    def quotas(self) -> QuotaService:
        quotas: QuotaService = self.api.app.state.runtime.quotas  # type: ignore[attr-defined]
        return quotas

    def chat(self, key: str, question: str = QUESTION, **headers: str) -> Any:
        return self.api.post("/v1/chat", json={"question": question}, headers={**auth(key), **headers})

    def principal(self, key: str) -> Caller:
        runtime = self.api.app.state.runtime  # type: ignore[attr-defined]
        with runtime.sessions() as session, session.begin():
            return authenticate(session, key, ADMIN_KEY)


@pytest.fixture(scope="module", params=["database", "redis"])
def world(
    request: pytest.FixtureRequest, embedded_api: ClientFactory, tmp_path_factory: pytest.TempPathFactory
) -> World:
    policies = tmp_path_factory.mktemp("policies")
    for path in DEFAULT_POLICIES.glob("*.yaml"):
        if path.name != "quotas.yaml":
            shutil.copy(path, policies / path.name)
    (policies / "quotas.yaml").write_text(RULES)
    overrides: dict[str, Any] = {"policies_dir": policies, "llm_max_tokens": MAX_ANSWER_TOKENS}
    if request.param == "redis":
        overrides.update(quota_store="redis", quota_redis_url=request.getfixturevalue("redis_url"))
    api = embedded_api(**overrides)
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    assert runtime.settings.quota_store == request.param
    gateway = RecordingGateway()
    llm = api.app.state.llm  # type: ignore[attr-defined]
    llm.gateway.complete, llm.gateway.stream = gateway.complete, gateway.stream
    doc = upload(
        api, ADMIN_KEY, "wifi.md", make_markdown("Wi-Fi", [("Guests", "The guest Wi-Fi password is tulip42.")])
    )
    wait_settled(api, ADMIN_KEY, doc.json()["id"])
    return World(api, gateway, FakeClock())


@pytest.fixture
def w(world: World) -> World:
    """The module's app with a fresh clock at T0 (every test uses principals of its own)."""
    world.clock = FakeClock()
    world.quotas.clock = world.clock
    return world


def assert_quota_429(response: Any, rule_id: str, resets_at: int) -> None:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "quota_exceeded" and rule_id in error["message"]
    assert datetime.fromtimestamp(resets_at, UTC).isoformat().replace("+00:00", "Z") in error["message"]
    assert response.headers["X-RateLimit-Reset"] == str(resets_at)
    assert 1 <= int(response.headers["Retry-After"]) <= resets_at - T0


def test_user_request_limit_refuses_before_the_model_is_called(w: World) -> None:
    key = issue_key(w.api, "alice", "user", ["everyone"])
    for _ in range(3):
        response = w.chat(key)
        assert response.status_code == 200, response.text
        assert response.json()["generated"] is True
    calls = w.gateway.calls
    assert_quota_429(w.chat(key), "q.user.minute", T0 + 60)
    streamed = w.api.post("/v1/chat", json={"question": QUESTION, "stream": True}, headers=auth(key))
    assert_quota_429(streamed, "q.user.minute", T0 + 60)
    assert w.gateway.calls == calls  # the refused requests never reached the model
    # A question the input policy refuses costs a request too: probing the rules while over budget is a 429.
    assert_quota_429(w.chat(key, "How do I build a bomb?"), "q.user.minute", T0 + 60)
    other = issue_key(w.api, "alice-two", "user", ["everyone"])
    refused = w.chat(other, "How do I build a bomb?")
    assert refused.status_code == 200 and refused.json()["refused"] is True


def test_answers_without_the_model_are_not_counted(w: World) -> None:
    key = issue_key(w.api, "curious", "user", ["everyone"])
    for _ in range(5):
        response = w.chat(key, UNCOVERED)
        assert response.status_code == 200 and response.json()["answer"].startswith("I don't know")
    assert w.chat(key).status_code == 200  # the budget of 3 is untouched


def test_users_do_not_share_a_budget_and_the_window_resets(w: World) -> None:
    alice, bob = issue_key(w.api, "alice2", "user", ["everyone"]), issue_key(w.api, "bob", "user", ["everyone"])
    for _ in range(3):
        assert w.chat(alice).status_code == 200
    assert w.chat(alice).status_code == 429
    assert w.chat(bob).status_code == 200
    w.clock.now = T0 + 59
    assert w.chat(alice).headers["Retry-After"] == "1"
    w.clock.now = T0 + 60
    assert w.chat(alice).status_code == 200


def test_group_budget_is_shared_by_its_members(w: World) -> None:
    carol, dave = (
        issue_key(w.api, "carol", "user", ["sales", "everyone"]),
        issue_key(w.api, "dave", "user", ["sales", "everyone"]),
    )
    erin = issue_key(w.api, "erin", "user", ["everyone"])
    assert w.chat(carol).status_code == 200
    assert w.chat(dave).status_code == 200
    calls = w.gateway.calls
    assert_quota_429(w.chat(carol), "q.group.sales", T0 + 60)
    assert_quota_429(w.chat(dave), "q.group.sales", T0 + 60)
    assert w.gateway.calls == calls
    assert w.chat(erin).status_code == 200  # not in sales


def test_origin_budget_counts_requests_from_that_site(w: World) -> None:
    shop = {"Origin": "https://shop.example.com"}
    assert w.chat(ADMIN_KEY, **shop).status_code == 200
    assert w.chat(ADMIN_KEY, **shop).status_code == 200
    calls = w.gateway.calls
    assert_quota_429(w.chat(ADMIN_KEY, **shop), "q.origin.shop", T0 + 60)
    assert w.gateway.calls == calls
    assert w.chat(ADMIN_KEY, Origin="https://intranet.example.com").status_code == 200
    assert w.chat(ADMIN_KEY).status_code == 200  # no Origin: not the widget


def test_api_key_budget_is_per_key(w: World) -> None:
    first = issue_key(w.api, "erp", "app", ["everyone"])
    second = issue_key(w.api, "erp", "app", ["everyone"])  # the same application, a second key
    assert w.chat(first).status_code == 200
    assert w.chat(first).status_code == 200
    assert_quota_429(w.chat(first), "q.key.app", T0 + 60)
    assert w.chat(second).status_code == 200


def test_token_budget_refuses_the_request_that_would_overspend(w: World) -> None:
    key = issue_key(w.api, "tokeneater", "admin", [])
    (budget,) = counters_for(w.quotas.rules, w.principal(key), w.clock())
    assert w.chat(key).status_code == 200
    (used,) = w.quotas.store.usage([budget])
    # Charged prompt + 1000 answer tokens, then given back what the short answer did not use.
    assert used.requests == 1 and 0 < used.tokens < MAX_ANSWER_TOKENS
    for _ in range(10):  # each answer costs its prompt and a few tokens: a handful of them spend 2100
        calls, before = w.gateway.calls, w.quotas.store.usage([budget])
        w.clock.now += 60  # past the minute, so only the daily token budget is in play
        response = w.chat(key)
        if response.status_code != 200:
            break
    assert_quota_429(response, "q.tokens.eater", T0 - 3_600 + 86_400)
    assert w.gateway.calls == calls
    # Nothing was charged for the refusal (its prompt + 1000 did not fit in what was left), and never overspent.
    assert w.quotas.store.usage([budget]) == before
    assert before[0].requests >= 2 and before[0].tokens <= 2100


def test_concurrent_chats_never_overspend(w: World) -> None:
    key = issue_key(w.api, "burst", "admin", [])
    calls = w.gateway.calls
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = sorted(pool.map(lambda _: w.chat(key).status_code, range(12)))
    assert statuses == [200] * 5 + [429] * 7
    assert w.gateway.calls == calls + 5


def test_quota_store_is_chosen_by_the_broker(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).quota_store == "database"
    redis = Settings(data_dir=tmp_path, broker_url="redis://127.0.0.1:6390/0")
    assert (redis.quota_store, redis.quota_redis_url) == ("redis", "redis://127.0.0.1:6390/0")
    with pytest.raises(ValueError, match="QUOTA_REDIS_URL"):
        Settings(data_dir=tmp_path, quota_store="redis")
