"""The policy file format: a folder of YAML files, each holding a list of `rules`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, field_validator, model_validator

from services.core.access.principals import Caller
from services.core.access.rules import normalize_origin
from services.core.errors import ConfigurationError


class Scoped(BaseModel):
    """Who a rule applies to. Empty means everyone; each list given must match (a role of `roles`, a group
    of `groups`, an application named in `apps`), so `roles: [app]` plus `apps: [crm]` is the CRM app only."""

    roles: list[Literal["admin", "user", "app"]] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    apps: list[str] = Field(default_factory=list)

    def applies_to(self, caller: Caller | None) -> bool:
        if caller is None:  # policy fixtures and internal checks without a principal: the rule as written
            return not (self.roles or self.groups or self.apps)
        if self.roles and caller.role not in self.roles:
            return False
        if self.groups and not set(self.groups) & set(caller.groups):
            return False
        return not self.apps or (caller.role == "app" and caller.name in self.apps)


class DenyTopicRule(Scoped):
    """Refuses questions on a topic, recognised by keywords (whole words) or regular expressions."""

    id: str
    type: Literal["deny_topic"]
    stage: Literal["input"] = "input"
    description: str = ""
    keywords: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    refusal: str = "I can't help with that topic."

    @field_validator("patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
        return patterns

    def matcher(self) -> re.Pattern[str] | None:
        alternatives = [rf"\b{re.escape(word)}\b" for word in self.keywords] + self.patterns
        return re.compile("|".join(f"(?:{a})" for a in alternatives), re.IGNORECASE) if alternatives else None


class InjectionRule(Scoped):
    """Prompt-injection screening (services/core/injection): a score at or above `threshold` triggers `action`.

    At stage `input` the question is scored: `deny` refuses it with `refusal`, `flag` answers it and audits.
    At stage `retrieval` each retrieved chunk is scored: `drop` removes it from the prompt, `neutralise`
    replaces its instruction sentences with "[instruction removed]", `flag` keeps it and audits."""

    id: str
    type: Literal["injection"]
    stage: Literal["input", "retrieval"]
    description: str = ""
    # A score in (0, 1], or "tuned": the cut-off the injection model was tuned to for this stage (questions or
    # documents; services/core/policy/injection_model.json).
    threshold: float | Literal["tuned"] = Field(default=0.5)
    action: Literal["deny", "flag", "drop", "neutralise"]
    refusal: str = "I can't act on instructions like that. Please ask a question about the company's documents."

    @field_validator("threshold")
    @classmethod
    def _threshold_in_range(cls, value: float | str) -> float | str:
        if value != "tuned" and not 0 < float(value) <= 1:
            raise ValueError("threshold must be in (0, 1] or 'tuned'")
        return value

    @model_validator(mode="after")
    def _action_fits_stage(self) -> InjectionRule:
        allowed = {"input": ("deny", "flag"), "retrieval": ("drop", "neutralise", "flag")}[self.stage]
        if self.action not in allowed:
            raise ValueError(f"injection rule {self.id!r}: action at stage {self.stage} must be one of {allowed}")
        return self


class AclRule(BaseModel):
    """Retrieval only sees chunks whose document shares a group with the principal (admins see all)."""

    id: str
    type: Literal["acl"]
    stage: Literal["retrieval"] = "retrieval"
    description: str = ""
    admins_read_all: bool = True


class LLMFallbackRule(Scoped):
    """When the model is down, answer with the retrieved sources alone instead of an error."""

    id: str
    type: Literal["llm_fallback"]
    stage: Literal["output"] = "output"
    description: str = ""
    retrieval_only: bool = True
    message: str = "The language model is unavailable right now, so here are the passages that seem to answer this:"


class GroundingRule(Scoped):
    """Every answer sentence is checked against its sources (services/core/answers/grounding.py): `annotate`
    streams tokens at once and sends each sentence's verdict after it, `hold` sends only sentences that passed,
    `off` skips the check (`remove` and `flag`, the older names, mean hold and annotate). Overrides the
    `grounding_*` settings for the callers it applies to (the first matching rule wins)."""

    id: str
    type: Literal["grounding"]
    stage: Literal["output"] = "output"
    description: str = ""
    action: Literal["annotate", "hold", "off"] = "annotate"

    @field_validator("action", mode="before")
    @classmethod
    def _legacy_action(cls, value: Any) -> Any:
        return {"remove": "hold", "flag": "annotate"}.get(value, value) if isinstance(value, str) else value

    min_similarity: float | None = Field(default=None, gt=0, le=1)


class QuotaRule(BaseModel):
    """A budget of requests and/or tokens per window, for each user, group, API key or widget origin.

    Without `match` every subject of the scope gets its own budget (each user, each of a caller's groups,
    each key, each origin); with it, only that one (a user or group name, a key's prefix, an origin).
    `roles` narrows the rule to callers of those roles. A request must fit every rule that applies."""

    id: str
    type: Literal["quota"]
    stage: Literal["quota"] = "quota"
    description: str = ""
    scope: Literal["user", "group", "api_key", "origin"]
    match: str | None = None
    roles: list[Literal["admin", "user", "app"]] | None = None
    window: Literal["minute", "day"]
    requests: int | None = Field(default=None, ge=0)
    tokens: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _limits_something(self) -> QuotaRule:
        if self.requests is None and self.tokens is None:
            raise ValueError(f"quota rule {self.id!r} limits neither requests nor tokens")
        if self.scope == "origin" and self.match is not None:
            self.match = normalize_origin(self.match)
        return self


Rule = Annotated[
    DenyTopicRule | InjectionRule | AclRule | LLMFallbackRule | GroundingRule | QuotaRule, Field(discriminator="type")
]
_rules_adapter: TypeAdapter[list[Rule]] = TypeAdapter(list[Rule])


class PolicySet(BaseModel):
    """All rules in force. Build with `from_path` (a folder) or `from_content` (inline YAML, for tests)."""

    rules: list[Rule] = Field(default_factory=list)

    @classmethod
    def from_content(cls, *documents: str, source: str = "<inline>") -> PolicySet:
        """Rules from YAML texts; a bad one fails with `source`, line and reason."""
        rules: list[Rule] = []
        for n, text in enumerate(documents):
            rules.extend(_parse(text, source if len(documents) == 1 else f"{source}#{n + 1}"))
        return cls._checked(rules)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PolicySet:
        """Rules from an already-parsed mapping `{"rules": [...]}` (tests, generated policies)."""
        try:
            return cls._checked(_rules_adapter.validate_python(data.get("rules", [])))
        except ValidationError as exc:
            raise ConfigurationError(f"invalid policy rules: {_first_problem(exc)}") from exc

    @classmethod
    def from_path(cls, folder: Path) -> PolicySet:
        """Every `*.yaml` / `*.yml` file of the folder (not its `tests/`), in name order."""
        if not folder.is_dir():
            raise ConfigurationError(f"policy folder {folder} does not exist")
        rules: list[Rule] = []
        for path in sorted(folder.glob("*.y*ml")):
            rules.extend(_parse(path.read_text(encoding="utf-8"), str(path)))
        return cls._checked(rules)

    @classmethod
    def _checked(cls, rules: list[Rule]) -> PolicySet:
        ids = [rule.id for rule in rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ConfigurationError(f"duplicate policy rule ids: {', '.join(duplicates)}")
        return cls(rules=rules)

    @property
    def fallback_rule(self) -> LLMFallbackRule | None:
        for rule in self.rules:
            if isinstance(rule, LLMFallbackRule) and rule.retrieval_only:
                return rule
        return None

    @property
    def grounding_rules(self) -> list[GroundingRule]:
        return [rule for rule in self.rules if isinstance(rule, GroundingRule)]

    @property
    def injection_rules(self) -> list[InjectionRule]:
        return [rule for rule in self.rules if isinstance(rule, InjectionRule)]

    @property
    def quota_rules(self) -> list[QuotaRule]:
        return [rule for rule in self.rules if isinstance(rule, QuotaRule)]

    @property
    def acl_rule(self) -> AclRule:
        for rule in self.rules:
            if isinstance(rule, AclRule):
                return rule
        # Access control is not optional: without a rule in the files, the strict default applies.
        return AclRule(id="acl.default", type="acl")


def _parse(text: str, source: str) -> list[Rule]:
    """One policy file's rules. Errors name the file, the line of the offending rule or field, and why."""
    try:
        node = yaml.compose(text)
        loaded = yaml.safe_load(text) or {}
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise ConfigurationError(f"{source}, line {line}: not valid YAML: {exc.problem}") from exc
    if not isinstance(loaded, dict) or not isinstance(loaded.get("rules", []), list):
        raise ConfigurationError(f"{source}, line 1: a policy file is a mapping with a `rules` list")
    try:
        return _rules_adapter.validate_python(loaded.get("rules", []))
    except ValidationError as exc:
        error = exc.errors()[0]
        line = _line_of(node, error["loc"])
        where = ".".join(str(part) for part in error["loc"][1:] if not isinstance(part, int)) or "rule"
        raise ConfigurationError(f"{source}, line {line}: {where}: {error['msg']}") from exc


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the deepest node `loc` reaches under the file's `rules` list."""
    current = _child(node, "rules")
    line = (current or node).start_mark.line + 1 if (current or node) is not None else 1  # type: ignore[union-attr]
    for part in loc:
        found = _child(current, part)
        if found is None:
            continue  # a union tag in the error path ("deny_topic"), not a key of the file
        current, line = found, found.start_mark.line + 1
    return line


def _child(node: yaml.Node | None, key: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == key:
                return value_node  # type: ignore[no-any-return]
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key]  # type: ignore[no-any-return]
    return None


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
