"""Evaluates a PolicySet at each stage of a chat and returns decisions for the audit log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from services.core.auth import PrincipalContext
from services.core.policy.model import DenyTopicRule, PolicySet


@dataclass(frozen=True)
class PolicyDecision:
    """What one rule decided and why; every decision is written to the audit log."""

    rule_id: str
    stage: str
    decision: Literal["allow", "deny", "filter"]
    reason: str
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class PolicyEngine:
    """Applies rules; compiled once at start-up."""

    def __init__(self, policy_set: PolicySet) -> None:
        self.policy_set = policy_set
        self._topic_rules = [(rule, rule.matcher()) for rule in policy_set.rules if isinstance(rule, DenyTopicRule)]

    def check_input(self, question: str) -> PolicyDecision | None:
        """The first deny-topic rule the question trips, or None when it may proceed."""
        for rule, matcher in self._topic_rules:
            match = matcher.search(question) if matcher else None
            if match:
                return PolicyDecision(
                    rule_id=rule.id,
                    stage="input",
                    decision="deny",
                    reason=f"question matches denied topic term {match.group(0)!r}",
                    message=rule.refusal,
                )
        return None

    def llm_fallback(self, reason: str) -> PolicyDecision | None:
        """The decision to answer from sources alone while the model is down, if a rule allows it."""
        rule = self.policy_set.fallback_rule
        if rule is None:
            return None
        return PolicyDecision(rule.id, "output", "allow", f"model unavailable ({reason}); sources only", rule.message)

    def retrieval_filter(self, principal: PrincipalContext) -> tuple[list[str] | None, PolicyDecision]:
        """The groups a principal's retrieval is restricted to, and the decision saying so."""
        rule = self.policy_set.acl_rule
        if principal.role == "admin" and rule.admins_read_all:
            return None, PolicyDecision(rule.id, "retrieval", "allow", "admin reads every document")
        groups = sorted(principal.groups)
        return groups, PolicyDecision(
            rule.id, "retrieval", "filter", f"restricted to groups {groups}", details={"groups": groups}
        )
