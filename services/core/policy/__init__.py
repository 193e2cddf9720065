"""Policies as data: rules loaded from YAML, each decision carrying its rule id and a reason."""

from services.core.policy.engine import PolicyDecision, PolicyEngine
from services.core.policy.model import (
    AclRule,
    DenyTopicRule,
    GroundingRule,
    InjectionRule,
    LLMFallbackRule,
    PolicySet,
    QuotaRule,
)

__all__ = [
    "AclRule",
    "DenyTopicRule",
    "GroundingRule",
    "InjectionRule",
    "LLMFallbackRule",
    "PolicyDecision",
    "PolicyEngine",
    "PolicySet",
    "QuotaRule",
]
