"""Policies as data: loading, validation, and the decisions rules make."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.core.access.principals import Caller
from services.core.errors import ConfigurationError
from services.core.policy import PolicyEngine, PolicySet

TOPIC_RULES = """
rules:
  - id: no-gossip
    type: deny_topic
    keywords: [gossip, rumour]
    refusal: "Let's stick to work."
"""


def test_default_policy_folder_loads_with_ids() -> None:
    policy = PolicySet.from_path(Path(__file__).parents[2] / "policies" / "default")
    ids = [rule.id for rule in policy.rules]
    assert "retrieval.acl.groups" in ids
    assert any(i.startswith("input.deny-topic") for i in ids)


def test_deny_topic_matches_whole_words_case_insensitively() -> None:
    engine = PolicyEngine(PolicySet.from_content(TOPIC_RULES))
    decision = engine.check_input("Any GOSSIP about the merger?")
    assert decision is not None
    assert (decision.rule_id, decision.decision, decision.message) == ("no-gossip", "deny", "Let's stick to work.")
    assert "GOSSIP" in decision.reason
    assert engine.check_input("Where is the gossipy newsletter archive?") is None


def test_invalid_regex_is_rejected_with_the_file_named() -> None:
    bad = "rules:\n  - {id: x, type: deny_topic, patterns: ['(unclosed']}\n"
    with pytest.raises(ConfigurationError, match="invalid regular expression"):
        PolicySet.from_content(bad, source="bad.yaml")


def test_unknown_rule_type_and_duplicate_ids_are_rejected() -> None:
    with pytest.raises(ConfigurationError):
        PolicySet.from_content("rules:\n  - {id: x, type: teleport}\n")
    with pytest.raises(ConfigurationError, match="duplicate"):
        PolicySet.from_content(TOPIC_RULES, TOPIC_RULES)


def test_acl_filters_users_to_their_groups_and_lets_admins_read_all() -> None:
    engine = PolicyEngine(PolicySet.from_content("rules: []"))
    groups, decision = engine.retrieval_filter(Caller("1", "u", "user", ("hr", "everyone")))
    assert groups == ["everyone", "hr"]
    assert decision.decision == "filter" and decision.rule_id == "acl.default"
    admin_groups, admin_decision = engine.retrieval_filter(Caller("2", "a", "admin", ()))
    assert admin_groups is None and admin_decision.decision == "allow"


def test_a_user_with_no_groups_reads_nothing() -> None:
    groups, _ = PolicyEngine(PolicySet()).retrieval_filter(Caller("3", "n", "app", ()))
    assert groups == []
