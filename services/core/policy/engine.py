"""Evaluates a PolicySet at each stage of a chat and returns decisions for the audit log."""

from __future__ import annotations

from collections.abc import Sequence

from services.core.access.principals import Caller
from services.core.access.rules import ReadScope
from services.core.policy.decision import PolicyDecision
from services.core.policy.model import DenyTopicRule, GroundingRule, LLMFallbackRule, PolicySet
from services.core.policy.screening import HeuristicScreen, InjectionScreen, screen_chunks, screen_question
from services.core.vectorstore import ScoredChunk


class PolicyEngine:
    """Applies rules; compiled once at start-up."""

    def __init__(self, policy_set: PolicySet, screen: InjectionScreen | None = None) -> None:
        self.policy_set = policy_set
        # What scores questions and chunks for injection rules: the learned model in a server, else heuristics.
        self.screen: InjectionScreen = screen or HeuristicScreen()
        self._topic_rules = [(rule, rule.matcher()) for rule in policy_set.rules if isinstance(rule, DenyTopicRule)]
        self._injection_rules = policy_set.injection_rules

    def check_input(self, question: str, caller: Caller | None = None) -> PolicyDecision | None:
        """The first deny-topic rule (that applies to `caller`) the question trips, or None when it may proceed."""
        for rule, matcher in self._topic_rules:
            if not rule.applies_to(caller):
                continue
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

    def screen_input(self, question: str, caller: Caller | None = None) -> list[PolicyDecision]:
        """Injection rules on the question: a "deny" decision refuses it, "flag" ones are only audited."""
        return screen_question([r for r in self._injection_rules if r.applies_to(caller)], question, self.screen)

    def screen_chunks(
        self, chunks: Sequence[ScoredChunk], caller: Caller | None = None
    ) -> tuple[list[ScoredChunk], list[PolicyDecision]]:
        """Injection rules on retrieved chunks: the chunks left for the prompt and a decision per suspicious one."""
        return screen_chunks([r for r in self._injection_rules if r.applies_to(caller)], chunks, self.screen)

    def grounding_for(self, caller: Caller | None) -> GroundingRule | None:
        """The first grounding rule that applies to `caller`; None leaves the grounding_* settings in charge."""
        return next((r for r in self.policy_set.grounding_rules if r.applies_to(caller)), None)

    def llm_fallback(self, reason: str, caller: Caller | None = None) -> PolicyDecision | None:
        """The decision to answer from sources alone while the model is down, if a rule allows it."""
        rule = next(
            (
                r
                for r in self.policy_set.rules
                if isinstance(r, LLMFallbackRule) and r.retrieval_only and r.applies_to(caller)
            ),
            None,
        )
        if rule is None:
            return None
        return PolicyDecision(rule.id, "output", "allow", f"model unavailable ({reason}); sources only", rule.message)

    def retrieval_filter(self, principal: Caller) -> tuple[list[str] | None, PolicyDecision]:
        """The groups a principal's retrieval is restricted to, and the decision saying so."""
        scope, decision = self.read_scope(principal)
        return (None if scope.groups is None else list(scope.groups)), decision

    def read_scope(self, principal: Caller) -> tuple[ReadScope, PolicyDecision]:
        """The groups and classification levels a principal's retrieval is restricted to, and the decision."""
        rule = self.policy_set.acl_rule
        if principal.role == "admin" and rule.admins_read_all:
            return ReadScope.everything(), PolicyDecision(rule.id, "retrieval", "allow", "admin reads every document")
        scope = ReadScope.of(principal.groups, principal.clearance)
        groups, levels = list(scope.groups or ()), list(scope.classifications or ())
        return scope, PolicyDecision(
            rule.id,
            "retrieval",
            "filter",
            f"restricted to groups {groups} and classifications {levels}",
            details={"groups": groups, "classifications": levels, "clearance": principal.clearance},
        )
