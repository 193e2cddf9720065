"""The audit chain's hash format (version 1): pure functions, shared by the writer, the verifier and migration 0004.

A row is hashed in two layers so that its payload can be erased without breaking the chain:

- payload digest = sha256(canonical {v, salt, reason, details}). `salt` is random per row and erased with the
  payload; without it a kept digest of a short question could be confirmed by guessing ("was it 'am I
  pregnant'?"), so erasure would not really erase.
- row hash = sha256(canonical {v, id, created_at, principal_id, action, rule_id, decision, payload_digest,
  prev_hash}): the skeleton, chained to the row before it.

This is a stored format: change it only by adding a version, never by editing version 1.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

HASH_VERSION = 1
# The predecessor of the first row ever written.
GENESIS_HASH = "0" * 64


def canonical(value: Any) -> bytes:
    """One byte string per JSON value: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def as_stored_json(details: dict[str, Any] | None) -> dict[str, Any]:
    """`details` as the database will give it back (tuples become lists, dates strings), so the digest taken
    before the insert equals the one recomputed after reading the row."""
    result: dict[str, Any] = json.loads(json.dumps(details or {}, default=str))
    return result


def to_utc(value: datetime) -> datetime:
    """A naive value is UTC (SQLite drops the offset); SQLite compares timestamps as text, so always UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def timestamp(value: datetime) -> str:
    """UTC, microseconds: what both SQLite and PostgreSQL keep."""
    return to_utc(value).isoformat(timespec="microseconds")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def payload_digest(salt: str, reason: str, details: dict[str, Any]) -> str:
    return sha256_hex(canonical({"v": HASH_VERSION, "salt": salt, "reason": reason, "details": details}))


def row_hash(
    *,
    id: int,
    created_at: datetime,
    principal_id: str | None,
    action: str,
    rule_id: str | None,
    decision: str,
    payload_digest: str,
    prev_hash: str,
) -> str:
    return sha256_hex(
        canonical(
            {
                "v": HASH_VERSION,
                "id": id,
                "created_at": timestamp(created_at),
                "principal_id": principal_id,
                "action": action,
                "rule_id": rule_id,
                "decision": decision,
                "payload_digest": payload_digest,
                "prev_hash": prev_hash,
            }
        )
    )
