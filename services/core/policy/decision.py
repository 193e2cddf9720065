"""A policy decision: what one rule decided at one stage, and why. Every decision is written to the audit log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class PolicyDecision:
    """What one rule decided and why; every decision is written to the audit log."""

    rule_id: str
    stage: str
    # flag: allowed but marked for review; drop / neutralise: a retrieved chunk removed / defanged.
    decision: Literal["allow", "deny", "filter", "flag", "drop", "neutralise"]
    reason: str
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
