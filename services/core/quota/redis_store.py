"""Quota counters in Redis (production): one hash per (budget, window), checked and charged by one Lua script."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from services.core.quota.plan import Cost, Counter, Usage
from services.core.quota.port import QuotaStoreUnavailable

# Checks every counter, then charges all of them, in one script: Redis runs it atomically, so concurrent
# requests (from any number of API processes) can never both take the last unit of a budget.
# KEYS: one hash per counter (fields r, t). ARGV: requests, tokens, then per key: max requests, max tokens
# (-1: unlimited), ttl. Returns 0 when charged, else the 1-based index of the first counter without room.
_CHARGE = """
local cost_r, cost_t = tonumber(ARGV[1]), tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  local used = redis.call('HMGET', key, 'r', 't')
  local max_r, max_t = tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1])
  if (max_r >= 0 and (tonumber(used[1]) or 0) + cost_r > max_r)
      or (max_t >= 0 and (tonumber(used[2]) or 0) + cost_t > max_t) then
    return i
  end
end
for i, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'r', cost_r)
  redis.call('HINCRBY', key, 't', cost_t)
  redis.call('EXPIRE', key, tonumber(ARGV[3 * i + 2]))
end
return 0
"""
# A refund only touches a window that still exists: a late one must not recreate an expired key without a TTL.
_REFUND = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    redis.call('HINCRBY', key, 't', -tonumber(ARGV[1]))
  end
end
return 0
"""
# Keys carry their window start, so a new window is a new key; the TTL (from the last charge, independent of
# the caller's clock) only bounds memory and outlives the window.
TTL_GRACE_S = 60


class RedisQuotaStore:
    def __init__(self, url: str, prefix: str = "steward:quota") -> None:
        self.prefix = prefix
        # Short timeouts: a quota check must not make a chat wait long on a sick Redis.
        self._redis: Any = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._charge = self._redis.register_script(_CHARGE)
        self._refund = self._redis.register_script(_REFUND)

    def _key(self, counter: Counter) -> str:
        return f"{self.prefix}:{counter.key}:{counter.window_start}"

    def usage(self, counters: Sequence[Counter]) -> list[Usage]:
        if not counters:
            return []
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for counter in counters:
                    pipe.hmget(self._key(counter), "r", "t")
                rows = pipe.execute()
        except redis.RedisError as exc:
            raise QuotaStoreUnavailable(f"redis: {exc}") from exc
        return [Usage(int(r or 0), int(t or 0)) for r, t in rows]

    def charge(self, counters: Sequence[Counter], cost: Cost) -> int | None:
        if not counters:
            return None
        args: list[int] = [cost.requests, cost.tokens]
        for c in counters:
            args += [-1 if c.max_requests is None else c.max_requests, -1 if c.max_tokens is None else c.max_tokens]
            args.append(c.window_s + TTL_GRACE_S)
        try:
            refused = int(self._charge(keys=[self._key(c) for c in counters], args=args))
        except redis.RedisError as exc:
            raise QuotaStoreUnavailable(f"redis: {exc}") from exc
        return None if refused == 0 else refused - 1

    def refund(self, counters: Sequence[Counter], tokens: int) -> None:
        if not counters or tokens <= 0:
            return
        try:
            self._refund(keys=[self._key(c) for c in counters], args=[tokens])
        except redis.RedisError as exc:
            raise QuotaStoreUnavailable(f"redis: {exc}") from exc

    def close(self) -> None:
        self._redis.close()
