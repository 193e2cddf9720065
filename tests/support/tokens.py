"""User tokens as a widget site's backend mints them (the same claims docs/widget.md shows)."""

from __future__ import annotations

import time
from typing import Any

import jwt


def mint(
    site_id: str,
    secret: str,
    sub: str,
    groups: list[str],
    *,
    ttl_s: int = 600,
    issued_at: float | None = None,
    algorithm: str = "HS256",
    **claims: Any,
) -> str:
    now = int(issued_at if issued_at is not None else time.time())
    body = {"sub": sub, "name": sub.title(), "groups": groups, "aud": site_id, "iat": now, "exp": now + ttl_s}
    return jwt.encode({**body, **claims}, secret, algorithm=algorithm)


def early_in_a_minute(room_s: float = 40.0) -> None:
    """Wait until at least `room_s` seconds of the current UTC minute remain: per-minute budgets are fixed windows,
    and a test that spends one must not see it refilled at the minute's turn halfway through."""
    into = time.time() % 60
    if 60 - into < room_s:
        time.sleep(60 - into + 0.1)
