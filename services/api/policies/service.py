"""Putting edited policy files in force without a restart."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.core import audit
from services.core.access.principals import Caller
from services.core.errors import ConfigurationError, InvalidInput
from services.core.policy import PolicySet, ReloadablePolicies
from services.core.quota import QuotaService


def reload(*, session: Session, policies: ReloadablePolicies, quotas: QuotaService, principal: Caller) -> PolicySet:
    """Load the policy folder again, quota rules included; a bad file is a 422 and the rules in force stay."""
    principal.require_role("admin")
    try:
        policy_set = policies.reload()
    except ConfigurationError as exc:
        raise InvalidInput(f"policies not reloaded, the rules in force are unchanged: {exc.message}") from exc
    quotas.replace_rules(policy_set.quota_rules)
    ids = [rule.id for rule in policy_set.rules]
    audit.admin_action(
        session,
        principal.id,
        "policy.reload",
        f"reloaded {len(ids)} rules from {policies.directory}",
        details={"rule_ids": ids},
    )
    return policy_set
