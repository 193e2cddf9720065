"""Policy sets as files: errors name file and line, `steward policy test` runs fixtures, reload needs no restart."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from services.cli.main import cli
from services.core.errors import ConfigurationError
from services.core.policy import PolicySet
from tests.support.api import ClientFactory, issue_key
from tests.support.settings import ADMIN_KEY, auth

DEFAULT = Path("policies/default")


def copy_default(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT, folder)
    return folder


def test_a_bad_file_is_named_with_its_line_and_reason(tmp_path: Path) -> None:
    folder = copy_default(tmp_path)
    with (folder / "input.yaml").open("a") as handle:
        handle.write("  - id: input.broken\n    type: deny_topic\n    patterns: ['([unclosed']\n")
    broken_line = (folder / "input.yaml").read_text().splitlines().index("    patterns: ['([unclosed']") + 1
    with pytest.raises(ConfigurationError) as raised:
        PolicySet.from_path(folder)
    message = raised.value.message
    assert f"{folder / 'input.yaml'}, line {broken_line}" in message and "invalid regular expression" in message


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("rules:\n  - id: x\n    type: teleport\n", "line 2"),
        ("rules: [\n", "not valid YAML"),
        ("- just a list\n", "a mapping with a `rules` list"),
        ("rules:\n  - id: a\n    type: acl\n  - id: a\n    type: acl\n", "duplicate policy rule ids: a"),
    ],
)
def test_malformed_policy_texts_fail_at_load(text: str, reason: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        PolicySet.from_content(text, source="t.yaml")
    assert reason in raised.value.message


def test_from_dict_builds_the_same_rules_as_yaml() -> None:
    data = {"rules": [{"id": "input.deny-topic.x", "type": "deny_topic", "keywords": ["xylophone"]}]}
    assert PolicySet.from_dict(data) == PolicySet.from_content(
        "rules:\n  - id: input.deny-topic.x\n    type: deny_topic\n    keywords: [xylophone]\n"
    )
    with pytest.raises(ConfigurationError, match="rules"):
        PolicySet.from_dict({"rules": [{"id": "y", "type": "deny_topic", "patterns": ["("]}]})


def test_policy_test_command_passes_on_the_default_set_and_names_a_failing_case(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["policy", "test", str(DEFAULT)])
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output
    folder = copy_default(tmp_path)
    (folder / "tests" / "extra.yaml").write_text(
        "cases:\n  - name: canteen questions are refused\n    question: When does the canteen open?\n"
        "    expect: [{rule: input.deny-topic.weapons, decision: deny}]\n"
    )
    failing = runner.invoke(cli, ["policy", "test", str(folder)])
    assert failing.exit_code == 1
    assert "FAIL  canteen questions are refused" in failing.output and "1 failed" in failing.output


def test_reload_puts_edited_rules_in_force_and_keeps_them_when_a_file_is_bad(
    tmp_path: Path, embedded_api: ClientFactory
) -> None:
    folder = copy_default(tmp_path)
    api = embedded_api(policies_dir=folder)
    user = issue_key(api, "reloader", "user", ["everyone"])
    question = {"question": "Where do I buy a xylophone for the office band?"}
    assert api.post("/v1/chat", json=question, headers=auth(user)).json()["refused"] is False
    with (folder / "input.yaml").open("a") as handle:
        handle.write(
            "  - id: input.deny-topic.music\n    type: deny_topic\n    keywords: [xylophone]\n"
            "    refusal: No instruments.\n"
        )
    assert api.post("/v1/admin/policies/reload", headers=auth(user)).status_code == 403
    reloaded = api.post("/v1/admin/policies/reload", headers=auth(ADMIN_KEY))
    assert reloaded.status_code == 200, reloaded.text
    assert "input.deny-topic.music" in reloaded.json()["rule_ids"]
    refused = api.post("/v1/chat", json=question, headers=auth(user)).json()
    assert refused["refused"] is True and refused["answer"] == "No instruments."

    (folder / "output.yaml").write_text("rules:\n  - id: broken\n    type: nonsense\n")
    bad = api.post("/v1/admin/policies/reload", headers=auth(ADMIN_KEY))
    assert bad.status_code == 422 and "output.yaml, line 2" in bad.json()["error"]["message"]
    assert api.post("/v1/chat", json=question, headers=auth(user)).json()["refused"] is True  # old rules stay


def caller(name: str = "ann", role: str = "user", groups: tuple[str, ...] = ()) -> Any:
    from services.core.access.principals import Caller

    return Caller(id=name, name=name, role=role, groups=groups)  # type: ignore[arg-type]


def test_rules_apply_only_to_the_roles_groups_and_apps_they_name() -> None:
    from services.core.policy import PolicyEngine

    engine = PolicyEngine(
        PolicySet.from_dict(
            {
                "rules": [
                    {"id": "crm-only", "type": "deny_topic", "keywords": ["salary"], "roles": ["app"], "apps": ["crm"]},
                    {"id": "interns", "type": "deny_topic", "keywords": ["merger"], "groups": ["interns"]},
                    {"id": "everyone", "type": "deny_topic", "keywords": ["bomb"]},
                    {"id": "strict-grounding", "type": "grounding", "action": "hold", "groups": ["legal"]},
                    # The names before 2026-12: remove (now hold) and flag (now annotate) still load.
                    {"id": "apps-flag", "type": "grounding", "action": "flag", "roles": ["app"]},
                ]
            }
        )
    )
    salary, merger = "What is the CEO's salary?", "Any news on the merger?"
    assert engine.check_input(salary, caller("crm", "app")).rule_id == "crm-only"  # type: ignore[union-attr]
    assert engine.check_input(salary, caller("billing", "app")) is None
    assert engine.check_input(salary, caller("crm", "user")) is None  # a person named like the app is not it
    assert engine.check_input(merger, caller(groups=("interns", "everyone"))).rule_id == "interns"  # type: ignore[union-attr]
    assert engine.check_input(merger, caller(groups=("staff",))) is None
    assert engine.check_input("bomb?", caller()).rule_id == "everyone"  # type: ignore[union-attr]
    assert engine.grounding_for(caller(groups=("legal",))).action == "hold"  # type: ignore[union-attr]
    assert engine.grounding_for(caller("crm", "app")).action == "annotate"  # type: ignore[union-attr]
    assert engine.grounding_for(caller()) is None  # the settings decide


def test_scoped_topic_rule_through_chat_refuses_only_its_group(tmp_path: Path, embedded_api: ClientFactory) -> None:
    folder = copy_default(tmp_path)
    with (folder / "input.yaml").open("a") as handle:
        handle.write(
            "  - id: input.deny-topic.interns-merger\n    type: deny_topic\n    keywords: [merger]\n"
            "    groups: [interns]\n    refusal: Interns cannot ask about the merger.\n"
        )
    api = embedded_api(policies_dir=folder)
    intern = issue_key(api, "intern", "user", ["interns"])
    staff = issue_key(api, "staffer", "user", ["staff"])
    question = {"question": "When will the merger be announced?"}
    refused = api.post("/v1/chat", json=question, headers=auth(intern)).json()
    assert refused["refused"] is True and refused["answer"] == "Interns cannot ask about the merger."
    assert api.post("/v1/chat", json=question, headers=auth(staff)).json()["refused"] is False
