"""Quotas: request and token budgets per user, group, API key and widget origin, per minute and per day.

The rules are policy files (`type: quota`); the counters live behind the QuotaStore port, in Redis
(production) or the SQL database (embedded), chosen by `settings.quota_store`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from services.core.policy.model import QuotaRule
from services.core.quota.plan import Cost, Counter, Usage, counters_for
from services.core.quota.port import QuotaStore, QuotaStoreUnavailable
from services.core.quota.service import Charge, QuotaService
from services.core.registry import Registry

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from services.core.settings import Settings

__all__ = [
    "Charge",
    "Cost",
    "Counter",
    "QuotaService",
    "QuotaStore",
    "QuotaStoreUnavailable",
    "Usage",
    "build_quota_service",
    "build_quota_store",
    "counters_for",
    "quota_stores",
]

quota_stores: Registry[QuotaStore] = Registry("quota store")


@quota_stores.register("redis")
def _redis(settings: Settings, _engine: Engine) -> QuotaStore:
    from services.core.quota.redis_store import RedisQuotaStore

    return RedisQuotaStore(settings.quota_redis_url)


@quota_stores.register("database")
def _database(_settings: Settings, engine: Engine) -> QuotaStore:
    from services.core.quota.sql_store import SqlQuotaStore

    return SqlQuotaStore(engine)


def build_quota_store(settings: Settings, engine: Engine) -> QuotaStore:
    """The adapter named by `settings.quota_store` (`auto` is resolved by Settings)."""
    return quota_stores.create(settings.quota_store, settings, engine)


def build_quota_service(settings: Settings, engine: Engine, rules: Sequence[QuotaRule]) -> QuotaService:
    return QuotaService(rules, build_quota_store(settings, engine), settings.quota_fail_open)
