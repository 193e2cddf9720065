"""Policies as data: rules loaded from YAML, each decision carrying its rule id and a reason."""

from services.core.policy.decision import PolicyDecision
from services.core.policy.engine import PolicyEngine
from services.core.policy.model import (
    AclRule,
    DenyTopicRule,
    GroundingRule,
    InjectionRule,
    LLMFallbackRule,
    PolicySet,
    QuotaRule,
)
from services.core.policy.reloadable import ReloadablePolicies

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
    "ReloadablePolicies",
]
