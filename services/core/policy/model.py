"""The policy file format: a folder of YAML files, each holding a list of `rules`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, field_validator, model_validator

from services.core.errors import ConfigurationError


class DenyTopicRule(BaseModel):
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


class AclRule(BaseModel):
    """Retrieval only sees chunks whose document shares a group with the principal (admins see all)."""

    id: str
    type: Literal["acl"]
    stage: Literal["retrieval"] = "retrieval"
    description: str = ""
    admins_read_all: bool = True


class LLMFallbackRule(BaseModel):
    """When the model is down, answer with the retrieved sources alone instead of an error."""

    id: str
    type: Literal["llm_fallback"]
    stage: Literal["output"] = "output"
    description: str = ""
    retrieval_only: bool = True
    message: str = "The language model is unavailable right now, so here are the passages that seem to answer this:"


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


def normalize_origin(origin: str) -> str:
    """Origins compare case-insensitively and without a trailing slash."""
    return origin.strip().rstrip("/").lower()


Rule = Annotated[DenyTopicRule | AclRule | LLMFallbackRule | QuotaRule, Field(discriminator="type")]
_rules_adapter: TypeAdapter[list[Rule]] = TypeAdapter(list[Rule])


class PolicySet(BaseModel):
    """All rules in force. Build with `from_path` (a folder) or `from_content` (inline YAML, for tests)."""

    rules: list[Rule] = Field(default_factory=list)

    @classmethod
    def from_content(cls, *documents: str, source: str = "<inline>") -> PolicySet:
        rules: list[Rule] = []
        for text in documents:
            try:
                loaded = yaml.safe_load(text) or {}
                rules.extend(_rules_adapter.validate_python(loaded.get("rules", [])))
            except (yaml.YAMLError, ValidationError, AttributeError) as exc:
                raise ConfigurationError(f"invalid policy file {source}: {exc}") from exc
        ids = [rule.id for rule in rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ConfigurationError(f"duplicate policy rule ids: {', '.join(duplicates)}")
        return cls(rules=rules)

    @classmethod
    def from_path(cls, folder: Path) -> PolicySet:
        if not folder.is_dir():
            raise ConfigurationError(f"policy folder {folder} does not exist")
        files = sorted(folder.glob("*.y*ml"))
        texts = [path.read_text() for path in files]
        return cls.from_content(*texts, source=", ".join(str(f) for f in files) or str(folder))

    @property
    def fallback_rule(self) -> LLMFallbackRule | None:
        for rule in self.rules:
            if isinstance(rule, LLMFallbackRule) and rule.retrieval_only:
                return rule
        return None

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
